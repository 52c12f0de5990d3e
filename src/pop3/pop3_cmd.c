/*
 * pop3_cmd.c - one handler per POP3 verb, and the table of the states in
 * which each verb is allowed.
 *
 * AUTHORIZATION: CAPA, STLS, USER, PASS, AUTH, QUIT (APOP is parsed but
 * refused: it needs the plaintext password on the server). TRANSACTION:
 * STAT, LIST, RETR, TOP, DELE, NOOP, RSET, UIDL, CAPA, QUIT. Message
 * numbers always refer to the snapshot taken at login; a message marked
 * deleted answers like a missing one (RFC 1939 section 5).
 *
 * USER/PASS and AUTH PLAIN are offered (in CAPA) and accepted only over
 * TLS, or in plaintext from loopback when the owner allows it
 * (RFC 2595 section 2.3).
 */
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/common.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "pop3/pop3_internal.h"

typedef void pop3_handler_fn(struct pop3_session *s, const struct pop3_cmd *cmd);

#define IN_AUTH (1u << POP3_STATE_AUTH)
#define IN_TRANS (1u << POP3_STATE_TRANSACTION)

static void
cmd_capa(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	UNUSED(cmd);
	pop3_reply(s, "+OK Capability list follows");
	pop3_reply(s, "TOP");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "PIPELINING");
	pop3_reply(s, "AUTH-RESP-CODE");
	if (s->state == POP3_STATE_AUTH && pop3_auth_allowed(s)) {
		pop3_reply(s, "USER");
		pop3_reply(s, "SASL PLAIN");
	}
	if (s->state == POP3_STATE_AUTH && !s->tls && s->set.tls_ctx != NULL)
		pop3_reply(s, "STLS");
	pop3_reply(s, ".");
}

static void
cmd_stls(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	UNUSED(cmd);
	if (s->tls) {
		pop3_error(s, "-ERR TLS is already active");
		return;
	}
	if (s->set.tls_ctx == NULL) {
		pop3_error(s, "-ERR TLS is not available");
		return;
	}
	pop3_begin_tls(s);
}

static void
cmd_user(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (!pop3_auth_allowed(s)) {
		pop3_error(s, "-ERR [AUTH] Plaintext authentication disallowed on "
		    "non-secure connections (use STLS)");
		return;
	}
	free(s->user);
	s->user = xstrndup(cmd->args[0].ptr, cmd->args[0].len);
	pop3_reply(s, "+OK");
}

static void
cmd_pass(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	char pass[POP3_ARG_MAX + 1];
	char *user;

	if (!pop3_auth_allowed(s)) {
		pop3_error(s, "-ERR [AUTH] Plaintext authentication disallowed on "
		    "non-secure connections (use STLS)");
		return;
	}
	if (s->user == NULL) {
		pop3_error(s, "-ERR USER first");
		return;
	}
	memcpy(pass, cmd->rest.ptr, cmd->rest.len);
	pass[cmd->rest.len] = '\0';
	/* USER then PASS is one attempt: a second PASS needs a new USER. */
	user = s->user;
	s->user = NULL;
	pop3_start_auth(s, user, pass);
	explicit_bzero(pass, sizeof(pass));
	free(user);
}

/* Decodes and submits a PLAIN response (initial or after "+ "). */
static void
sasl_plain(struct pop3_session *s, struct str b64)
{
	char *out;
	const char *user, *pass;
	size_t cap = BASE64_DECODED_MAX(b64.len) + 1;

	out = xmalloc(cap);
	if (pop3_sasl_plain_decode(b64.ptr, b64.len, out, &user, &pass) < 0) {
		explicit_bzero(out, cap);
		free(out);
		pop3_error(s, "-ERR [AUTH] Invalid SASL PLAIN response");
		return;
	}
	pop3_start_auth(s, user, pass);
	explicit_bzero(out, cap);
	free(out);
}

static void
cmd_auth(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (cmd->n_args == 0) {
		/* The pre-RFC 5034 mechanism listing some clients still send. */
		pop3_reply(s, "+OK");
		if (pop3_auth_allowed(s))
			pop3_reply(s, "PLAIN");
		pop3_reply(s, ".");
		return;
	}
	if (!str_case_eq_cstr(cmd->args[0], "PLAIN")) {
		pop3_error(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	if (!pop3_auth_allowed(s)) {
		pop3_error(s, "-ERR [AUTH] Plaintext authentication disallowed on "
		    "non-secure connections (use STLS)");
		return;
	}
	if (cmd->n_args == 2) {
		sasl_plain(s, cmd->args[1]);
		return;
	}
	pop3_reply(s, "+ ");
	pop3_enter_state(s, POP3_STATE_SASL);
}

void
pop3_sasl_response(struct pop3_session *s, struct str line)
{
	pop3_enter_state(s, POP3_STATE_AUTH);
	if (str_eq_cstr(line, "*")) {
		pop3_error(s, "-ERR Authentication cancelled");
		return;
	}
	sasl_plain(s, line);
}

static void
cmd_apop(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	UNUSED(cmd);
	pop3_error(s, "-ERR APOP is not supported");
}

static void
cmd_quit(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const char *err = NULL;

	UNUSED(cmd);
	if (s->state == POP3_STATE_TRANSACTION) {
		/* UPDATE state: the only place messages go away. */
		if (pop3_maildrop_commit(s->md, &err) < 0) {
			log_error(POP3_LOG, s->id, "expunge for %s failed: %s", s->user,
			    err != NULL ? err : "?");
			pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages not removed");
		} else {
			pop3_reply(s, "+OK Logging out, messages deleted");
		}
		pop3_maildrop_close(&s->md);
	} else {
		pop3_reply(s, "+OK Logging out");
	}
	pop3_close(s);
}

/* ----- TRANSACTION ----- */

static void
totals(const struct pop3_session *s, unsigned *count_r, unsigned long long *size_r)
{
	unsigned n = pop3_maildrop_count(s->md);

	*count_r = 0;
	*size_r = 0;
	for (unsigned i = 0; i < n; i++) {
		if (pop3_maildrop_deleted(s->md, i))
			continue;
		(*count_r)++;
		*size_r += pop3_maildrop_size(s->md, i);
	}
}

/* A live message number, 0-based in *i_r; answers -ERR itself. */
static bool
msg_arg(struct pop3_session *s, struct str arg, unsigned *i_r)
{
	unsigned n;

	if (pop3_msgno_parse(arg, pop3_maildrop_count(s->md), &n) < 0 ||
	    pop3_maildrop_deleted(s->md, n - 1)) {
		pop3_error(s, "-ERR No such message");
		return false;
	}
	*i_r = n - 1;
	return true;
}

static void
cmd_stat(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	unsigned count;
	unsigned long long size;

	UNUSED(cmd);
	totals(s, &count, &size);
	pop3_reply(s, "+OK %u %llu", count, size);
}

static void
cmd_list(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	unsigned count, i;
	unsigned long long size;

	if (cmd->n_args == 1) {
		if (msg_arg(s, cmd->args[0], &i))
			pop3_reply(s, "+OK %u %llu", i + 1,
			    (unsigned long long)pop3_maildrop_size(s->md, i));
		return;
	}
	totals(s, &count, &size);
	pop3_reply(s, "+OK %u messages (%llu octets)", count, size);
	for (i = 0; i < pop3_maildrop_count(s->md); i++) {
		if (!pop3_maildrop_deleted(s->md, i))
			pop3_reply(s, "%u %llu", i + 1,
			    (unsigned long long)pop3_maildrop_size(s->md, i));
	}
	pop3_reply(s, ".");
}

static void
cmd_uidl(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	unsigned i;

	if (cmd->n_args == 1) {
		if (msg_arg(s, cmd->args[0], &i))
			pop3_reply(s, "+OK %u %s", i + 1, pop3_maildrop_uidl(s->md, i));
		return;
	}
	pop3_reply(s, "+OK Unique-ID listing follows");
	for (i = 0; i < pop3_maildrop_count(s->md); i++) {
		if (!pop3_maildrop_deleted(s->md, i))
			pop3_reply(s, "%u %s", i + 1, pop3_maildrop_uidl(s->md, i));
	}
	pop3_reply(s, ".");
}

static void
cmd_retr(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	unsigned i;

	if (msg_arg(s, cmd->args[0], &i))
		pop3_send_message(s, i, false, 0);
}

static void
cmd_top(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	unsigned i;
	uint64_t lines;

	if (pop3_count_parse(cmd->args[1], &lines) < 0) {
		pop3_error(s, "-ERR Invalid line count");
		return;
	}
	if (msg_arg(s, cmd->args[0], &i))
		pop3_send_message(s, i, true, lines);
}

static void
cmd_dele(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	unsigned i;

	if (!msg_arg(s, cmd->args[0], &i))
		return;
	pop3_maildrop_set_deleted(s->md, i, true);
	pop3_reply(s, "+OK Message %u deleted", i + 1);
}

static void
cmd_noop(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	UNUSED(cmd);
	pop3_reply(s, "+OK");
}

static void
cmd_rset(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	unsigned count;
	unsigned long long size;

	UNUSED(cmd);
	for (unsigned i = 0; i < pop3_maildrop_count(s->md); i++)
		pop3_maildrop_set_deleted(s->md, i, false);
	totals(s, &count, &size);
	pop3_reply(s, "+OK Maildrop has %u messages (%llu octets)", count, size);
}

static const struct {
	enum pop3_verb verb;
	unsigned states;
	pop3_handler_fn *fn;
} handlers[] = {
	{ POP3_CMD_CAPA, IN_AUTH | IN_TRANS, cmd_capa },
	{ POP3_CMD_STLS, IN_AUTH, cmd_stls },
	{ POP3_CMD_USER, IN_AUTH, cmd_user },
	{ POP3_CMD_PASS, IN_AUTH, cmd_pass },
	{ POP3_CMD_AUTH, IN_AUTH, cmd_auth },
	{ POP3_CMD_APOP, IN_AUTH, cmd_apop },
	{ POP3_CMD_QUIT, IN_AUTH | IN_TRANS, cmd_quit },
	{ POP3_CMD_STAT, IN_TRANS, cmd_stat },
	{ POP3_CMD_LIST, IN_TRANS, cmd_list },
	{ POP3_CMD_RETR, IN_TRANS, cmd_retr },
	{ POP3_CMD_TOP, IN_TRANS, cmd_top },
	{ POP3_CMD_DELE, IN_TRANS, cmd_dele },
	{ POP3_CMD_NOOP, IN_TRANS, cmd_noop },
	{ POP3_CMD_RSET, IN_TRANS, cmd_rset },
	{ POP3_CMD_UIDL, IN_TRANS, cmd_uidl },
};

void
pop3_cmd_dispatch(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(handlers); i++) {
		if (handlers[i].verb != cmd->verb)
			continue;
		if ((handlers[i].states & (1u << s->state)) == 0) {
			pop3_error(s, "-ERR %s not allowed in this state",
			    pop3_verb_name(cmd->verb));
			return;
		}
		handlers[i].fn(s, cmd);
		return;
	}
	pop3_error(s, "-ERR Unknown command");
}
