/*
 * worker_normal.c - the scanner worker: /checkv2, /ping and the legacy
 * scan commands on the normal worker's sockets.
 *
 * Runs in a "normal" worker process. Scans are synchronous CPU work, short
 * and bounded by the message size limit; the loop stays free between them.
 */
#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "http/http_server.h"
#include "log/log.h"
#include "worker/scan_http.h"
#include "worker/worker.h"
#include "worker/worker_http.h"

#include <ev.h>
#include <string.h>

struct normal_worker {
	struct worker_ctx *ctx;
	struct http_server *srv;
};

static void
normal_handler(struct http_request *req, void *ud)
{
	struct normal_worker *nw = ud;
	enum scan_cmd cmd = scan_cmd_parse(req->msg->legacy_rspamc ? req->msg->method :
									   req->msg->path);

	switch (cmd) {
	case SCAN_CMD_PING:
		scan_http_ping(req);
		break;
	case SCAN_CMD_UNKNOWN:
		http_reply_json_error(req, 500, "invalid command", "protocol-error");
		break;
	default:
		scan_http_handle(req, nw->ctx->engine, nw->ctx->loop, cmd);
		break;
	}
}

int
worker_normal_run(struct worker_ctx *ctx)
{
	struct normal_worker nw = { ctx, NULL };
	struct http_server_settings s;

	worker_http_settings(ctx, &s, "normal");
	nw.srv = http_server_new(ctx->loop, ctx->fds, ctx->n_fds, &s, normal_handler, &nw);
	if (nw.srv == NULL) {
		log_error("normal", NULL, "cannot start the HTTP server");
		return 1;
	}
	log_info("normal", NULL, "worker #%u ready on %zu socket(s)", ctx->index, ctx->n_fds);
	return worker_http_serve(ctx, &nw.srv);
}
