/*
 * learn.c - learning a message into the statistics: on request (the
 * controller's /learnspam and /learnham) and automatically from clear
 * verdicts (autolearn).
 *
 * A learn tokenizes the message exactly as the classifier does and hands
 * all tokens with the message digest to the backend as one transaction;
 * the backend refuses a second learn of the same digest into the same
 * class (208) and moves it when the class differs. The digest covers the
 * decoded text and subject, not the headers, so a copy that travelled
 * another route is still the same message.
 *
 * Autolearn follows Rspamd's spirit with two choices of ours: the score it
 * judges by leaves out the Bayes symbols themselves (otherwise the
 * classifier would feed on its own opinion), and it does not learn what
 * Bayes already classifies correctly with 95% or more (train on error or
 * doubt: repeating the obvious only skews the counts). check_balance stops
 * one class from running away from the other.
 */
#include "scan/bayes/bayes.h"
#include "scan/bayes/bayes_internal.h"

#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "mime/message.h"
#include "scan/engine.h"
#include "scan/task.h"

#include <math.h>
#include <string.h>

#define AUTOLEARN_SURE 0.95

struct learn_op {
	struct bayes_ctx *ctx;
	struct scan_task *task;
	bool spam;
	bayes_learn_cb *done;
	void *ud;
};

static const char *
mid_text(struct scan_task *task)
{
	const char *mid = task->msg != NULL ? task->msg->message_id : NULL;

	return pool_printf(task->pool, "<%s>", mid != NULL ? mid : "undef");
}

static void
learn_done(int status, void *ud)
{
	struct learn_op *l = ud;
	const char *msg = NULL;

	if (status == BAYES_LEARN_ALREADY)
		msg = pool_printf(l->task->pool, "%s has been already learned as %s, ignore it",
		    mid_text(l->task), l->spam ? "spam" : "ham");
	else if (status != BAYES_LEARN_OK)
		msg = "statistics backend error";
	if (status == BAYES_LEARN_OK)
		log_info("bayes", l->task->id, "learned %s as %s", mid_text(l->task),
		    l->spam ? "spam" : "ham");
	l->done(l->task, status, msg, l->ud);
}

/* Starts a learn; returns the backend operation (NULL when already complete). */
static struct bayes_op *
learn_start(struct scan_task *task, bool spam, bayes_learn_cb *done, void *ud)
{
	struct bayes_ctx *ctx = bayes_ctx_of(task->engine);
	struct bayes_task_state *st;
	struct learn_op *l;
	uint8_t digest[16];
	void *be;

	if (ctx == NULL) {
		done(task, BAYES_LEARN_ERROR, "no bayes classifier configured", ud);
		return NULL;
	}
	if ((st = bayes_task_tokens(ctx, task)) == NULL ||
	    (l = pool_alloc(task->pool, sizeof(*l))) == NULL) {
		done(task, BAYES_LEARN_ERROR, "message too large to learn", ud);
		return NULL;
	}
	if (st->n_words < ctx->min_tokens) {
		done(task, BAYES_LEARN_SKIPPED, pool_printf(task->pool,
		    "%s contains less tokens than required for bayes classifier: %zu < %u",
		    mid_text(task), st->n_words, ctx->min_tokens), ud);
		return NULL;
	}
	if ((be = bayes_backend_get(ctx, task->loop)) == NULL) {
		done(task, BAYES_LEARN_ERROR, "statistics backend unavailable", ud);
		return NULL;
	}
	*l = (struct learn_op){ ctx, task, spam, done, ud };
	bayes_digest(task->msg, task->data, task->len, digest);
	return ctx->ops->learn(be, bayes_task_user(ctx, task), digest, spam, st->hashes,
	    st->n, learn_done, l);
}

void
bayes_learn(struct scan_task *task, bool spam, bayes_learn_cb *done, void *ud)
{
	(void)learn_start(task, spam, done, ud);
}

/* ---- autolearn ---- */

int
bayes_autolearn_config(struct bayes_ctx *ctx, const struct obj *v, char **error_r)
{
	struct bayes_autolearn *al = &ctx->al;
	double reject = ctx->cfg->actions.reject;
	const struct obj *o;

	al->spam_threshold = isnan(reject) ? 15.0 : reject;
	al->ham_threshold = -0.5;
	al->check_balance = true;
	al->min_balance = 0.9;
	if (v->type == OBJ_BOOL)
		return al->enabled = v->v.b, 0;
	if (v->type == OBJ_ARRAY && obj_count(v) == 2) {
		al->enabled = obj_get_double(obj_array_at(v, 0), &al->ham_threshold) == 0 &&
		    obj_get_double(obj_array_at(v, 1), &al->spam_threshold) == 0;
		if (!al->enabled)
			*error_r = xstrdup("autolearn [ham, spam] thresholds");
		return al->enabled ? 0 : -1;
	}
	if (v->type != OBJ_OBJECT) {
		*error_r = xstrdup("autolearn (true/false, [ham, spam] or { ... })");
		return -1;
	}
	al->enabled = true;
	if (((o = obj_lookup(v, "spam_threshold")) != NULL &&
	    obj_get_double(o, &al->spam_threshold) < 0) ||
	    ((o = obj_lookup(v, "ham_threshold")) != NULL &&
	    obj_get_double(o, &al->ham_threshold) < 0) ||
	    ((o = obj_lookup(v, "check_balance")) != NULL &&
	    obj_get_bool(o, &al->check_balance) < 0) ||
	    ((o = obj_lookup(v, "min_balance")) != NULL &&
	    (obj_get_double(o, &al->min_balance) < 0 || al->min_balance <= 0))) {
		*error_r = xstrdup("autolearn thresholds");
		return -1;
	}
	return 0;
}

static double
score_without_bayes(const struct bayes_ctx *ctx, const struct scan_task *task)
{
	double score = task->removed_score;

	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next) {
		if (strcmp(s->name, ctx->spam_symbol) != 0 && strcmp(s->name, ctx->ham_symbol) != 0)
			score += s->score;
	}
	return score;
}

/* Rspamd-like balance: a class may lead the other by 1/min_balance at most. */
static bool
balanced(const struct bayes_autolearn *al, const struct bayes_task_state *st, bool spam)
{
	double max_ratio = 1.0 / al->min_balance;
	double s = (double)st->totals.learned_spam, h = (double)st->totals.learned_ham;

	if (!al->check_balance || !st->have_totals || s + h == 0)
		return true;
	return spam ? s / (h + 1.0) <= max_ratio : h / (s + 1.0) <= max_ratio;
}

struct autolearn_op {
	struct bayes_ctx *ctx;
	struct scan_pending *pending;
	struct bayes_op *op;
	bool cancelled, finished;
};

static void
autolearn_done(struct scan_task *task, int status, const char *message, void *ud)
{
	struct autolearn_op *a = ud;

	a->finished = true;
	if (a->cancelled)
		return;
	if (status != BAYES_LEARN_OK && status != BAYES_LEARN_ALREADY)
		log_info("bayes", task->id, "autolearn: %s", message != NULL ? message : "failed");
	if (a->pending != NULL)
		scan_task_pending_done(task, a->pending);
}

static void
autolearn_cancel(void *ud)
{
	struct autolearn_op *a = ud;

	a->cancelled = true;
	if (a->op != NULL && a->ctx->be != NULL)
		a->ctx->ops->cancel(a->ctx->be, a->op);
}

void
bayes_autolearn_rule(struct scan_task *task, void *ud)
{
	struct bayes_ctx *ctx = ud;
	const struct bayes_task_state *st = task->bayes_task;
	double score = score_without_bayes(ctx, task);
	struct autolearn_op *a;
	bool spam;

	if (!ctx->al.enabled || task->pre_action != NULL || task->msg == NULL)
		return;
	if (score >= ctx->al.spam_threshold)
		spam = true;
	else if (score <= ctx->al.ham_threshold)
		spam = false;
	else
		return;
	if (st != NULL && st->prob >= 0 && (spam ? st->prob : 1.0 - st->prob) >= AUTOLEARN_SURE)
		return;
	if ((st != NULL && !balanced(&ctx->al, st, spam)) ||
	    (bayes_backend_is_async(ctx) && task->loop == NULL))
		return;
	if ((a = pool_alloc(task->pool, sizeof(*a))) == NULL)
		return;
	a->ctx = ctx;
	if (bayes_backend_is_async(ctx) &&
	    (a->pending = scan_task_pending_add(task, "bayes", autolearn_cancel, a)) == NULL)
		return;
	a->op = learn_start(task, spam, autolearn_done, a);
	if (a->finished)
		a->op = NULL;
}
