/* Unit tests for scan: actions, built-in checks, and the three reply forms. */
#include "config/config.h"
#include "core/buf.h"
#include "core/obj.h"
#include "scan/actions.h"
#include "scan/engine.h"
#include "scan/reply.h"
#include "scan/task.h"
#include "test.h"

#include <ev.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct config *cfg;
static struct scan_engine *eng;

static const char ham[] =
    "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
    "Subject: lunch\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <m1@example.org>\r\nReceived: from a by b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nSee you at noon.\r\n";

static struct scan_task *
scan(const char *msg)
{
	struct scan_task *t = scan_task_new(eng, msg, strlen(msg));

	scan_task_process(t);
	return t;
}

static void
test_actions(void)
{
	struct config_actions a = { 15, 6, 4, NAN, NULL };

	test_begin("actions by thresholds");
	test_assert(strcmp(actions_for_score(&a, 3.9), "no action") == 0);
	test_assert(strcmp(actions_for_score(&a, 4.0), "greylist") == 0);
	test_assert(strcmp(actions_for_score(&a, 6.5), "add header") == 0);
	test_assert(strcmp(actions_for_score(&a, 15), "reject") == 0);
	a.rewrite_subject = 8;
	test_assert(strcmp(actions_for_score(&a, 9), "rewrite subject") == 0);
	test_assert(actions_required_score(&a) == 15);
	a.reject = NAN;
	test_assert(actions_required_score(&a) == 8);
	test_assert(action_is_spam("add header") && !action_is_spam("greylist"));
	test_assert(strcmp(action_canonical_name("add_header"), "add header") == 0);
	test_assert(action_canonical_name("bogus") == NULL);
	test_end();
}

static void
test_checks(void)
{
	struct scan_task *t;

	test_begin("clean message gets no action and its Message-ID");
	t = scan(ham);
	test_assert(strcmp(t->action, "no action") == 0);
	test_assert(scan_task_find_symbol(t, "MISSING_SUBJECT") == NULL);
	test_assert(scan_task_find_symbol(t, "FROM_HAS_DN") != NULL);
	scan_task_free(&t);
	test_end();

	test_begin("GTUBE is a pre-result reject");
	t = scan("Subject: x\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n");
	test_assert(strcmp(t->action, "reject") == 0);
	test_assert(strcmp(t->pre_message, "Gtube pattern") == 0);
	test_assert(scan_task_find_symbol(t, "MISSING_FROM") == NULL); /* skipped */
	scan_task_free(&t);
	test_end();

	test_begin("GTUBE inside a base64 part");
	t = scan("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		 "WEpTKkM0SkRCUUFETjEuTlNCTjMqMklETkVOKkdUVUJFLVNUQU5EQVJELUFOVEktVUJFLVRF\r\n"
		 "U1QtRU1BSUwqQy4zNFg=\r\n");
	test_assert(strcmp(t->action, "reject") == 0);
	scan_task_free(&t);
	test_end();

	test_begin("missing and repeated headers");
	t = scan("Subject: a\r\nSubject: b\r\n\r\nbody\r\n");
	test_assert(scan_task_find_symbol(t, "MISSING_FROM") != NULL);
	test_assert(scan_task_find_symbol(t, "MISSING_MID") != NULL);
	test_assert(scan_task_find_symbol(t, "MULTIPLE_UNIQUE_HEADERS") != NULL);
	test_assert(t->score > 10);
	scan_task_free(&t);
	test_end();

	test_begin("phishing link and IP URL");
	t = scan("From: a@b.c\r\nContent-Type: text/html\r\n\r\n<html><body>"
		 "<a href=\"http://evil.example.net/login\">https://www.paypal.com/</a>"
		 " and <a href=\"http://192.0.2.7/x\">here</a></body></html>\r\n");
	test_assert(scan_task_find_symbol(t, "PHISHING") != NULL);
	test_assert(scan_task_find_symbol(t, "HTTP_TO_IP") != NULL);
	test_assert(scan_task_find_symbol(t, "MIME_HTML_ONLY") != NULL);
	scan_task_free(&t);
	test_end();

	test_begin("empty message");
	t = scan("");
	test_assert(t->msg == NULL && t->n_symbols == 0);
	scan_task_free(&t);
	test_end();
}

static void
test_replies(void)
{
	struct scan_reply_opts o = { false, false };
	struct scan_task *t = scan(ham);
	struct obj *r = scan_reply_v2(t, &o);
	struct buf b;

	test_begin("v2 reply shape");
	test_assert(obj_get_string(obj_lookup(r, "action")) != NULL);
	test_assert(obj_lookup(r, "symbols") != NULL);
	test_assert(strcmp(obj_get_string(obj_lookup(r, "message-id")), "m1@example.org") == 0);
	test_assert(obj_lookup_path(r, "milter.remove_headers.X-Spam") != NULL);
	test_assert(obj_lookup(r, "urls") == NULL);
	obj_free(&r);
	test_end();

	test_begin("v1 reply shape");
	r = scan_reply_v1(t, &o);
	test_assert(obj_lookup_path(r, "default.is_spam") != NULL);
	test_assert(obj_lookup_path(r, "default.FROM_HAS_DN.score") != NULL);
	test_assert(obj_lookup_path(r, "default.FROM_HAS_DN.metric_score") == NULL);
	test_assert(obj_lookup(r, "rmilter") != NULL);
	obj_free(&r);
	test_end();

	test_begin("legacy RSPAMC reply is what Exim sscanf()s");
	buf_init(&b, 0);
	test_assert(scan_reply_legacy(t, &b) == 0);
	test_assert(strncmp(b.data, "RSPAMD/1.3 0 EX_OK\r\nMetric: default; False; ", 44) == 0);
	test_assert(strstr(b.data, " / 15.00 / 0.0\r\nAction: no action\r\n") != NULL);
	test_assert(strstr(b.data, "Message-ID: m1@example.org\r\n") != NULL);
	buf_deinit(&b);
	scan_task_free(&t);
	test_end();

	test_begin("legacy reply cannot be given extra lines by the message");
	t = scan("Message-ID: <a=?utf-8?q?=0D=0AAction:_no_action?=b>\r\n\r\nx\r\n");
	buf_init(&b, 0);
	scan_reply_legacy(t, &b);
	/* exactly one line starts with "Action:" */
	test_assert(strstr(b.data, "\nAction:") != NULL);
	test_assert(strstr(strstr(b.data, "\nAction:") + 1, "\nAction:") == NULL);
	buf_deinit(&b);
	scan_task_free(&t);
	test_end();
}

static void
test_composites_and_groups(void)
{
	struct scan_engine *e2;
	struct scan_task *t;
	char *err = NULL;
	const char *msg = "Subject: a\r\nSubject: b\r\n\r\nbody\r\n";
	struct scan_engine *saved = eng;

	test_begin("composites consume their parts, policies, group caps");
	e2 = scan_engine_new(cfg, &err);
	test_assert(e2 != NULL);
	test_assert(scan_engine_add_composite(e2, "NO_FROM_NO_MID", "MISSING_FROM & MISSING_MID",
	    5.0, "test", NULL, &err) == 0);
	test_assert(scan_engine_add_composite(e2, "KEEP_DATE", "-MISSING_DATE & !MISSING_SUBJECT",
	    1.0, NULL, NULL, &err) == 0);
	test_assert(scan_engine_add_composite(e2, "NEVER", "MISSING_FROM & MISSING_SUBJECT",
	    9.0, NULL, NULL, &err) == 0);
	test_assert(scan_engine_add_composite(e2, "BAD", "A & (", 1.0, NULL, NULL, &err) < 0);
	free(err);
	scan_engine_set_group(e2, "headers", 3.0, NULL);
	eng = e2;
	t = scan(msg);
	test_assert(scan_task_find_symbol(t, "NO_FROM_NO_MID") != NULL);
	test_assert(scan_task_find_symbol(t, "MISSING_FROM") == NULL);
	test_assert(scan_task_find_symbol(t, "MISSING_MID") == NULL);
	test_assert(scan_task_find_symbol(t, "KEEP_DATE") != NULL);
	test_assert(scan_task_find_symbol(t, "MISSING_DATE") != NULL);
	test_assert(scan_task_find_symbol(t, "NEVER") == NULL);
	/* headers group: MULTIPLE_UNIQUE_HEADERS 7 + MISSING_DATE 1 + ... capped at 3 */
	test_assert(t->score < 3.0 + 5.0 + 1.0 + 0.01);
	scan_task_free(&t);
	eng = saved;
	scan_engine_free(&e2);
	test_end();
}

/* An asynchronous rule: answers after `delay` via a timer, or never. */
struct async_op {
	struct scan_task *task;
	struct scan_pending *p;
	ev_timer t;
	double delay;
	bool cancelled;
};

static struct async_op op;

static void
async_answer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	scan_task_insert(op.task, "ASYNC_SYM", 1.0, "late");
	scan_task_pending_done(op.task, op.p);
}

static void
async_cancel(void *ud)
{
	struct async_op *o = ud;

	o->cancelled = true;
	ev_timer_stop(o->task->loop, &o->t);
}

static void
async_rule(struct scan_task *task, void *ud)
{
	(void)ud;
	if (task->loop == NULL)
		return;
	op.task = task;
	op.cancelled = false;
	op.p = scan_task_pending_add(task, "test", async_cancel, &op);
	ev_timer_init(&op.t, async_answer, op.delay, 0.);
	ev_timer_start(task->loop, &op.t);
}

static int done_calls;

static void
async_done(struct scan_task *task, void *ud)
{
	(void)task;
	(void)ud;
	done_calls++;
}

static void
test_async(void)
{
	char *err = NULL;
	struct scan_engine *e2 = scan_engine_new(cfg, &err);
	struct symbol_info si = { "ASYNC_SYM", 2.0, "test", NULL, 0 };
	struct rule_def rd = { "ASYNC_SYM", RULE_STAGE_CLASSIFIER, 0, async_rule, NULL };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct scan_task *t;

	scan_engine_add_symbol(e2, &si);
	scan_engine_add_rule(e2, &rd);

	test_begin("async rule: the task waits for it, then finishes");
	op.delay = 0.05;
	done_calls = 0;
	t = scan_task_new(e2, ham, strlen(ham));
	scan_task_process_async(t, loop, async_done, NULL);
	test_assert(done_calls == 0 && t->waiting);
	ev_run(loop, 0);
	test_assert(done_calls == 1);
	test_assert(scan_task_find_symbol(t, "ASYNC_SYM") != NULL);
	test_assert(scan_task_find_symbol(t, "TASK_TIMEOUT") == NULL);
	scan_task_free(&t);
	test_end();

	test_begin("async rule past the time budget is cancelled");
	op.delay = 100;
	done_calls = 0;
	t = scan_task_new(e2, ham, strlen(ham));
	t->deadline = t->start_real + 0.1;
	scan_task_process_async(t, loop, async_done, NULL);
	ev_run(loop, 0);
	test_assert(done_calls == 1 && op.cancelled);
	test_assert(scan_task_find_symbol(t, "ASYNC_SYM") == NULL);
	test_assert(scan_task_find_symbol(t, "TASK_TIMEOUT") != NULL);
	scan_task_free(&t);
	test_end();

	test_begin("without a loop, asynchronous rules do not start");
	t = scan_task_new(e2, ham, strlen(ham));
	scan_task_process(t);
	test_assert(t->finished && scan_task_find_symbol(t, "ASYNC_SYM") == NULL);
	scan_task_free(&t);
	test_end();

	ev_loop_destroy(loop);
	scan_engine_free(&e2);
}

int
main(void)
{
	char *err = NULL;
	char path[4096];
	const char *src = getenv("SOURCE_DIR");

	snprintf(path, sizeof(path), "%s/conf/rspamd.conf", src != NULL ? src : ".");
	if (config_load(path, NULL, &cfg, &err) < 0) {
		printf("cannot load conf/rspamd.conf: %s\n", err);
		return 1;
	}
	eng = scan_engine_new(cfg, &err);
	if (eng == NULL) {
		printf("cannot build the engine: %s\n", err);
		return 1;
	}
	test_actions();
	test_checks();
	test_replies();
	test_composites_and_groups();
	test_async();
	scan_engine_free(&eng);
	config_unref(&cfg);
	return test_exit();
}
