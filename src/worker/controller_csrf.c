/*
 * controller_csrf.c - keeps other web sites from using the controller
 * through a visitor's browser (cross-site request forgery).
 *
 * The danger is ambient authority: a browser on a secure_ip host (the
 * admin's own machine) needs no password, so any page it visits could
 * post a form to http://localhost:11334/saveactions. Browsers cannot add
 * a `Password:` header to a plain form or navigation, and they label
 * cross-site requests, so a request is refused (403) when:
 *
 *   - it carries an Origin that is not this controller (scheme-less
 *     comparison of host[:port] with the Host header), or
 *     `Sec-Fetch-Site: cross-site`;
 *   - it is privileged and has a form body (urlencoded or multipart) but
 *     no `Password:` header: rspamc and the web UI never send those;
 *   - it is privileged and its password came only as `?password=`, which
 *     a link or form can carry. Deviation from spec/controller.md
 *     section 1, which allows the query parameter everywhere; we keep it
 *     for read-only endpoints only.
 */
#include "core/common.h"
#include "core/str.h"
#include "http/http_parser.h"
#include "http/http_server.h"
#include "log/log.h"
#include "worker/controller_internal.h"

#include <string.h>

/* "http://host:port/..." -> "host:port". */
static struct str
origin_authority(struct str origin)
{
	ptrdiff_t slash;
	static const char sep[] = "://";

	for (size_t i = 0; i + 3 <= origin.len; i++) {
		if (memcmp(origin.ptr + i, sep, 3) == 0) {
			origin = str_slice(origin, i + 3, origin.len - i - 3);
			break;
		}
	}
	slash = str_find_chr(origin, '/');
	if (slash >= 0)
		origin.len = (size_t)slash;
	return origin;
}

static bool
foreign_origin(const struct http_message *m)
{
	const struct http_header *o = http_message_header(m, "Origin");
	const struct http_header *h = http_message_header(m, "Host");
	const struct http_header *site = http_message_header(m, "Sec-Fetch-Site");

	if (site != NULL && str_case_eq_cstr(str_trim(site->value), "cross-site"))
		return true;
	if (o == NULL)
		return false;
	if (h == NULL)
		return true;
	return !str_case_eq(origin_authority(str_trim(o->value)), str_trim(h->value));
}

static bool
form_body(const struct http_message *m)
{
	const struct http_header *ct = http_message_header(m, "Content-Type");
	struct str v;

	if (ct == NULL)
		return false;
	v = str_trim(ct->value);
	return str_has_prefix_case(v, "application/x-www-form-urlencoded") ||
	    str_has_prefix_case(v, "multipart/form-data");
}

int
controller_csrf_check(struct http_request *req, enum ctrl_access need)
{
	const struct http_message *m = req->msg;
	bool has_header = http_message_header(m, "Password") != NULL;
	const char *why = NULL;

	if (need == CTRL_ACCESS_NONE)
		return 0;
	if (foreign_origin(m))
		why = "Cross-origin request refused";
	else if (need == CTRL_ACCESS_PRIV && !has_header && form_body(m))
		why = "Form submissions are refused; send the Password header";
	else if (need == CTRL_ACCESS_PRIV && !has_header &&
	    http_query_param(m, "password", req->pool) != NULL)
		why = "Password must be sent in the Password header";
	if (why == NULL)
		return 0;
	log_warn("controller", NULL, "%s: %.*s refused: %s", req->peer_text,
	    (int)MIN(m->path.len, 64), m->path.ptr, why);
	controller_reply_error(req, 403, why);
	return -1;
}
