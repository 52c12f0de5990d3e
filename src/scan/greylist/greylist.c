/*
 * greylist.c - the greylisting rule: config, who is exempt, the keys, the
 * verdict and what it does to the task (see greylist.h for the scheme).
 *
 * The rule runs first in the idempotent stage, when every rule that
 * scores has run, so the score it compares with the thresholds is final.
 * It always looks its records up (a retry is recognised even if this time
 * it scores lower, as Rspamd does); it only creates records for messages
 * whose score calls for greylisting.
 *
 * Like Rspamd the module is active when Redis servers are configured and
 * it is not switched off; without Redis, `enabled = true` in
 * local.d/greylist.conf uses the embedded LMDB store (`backend` picks one
 * explicitly). Off by default otherwise, so a plain install's replies match
 * a plain Rspamd's.
 *
 * Store instances are per process and opened on first use (workers fork
 * after the engine is built); an LMDB environment is shared process-wide
 * by path because a reload builds a second engine while the first one
 * still scans, and LMDB forbids opening one file twice in a process.
 */
#include "scan/greylist/greylist.h"

#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/actions.h"
#include "scan/engine.h"
#include "scan/maps/map.h"
#include "scan/task.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

struct greylist_ctx {
	const struct obj *section;
	struct config *cfg;            /* borrowed: the engine holds a reference */
	const struct greylist_store_ops *ops;
	void *st;                      /* this process's store, by st_pid */
	int st_pid;
	bool st_shared;                /* process-wide LMDB: never closed here */
	double expire, timeout;
	double min_score;              /* NAN: use the greylist threshold */
	unsigned ipv4_mask, ipv6_mask;
	size_t max_data_len;
	const char *key_prefix, *message, *action, *symbol;
	bool check_local, check_authed, report_time;
	struct map *whitelisted_ip;    /* or NULL */
	struct map *local_addrs;       /* options.local_addrs, or NULL */
	const struct obj *whitelist_symbols;
};

/* ---- clock ---- */

static greylist_clock_fn *clock_fn;

void
greylist_set_clock(greylist_clock_fn *fn)
{
	clock_fn = fn;
}

double
greylist_now(void)
{
	struct timeval tv;

	if (clock_fn != NULL)
		return clock_fn();
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ---- decision and keys ---- */

enum greylist_verdict
greylist_decide(const struct greylist_rec recs[2], bool eligible, double timeout,
    double now, double *until_r)
{
	double oldest = now;
	int found = 0;

	for (int i = 0; i < 2; i++) {
		if (!recs[i].found)
			continue;
		found++;
		oldest = MIN(oldest, recs[i].first);
	}
	*until_r = oldest + timeout;
	if (found > 0 && now - oldest >= timeout)
		return GREYLIST_PASS;
	/* One key alone is another message or another sender: not a retry. */
	if (found == 2)
		return GREYLIST_WAIT;
	return eligible ? GREYLIST_NEW : GREYLIST_SKIP;
}

static void
mask_bytes(unsigned char *a, size_t n, unsigned bits)
{
	for (size_t i = 0; i < n; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * (unsigned)i : 0;

		a[i] &= (unsigned char)(0xff00u >> keep);
	}
}

int
greylist_mask_ip(const char *ip, unsigned v4_bits, unsigned v6_bits, char *out,
    size_t outlen)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (inet_pton(AF_INET, ip, a) == 1) {
		mask_bytes(a, 4, MIN(v4_bits, 32u));
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memmove(a, a + 12, 4);
			mask_bytes(a, 4, MIN(v4_bits, 32u));
		} else {
			mask_bytes(a, 16, MIN(v6_bits, 128u));
			if (inet_ntop(AF_INET6, a, txt, sizeof(txt)) == NULL)
				return -1;
			return str_format(out, outlen, "%s/%u", txt, MIN(v6_bits, 128u)) < 0 ? -1 : 0;
		}
	} else {
		return -1;
	}
	if (inet_ntop(AF_INET, a, txt, sizeof(txt)) == NULL)
		return -1;
	return str_format(out, outlen, "%s/%u", txt, MIN(v4_bits, 32u)) < 0 ? -1 : 0;
}

static void
hash_key(const struct greylist_ctx *ctx, char kind, XXH3_state_t *h, char *out)
{
	XXH128_hash_t d = XXH3_128bits_digest(h);

	(void)str_format(out, GREYLIST_KEY_MAX, "%.20s%c%016llx%016llx", ctx->key_prefix, kind,
	    (unsigned long long)d.high64, (unsigned long long)d.low64);
}

/* The body: what follows the header block (the whole text if none). */
static void
data_key(const struct greylist_ctx *ctx, const struct scan_task *task, char *out)
{
	const char *p = task->data, *end = task->data + task->len, *body = p;
	XXH3_state_t h;

	for (; p + 1 < end; p++) {
		if (p[0] == '\n' && (p[1] == '\n' || (p[1] == '\r' && p + 2 < end && p[2] == '\n'))) {
			body = p + (p[1] == '\n' ? 2 : 3);
			break;
		}
	}
	(void)XXH3_128bits_reset(&h);
	(void)XXH3_128bits_update(&h, body, MIN((size_t)(end - body), ctx->max_data_len));
	hash_key(ctx, 'b', &h, out);
}

static void
hash_lower(XXH3_state_t *h, const char *s)
{
	char c;

	for (; s != NULL && *s != '\0'; s++) {
		c = (char)tolower((unsigned char)*s);
		(void)XXH3_128bits_update(h, &c, 1);
	}
	(void)XXH3_128bits_update(h, "", 1);
}

/* Client network, envelope sender, every recipient. */
static void
meta_key(const struct greylist_ctx *ctx, const struct scan_task *task, const char *net,
    char *out)
{
	XXH3_state_t h;

	(void)XXH3_128bits_reset(&h);
	hash_lower(&h, net);
	hash_lower(&h, task->env.from);
	for (size_t i = 0; i < task->env.n_rcpts; i++)
		hash_lower(&h, task->env.rcpts[i]);
	hash_key(ctx, 'm', &h, out);
}

/* ---- stores ---- */

static struct shared_store {
	char *path;
	void *st;
	int pid;
} shared[4];

static void *
open_shared_lmdb(struct greylist_ctx *ctx, char **error_r)
{
	char *path = greylist_lmdb_path(ctx->section, ctx->cfg);
	int pid = (int)getpid();
	struct shared_store *slot = NULL;
	void *st;

	for (size_t i = 0; path != NULL && i < ARRAY_SIZE(shared); i++) {
		if (shared[i].path != NULL && shared[i].pid == pid &&
		    strcmp(shared[i].path, path) == 0) {
			free(path);
			return shared[i].st;
		}
		/* A slot of the parent process (after fork) is free for reuse. */
		if (slot == NULL && (shared[i].path == NULL || shared[i].pid != pid))
			slot = &shared[i];
	}
	st = ctx->ops->open(ctx->section, ctx->cfg, NULL, error_r);
	if (st != NULL && slot != NULL && path != NULL) {
		free(slot->path);
		slot->path = path;
		slot->st = st;
		slot->pid = pid;
		return st;
	}
	free(path);
	return st;
}

static void *
store_get(struct greylist_ctx *ctx, struct ev_loop *loop)
{
	char *error = NULL;
	int pid = (int)getpid();

	if (ctx->st != NULL && ctx->st_pid == pid)
		return ctx->st;
	ctx->st = NULL;  /* inherited across fork: not ours */
	ctx->st_shared = ctx->ops == &greylist_store_lmdb;
	if (!ctx->st_shared && loop == NULL)
		return NULL;
	ctx->st = ctx->st_shared ? open_shared_lmdb(ctx, &error) :
	    ctx->ops->open(ctx->section, ctx->cfg, loop, &error);
	if (ctx->st == NULL) {
		log_error("greylist", NULL, "cannot open %s store: %s", ctx->ops->name,
		    error != NULL ? error : "unknown error");
		free(error);
		return NULL;
	}
	ctx->st_pid = pid;
	return ctx->st;
}

/* ---- the rule ---- */

struct check_op {
	struct greylist_ctx *ctx;
	struct scan_task *task;
	void *st;
	char keys[2][GREYLIST_KEY_MAX];
	bool eligible;
	bool downgrade;                /* the score says "greylist" */
	struct scan_pending *pending;
	struct greylist_op *op;
	bool cancelled;
};

static bool
has_whitelist_symbol(const struct greylist_ctx *ctx, const struct scan_task *task)
{
	const struct obj *it = NULL, *v;

	while ((v = obj_iter_values(ctx->whitelist_symbols, &it)) != NULL) {
		const char *s = obj_get_string(v);

		if (s != NULL && scan_task_find_symbol(task, s) != NULL)
			return true;
	}
	return false;
}

/* Messages greylisting never touches. */
static bool
exempt(const struct greylist_ctx *ctx, const struct scan_task *task)
{
	const char *ip = task->env.ip;

	if (task->pre_action != NULL || task->len == 0 || ip == NULL || ip[0] == '\0')
		return true;
	if (!ctx->check_authed && task->env.user != NULL && task->env.user[0] != '\0')
		return true;
	if (!ctx->check_local && ctx->local_addrs != NULL &&
	    map_lookup_cstr(ctx->local_addrs, ip, NULL))
		return true;
	if (ctx->whitelisted_ip != NULL && map_lookup_cstr(ctx->whitelisted_ip, ip, NULL))
		return true;
	return has_whitelist_symbol(ctx, task);
}

static double
score_now(const struct scan_task *task)
{
	double score = task->removed_score;

	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next)
		score += s->score;
	return score;
}

static void
rfc2822_time(double t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		(void)str_format(out, len, "%.0f", t);
}

static void
greylist_task(struct check_op *c, enum greylist_verdict v, double until)
{
	struct greylist_ctx *ctx = c->ctx;
	struct scan_task *task = c->task;
	char end[64];
	const char *msg = ctx->message;
	struct scan_symbol *sym;

	rfc2822_time(until, end, sizeof(end));
	sym = scan_task_insert(task, ctx->symbol, 1.0, "greylisted");
	if (sym != NULL)
		scan_symbol_add_option(task, sym, end);
	if (sym != NULL && v == GREYLIST_NEW)
		scan_symbol_add_option(task, sym, "new record");
	if (ctx->report_time)
		msg = pool_printf(task->pool, "%s: greylisted until %s", ctx->message, end);
	scan_task_set_pre_result(task, ctx->action, msg != NULL ? msg : ctx->message, "greylist");
	log_info("greylist", task->id, "greylisted until \"%s\"%s", end,
	    v == GREYLIST_NEW ? " (new record)" : "");
}

static void
lookup_done(int rc, const struct greylist_rec recs[2], void *ud)
{
	struct check_op *c = ud;
	struct greylist_ctx *ctx = c->ctx;
	const char *keys[2] = { c->keys[0], c->keys[1] };
	double now = greylist_now(), until;
	enum greylist_verdict v;

	if (c->cancelled)
		return;
	if (rc != 0) {
		log_warn("greylist", c->task->id, "lookup failed: message not greylisted");
	} else {
		v = greylist_decide(recs, c->eligible, ctx->timeout, now, &until);
		if (v == GREYLIST_PASS) {
			scan_task_insert(c->task, ctx->symbol, 1.0, "pass");
			/* Greylisting done: "greylist" would only say it again. */
			if (c->downgrade)
				scan_task_set_pre_result(c->task, "no action", NULL, "greylist");
		} else if (v != GREYLIST_SKIP) {
			greylist_task(c, v, until);
		}
		if (v == GREYLIST_NEW || v == GREYLIST_PASS)
			ctx->ops->update(c->st, keys, recs, v, now, ctx->expire);
	}
	if (c->pending != NULL)
		scan_task_pending_done(c->task, c->pending);
}

static void
lookup_cancel(void *ud)
{
	struct check_op *c = ud;

	c->cancelled = true;
	if (c->op != NULL)
		c->ctx->ops->cancel(c->st, c->op);
}

static void
greylist_rule(struct scan_task *task, void *ud)
{
	struct greylist_ctx *ctx = ud;
	const struct config_actions *a = &task->cfg->actions;
	char net[INET6_ADDRSTRLEN + 8];
	const char *keys[2], *action;
	struct check_op *c;
	double score;

	if (exempt(ctx, task) ||
	    greylist_mask_ip(task->env.ip, ctx->ipv4_mask, ctx->ipv6_mask, net, sizeof(net)) < 0)
		return;
	score = score_now(task);
	action = actions_for_score(a, score);
	if (strcmp(action, "reject") == 0 || (c = pool_alloc(task->pool, sizeof(*c))) == NULL)
		return;
	c->ctx = ctx;
	c->task = task;
	c->downgrade = strcmp(action, "greylist") == 0;
	c->eligible = !isnan(ctx->min_score) ? score >= ctx->min_score :
	    strcmp(action, "no action") != 0;
	if ((c->st = store_get(ctx, task->loop)) == NULL)
		return;
	data_key(ctx, task, c->keys[GREYLIST_DATA]);
	meta_key(ctx, task, net, c->keys[GREYLIST_META]);
	keys[0] = c->keys[0];
	keys[1] = c->keys[1];
	if (ctx->ops != &greylist_store_lmdb &&
	    (c->pending = scan_task_pending_add(task, "greylist", lookup_cancel, c)) == NULL)
		return;
	c->op = ctx->ops->lookup(c->st, keys, greylist_now(), lookup_done, c);
}

/* ---- configuration ---- */

static int
opt_double(const struct obj *sec, const char *key, double *v, double min, const char **bad_r)
{
	const struct obj *o = obj_lookup(sec, key);

	if (o == NULL)
		return 0;
	if (obj_get_double(o, v) < 0 || !isfinite(*v) || *v < min) {
		*bad_r = key;
		return -1;
	}
	return 0;
}

static int
opt_bool(const struct obj *sec, const char *key, bool *v, const char **bad_r)
{
	const struct obj *o = obj_lookup(sec, key);

	if (o != NULL && obj_get_bool(o, v) < 0) {
		*bad_r = key;
		return -1;
	}
	return 0;
}

static int
opt_string(const struct obj *sec, const char *key, const char **v, const char **bad_r)
{
	const struct obj *o = obj_lookup(sec, key);

	if (o == NULL)
		return 0;
	if (obj_get_string(o) == NULL) {
		*bad_r = key;
		return -1;
	}
	*v = obj_get_string(o);
	return 0;
}

static int
read_numbers(struct greylist_ctx *ctx, const struct obj *sec, const char **bad_r)
{
	double v4 = 19, v6 = 64, data_len = 10240;

	ctx->expire = 86400;
	ctx->timeout = 300;
	ctx->min_score = NAN;
	if (opt_double(sec, "expire", &ctx->expire, 1, bad_r) < 0 ||
	    opt_double(sec, "timeout", &ctx->timeout, 0, bad_r) < 0 ||
	    opt_double(sec, "greylist_min_score", &ctx->min_score, -1e9, bad_r) < 0 ||
	    opt_double(sec, "ipv4_mask", &v4, 0, bad_r) < 0 ||
	    opt_double(sec, "ipv6_mask", &v6, 0, bad_r) < 0 ||
	    opt_double(sec, "max_data_len", &data_len, 1, bad_r) < 0)
		return -1;
	if (v4 > 32 || v6 > 128) {
		*bad_r = v4 > 32 ? "ipv4_mask" : "ipv6_mask";
		return -1;
	}
	ctx->ipv4_mask = (unsigned)v4;
	ctx->ipv6_mask = (unsigned)v6;
	ctx->max_data_len = (size_t)data_len;
	return 0;
}

static int
read_strings(struct greylist_ctx *ctx, const struct obj *sec, const char **bad_r)
{
	const char *action = "soft reject";

	ctx->key_prefix = "rg";
	ctx->message = "Try again later";
	ctx->symbol = "GREYLIST";
	if (opt_string(sec, "key_prefix", &ctx->key_prefix, bad_r) < 0 ||
	    opt_string(sec, "message", &ctx->message, bad_r) < 0 ||
	    opt_string(sec, "symbol", &ctx->symbol, bad_r) < 0 ||
	    opt_string(sec, "action", &action, bad_r) < 0 ||
	    opt_bool(sec, "check_local", &ctx->check_local, bad_r) < 0 ||
	    opt_bool(sec, "check_authed", &ctx->check_authed, bad_r) < 0 ||
	    opt_bool(sec, "report_time", &ctx->report_time, bad_r) < 0)
		return -1;
	if ((ctx->action = action_canonical_name(action)) == NULL) {
		*bad_r = "action";
		return -1;
	}
	ctx->whitelist_symbols = obj_lookup(sec, "whitelist_symbols");
	return 0;
}

/* Redis servers of our own or in redis {}. */
static bool
has_redis(const struct obj *sec, const struct config *cfg)
{
	const struct obj *g = obj_lookup(cfg->root, "redis");

	return obj_lookup(sec, "servers") != NULL || obj_lookup(sec, "write_servers") != NULL ||
	    obj_lookup(g, "servers") != NULL || obj_lookup(g, "write_servers") != NULL;
}

/* 1 active, 0 off, -1 bad setting; picks the store. */
static int
read_backend(struct greylist_ctx *ctx, const struct obj *sec, const struct config *cfg,
    const char **bad_r)
{
	const struct obj *en = obj_lookup(sec, "enabled");
	const char *be = NULL;
	bool enabled = false;

	if (en != NULL && obj_get_bool(en, &enabled) < 0) {
		*bad_r = "enabled";
		return -1;
	}
	if (opt_string(sec, "backend", &be, bad_r) < 0)
		return -1;
	if (en != NULL && !enabled)
		return 0;
	if (be == NULL)
		be = has_redis(sec, cfg) ? "redis" : en != NULL ? "lmdb" : NULL;
	if (be == NULL)
		return 0;
	if (strcmp(be, "lmdb") == 0)
		ctx->ops = &greylist_store_lmdb;
	else if (strcmp(be, "redis") == 0)
		ctx->ops = &greylist_store_redis;
	else {
		*bad_r = "backend";
		return -1;
	}
	return 1;
}

static int
read_maps(struct greylist_ctx *ctx, const struct obj *sec, const struct config *cfg,
    char **error_r)
{
	const struct obj *wl = obj_lookup(sec, "whitelisted_ip");
	const struct obj *opts = obj_lookup(cfg->root, "options");
	const struct obj *local = obj_lookup(opts, "local_addrs");

	if (wl == NULL)
		wl = obj_lookup(sec, "whitelist_ip");
	if (wl != NULL && (ctx->whitelisted_ip = map_new("greylist whitelisted_ip", MAP_KIND_IP,
	    0, wl, 5.0, error_r)) == NULL)
		return -1;
	if (local != NULL && (ctx->local_addrs = map_new("local_addrs", MAP_KIND_IP, 0, local,
	    5.0, error_r)) == NULL)
		return -1;
	return 0;
}

static void
ctx_free(void *p)
{
	struct greylist_ctx *ctx = p;

	if (ctx->st != NULL && !ctx->st_shared && ctx->st_pid == (int)getpid())
		ctx->ops->close(ctx->st);
	map_free(&ctx->whitelisted_ip);
	map_free(&ctx->local_addrs);
	free(ctx);
}

static int
config_error(const struct obj *sec, const char *what, char *detail, char **error_r)
{
	char buf[512];

	(void)str_format(buf, sizeof(buf), "%s:%u: greylist: bad %s%s%s",
	    sec->file != NULL ? sec->file : "config", sec->line, what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	free(detail);
	*error_r = xstrdup(buf);
	return -1;
}

int
greylist_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	const struct obj *sec = obj_lookup(cfg->root, "greylist");
	struct greylist_ctx *ctx;
	struct symbol_info si = { NULL, 0.0, "greylist", "Greylisting", 0 };
	struct rule_def rd = { "GREYLIST_SAVE", RULE_STAGE_IDEMPOTENT, 100, greylist_rule, NULL };
	const char *bad = NULL;
	char *detail = NULL;
	int on;

	if (sec == NULL || sec->type != OBJ_OBJECT)
		return 0;
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->section = sec;
	ctx->cfg = cfg;
	if ((on = read_backend(ctx, sec, cfg, &bad)) <= 0 || read_numbers(ctx, sec, &bad) < 0 ||
	    read_strings(ctx, sec, &bad) < 0 || read_maps(ctx, sec, cfg, &detail) < 0) {
		ctx_free(ctx);
		return on == 0 ? 0 : config_error(sec, bad != NULL ? bad : "whitelisted_ip",
		    detail, error_r);
	}
	si.name = ctx->symbol;
	rd.ud = ctx;
	scan_engine_add_symbol(eng, &si);
	scan_engine_add_rule(eng, &rd);
	scan_engine_set_module(eng, ENGINE_SLOT_GREYLIST, ctx, ctx_free);
	return 0;
}
