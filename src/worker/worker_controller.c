/*
 * worker_controller.c - the controller worker (localhost:11334): routing
 * of the management API to its handlers, behind the access level each
 * endpoint needs (spec/controller.md sections 1 and 2).
 *
 * Implemented: /ping, /auth, /stat, /statreset, /learnspam, /learnham,
 * the scan commands (rspamc sends `symbols` to 11334 when the host is
 * local), /queue, and the web UI's /graph, /pie, /history,
 * /historyreset, /errors, /neighbours, /symbols, /actions, /saveactions,
 * /savesymbols, /maps, /getmap and /savemap (controller_ui.c,
 * controller_maps.c), and /metrics for Prometheus (controller_metrics.c).
 * Cross-site requests are refused before the password check
 * (controller_csrf.c). Other paths answer 404. Every reply carries
 * `Cache-Control: no-store`, as Rspamd's controller does. Each request is
 * counted as a control connection in the shared statistics, which the
 * controller also keeps across restarts in <dbdir>/stats.ucl (restored at
 * start, saved every minute and when the worker stops).
 */
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "http/http_parser.h"
#include "http/http_server.h"
#include "log/log.h"
#include "worker/controller_internal.h"
#include "worker/controller_static.h"
#include "worker/history.h"
#include "worker/scan_http.h"
#include "worker/shared_stats.h"
#include "worker/worker.h"
#include "worker/worker_http.h"

#include <ev.h>
#include <limits.h>
#include <string.h>

#define CTRL_STATS_SAVE_INTERVAL 60.0

enum ctrl_endpoint {
	CTRL_EP_UNKNOWN,
	CTRL_EP_PING,
	CTRL_EP_AUTH,
	CTRL_EP_STAT,
	CTRL_EP_STATRESET,
	CTRL_EP_LEARNSPAM,
	CTRL_EP_LEARNHAM,
	CTRL_EP_QUEUE,
	CTRL_EP_SCAN,
	CTRL_EP_SIMPLE,     /* answered by the route's fn */
};

typedef void ctrl_fn(struct controller *c, struct http_request *req);

static const struct {
	const char *path;
	enum ctrl_endpoint ep;
	enum ctrl_access need;
	ctrl_fn *fn;
} ctrl_routes[] = {
	{ "ping", CTRL_EP_PING, CTRL_ACCESS_NONE, NULL },
	{ "auth", CTRL_EP_AUTH, CTRL_ACCESS_READ, NULL },
	{ "stat", CTRL_EP_STAT, CTRL_ACCESS_READ, NULL },
	{ "statreset", CTRL_EP_STATRESET, CTRL_ACCESS_PRIV, NULL },
	{ "learnspam", CTRL_EP_LEARNSPAM, CTRL_ACCESS_PRIV, NULL },
	{ "learnham", CTRL_EP_LEARNHAM, CTRL_ACCESS_PRIV, NULL },
	{ "queue", CTRL_EP_QUEUE, CTRL_ACCESS_READ, NULL }, /* POSTs: PRIV, checked there */
	{ "graph", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_graph },
	{ "pie", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_pie },
	{ "history", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_history },
	{ "historyreset", CTRL_EP_SIMPLE, CTRL_ACCESS_PRIV, controller_history_reset },
	{ "errors", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_errors },
	{ "neighbours", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_neighbours },
	{ "symbols", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_symbols },
	{ "actions", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_actions },
	{ "saveactions", CTRL_EP_SIMPLE, CTRL_ACCESS_PRIV, controller_saveactions },
	{ "savesymbols", CTRL_EP_SIMPLE, CTRL_ACCESS_PRIV, controller_savesymbols },
	{ "maps", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_maps },
	{ "getmap", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_getmap },
	{ "savemap", CTRL_EP_SIMPLE, CTRL_ACCESS_PRIV, controller_savemap },
	{ "metrics", CTRL_EP_SIMPLE, CTRL_ACCESS_READ, controller_metrics },
};

static const struct http_header ctrl_headers[] = {
	{ STR_LIT("Cache-Control"), STR_LIT("no-store") },
};

void
controller_reply_json(struct http_request *req, int status, const char *reason,
    const char *json, size_t len)
{
	http_reply(req, status, reason, "application/json", ctrl_headers,
	    ARRAY_SIZE(ctrl_headers), json, len);
}

void
controller_reply_obj(struct http_request *req, struct obj **o)
{
	struct buf b;

	buf_init(&b, 0);
	if (obj_emit_json(*o, &b, false) < 0)
		controller_reply_error(req, 500, "cannot encode the reply");
	else
		controller_reply_json(req, 200, NULL, b.data, b.len);
	buf_deinit(&b);
	obj_free(o);
}

void
controller_reply_error(struct http_request *req, int status, const char *message)
{
	struct obj *o = obj_new_object();
	struct buf b;

	obj_object_set(o, "error", obj_new_string(message));
	buf_init(&b, 0);
	obj_emit_json(o, &b, false);
	obj_free(&o);
	controller_reply_json(req, status, message, b.data, b.len);
	buf_deinit(&b);
}

/* The first path segment, without a leading '/' or a query. */
static enum ctrl_endpoint
route(struct str path, enum ctrl_access *need_r, ctrl_fn **fn_r)
{
	ptrdiff_t end;

	while (path.len > 0 && path.ptr[0] == '/') {
		path.ptr++;
		path.len--;
	}
	end = str_find_chr(path, '/');
	if (end >= 0)
		path.len = (size_t)end;
	for (size_t i = 0; i < ARRAY_SIZE(ctrl_routes); i++) {
		if (str_case_eq_cstr(path, ctrl_routes[i].path)) {
			*need_r = ctrl_routes[i].need;
			*fn_r = ctrl_routes[i].fn;
			return ctrl_routes[i].ep;
		}
	}
	*need_r = CTRL_ACCESS_READ;
	return CTRL_EP_UNKNOWN;
}

static void
controller_handler(struct http_request *req, void *ud)
{
	struct controller *c = ud;
	enum ctrl_access need;
	ctrl_fn *fn = NULL;
	enum ctrl_endpoint ep = route(req->msg->path, &need, &fn);
	enum scan_cmd cmd = scan_cmd_parse(req->msg->path);
	enum ctrl_auth auth;

	shared_stats_count_control_connection();
	if (ep == CTRL_EP_UNKNOWN && (cmd == SCAN_CMD_CHECKV2 || cmd == SCAN_CMD_CHECKV1))
		ep = CTRL_EP_SCAN;
	if (ep == CTRL_EP_UNKNOWN) {
		if (controller_static_serve(req))
			return; /* the web UI: no password needed */
		http_reply(req, 404, "Not found", "text/plain", ctrl_headers,
		    ARRAY_SIZE(ctrl_headers), "Not found", 9);
		return;
	}
	/* /queue's POSTs change the queue: refuse forms there as on PRIV paths. */
	if (controller_csrf_check(req, ep == CTRL_EP_QUEUE &&
	    str_case_eq_cstr(req->msg->method, "POST") ? CTRL_ACCESS_PRIV : need) < 0)
		return;
	auth = controller_authorize(c, req, need);
	if (auth != CTRL_AUTH_OK && auth != CTRL_AUTH_OK_READ_ONLY) {
		controller_auth_refuse(c, req, auth);
		return;
	}
	switch (ep) {
	case CTRL_EP_SIMPLE:
		fn(c, req);
		break;
	case CTRL_EP_PING:
		http_reply(req, 200, "OK", "text/plain", ctrl_headers, ARRAY_SIZE(ctrl_headers),
		    "pong\r\n", 6);
		break;
	case CTRL_EP_AUTH:
		controller_auth_reply(c, req, auth == CTRL_AUTH_OK_READ_ONLY);
		break;
	case CTRL_EP_STAT:
	case CTRL_EP_STATRESET:
		controller_stat(c, req, auth == CTRL_AUTH_OK_READ_ONLY, ep == CTRL_EP_STATRESET);
		break;
	case CTRL_EP_LEARNSPAM:
	case CTRL_EP_LEARNHAM:
		controller_learn(c, req, ep == CTRL_EP_LEARNSPAM);
		break;
	case CTRL_EP_QUEUE:
		controller_queue(c, req);
		break;
	default:
		scan_http_handle(req, c->ctx->engine, c->ctx->loop, cmd);
		break;
	}
}

static void
stats_save_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	UNUSED(loop);
	UNUSED(revents);
	shared_stats_save(w->data);
}

int
worker_controller_run(struct worker_ctx *ctx)
{
	static struct controller c; /* the process's only one; big failure table */
	static char stats_path[PATH_MAX];
	struct http_server_settings s;
	ev_timer save_timer;
	int rc;

	memset(&c, 0, sizeof(c));
	c.ctx = ctx;
	controller_auth_init(&c);
	controller_config_id(&c);
	controller_static_init(ctx);
	worker_http_settings(ctx, &s, "controller");
	c.srv = http_server_new(ctx->loop, ctx->fds, ctx->n_fds, &s, controller_handler, &c);
	if (c.srv == NULL) {
		log_error("controller", NULL, "cannot start the HTTP server");
		controller_auth_deinit(&c);
		return 1;
	}
	stats_path[0] = '\0';
	if (ctx->cfg->dbdir != NULL &&
	    str_format(stats_path, sizeof(stats_path), "%s/stats.ucl", ctx->cfg->dbdir) >= 0) {
		shared_stats_restore(stats_path);
		(void)history_open(ctx->cfg);
		ev_timer_init(&save_timer, stats_save_tick, CTRL_STATS_SAVE_INTERVAL,
		    CTRL_STATS_SAVE_INTERVAL);
		save_timer.data = stats_path;
		ev_timer_start(ctx->loop, &save_timer);
		ev_unref(ctx->loop); /* never what keeps the loop alive */
	}
	rc = worker_http_serve(ctx, &c.srv);
	if (stats_path[0] != '\0') {
		ev_ref(ctx->loop);
		ev_timer_stop(ctx->loop, &save_timer);
		shared_stats_save(stats_path);
	}
	controller_auth_deinit(&c);
	return rc;
}
