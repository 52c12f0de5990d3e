/*
 * controller_auth.c - who may use which controller endpoint
 * (spec/controller.md section 1).
 *
 * Unix-socket peers and secure_ip peers (unless a proxy on a secure IP
 * forwards for someone else) need no password. Everyone else sends
 * `Password:` (or ?password=), checked against `password` (read-only) and
 * `enable_password` (privileged). Configured values are plaintext or
 * `rspamadm pw` hashes; a hash is verified with its KDF, and since a
 * Catena check costs tens of milliseconds the outcome is cached per
 * process, keyed by the SHA-256 of the supplied password (never the
 * password itself). Plaintext values are compared as SHA-256 digests with
 * CRYPTO_memcmp, so neither content nor length leaks through timing.
 *
 * A wrong password is answered 403 only after a delay, from a timer on the
 * worker loop, so guessing is slow without blocking other clients.
 * Failures are counted per source address and logged.
 */
#include "config/config.h"
#include "core/common.h"
#include "core/netaddr.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "crypto/pwhash.h"
#include "http/http_parser.h"
#include "http/http_server.h"
#include "log/log.h"
#include "worker/controller_internal.h"
#include "worker/worker.h"

#include <ev.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define CTRL_FAIL_DELAY 0.75
#define CTRL_FAIL_WINDOW 600.0

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

static void
sha256(const char *s, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	if (EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) != 1)
		panic("SHA-256 unavailable");
}

static void
password_init(struct ctrl_password *p, const char *value)
{
	memset(p, 0, sizeof(*p));
	p->value = value;
	if (value == NULL)
		return;
	p->hashed = pwhash_is_hash(value);
	if (!p->hashed)
		sha256(value, strlen(value), p->plain_digest);
}

static bool
password_matches(struct ctrl_password *p, const char *given)
{
	struct ctrl_pw_cache_entry *e;
	uint8_t d[32];
	int rc;

	if (p->value == NULL)
		return false;
	sha256(given, strlen(given), d);
	if (!p->hashed)
		return CRYPTO_memcmp(d, p->plain_digest, sizeof(d)) == 0;
	for (unsigned i = 0; i < CTRL_PW_CACHE; i++) {
		e = &p->cache[i];
		if (e->used && CRYPTO_memcmp(e->given, d, sizeof(d)) == 0)
			return e->match;
	}
	rc = pwhash_verify(p->value, given, strlen(given));
	if (rc < 0)
		log_error("controller", NULL, "a configured controller password hash is "
		    "malformed or of an unknown type; nothing can match it");
	e = &p->cache[p->cache_next++ % CTRL_PW_CACHE];
	memcpy(e->given, d, sizeof(d));
	e->used = true;
	e->match = rc == 1;
	return e->match;
}

void
controller_auth_init(struct controller *c)
{
	const struct obj *w = c->ctx->wcfg->obj;

	load_secure_ip(c);
	password_init(&c->password, obj_get_string(obj_lookup(w, "password")));
	password_init(&c->enable_password, obj_get_string(obj_lookup(w, "enable_password")));
	c->fail_delay = CTRL_FAIL_DELAY;
	if (obj_get_double(obj_lookup(w, "auth_failure_window"), &c->fail_window) < 0 ||
	    c->fail_window <= 0)
		c->fail_window = CTRL_FAIL_WINDOW;
}

void
controller_auth_deinit(struct controller *c)
{
	free(c->secure);
	c->secure = NULL;
	OPENSSL_cleanse(&c->password, sizeof(c->password));
	OPENSSL_cleanse(&c->enable_password, sizeof(c->enable_password));
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

/* A secure peer, and if it is a proxy, the client it forwards for too. */
static bool
peer_secure(const struct controller *c, struct http_request *req)
{
	const struct http_message *m = req->msg;
	const struct http_header *fwd = http_message_header(m, "X-Forwarded-For");
	ptrdiff_t comma;
	char *first;

	if (!is_secure(c, req->peer_text))
		return false;
	if (fwd == NULL)
		fwd = http_message_header(m, "X-Real-IP");
	if (fwd == NULL)
		return true;
	comma = str_find_chr(fwd->value, ',');
	first = str_dup_cstr(req->pool, str_trim(str_make(fwd->value.ptr,
	    comma >= 0 ? (size_t)comma : fwd->value.len)));
	return first != NULL && is_secure(c, first);
}

/* What a request without a (matching) password may do. */
static bool
open_without_password(const struct controller *c, enum ctrl_access need)
{
	if (need == CTRL_ACCESS_READ)
		return c->password.value == NULL;
	return c->password.value == NULL && c->enable_password.value == NULL;
}

enum ctrl_auth
controller_authorize(struct controller *c, struct http_request *req, enum ctrl_access need)
{
	const struct http_header *pw;
	const char *given;

	if (need == CTRL_ACCESS_NONE || req->peer_is_unix || peer_secure(c, req))
		return CTRL_AUTH_OK;
	pw = http_message_header(req->msg, "Password");
	given = pw != NULL ? str_dup_cstr(req->pool, pw->value) :
			     http_query_param(req->msg, "password", req->pool);
	if (given == NULL)
		return open_without_password(c, need) ? CTRL_AUTH_OK : CTRL_AUTH_MISSING;
	/* The shipped example passwords never open a remote door. */
	if (strcmp(given, "q1") == 0 || strcmp(given, "q2") == 0)
		return CTRL_AUTH_WRONG;
	if (password_matches(&c->enable_password, given))
		return CTRL_AUTH_OK;
	if (password_matches(&c->password, given)) {
		if (c->enable_password.value == NULL)
			return CTRL_AUTH_OK; /* legacy: one password for everything */
		return need == CTRL_ACCESS_READ ? CTRL_AUTH_OK_READ_ONLY : CTRL_AUTH_NOT_ENOUGH;
	}
	return open_without_password(c, need) ? CTRL_AUTH_OK : CTRL_AUTH_WRONG;
}

/* Counts a failure from `ip`; returns the count within the window. */
static unsigned
count_failure(struct controller *c, const char *ip, double now)
{
	struct ctrl_failure *slot = NULL, *oldest = &c->failures[0];

	for (unsigned i = 0; i < CTRL_FAIL_SLOTS; i++) {
		struct ctrl_failure *f = &c->failures[i];

		if (f->count > 0 && strcmp(f->ip, ip) == 0) {
			slot = f;
			break;
		}
		if (f->last < oldest->last)
			oldest = f;
	}
	if (slot == NULL) {
		slot = oldest;
		memset(slot, 0, sizeof(*slot));
		str_lcpy(slot->ip, ip, sizeof(slot->ip));
	} else if (now - slot->last > c->fail_window)
		slot->count = 0;
	slot->count++;
	slot->last = now;
	return slot->count;
}

struct ctrl_delayed {
	ev_timer timer;
	struct http_request *req;
};

static void
delayed_refusal(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctrl_delayed *d = w->data;

	UNUSED(revents);
	ev_timer_stop(loop, w);
	controller_reply_error(d->req, 403, "Unauthorized");
}

void
controller_auth_refuse(struct controller *c, struct http_request *req, enum ctrl_auth why)
{
	struct ctrl_delayed *d;
	unsigned n;

	if (why == CTRL_AUTH_MISSING) {
		log_info("controller", NULL, "%s: password required for %.*s", req->peer_text,
		    (int)MIN(req->msg->path.len, 64), req->msg->path.ptr);
		controller_reply_error(req, 401, "Unauthorized");
		return;
	}
	if (why == CTRL_AUTH_NOT_ENOUGH) {
		log_info("controller", NULL, "%s: read-only password used for %.*s",
		    req->peer_text, (int)MIN(req->msg->path.len, 64), req->msg->path.ptr);
		controller_reply_error(req, 403, "Unauthorized");
		return;
	}
	n = count_failure(c, req->peer_text, ev_now(c->ctx->loop));
	log_warn("controller", NULL, "authentication failed for %s (%u failure%s in %.0f s)",
	    req->peer_text, n, n == 1 ? "" : "s", c->fail_window);
	d = pool_alloc(req->pool, sizeof(*d));
	if (d == NULL) {
		controller_reply_error(req, 403, "Unauthorized");
		return;
	}
	d->req = req;
	ev_timer_init(&d->timer, delayed_refusal, c->fail_delay, 0.0);
	d->timer.data = d;
	ev_timer_start(c->ctx->loop, &d->timer);
}
