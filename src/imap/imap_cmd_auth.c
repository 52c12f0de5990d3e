/*
 * imap_cmd_auth.c - the commands of every state and of the login phase:
 * CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), STARTTLS, LOGIN,
 * AUTHENTICATE PLAIN with SASL-IR (RFC 4959), NAMESPACE (RFC 2342),
 * ENABLE (RFC 5161) and IDLE (RFC 2177).
 *
 * Credentials never appear in logs; the decoded SASL buffer is wiped
 * after the hook has seen it.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "imap/imap_internal.h"
#include "log/log.h"

/* RFC 4616: authzid, authcid, passwd, each up to 255 octets. */
#define IMAP_SASL_MAX 1024

void
imap_cmd_capability(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	struct buf b;

	UNUSED(args);
	UNUSED(uid);
	if (n != 0) {
		imap_bad(s, tag, "CAPABILITY takes no arguments");
		return;
	}
	buf_init(&b, 0);
	imap_capabilities(s, &b);
	imap_sendf(s, "* CAPABILITY %s\r\n", b.data);
	buf_deinit(&b);
	imap_tagged(s, tag, "OK", "CAPABILITY completed");
}

void
imap_cmd_noop(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(args);
	UNUSED(n);
	UNUSED(uid);
	imap_tagged(s, tag, "OK", "NOOP completed");
}

void
imap_cmd_logout(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(args);
	UNUSED(n);
	UNUSED(uid);
	imap_send_cstr(s, "* BYE Logging out\r\n");
	imap_tagged(s, tag, "OK", "LOGOUT completed");
	s->closing = true;
	s->state = IMAP_STATE_LOGOUT;
	imap_unselect(s);
	imap_flush(s);
	conn_close_after_drain(s->conn);
}

void
imap_cmd_id(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(uid);
	if (n != 1 || (args[0].type != IMAP_ARG_NIL && args[0].type != IMAP_ARG_LIST)) {
		imap_bad(s, tag, "ID takes a list or NIL");
		return;
	}
	imap_send_cstr(s, "* ID (\"name\" \"rspamd-mail\" \"vendor\" \"rspamd-mail\")\r\n");
	imap_tagged(s, tag, "OK", "ID completed");
}

void
imap_cmd_starttls(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(args);
	UNUSED(uid);
	if (n != 0) {
		imap_bad(s, tag, "STARTTLS takes no arguments");
		return;
	}
	if (s->tls || s->set->tls_ctx == NULL) {
		imap_tagged(s, tag, "NO", "TLS not available");
		return;
	}
	imap_tagged(s, tag, "OK", "Begin TLS negotiation now");
	/* Queued before the handshake starts: it goes out in plaintext. */
	imap_flush(s);
	/* Pipelined plaintext after STARTTLS is dropped by conn_tls_accept
	 * and by the reader reset (RFC 3501 6.2.1). */
	imap_reader_reset(s->reader);
	s->mode = IMAP_MODE_TLS;
	if (conn_tls_accept(s->conn, s->set->tls_ctx) < 0)
		imap_bye(s, "TLS failed");
}

static bool
check_login_allowed(struct imap_session *s, const char *tag)
{
	if (imap_login_allowed(s))
		return true;
	imap_tagged(s, tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS or port 993 first");
	log_info("imap", s->id, "plaintext login refused from %s", s->peer);
	return false;
}

void
imap_cmd_login(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	const char *user, *pass;

	UNUSED(uid);
	if (n != 2 || (user = imap_arg_text(&args[0])) == NULL ||
	    (pass = imap_arg_text(&args[1])) == NULL) {
		imap_bad(s, tag, "LOGIN needs a user name and a password");
		return;
	}
	if (!check_login_allowed(s, tag))
		return;
	if (strlen(user) != args[0].len || strlen(pass) != args[1].len || *user == '\0') {
		imap_tagged(s, tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	imap_start_auth(s, tag, user, pass);
}

/* Decodes "authzid\0authcid\0passwd" and starts the auth hook. */
static void
sasl_plain(struct imap_session *s, const char *tag, const char *b64, size_t len)
{
	unsigned char *raw;
	size_t n;
	bool damaged = false;
	const char *authz, *authc, *pass, *end;

	if (len > IMAP_SASL_MAX * 4 / 3 + 4) {
		imap_bad(s, tag, "SASL response too long");
		return;
	}
	raw = xmalloc(BASE64_DECODED_MAX(len) + 1);
	n = base64_decode(b64, len, raw, &damaged);
	raw[n] = '\0';
	authz = (const char *)raw;
	end = (const char *)raw + n;
	authc = memchr(authz, '\0', n);
	pass = authc != NULL ? memchr(authc + 1, '\0', (size_t)(end - authc - 1)) : NULL;
	if (damaged || authc == NULL || pass == NULL ||
	    memchr(pass + 1, '\0', (size_t)(end - pass - 1)) != NULL) {
		imap_bad(s, tag, "Malformed PLAIN response");
	} else if (authc[1] == '\0' || (*authz != '\0' && strcmp(authz, authc + 1) != 0)) {
		/* Logging in as someone else (authzid) is not offered. */
		imap_tagged(s, tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
	} else {
		imap_start_auth(s, tag, authc + 1, pass + 1);
	}
	memset(raw, 0, n);
	free(raw);
}

void
imap_cmd_authenticate(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(uid);
	if (n < 1 || n > 2 || args[0].type != IMAP_ARG_ATOM ||
	    (n == 2 && imap_arg_text(&args[1]) == NULL)) {
		imap_bad(s, tag, "AUTHENTICATE needs a mechanism");
		return;
	}
	if (!imap_arg_atom_is(&args[0], "PLAIN")) {
		imap_tagged(s, tag, "NO", "Unsupported authentication mechanism");
		return;
	}
	if (!check_login_allowed(s, tag))
		return;
	if (n == 2) {
		/* SASL-IR: "=" is an empty initial response. */
		if (args[1].len == 1 && args[1].str[0] == '=')
			sasl_plain(s, tag, "", 0);
		else
			sasl_plain(s, tag, args[1].str, args[1].len);
		return;
	}
	free(s->pending_tag);
	s->pending_tag = xstrdup(tag);
	s->mode = IMAP_MODE_SASL;
	imap_send_cstr(s, "+ \r\n");
}

void
imap_sasl_response(struct imap_session *s, const char *line)
{
	char *tag = s->pending_tag;

	s->pending_tag = NULL;
	s->mode = IMAP_MODE_COMMAND;
	if (strcmp(line, "*") == 0)
		imap_bad(s, tag, "Authentication cancelled");
	else
		sasl_plain(s, tag, line, strlen(line));
	free(tag);
}

void
imap_cmd_namespace(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(args);
	UNUSED(uid);
	if (n != 0) {
		imap_bad(s, tag, "NAMESPACE takes no arguments");
		return;
	}
	imap_send_cstr(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_tagged(s, tag, "OK", "NAMESPACE completed");
}

void
imap_cmd_enable(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(uid);
	if (n == 0) {
		imap_bad(s, tag, "ENABLE needs capabilities");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (args[i].type != IMAP_ARG_ATOM) {
			imap_bad(s, tag, "ENABLE takes atoms");
			return;
		}
	}
	/* None of the extensions we offer needs enabling. */
	imap_send_cstr(s, "* ENABLED\r\n");
	imap_tagged(s, tag, "OK", "ENABLE completed");
}

void
imap_cmd_idle(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(args);
	UNUSED(uid);
	if (n != 0) {
		imap_bad(s, tag, "IDLE takes no arguments");
		return;
	}
	imap_idle_start(s, tag);
}
