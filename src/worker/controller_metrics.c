/*
 * controller_metrics.c - GET /metrics on the controller: the shared scan
 * counters, the mail queue sizes and the uptime in the Prometheus text
 * exposition format (version 0.0.4), so a monitoring system can scrape
 * the daemon without parsing /stat's JSON.
 *
 * Reached with READ access, like /stat. Everything comes from the shared
 * counters every worker increments, plus one directory count per queue
 * of <state>/spool; the uptime is the supervisor's (when it mapped the
 * shared counters). A queue whose directory is missing (no mail roles, no
 * spool yet) is simply left out rather than reported as zero. The queue
 * count reads directories on every scrape: scrapes come every few
 * seconds at most, and a stale figure would be worse for alerting.
 */
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/str.h"
#include "http/http_server.h"
#include "queue/spool.h"
#include "worker/controller_internal.h"
#include "worker/shared_stats.h"
#include "worker/worker.h"

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <time.h>

static const struct http_header metrics_headers[] = {
	{ STR_LIT("Cache-Control"), STR_LIT("no-store") },
};

static void
metric_head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metric_u64(struct buf *b, const char *name, const char *type, const char *help,
    uint64_t v)
{
	metric_head(b, name, type, help);
	buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void
metrics_counters(struct buf *b, const struct stats_snapshot *s)
{
	metric_u64(b, "rspamd_scanned_total", "counter", "Messages scanned.", s->scanned);
	metric_head(b, "rspamd_actions_total", "counter", "Messages scanned, by action.");
	/* The names have spaces (a label value may) but never quotes. */
	for (int a = 0; a < STATS_ACTION_COUNT; a++)
		buf_printf(b, "rspamd_actions_total{action=\"%s\"} %" PRIu64 "\n",
		    shared_stats_action_name((enum stats_action)a), s->actions[a]);
	metric_u64(b, "rspamd_spam_total", "counter", "Messages judged spam.", s->spam_count);
	metric_u64(b, "rspamd_ham_total", "counter", "Messages judged ham.", s->ham_count);
	metric_u64(b, "rspamd_learned_total", "counter", "Messages learned.", s->learned);
	metric_u64(b, "rspamd_connections_total", "counter", "Scan connections accepted.",
	    s->connections);
	metric_u64(b, "rspamd_control_connections_total", "counter",
	    "Controller requests.", s->control_connections);
	metric_head(b, "rspamd_scan_seconds_total", "counter",
	    "Time spent scanning, summed over all scans.");
	buf_printf(b, "rspamd_scan_seconds_total %.6f\n", (double)s->scan_time_us / 1e6);
}

/* Entries of `dir` that are not dot files; -1 if it cannot be read. */
static long
count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static void
metrics_queues(struct buf *b, const char *state_dir)
{
	char path[PATH_MAX];
	bool head = false;

	if (state_dir == NULL)
		return;
	for (int q = 0; q < SPOOL_QUEUE_COUNT; q++) {
		const char *name = spool_queue_name((enum spool_queue)q);
		long n;

		if (str_format(path, sizeof(path), "%s/spool/%s", state_dir, name) < 0)
			continue;
		n = count_dir(path);
		if (n < 0)
			continue;
		if (!head) {
			metric_head(b, "rspamd_mail_queue_messages", "gauge",
			    "Messages in each mail queue.");
			head = true;
		}
		buf_printf(b, "rspamd_mail_queue_messages{queue=\"%s\"} %ld\n", name, n);
	}
}

void
controller_metrics(struct controller *c, struct http_request *req)
{
	struct stats_snapshot s;
	struct buf b;
	int64_t up;

	shared_stats_snapshot(&s);
	up = (int64_t)time(NULL) - s.start_time;
	buf_init(&b, 0);
	metrics_counters(&b, &s);
	metrics_queues(&b, c->ctx->cfg->state_dir);
	metric_head(&b, "rspamd_uptime_seconds", "gauge",
	    "Seconds since the daemon started.");
	buf_printf(&b, "rspamd_uptime_seconds %" PRId64 "\n", up > 0 ? up : 0);
	metric_head(&b, "rspamd_start_time_seconds", "gauge",
	    "Unix time when the daemon started.");
	buf_printf(&b, "rspamd_start_time_seconds %" PRId64 "\n", s.start_time);
	http_reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", metrics_headers,
	    ARRAY_SIZE(metrics_headers), b.data, b.len);
	buf_deinit(&b);
}
