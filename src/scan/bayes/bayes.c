/*
 * bayes.c - the statistics module in the rule engine: reads the
 * classifier "bayes" {} section, registers BAYES_SPAM / BAYES_HAM and the
 * classifier rule, opens the backend lazily in the process that scans, and
 * answers /stat.
 *
 * The engine is built in the main process before workers fork, so nothing
 * here opens files or sockets at build time; bayes_backend_get() opens the
 * store on first use and reopens it when it finds itself in a new process.
 * An LMDB environment must not be opened twice in one process, and a
 * reload builds a second engine while the first still serves tasks, so LMDB
 * instances are kept process-wide per path and never closed by an engine.
 */
#include "scan/bayes/bayes.h"
#include "scan/bayes/bayes_internal.h"

#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "mime/message.h"
#include "scan/engine.h"
#include "scan/task.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	const struct bayes_backend_ops *ops;
} backends[] = {
	{ "lmdb", &bayes_backend_lmdb },
	{ "redis", &bayes_backend_redis },
};

/* Process-wide LMDB environments, by path key (see the top comment). */
static struct shared_be {
	char *key;
	void *be;
	int pid;
} shared[4];

struct bayes_ctx *
bayes_ctx_of(const struct scan_engine *eng)
{
	return eng != NULL ? scan_engine_get_module(eng, ENGINE_SLOT_STAT) : NULL;
}

bool
bayes_enabled(const struct scan_engine *eng)
{
	return bayes_ctx_of(eng) != NULL;
}

bool
bayes_backend_is_async(const struct bayes_ctx *ctx)
{
	return ctx->ops != &bayes_backend_lmdb;
}

static char *
shared_key(const struct bayes_ctx *ctx)
{
	const char *path = obj_get_string(obj_lookup(ctx->section, "path"));
	char buf[4096];

	if (str_format(buf, sizeof(buf), "%s|%s", path != NULL ? path : "",
	    ctx->cfg->dbdir != NULL ? ctx->cfg->dbdir : "") < 0)
		return NULL;
	return xstrdup(buf);
}

static void *
open_shared(struct bayes_ctx *ctx, char **error_r)
{
	char *key = shared_key(ctx);
	int pid = (int)getpid();
	struct shared_be *slot = NULL;

	for (size_t i = 0; key != NULL && i < ARRAY_SIZE(shared); i++) {
		if (shared[i].key != NULL && shared[i].pid == pid &&
		    strcmp(shared[i].key, key) == 0) {
			free(key);
			return shared[i].be;
		}
		/* A slot of the parent process (after fork) is free for reuse. */
		if (slot == NULL && (shared[i].key == NULL || shared[i].pid != pid))
			slot = &shared[i];
	}
	void *be = ctx->ops->open(ctx->section, ctx->cfg, NULL, error_r);

	if (be != NULL && slot != NULL && key != NULL) {
		free(slot->key);
		slot->key = key;
		slot->be = be;
		slot->pid = pid;
		return be;
	}
	free(key);
	return be;
}

void *
bayes_backend_get(struct bayes_ctx *ctx, struct ev_loop *loop)
{
	char *error = NULL;
	int pid = (int)getpid();

	if (ctx->be != NULL && ctx->be_pid == pid)
		return ctx->be;
	/* Inherited across fork: unusable here, and not ours to close. */
	ctx->be = NULL;
	if (bayes_backend_is_async(ctx) && loop == NULL)
		return NULL;
	ctx->be_shared = !bayes_backend_is_async(ctx);
	ctx->be = ctx->be_shared ? open_shared(ctx, &error) :
	    ctx->ops->open(ctx->section, ctx->cfg, loop, &error);
	if (ctx->be == NULL) {
		log_error("bayes", NULL, "cannot open %s backend: %s", ctx->ops->name,
		    error != NULL ? error : "unknown error");
		free(error);
		return NULL;
	}
	ctx->be_pid = pid;
	return ctx->be;
}

const char *
bayes_task_user(const struct bayes_ctx *ctx, const struct scan_task *task)
{
	if (!ctx->per_user)
		return NULL;
	if (task->env.deliver_to != NULL && task->env.deliver_to[0] != '\0')
		return task->env.deliver_to;
	if (task->env.n_rcpts > 0 && task->env.rcpts[0] != NULL)
		return task->env.rcpts[0];
	return task->env.user;
}

struct bayes_task_state *
bayes_task_tokens(struct bayes_ctx *ctx, struct scan_task *task)
{
	struct bayes_task_state *st = task->bayes_task;

	if (st == NULL) {
		st = pool_alloc(task->pool, sizeof(*st));
		if (st == NULL)
			return NULL;
		st->prob = -1.0;
		task->bayes_task = st;
	}
	if (!st->tokenized) {
		scan_task_parse(task);
		st->tokenized = true;
		if (task->msg != NULL && bayes_tokenize(task->pool, task->msg, &ctx->tok,
		    &st->hashes, &st->n, &st->n_words) < 0)
			return NULL;
	}
	return st;
}

/* ---- classification ---- */

struct classify_op {
	struct bayes_ctx *ctx;
	struct scan_task *task;
	struct bayes_token *tokens;
	size_t n;
	struct scan_pending *pending;
	struct bayes_op *op;
	bool cancelled;
};

static void
classify_result(struct classify_op *c, const struct bayes_totals *t)
{
	struct bayes_ctx *ctx = c->ctx;
	struct bayes_task_state *st = c->task->bayes_task;
	size_t used = 0;
	double prob, conf;
	char opt[32];

	st->totals = *t;
	st->have_totals = true;
	if (t->learned_spam < ctx->min_learns || t->learned_ham < ctx->min_learns)
		return;
	prob = bayes_classify(c->tokens, c->n, t->learned_spam, t->learned_ham, &ctx->cls,
	    &used);
	if (used == 0)
		return;
	st->prob = prob;
	conf = prob >= 0.5 ? prob : 1.0 - prob;
	if (conf < 0.5 + ctx->margin)
		return;
	(void)str_format(opt, sizeof(opt), "%.2f%%", conf * 100.0);
	scan_task_insert(c->task, prob >= 0.5 ? ctx->spam_symbol : ctx->ham_symbol,
	    MIN(1.0, (conf - 0.5) * 2.0), opt);
}

static void
classify_done(int rc, const struct bayes_totals *t, void *ud)
{
	struct classify_op *c = ud;

	if (c->cancelled)
		return;
	if (rc == 0)
		classify_result(c, t);
	else
		log_warn("bayes", c->task->id, "token lookup failed");
	if (c->pending != NULL)
		scan_task_pending_done(c->task, c->pending);
}

static void
classify_cancel(void *ud)
{
	struct classify_op *c = ud;

	c->cancelled = true;
	if (c->op != NULL && c->ctx->be != NULL)
		c->ctx->ops->cancel(c->ctx->be, c->op);
}

static void
classify_rule(struct scan_task *task, void *ud)
{
	struct bayes_ctx *ctx = ud;
	struct bayes_task_state *st = bayes_task_tokens(ctx, task);
	struct classify_op *c;
	void *be;

	if (st == NULL || st->n_words < ctx->min_tokens)
		return;
	/* Nothing learnt yet: do not create a store just to find it empty. */
	if (!bayes_backend_is_async(ctx) && (ctx->be == NULL || ctx->be_pid != (int)getpid()) &&
	    !bayes_lmdb_exists(ctx->section, ctx->cfg))
		return;
	if ((be = bayes_backend_get(ctx, task->loop)) == NULL)
		return;
	c = pool_alloc(task->pool, sizeof(*c));
	if (c == NULL || (c->tokens = pool_calloc(task->pool, st->n, sizeof(*c->tokens))) == NULL)
		return;
	c->ctx = ctx;
	c->task = task;
	c->n = st->n;
	for (size_t i = 0; i < st->n; i++)
		c->tokens[i].hash = st->hashes[i];
	if (bayes_backend_is_async(ctx) &&
	    (c->pending = scan_task_pending_add(task, "bayes", classify_cancel, c)) == NULL)
		return;
	c->op = ctx->ops->lookup(be, bayes_task_user(ctx, task), c->tokens, c->n,
	    classify_done, c);
}

/* ---- configuration ---- */

static const struct obj *
find_section(const struct obj *root)
{
	const struct obj *cl = obj_lookup(root, "classifier"), *it = NULL, *v, *b;

	while ((v = obj_iter_values(cl, &it)) != NULL) {
		if ((b = obj_lookup(v, "bayes")) != NULL && b->type == OBJ_OBJECT)
			return b;
	}
	return NULL;
}

static int
opt_uint(const struct obj *sec, const char *key, unsigned *v, char **error_r)
{
	const struct obj *o = obj_lookup(sec, key);
	int64_t i;

	if (o == NULL)
		return 0;
	if (obj_get_int(o, &i) < 0 || i < 0 || i > 100000000) {
		*error_r = xstrdup(key);
		return -1;
	}
	*v = (unsigned)i;
	return 0;
}

static int
opt_double(const struct obj *sec, const char *key, double *v, char **error_r)
{
	const struct obj *o = obj_lookup(sec, key);

	if (o == NULL)
		return 0;
	if (obj_get_double(o, v) < 0 || !isfinite(*v)) {
		*error_r = xstrdup(key);
		return -1;
	}
	return 0;
}

static int
opt_bool(const struct obj *sec, const char *key, bool *v, char **error_r)
{
	const struct obj *o = obj_lookup(sec, key);

	if (o != NULL && obj_get_bool(o, v) < 0) {
		*error_r = xstrdup(key);
		return -1;
	}
	return 0;
}

static void
read_statfiles(struct bayes_ctx *ctx, const struct obj *sec)
{
	const struct obj *it = NULL, *sf;

	while ((sf = obj_iter_values(obj_lookup(sec, "statfile"), &it)) != NULL) {
		const char *sym = obj_get_string(obj_lookup(sf, "symbol"));
		bool spam = false;

		if (sym == NULL)
			continue;
		if (obj_get_bool(obj_lookup(sf, "spam"), &spam) < 0)
			spam = strstr(sym, "SPAM") != NULL;
		if (spam)
			ctx->spam_symbol = sym;
		else
			ctx->ham_symbol = sym;
	}
}

static int
read_tuning(struct bayes_ctx *ctx, const struct obj *sec, char **error_r)
{
	const struct obj *tk = obj_lookup(sec, "tokenizer");

	if (opt_uint(sec, "max_tokens", &ctx->cls.max_tokens, error_r) < 0 ||
	    opt_double(sec, "min_token_dev", &ctx->cls.min_dev, error_r) < 0 ||
	    opt_double(sec, "strength", &ctx->cls.strength, error_r) < 0 ||
	    opt_double(sec, "margin", &ctx->margin, error_r) < 0)
		return -1;
	if (tk == NULL || tk->type != OBJ_OBJECT)
		return 0;
	if (opt_uint(tk, "window", &ctx->tok.window, error_r) < 0 ||
	    opt_uint(tk, "max_words", &ctx->tok.max_words, error_r) < 0 ||
	    opt_uint(tk, "max_word_len", &ctx->tok.max_word_len, error_r) < 0 ||
	    opt_bool(tk, "unigrams", &ctx->tok.unigrams, error_r) < 0 ||
	    opt_bool(tk, "meta", &ctx->tok.meta, error_r) < 0 ||
	    opt_bool(tk, "nfkc", &ctx->tok.nfkc, error_r) < 0)
		return -1;
	if (ctx->tok.window < 1 || ctx->tok.window > 16 || ctx->tok.max_words < 1) {
		*error_r = xstrdup("tokenizer window (1..16) / max_words");
		return -1;
	}
	return 0;
}

static int
read_backend(struct bayes_ctx *ctx, const struct obj *sec, char **error_r)
{
	const char *name = obj_get_string(obj_lookup(sec, "backend"));

	if (name == NULL)
		name = "lmdb";
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		if (strcmp(backends[i].name, name) == 0) {
			ctx->ops = backends[i].ops;
			return 0;
		}
	}
	*error_r = xstrdup("backend: unknown statistics backend");
	return -1;
}

static int
read_config(struct bayes_ctx *ctx, const struct obj *sec, char **error_r)
{
	const struct obj *al = obj_lookup(sec, "autolearn");

	ctx->spam_symbol = "BAYES_SPAM";
	ctx->ham_symbol = "BAYES_HAM";
	ctx->min_tokens = 11;
	ctx->min_learns = 200;
	/* Symbols only from 90% confidence: TRAIN cross-validation, FP first. */
	ctx->margin = 0.4;
	bayes_tok_defaults(&ctx->tok);
	bayes_cls_defaults(&ctx->cls);
	read_statfiles(ctx, sec);
	if (read_backend(ctx, sec, error_r) < 0 ||
	    opt_uint(sec, "min_tokens", &ctx->min_tokens, error_r) < 0 ||
	    opt_uint(sec, "min_learns", &ctx->min_learns, error_r) < 0 ||
	    opt_bool(sec, "per_user", &ctx->per_user, error_r) < 0 ||
	    opt_bool(sec, "users_enabled", &ctx->per_user, error_r) < 0 ||
	    read_tuning(ctx, sec, error_r) < 0)
		return -1;
	return al != NULL ? bayes_autolearn_config(ctx, al, error_r) : 0;
}

static void
ctx_free(void *p)
{
	struct bayes_ctx *ctx = p;

	if (ctx->be != NULL && !ctx->be_shared && ctx->be_pid == (int)getpid())
		ctx->ops->close(ctx->be);
	free(ctx);
}

static void
register_rules(struct scan_engine *eng, struct bayes_ctx *ctx)
{
	struct symbol_info spam = { ctx->spam_symbol, 5.1, "statistics",
		"Bayesian classifier: spam", 0 };
	struct symbol_info ham = { ctx->ham_symbol, -3.0, "statistics",
		"Bayesian classifier: ham", 0 };
	struct rule_def cls = { "BAYES_CLASSIFIER", RULE_STAGE_CLASSIFIER, 0, classify_rule, ctx };
	struct rule_def al = { "BAYES_AUTOLEARN", RULE_STAGE_POSTFILTER, -100,
		bayes_autolearn_rule, ctx };

	scan_engine_add_symbol(eng, &spam);
	scan_engine_add_symbol(eng, &ham);
	scan_engine_add_rule(eng, &cls);
	if (ctx->al.enabled)
		scan_engine_add_rule(eng, &al);
}

int
bayes_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	const struct obj *sec = find_section(cfg->root);
	struct bayes_ctx *ctx;
	bool enabled = true;
	char *what = NULL;

	if (sec == NULL)
		return 0;
	if (obj_lookup(sec, "enabled") != NULL &&
	    obj_get_bool(obj_lookup(sec, "enabled"), &enabled) == 0 && !enabled)
		return 0;
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->section = sec;
	ctx->cfg = cfg;
	if (read_config(ctx, sec, &what) < 0) {
		char buf[512];

		(void)str_format(buf, sizeof(buf), "%s:%u: classifier \"bayes\": bad %s",
		    sec->file != NULL ? sec->file : "config", sec->line, what);
		*error_r = xstrdup(buf);
		free(what);
		free(ctx);
		return -1;
	}
	register_rules(eng, ctx);
	scan_engine_set_module(eng, ENGINE_SLOT_STAT, ctx, ctx_free);
	return 0;
}

/* ---- /stat ---- */

struct stat_op {
	const struct bayes_ctx *ctx;
	bayes_stat_cb *done;
	void *ud;
};

static void
stat_done(int rc, const struct bayes_totals *t, void *ud)
{
	struct stat_op *s = ud;
	struct bayes_stat st;

	memset(&st, 0, sizeof(st));
	st.n_files = 2;
	for (size_t i = 0; i < 2; i++) {
		st.files[i].symbol = i == 0 ? s->ctx->spam_symbol : s->ctx->ham_symbol;
		st.files[i].type = s->ctx->ops->name;
		st.files[i].spam = i == 0;
		st.files[i].learned = i == 0 ? t->learned_spam : t->learned_ham;
		st.files[i].tokens = t->tokens;
		st.files[i].users = t->users;
	}
	st.total_learns = t->learned_spam + t->learned_ham;
	s->done(rc, &st, s->ud);
	free(s);
}

void
bayes_get_stat(const struct scan_engine *eng, struct ev_loop *loop, bayes_stat_cb *done,
    void *ud)
{
	struct bayes_ctx *ctx = bayes_ctx_of(eng);
	struct bayes_totals zero = { 0, 0, 0, 0 };
	struct stat_op *s;
	void *be;

	if (ctx == NULL || (be = bayes_backend_get(ctx, loop)) == NULL) {
		struct stat_op tmp = { ctx, done, ud };

		if (ctx == NULL) {
			done(-1, NULL, ud);
			return;
		}
		s = xcalloc(1, sizeof(*s));
		*s = tmp;
		stat_done(-1, &zero, s);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	s->done = done;
	s->ud = ud;
	(void)ctx->ops->stat(be, stat_done, s);
}
