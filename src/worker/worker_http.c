/*
 * worker_http.c - shared life cycle of the HTTP workers (normal,
 * controller): settings, serving, graceful stop.
 */
#include "worker/worker_http.h"
#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "http/http_server.h"
#include "worker/worker.h"

#include <ev.h>
#include <string.h>

void
worker_http_settings(const struct worker_ctx *ctx, struct http_server_settings *s,
    const char *component)
{
	const struct obj *w = ctx->wcfg->obj;
	double timeout;
	bool keepalive;

	memset(s, 0, sizeof(*s));
	s->log_component = component;
	s->max_body = ctx->cfg->max_message;
	if (obj_get_double(obj_lookup(w, "timeout"), &timeout) == 0 && timeout > 0)
		s->timeout = timeout;
	/* Rspamd closes after every reply; we keep connections open when the
	 * client asks, unless the site turns that off. */
	if (obj_get_bool(obj_lookup(w, "keepalive"), &keepalive) == 0)
		s->no_keep_alive = !keepalive;
}

static void
all_done(struct http_server *srv, void *ud)
{
	struct worker_ctx *ctx = ud;

	UNUSED(srv);
	ev_break(ctx->loop, EVBREAK_ALL);
}

static void
begin_stop(struct worker_ctx *ctx, void *ud)
{
	struct http_server **srv = ud;

	http_server_stop_accepting(*srv, all_done, ctx);
}

int
worker_http_serve(struct worker_ctx *ctx, struct http_server **srv)
{
	worker_install_signals(ctx, begin_stop, srv);
	ev_run(ctx->loop, 0);
	http_server_free(srv);
	return 0;
}
