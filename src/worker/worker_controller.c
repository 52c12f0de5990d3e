/*
 * worker_controller.c - the controller worker (localhost:11334).
 *
 * This first version serves what rspamc needs from a controller before
 * learning exists: /ping and the scan commands (rspamc sends `symbols` to
 * 11334 when the host is local), behind the controller's authentication
 * (spec/controller.md section 1). Other API paths answer 404 until the
 * controller issue adds them.
 */
#include "config/config.h"
#include "core/common.h"
#include "core/netaddr.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "http/http_parser.h"
#include "http/http_server.h"
#include "log/log.h"
#include "worker/scan_http.h"
#include "worker/worker.h"
#include "worker/worker_http.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

struct controller {
	struct worker_ctx *ctx;
	struct http_server *srv;
	struct netmask *secure;
	size_t n_secure;
	const char *password;
	const char *enable_password;
};

static void
load_secure_ip(struct controller *c)
{
	const struct obj *list = obj_lookup(c->ctx->wcfg->obj, "secure_ip");
	const struct obj *it = NULL, *v;

	c->secure = xcalloc(MAX(obj_count(list), 2) + 1, sizeof(*c->secure));
	if (list == NULL) {
		netmask_parse("127.0.0.1", &c->secure[c->n_secure++]);
		netmask_parse("::1", &c->secure[c->n_secure++]);
		return;
	}
	while ((v = obj_iter_values(list, &it)) != NULL) {
		const char *s = obj_get_string(v);

		if (s != NULL && netmask_parse(s, &c->secure[c->n_secure]) == 0)
			c->n_secure++;
		else
			log_warn("controller", NULL, "secure_ip: ignoring %s", s != NULL ? s : "non-string");
	}
}

static bool
is_secure(const struct controller *c, const char *ip)
{
	for (size_t i = 0; i < c->n_secure; i++) {
		if (netmask_match_text(&c->secure[i], ip))
			return true;
	}
	return false;
}

static bool
password_matches(const char *configured, const char *given)
{
	size_t n = strlen(given);

	if (configured == NULL)
		return false;
	if (configured[0] == '$' && strchr(configured + 1, '$') != NULL) {
		/* Hashed passwords ($1$ PBKDF2, $2$ Catena) arrive with learning. */
		log_warn("controller", NULL, "hashed controller passwords are not supported yet");
		return false;
	}
	return strlen(configured) == n && CRYPTO_memcmp(configured, given, n) == 0;
}

/* Read-only access check of spec/controller.md section 1. */
static bool
authorized(const struct controller *c, struct http_request *req)
{
	const struct http_message *m = req->msg;
	const struct http_header *fwd = http_message_header(m, "X-Forwarded-For");
	const struct http_header *pw;
	const char *given;

	if (req->peer_is_unix)
		return true;
	if (fwd == NULL)
		fwd = http_message_header(m, "X-Real-IP");
	if (is_secure(c, req->peer_text)) {
		if (fwd == NULL)
			return true;
		ptrdiff_t comma = str_find_chr(fwd->value, ',');
		char *first = str_dup_cstr(req->pool, str_trim(str_make(fwd->value.ptr,
		    comma >= 0 ? (size_t)comma : fwd->value.len)));

		if (first != NULL && is_secure(c, first))
			return true;
	}
	pw = http_message_header(m, "Password");
	given = pw != NULL ? str_dup_cstr(req->pool, pw->value) :
			     http_query_param(m, "password", req->pool);
	if (given == NULL)
		return c->password == NULL && c->enable_password == NULL;
	/* The shipped example passwords never open a remote door. */
	if (strcmp(given, "q1") == 0 || strcmp(given, "q2") == 0)
		return false;
	return password_matches(c->password, given) ||
	    password_matches(c->enable_password, given);
}

static void
controller_handler(struct http_request *req, void *ud)
{
	struct controller *c = ud;
	enum scan_cmd cmd = scan_cmd_parse(req->msg->path);

	if (cmd == SCAN_CMD_PING) {
		scan_http_ping(req);
		return;
	}
	if (cmd != SCAN_CMD_CHECKV2 && cmd != SCAN_CMD_CHECKV1) {
		http_reply(req, 404, "Not found", "text/plain", NULL, 0, "Not found", 9);
		return;
	}
	if (!authorized(c, req)) {
		log_info("controller", NULL, "authentication failed for %s", req->peer_text);
		http_reply(req, 401, "Unauthorized", "application/json", NULL, 0,
		    "{\"error\":\"Unauthorized\"}", 24);
		return;
	}
	scan_http_handle(req, c->ctx->engine, c->ctx->loop, cmd);
}

int
worker_controller_run(struct worker_ctx *ctx)
{
	struct controller c;
	struct http_server_settings s;
	int rc;

	memset(&c, 0, sizeof(c));
	c.ctx = ctx;
	c.password = obj_get_string(obj_lookup(ctx->wcfg->obj, "password"));
	c.enable_password = obj_get_string(obj_lookup(ctx->wcfg->obj, "enable_password"));
	load_secure_ip(&c);
	worker_http_settings(ctx, &s, "controller");
	c.srv = http_server_new(ctx->loop, ctx->fds, ctx->n_fds, &s, controller_handler, &c);
	if (c.srv == NULL) {
		log_error("controller", NULL, "cannot start the HTTP server");
		free(c.secure);
		return 1;
	}
	rc = worker_http_serve(ctx, &c.srv);
	free(c.secure);
	return rc;
}
