/*
 * controller_learn.c - /learnspam and /learnham (spec/controller.md
 * section 4): the raw message becomes a task, the statistics module learns
 * it in one backend transaction, and the outcome is answered with Rspamd's
 * status codes: 200 learnt, 208 already learnt into that class, 204 too
 * few tokens (with a body, as Rspamd sends it), 5xx backend trouble.
 *
 * Learning may complete inside bayes_learn() (LMDB) or later from the loop
 * (Redis); the job notes which, so the task is always freed after
 * bayes_learn() has returned.
 */
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/str.h"
#include "http/http_parser.h"
#include "http/http_server.h"
#include "log/log.h"
#include "scan/bayes/bayes.h"
#include "scan/engine.h"
#include "scan/task.h"
#include "worker/controller_internal.h"
#include "worker/scan_http.h"
#include "worker/shared_stats.h"
#include "worker/worker.h"

#include <string.h>

struct learn_job {
	struct controller *c;
	struct http_request *req;
	struct http_message m;
	struct scan_task *task;
	bool spam;
	bool in_call;   /* inside bayes_learn() */
	bool done;
	int status;
	const char *message; /* in the request pool */
};

static void
learn_reply(struct learn_job *job)
{
	struct http_request *req = job->req;
	struct obj *o = obj_new_object();
	const char *msg = job->message != NULL ? job->message : "Learning failed";
	int status = job->status;
	struct buf b;

	scan_task_free(&job->task);
	if (status == BAYES_LEARN_OK) {
		shared_stats_count_learn();
		obj_object_set(o, "success", obj_new_bool(true));
	} else {
		if (status != BAYES_LEARN_ALREADY && status != BAYES_LEARN_SKIPPED &&
		    (status < 400 || status > 599))
			status = 500;
		obj_object_set(o, "error", obj_new_string(msg));
	}
	buf_init(&b, 0);
	obj_emit_json(o, &b, false);
	obj_free(&o);
	controller_reply_json(req, status, status == 200 ? NULL : msg, b.data, b.len);
	buf_deinit(&b);
}

static void
learn_done(struct scan_task *task, int status, const char *message, void *ud)
{
	struct learn_job *job = ud;

	job->status = status;
	job->message = message != NULL ? pool_strdup(job->req->pool, message) : NULL;
	log_info("controller", task->id, "learn %s from %s: %d%s%s", job->spam ? "spam" : "ham",
	    job->req->peer_text, status, message != NULL ? " " : "", message != NULL ? message : "");
	job->done = true;
	if (!job->in_call)
		learn_reply(job);
}

void
controller_learn(struct controller *c, struct http_request *req, bool spam)
{
	const struct config *cfg = c->ctx->cfg;
	struct learn_job *job = pool_alloc(req->pool, sizeof(*job));

	if (job == NULL || http_message_with_query_headers(req->msg, req->pool, &job->m) < 0) {
		controller_reply_error(req, 500, "request too large");
		return;
	}
	if (job->m.body == NULL || job->m.body_len == 0) {
		controller_reply_error(req, 400, "Empty body is not permitted");
		return;
	}
	if (job->m.body_len > cfg->max_message) {
		controller_reply_error(req, 500, "message is too big");
		return;
	}
	if (!bayes_enabled(c->ctx->engine)) {
		controller_reply_error(req, 500, "No classifier is configured");
		return;
	}
	job->c = c;
	job->req = req;
	job->spam = spam;
	job->task = scan_task_new(c->ctx->engine, job->m.body, job->m.body_len);
	scan_http_fill_envelope(job->task, &job->m);
	job->task->loop = c->ctx->loop;
	job->in_call = true;
	bayes_learn(job->task, spam, learn_done, job);
	job->in_call = false;
	if (job->done)
		learn_reply(job);
}
