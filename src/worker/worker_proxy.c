/*
 * worker_proxy.c - the "rspamd_proxy" worker: Postfix (or Sendmail) talks
 * milter to it; each message is scanned in this process with the normal
 * task pipeline, or, with an `upstream { self_scan = no; hosts = ...; }`
 * section, forwarded to another scanner's /checkv2. Either way the result
 * is the /checkv2 reply object, mapped to milter packets by the same code
 * (milter/milter_map.h).
 *
 * Options (worker section): milter (only milter mode exists; `no` is
 * refused), timeout, reject_message, tempfail_message, spam_header,
 * discard_on_reject, quarantine_on_reject; options.max_message bounds the
 * message buffer.
 */
#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/xmalloc.h"
#include "http/http_parser.h"
#include "log/log.h"
#include "milter/milter_session.h"
#include "milter/milter_upstream.h"
#include "scan/actions.h"
#include "scan/engine.h"
#include "scan/reply.h"
#include "scan/task.h"
#include "worker/scan_http.h"
#include "worker/history.h"
#include "worker/shared_stats.h"
#include "worker/worker.h"

#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct proxy_listener {
	ev_io w;
	struct proxy_worker *pw;
};

struct proxy_worker {
	struct worker_ctx *ctx;
	struct milter_settings set;
	const char *upstream;   /* host:port of the scanner, NULL: self scan */
	double upstream_timeout;
	struct proxy_listener *listeners;
	struct milter_session **sessions;
	size_t n_sessions, cap_sessions;
	bool stopping;
};

struct proxy_scan {
	struct milter_session *s;
	struct scan_task *task;
};

static void
task_done(struct scan_task *task, void *ud)
{
	struct proxy_scan *ps = ud;
	struct scan_reply_opts opts = { false, false };
	struct obj *reply;

	shared_stats_count_scan(task->action, action_is_spam(task->action), task->time_real);
	history_add(task);
	scan_task_log(task);
	reply = scan_reply_v2(task, &opts);
	milter_session_scan_done(ps->s, reply);
	obj_free(&reply);
	scan_task_free(&task);
	free(ps);
}

/* The envelope goes through the same header parsing as an HTTP scan. */
static void
scan_in_process(struct proxy_worker *pw, struct milter_session *s,
    const struct milter_scan_request *req)
{
	const struct config *cfg = scan_engine_config(pw->ctx->engine);
	struct proxy_scan *ps = xcalloc(1, sizeof(*ps));
	struct http_message m;

	memset(&m, 0, sizeof(m));
	m.headers = (struct http_header *)req->headers;
	m.n_headers = (unsigned)req->n_headers;
	ps->s = s;
	ps->task = scan_task_new(pw->ctx->engine, req->data, req->len);
	scan_http_fill_envelope(ps->task, &m);
	ps->task->env.milter = true;
	shared_stats_count_connection();
	worker_watchdog_arm(cfg->task_timeout * 2 + 2);
	scan_task_process_async(ps->task, pw->ctx->loop, task_done, ps);
	worker_watchdog_disarm();
}

static void
upstream_done(const struct obj *reply, void *ud)
{
	milter_session_scan_done(ud, reply);
}

static void
proxy_scan(struct milter_session *s, const struct milter_scan_request *req, void *ud)
{
	struct proxy_worker *pw = ud;

	if (pw->upstream == NULL) {
		scan_in_process(pw, s, req);
		return;
	}
	if (milter_upstream_scan(pw->ctx->loop, pw->upstream, pw->upstream_timeout, req,
	    upstream_done, s) < 0) {
		log_warn("proxy", req->log_id, "cannot reach upstream %s", pw->upstream);
		milter_session_scan_done(s, NULL);
	}
}

static void
proxy_closed(struct milter_session *s, void *ud)
{
	struct proxy_worker *pw = ud;

	for (size_t i = 0; i < pw->n_sessions; i++) {
		if (pw->sessions[i] == s) {
			pw->sessions[i] = pw->sessions[--pw->n_sessions];
			break;
		}
	}
	if (pw->stopping && pw->n_sessions == 0)
		ev_break(pw->ctx->loop, EVBREAK_ALL);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_listener *l = (struct proxy_listener *)w;
	struct proxy_worker *pw = l->pw;

	UNUSED(revents);
	for (int i = 0; i < 16; i++) {
		struct milter_session *s;
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		s = milter_session_new(loop, fd, &pw->set, proxy_scan, proxy_closed, pw);
		if (s == NULL)
			continue;
		if (pw->n_sessions == pw->cap_sessions) {
			pw->cap_sessions = pw->cap_sessions * 2 + 16;
			pw->sessions = xrealloc(pw->sessions, pw->cap_sessions * sizeof(*pw->sessions));
		}
		pw->sessions[pw->n_sessions++] = s;
	}
}

static const char *
opt_string(const struct obj *w, const char *key)
{
	return obj_get_string(obj_lookup(w, key));
}

static bool
opt_bool(const struct obj *w, const char *key, bool dflt)
{
	bool b;

	return obj_get_bool(obj_lookup(w, key), &b) == 0 ? b : dflt;
}

/* upstream "name" { hosts = "h:p"; self_scan = no; }: the first upstream
 * that does not self-scan is used (one host; the first of a list). */
static void
read_upstream(struct proxy_worker *pw, const struct obj *w)
{
	const struct obj *ups = obj_lookup(w, "upstream"), *it = NULL, *u;

	while ((u = obj_iter_values(ups, &it)) != NULL) {
		for (const struct obj *c = obj_first(u); c != NULL; c = c->next) {
			const struct obj *cfg = c->type == OBJ_OBJECT && obj_lookup(c, "hosts") == NULL ?
			    c : u;
			const struct obj *hosts = obj_lookup(cfg, "hosts"), *hit = NULL, *h;

			if (opt_bool(cfg, "self_scan", hosts == NULL))
				continue;
			h = obj_iter_values(hosts, &hit);
			if (h != NULL && obj_get_string(h) != NULL) {
				pw->upstream = obj_get_string(h);
				return;
			}
		}
	}
}

static int
read_settings(struct proxy_worker *pw)
{
	const struct obj *w = pw->ctx->wcfg->obj;
	double t;

	if (!opt_bool(w, "milter", true)) {
		log_error("proxy", NULL, "only milter mode is implemented (milter = yes)");
		return -1;
	}
	pw->set.map.reject_message = opt_string(w, "reject_message");
	pw->set.map.tempfail_message = opt_string(w, "tempfail_message");
	pw->set.map.spam_header = opt_string(w, "spam_header");
	pw->set.map.discard_on_reject = opt_bool(w, "discard_on_reject", false);
	pw->set.map.quarantine_on_reject = opt_bool(w, "quarantine_on_reject", false);
	pw->set.max_message = pw->ctx->cfg->max_message;
	pw->set.timeout = 120.0;
	if (obj_get_double(obj_lookup(w, "timeout"), &t) == 0 && t > 0)
		pw->set.timeout = t;
	pw->upstream_timeout = pw->ctx->cfg->task_timeout * 2 + 2;
	read_upstream(pw, w);
	return 0;
}

static void
begin_stop(struct worker_ctx *ctx, void *ud)
{
	struct proxy_worker *pw = ud;

	pw->stopping = true;
	for (size_t i = 0; i < ctx->n_fds; i++)
		ev_io_stop(ctx->loop, &pw->listeners[i].w);
	/* An idle MTA connection may be closed: Postfix reconnects (or, with
	 * milter_default_action = accept, passes mail on). Copy first: the
	 * array shrinks as sessions end. */
	if (pw->n_sessions == 0) {
		ev_break(ctx->loop, EVBREAK_ALL);
		return;
	}
	{
		size_t n = pw->n_sessions;
		struct milter_session **copy = xmalloc(n * sizeof(*copy));

		memcpy(copy, pw->sessions, n * sizeof(*copy));
		for (size_t i = 0; i < n; i++)
			milter_session_shutdown(copy[i]);
		free(copy);
	}
}

int
worker_proxy_run(struct worker_ctx *ctx)
{
	struct proxy_worker pw;

	memset(&pw, 0, sizeof(pw));
	pw.ctx = ctx;
	if (read_settings(&pw) < 0)
		return 1;
	pw.listeners = xcalloc(ctx->n_fds + 1, sizeof(*pw.listeners));
	for (size_t i = 0; i < ctx->n_fds; i++) {
		pw.listeners[i].pw = &pw;
		ev_io_init(&pw.listeners[i].w, on_accept, ctx->fds[i], EV_READ);
		ev_io_start(ctx->loop, &pw.listeners[i].w);
	}
	worker_install_signals(ctx, begin_stop, &pw);
	log_info("proxy", NULL, "milter worker #%u ready on %zu socket(s), %s", ctx->index,
	    ctx->n_fds, pw.upstream != NULL ? pw.upstream : "scanning in-process");
	ev_run(ctx->loop, 0);
	free(pw.listeners);
	free(pw.sessions);
	return 0;
}
