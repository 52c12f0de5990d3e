/*
 * smtp_auth.c - AUTH PLAIN and AUTH LOGIN (RFC 4954, RFC 4616) on the
 * server side: the 334 challenges, response decoding, and the hand-off of
 * the credentials to the owner's auth hook.
 *
 * The decoded credentials live in one heap block (s->auth_secret) from the
 * hook call until smtp_session_auth_done(), so an owner may check them
 * asynchronously; the block is wiped before it is freed. Every refusal
 * counts as an error, so password guessing meets the error limits too
 * (the owner adds its own per-client rate limit).
 */
#include "smtp/smtp_internal.h"
#include "core/codec.h"
#include "core/common.h"
#include "core/xmalloc.h"
#include "log/log.h"

#include <stdlib.h>
#include <string.h>

#define LOG_COMP "smtp"

static void
wipe_secret(struct smtp_session *s)
{
	if (s->auth_secret == NULL)
		return;
	explicit_bzero(s->auth_secret, s->auth_secret_len);
	free(s->auth_secret);
	s->auth_secret = NULL;
	s->auth_secret_len = 0;
}

/* Decodes a response into a fresh s->auth_secret (NUL-terminated). */
static int
decode_response(struct smtp_session *s, struct str in)
{
	long n;

	wipe_secret(s);
	s->auth_secret_len = BASE64_DECODED_MAX(in.len) + 1;
	s->auth_secret = xmalloc(s->auth_secret_len);
	n = smtp_sasl_decode(in, (unsigned char *)s->auth_secret);
	if (n < 0) {
		wipe_secret(s);
		smtp_reply(s, 501, "5.5.2", "Error: cannot decode response");
		smtp_enter_state(s, SMTP_STATE_HELO);
		return -1;
	}
	s->auth_secret[n] = '\0';
	return (int)n;
}

static void
call_hook(struct smtp_session *s, const char *user, const char *password)
{
	str_lcpy(s->auth_try_user, user, sizeof(s->auth_try_user));
	smtp_enter_state(s, SMTP_STATE_HELO);
	smtp_set_pending(s, SMTP_PENDING_AUTH);
	s->hooks->auth(s, s->auth_try_user, password, s->ud);
}

static void
refuse(struct smtp_session *s)
{
	wipe_secret(s);
	smtp_enter_state(s, SMTP_STATE_HELO);
	smtp_reply(s, 535, "5.7.8", "Error: authentication failed");
}

/* authzid NUL authcid NUL passwd (RFC 4616 2). */
static void
auth_plain(struct smtp_session *s, struct str resp)
{
	const char *authzid, *authcid, *pass, *end;
	int n = decode_response(s, resp);

	if (n < 0)
		return;
	end = s->auth_secret + n;
	authzid = s->auth_secret;
	authcid = memchr(authzid, '\0', (size_t)n);
	pass = authcid != NULL ? memchr(authcid + 1, '\0', (size_t)(end - authcid - 1)) : NULL;
	if (authcid == NULL || pass == NULL || pass + 1 > end ||
	    memchr(pass + 1, '\0', (size_t)(end - pass - 1)) != NULL) {
		wipe_secret(s);
		smtp_enter_state(s, SMTP_STATE_HELO);
		smtp_reply(s, 501, "5.5.2", "Error: invalid authentication data");
		return;
	}
	authcid++;
	pass++;
	/* Acting for someone else is not offered. */
	if (authcid[0] == '\0' || strlen(authcid) >= SMTP_USER_MAX ||
	    (authzid[0] != '\0' && strcmp(authzid, authcid) != 0)) {
		refuse(s);
		return;
	}
	call_hook(s, authcid, pass);
}

static void
auth_login_user(struct smtp_session *s, struct str resp)
{
	int n = decode_response(s, resp);

	if (n < 0)
		return;
	if (n == 0 || (size_t)n >= sizeof(s->login_user) ||
	    memchr(s->auth_secret, '\0', (size_t)n) != NULL) {
		refuse(s);
		return;
	}
	memcpy(s->login_user, s->auth_secret, (size_t)n + 1);
	wipe_secret(s);
	smtp_enter_state(s, SMTP_STATE_AUTH_PASS);
	smtp_reply(s, 334, NULL, "UGFzc3dvcmQ6"); /* "Password:" */
}

static void
auth_login_pass(struct smtp_session *s, struct str resp)
{
	int n = decode_response(s, resp);

	if (n < 0)
		return;
	if (memchr(s->auth_secret, '\0', (size_t)n) != NULL) {
		refuse(s);
		return;
	}
	call_hook(s, s->login_user, s->auth_secret);
}

void
smtp_cmd_auth_response(struct smtp_session *s, struct str line)
{
	if (str_eq_cstr(line, "*")) {
		smtp_enter_state(s, SMTP_STATE_HELO);
		smtp_reply(s, 501, "5.7.0", "Authentication aborted");
		return;
	}
	if (s->state == SMTP_STATE_AUTH_PLAIN)
		auth_plain(s, line);
	else if (s->state == SMTP_STATE_AUTH_USER)
		auth_login_user(s, line);
	else
		auth_login_pass(s, line);
}

/* AUTH state checks; false when answered. */
static bool
auth_allowed_now(struct smtp_session *s)
{
	if (!s->set.auth_enabled) {
		smtp_reply(s, 503, "5.5.1", "Error: authentication not enabled");
		return false;
	}
	if (s->state == SMTP_STATE_CONNECTED || !s->esmtp) {
		smtp_reply(s, 503, "5.5.1", "Error: send EHLO first");
		return false;
	}
	if (s->auth_user != NULL) {
		smtp_reply(s, 503, "5.5.1", "Error: already authenticated");
		return false;
	}
	if (s->state != SMTP_STATE_HELO) {
		smtp_reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		return false;
	}
	if (!smtp_auth_allowed(s)) {
		smtp_reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return false;
	}
	return true;
}

void
smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct str mech, initial;
	bool has_initial;

	if (!auth_allowed_now(s))
		return;
	if (smtp_cmd_auth_args(cmd->arg, &mech, &initial, &has_initial) < 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		return;
	}
	if (str_case_eq_cstr(mech, "PLAIN")) {
		if (has_initial) {
			auth_plain(s, initial);
			return;
		}
		smtp_enter_state(s, SMTP_STATE_AUTH_PLAIN);
		smtp_reply(s, 334, NULL, "%s", "");
	} else if (str_case_eq_cstr(mech, "LOGIN")) {
		if (has_initial) {
			auth_login_user(s, initial);
			return;
		}
		smtp_enter_state(s, SMTP_STATE_AUTH_USER);
		smtp_reply(s, 334, NULL, "VXNlcm5hbWU6"); /* "Username:" */
	} else {
		smtp_reply(s, 504, "5.5.4", "Error: unsupported authentication mechanism");
	}
}

void
smtp_session_auth_done(struct smtp_session *s, int result, const char *canonical_user)
{
	ASSERT(s->pending == SMTP_PENDING_AUTH);
	wipe_secret(s);
	if (result > 0) {
		free(s->auth_user);
		s->auth_user = xstrdup(canonical_user != NULL ? canonical_user : s->auth_try_user);
		log_info(LOG_COMP, s->id, "authenticated as %s from %s", s->auth_user,
		    s->client_ip);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
	} else if (result == 0) {
		log_info(LOG_COMP, s->id, "authentication failed from %s", s->client_ip);
		smtp_reply(s, 535, "5.7.8", "Error: authentication failed");
	} else {
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
	}
	smtp_answered(s);
}
