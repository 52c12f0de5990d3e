/*
 * Unit tests for the controller's data sources: the shared scan history
 * (rows, order, ring size, reset, re-attaching to the file as a restarted
 * process would), the /graph buckets and the /errors ring.
 */
#include "config/config.h"
#include "core/buf.h"
#include "core/obj.h"
#include "config/ucl_parser.h"
#include "scan/engine.h"
#include "scan/task.h"
#include "worker/history.h"
#include "worker/shared_stats.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/test_history.XXXXXX";
static struct config *cfg;
static struct scan_engine *eng;

static void
scan_one(const char *subject)
{
	char msg[512];
	struct scan_task *t;
	static const char *rcpts[] = { "rcpt@example.org" };

	snprintf(msg, sizeof(msg), "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
	    "Subject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\nhello\r\n", subject, subject);
	t = scan_task_new(eng, msg, strlen(msg));
	t->env.ip = "192.0.2.9";
	t->env.from = "env@example.org";
	t->env.rcpts = rcpts;
	t->env.n_rcpts = 1;
	scan_task_process(t);
	history_add(t);
	scan_task_free(&t);
}

static struct obj *
export(long from, long to)
{
	struct buf b;
	char *err = NULL;
	struct obj *o;

	buf_init(&b, 0);
	test_assert(history_export(cfg, from, to, &b) == 0);
	o = ucl_parse_json(b.data, b.len, &err);
	test_assert(o != NULL);
	free(err);
	buf_deinit(&b);
	return o;
}

static void
test_rows(void)
{
	struct obj *h, *rows, *r;
	int64_t v;

	test_begin("history rows: newest first, spec fields");
	test_assert(history_reset(cfg) == 0);
	scan_one("first");
	scan_one("second");
	h = export(0, -1);
	test_assert(obj_get_int(obj_lookup(h, "version"), &v) == 0 && v == 2);
	rows = obj_lookup(h, "rows");
	test_assert(obj_count(rows) == 2);
	r = obj_array_at(rows, 0);
	test_assert(strcmp(obj_get_string(obj_lookup(r, "subject")), "second") == 0);
	test_assert(strcmp(obj_get_string(obj_lookup(r, "message-id")), "second@example.org") == 0);
	test_assert(strcmp(obj_get_string(obj_lookup(r, "ip")), "192.0.2.9") == 0);
	test_assert(strcmp(obj_get_string(obj_lookup(r, "sender_mime")), "alice@example.org") == 0);
	test_assert(strcmp(obj_get_string(obj_array_at(obj_lookup(r, "rcpt_mime"), 0)),
	    "bob@example.net") == 0);
	test_assert(strcmp(obj_get_string(obj_array_at(obj_lookup(r, "rcpt_smtp"), 0)),
	    "rcpt@example.org") == 0);
	test_assert(obj_lookup(r, "symbols") != NULL && obj_lookup(r, "action") != NULL);
	obj_free(&h);
	h = export(1, 1);
	test_assert(obj_count(obj_lookup(h, "rows")) == 1);
	r = obj_array_at(obj_lookup(h, "rows"), 0);
	test_assert(strcmp(obj_get_string(obj_lookup(r, "subject")), "first") == 0);
	obj_free(&h);
	test_end();
}

static void
test_ring_and_reopen(void)
{
	char s[32];
	struct obj *h;

	test_begin("history ring keeps history_rows rows, survives re-attaching");
	for (int i = 0; i < HISTORY_DEFAULT_ROWS + 7; i++) {
		snprintf(s, sizeof(s), "m%d", i);
		scan_one(s);
	}
	history_close(); /* as a restarted process would find the file */
	test_assert(history_open(cfg) == 0);
	h = export(0, -1);
	test_assert(obj_count(obj_lookup(h, "rows")) == HISTORY_DEFAULT_ROWS);
	snprintf(s, sizeof(s), "m%d", HISTORY_DEFAULT_ROWS + 6);
	test_assert(strcmp(obj_get_string(obj_lookup(obj_array_at(obj_lookup(h, "rows"), 0),
	    "subject")), s) == 0);
	obj_free(&h);
	test_assert(history_reset(cfg) == 0);
	h = export(0, -1);
	test_assert(obj_count(obj_lookup(h, "rows")) == 0);
	obj_free(&h);
	test_end();
}

static void
test_graph_and_errors(void)
{
	struct obj *g, *last, *e;
	double y;

	test_begin("graph buckets and the errors ring");
	shared_stats_count_scan("reject", true, 0.01);
	shared_stats_count_scan("reject", true, 0.01);
	g = shared_stats_graph("day", (int64_t)time(NULL));
	test_assert(g != NULL && obj_count(g) == STATS_ACTION_COUNT);
	last = obj_array_at(obj_array_at(g, STATS_ACTION_REJECT),
	    obj_count(obj_array_at(g, STATS_ACTION_REJECT)) - 1);
	test_assert(obj_get_double(obj_lookup(last, "y"), &y) == 0 && y > 0);
	obj_free(&g);
	test_assert(shared_stats_graph("fortnight", 0) == NULL);
	for (int i = 0; i < STATS_ERRORS_MAX + 3; i++)
		shared_stats_log_hook(LOG_LEVEL_ERR, "normal", "test", "abc", "boom");
	e = shared_stats_errors();
	test_assert(obj_count(e) == STATS_ERRORS_MAX);
	test_assert(strcmp(obj_get_string(obj_lookup(obj_array_at(e, 0), "module")), "test") == 0);
	obj_free(&e);
	test_end();
}

int
main(void)
{
	char db[600], *err = NULL;

	test_assert(mkdtemp(dir) != NULL);
	snprintf(db, sizeof(db), "%s/db", dir);
	mkdir(db, 0700);
	if (config_load("conf/rspamd.conf", dir, &cfg, &err) < 0 ||
	    (eng = scan_engine_new(cfg, &err)) == NULL) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	test_rows();
	test_ring_and_reopen();
	test_graph_and_errors();
	history_close();
	scan_engine_free(&eng);
	config_unref(&cfg);
	snprintf(db, sizeof(db), "rm -rf %s", dir);
	if (system(db) != 0)
		return 1;
	return test_exit();
}
