/*
 * smtp_cmd.c - one handler per SMTP verb, and the answers to the owner's
 * hooks (smtp_session_*_done()).
 *
 * A handler checks the state the verb is allowed in, its syntax, and the
 * session's own policy (size, TLS, AUTH, relay tricks), then either
 * replies at once or hands the request to an owner hook and marks the
 * session pending. Reply codes follow RFC 5321 4.2/4.3 with RFC 3463
 * enhanced codes; where RFC 5321 leaves a choice we answer like Postfix,
 * so that clients and tests written against Postfix see familiar replies.
 */
#include "smtp/smtp_internal.h"
#include "core/codec.h"
#include "core/common.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "log/log.h"

#include <stdlib.h>
#include <string.h>

#define LOG_COMP "smtp"

static bool
greeted(struct smtp_session *s)
{
	if (s->state != SMTP_STATE_CONNECTED)
		return true;
	smtp_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
	return false;
}

static bool
no_args(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (cmd->arg.len == 0)
		return true;
	smtp_reply(s, 501, "5.5.4", "Syntax: %.*s", (int)cmd->name.len, cmd->name.ptr);
	return false;
}

static void
set_helo(struct smtp_session *s, const struct smtp_cmd *cmd, bool esmtp)
{
	free(s->helo);
	s->helo = xmalloc(cmd->arg.len + 1);
	memcpy(s->helo, cmd->arg.ptr, cmd->arg.len);
	s->helo[cmd->arg.len] = '\0';
	s->esmtp = esmtp;
	smtp_tx_reset(s);
	smtp_enter_state(s, SMTP_STATE_HELO);
}

static void
cmd_helo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (cmd->arg.len == 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: HELO hostname");
		return;
	}
	set_helo(s, cmd, false);
	smtp_reply(s, 250, NULL, "%s", s->set.hostname);
}

static void
cmd_ehlo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	char text[512];
	struct buf b;

	if (cmd->arg.len == 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: EHLO hostname");
		return;
	}
	set_helo(s, cmd, true);
	buf_init(&b, sizeof(text) - 1);
	(void)buf_printf(&b, "%s\nPIPELINING\n", s->set.hostname);
	if (s->set.message_size_limit != 0)
		(void)buf_printf(&b, "SIZE %zu\n", s->set.message_size_limit);
	else
		(void)buf_append_cstr(&b, "SIZE\n");
	if (s->set.tls_ctx != NULL && !s->tls)
		(void)buf_append_cstr(&b, "STARTTLS\n");
	if (smtp_auth_allowed(s))
		(void)buf_append_cstr(&b, "AUTH PLAIN LOGIN\n");
	(void)buf_append_cstr(&b, "ENHANCEDSTATUSCODES\n8BITMIME\nCHUNKING\nSMTPUTF8");
	str_lcpy(text, b.data != NULL ? b.data : "", sizeof(text));
	buf_deinit(&b);
	smtp_reply(s, 250, NULL, "%s", text);
}

/* MAIL checks that need no parsing; false when already answered. */
static bool
mail_allowed(struct smtp_session *s)
{
	if (!greeted(s))
		return false;
	if (s->state != SMTP_STATE_HELO) {
		smtp_reply(s, 503, "5.5.1", "Error: nested MAIL command");
		return false;
	}
	if (s->set.require_tls_for_mail && !s->tls) {
		smtp_reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return false;
	}
	if (s->set.role != SMTP_ROLE_MX && s->auth_user == NULL) {
		smtp_reply(s, 530, "5.7.0", "Authentication required");
		return false;
	}
	return true;
}

static bool
mail_params_ok(struct smtp_session *s, struct str rest, const struct smtp_addr *a)
{
	switch (smtp_cmd_mail_params(rest, &s->params)) {
	case SMTP_PARAM_OK:
		break;
	case SMTP_PARAM_UNKNOWN:
		smtp_reply(s, 555, "5.5.4", "Unsupported option");
		return false;
	default:
		smtp_reply(s, 501, "5.5.4", "Bad MAIL parameter syntax");
		return false;
	}
	if (a->utf8 && !s->params.smtputf8) {
		smtp_reply(s, 553, "5.6.7", "Must declare SMTPUTF8 to send UTF-8 addresses");
		return false;
	}
	if (s->params.has_size && s->set.message_size_limit != 0 &&
	    s->params.size > s->set.message_size_limit) {
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed limit");
		return false;
	}
	return true;
}

static void
cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_addr a;
	enum smtp_addr_error err;
	struct str rest;
	size_t used;

	if (!mail_allowed(s))
		return;
	if (smtp_cmd_expect_prefix(cmd->arg, "FROM:", &rest) < 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return;
	}
	if (smtp_addr_parse(rest.ptr, rest.len, SMTP_ADDR_ALLOW_NULL |
	    SMTP_ADDR_ALLOW_UTF8 | SMTP_ADDR_ALLOW_UNBRACKETED, &a, &used, &err) < 0 ||
	    a.trailing_dot) {
		smtp_reply(s, 501, "5.1.7", "Bad sender address syntax");
		return;
	}
	if (!mail_params_ok(s, str_make(rest.ptr + used, rest.len - used), &a)) {
		memset(&s->params, 0, sizeof(s->params));
		return;
	}
	if (smtp_addr_format(&a, s->mail_from, sizeof(s->mail_from)) < 0) {
		smtp_reply(s, 501, "5.1.7", "Bad sender address syntax");
		return;
	}
	smtp_set_pending(s, SMTP_PENDING_MAIL);
	s->hooks->mail(s, smtp_tx_view(s), s->ud);
}

/* Session-side RCPT refusals; false when answered. */
static bool
rcpt_checks(struct smtp_session *s, const struct smtp_addr *a, struct str params)
{
	enum smtp_relay_trick trick = smtp_addr_relay_trick(a);

	if (params.len > 0 && str_trim(params).len > 0) {
		smtp_reply(s, 555, "5.5.4", "Unsupported option");
		return false;
	}
	if (trick == SMTP_TRICK_TRAILING_DOT) {
		smtp_reply(s, 501, "5.1.3", "Bad recipient address syntax");
		return false;
	}
	if (trick != SMTP_TRICK_NONE) {
		log_info(LOG_COMP, s->id, "relay trick from %s refused: %s",
		    s->client_ip, smtp_relay_trick_name(trick));
		smtp_reply(s, 550, "5.7.1", "Relay access denied");
		return false;
	}
	if (s->n_rcpts >= s->set.recipient_limit) {
		smtp_reply(s, 452, "4.5.3", "Error: too many recipients");
		return false;
	}
	return true;
}

static void
cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_addr a;
	enum smtp_addr_error err;
	struct str rest;
	size_t used;
	unsigned flags = SMTP_ADDR_ALLOW_POSTMASTER | SMTP_ADDR_ALLOW_UNBRACKETED;

	if (s->state != SMTP_STATE_MAIL && s->state != SMTP_STATE_RCPT) {
		if (greeted(s))
			smtp_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (smtp_cmd_expect_prefix(cmd->arg, "TO:", &rest) < 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		return;
	}
	s->rcpt_attempts++;
	if (s->params.smtputf8)
		flags |= SMTP_ADDR_ALLOW_UTF8;
	if (smtp_addr_parse(rest.ptr, rest.len, flags, &a, &used, &err) < 0) {
		if (err == SMTP_ADDR_ERR_UTF8)
			smtp_reply(s, 553, "5.6.7", "Must declare SMTPUTF8 to send UTF-8 addresses");
		else
			smtp_reply(s, 501, "5.1.3", "Bad recipient address syntax");
		return;
	}
	if (!rcpt_checks(s, &a, str_make(rest.ptr + used, rest.len - used)))
		return;
	if (smtp_addr_format(&a, s->pending_rcpt, sizeof(s->pending_rcpt)) < 0) {
		smtp_reply(s, 501, "5.1.3", "Bad recipient address syntax");
		return;
	}
	smtp_set_pending(s, SMTP_PENDING_RCPT);
	s->hooks->rcpt(s, smtp_tx_view(s), s->pending_rcpt, s->ud);
}

/* DATA/BDAT need a transaction with recipients; false when answered. */
static bool
have_recipients(struct smtp_session *s)
{
	if (s->state == SMTP_STATE_RCPT)
		return true;
	if (s->state == SMTP_STATE_MAIL && s->rcpt_attempts > 0)
		smtp_reply(s, 554, "5.5.1", "Error: no valid recipients");
	else if (s->state == SMTP_STATE_MAIL)
		smtp_reply(s, 503, "5.5.1", "Error: need RCPT command");
	else if (greeted(s))
		smtp_reply(s, 503, "5.5.1", "Error: need MAIL command");
	return false;
}

static void
cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (!no_args(s, cmd) || !have_recipients(s))
		return;
	if (s->used_bdat || s->params.body == SMTP_BODY_BINARYMIME) {
		smtp_reply(s, 503, "5.5.1", "Error: DATA not allowed with BDAT or BINARYMIME");
		return;
	}
	smtp_data_init(&s->dec, s->set.message_size_limit);
	buf_reset(&s->msg);
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	smtp_enter_state(s, SMTP_STATE_DATA);
}

/*
 * BDAT: the chunk follows the command whatever we answer, so a refused
 * BDAT still reads (and drops) its chunk before replying.
 */
static void
cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	uint64_t size;
	bool last;

	if (smtp_cmd_bdat_args(cmd->arg, &size, &last) < 0) {
		/* Without a size we cannot know where the chunk ends. */
		smtp_close_with(s, 421, "4.5.4", "Error: bad BDAT syntax, closing");
		return;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	s->bdat_discard = false;
	if (s->state != SMTP_STATE_RCPT) {
		s->bdat_discard = true;
		s->bdat_return = s->state;
	} else if (!s->used_bdat) {
		smtp_data_init(&s->dec, s->set.message_size_limit);
		buf_reset(&s->msg);
		s->used_bdat = true;
	}
	smtp_enter_state(s, SMTP_STATE_BDAT);
}

static void
cmd_rset(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (!no_args(s, cmd))
		return;
	smtp_tx_reset(s);
	if (s->state != SMTP_STATE_CONNECTED)
		smtp_enter_state(s, SMTP_STATE_HELO);
	smtp_reply(s, 250, "2.0.0", "Ok");
}

static void
cmd_noop(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, 250, "2.0.0", "Ok");
}

static void
cmd_quit(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_close_with(s, 221, "2.0.0", "Bye");
}

static void
cmd_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (cmd->arg.len == 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: VRFY address");
		return;
	}
	smtp_reply(s, 252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

static void
cmd_help(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, 214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP%s%s",
	    s->set.tls_ctx != NULL ? " STARTTLS" : "", s->set.auth_enabled ? " AUTH" : "");
}

static void
cmd_starttls(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (s->set.tls_ctx == NULL) {
		smtp_reply(s, 502, "5.5.1", "Error: command not implemented");
		return;
	}
	if (s->tls) {
		smtp_reply(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	if (!no_args(s, cmd))
		return;
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	smtp_enter_state(s, SMTP_STATE_STARTTLS);
	/* The 220 must go out in plaintext before the handshake starts:
	 * conn_tls_accept() sends queued output first, so queue it now. */
	if (conn_write(s->conn, s->out.data, s->out.len) < 0 ||
	    conn_tls_accept(s->conn, s->set.tls_ctx) < 0) {
		buf_reset(&s->out);
		smtp_close_with(s, 454, "4.7.0", "TLS not available due to local problem");
		return;
	}
	buf_reset(&s->out);
	s->batch_error = false;
}

void
smtp_cmd_dispatch(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	static void (*const handlers[])(struct smtp_session *, const struct smtp_cmd *) = {
		[SMTP_VERB_HELO] = cmd_helo,
		[SMTP_VERB_EHLO] = cmd_ehlo,
		[SMTP_VERB_MAIL] = cmd_mail,
		[SMTP_VERB_RCPT] = cmd_rcpt,
		[SMTP_VERB_DATA] = cmd_data,
		[SMTP_VERB_BDAT] = cmd_bdat,
		[SMTP_VERB_RSET] = cmd_rset,
		[SMTP_VERB_NOOP] = cmd_noop,
		[SMTP_VERB_QUIT] = cmd_quit,
		[SMTP_VERB_VRFY] = cmd_vrfy,
		[SMTP_VERB_HELP] = cmd_help,
		[SMTP_VERB_STARTTLS] = cmd_starttls,
		[SMTP_VERB_AUTH] = smtp_cmd_auth,
	};

	if (cmd->verb == SMTP_VERB_UNKNOWN || (size_t)cmd->verb >= ARRAY_SIZE(handlers) ||
	    handlers[cmd->verb] == NULL) {
		smtp_reply(s, 502, "5.5.2", "Error: command not recognized");
		return;
	}
	handlers[cmd->verb](s, cmd);
}

/* The end of DATA, or of a BDAT chunk. */
void
smtp_message_complete(struct smtp_session *s)
{
	bool last = s->state == SMTP_STATE_DATA || s->bdat_last;

	if (s->state == SMTP_STATE_BDAT && s->bdat_discard) {
		smtp_enter_state(s, s->bdat_return);
		(void)have_recipients(s);
		return;
	}
	if (s->dec.overflow) {
		smtp_reply(s, 552, "5.3.4", "Error: message file too big");
		smtp_tx_reset(s);
		smtp_enter_state(s, SMTP_STATE_HELO);
		return;
	}
	if (!last) {
		smtp_reply(s, 250, "2.0.0", "Ok: %zu octets received", s->msg.len);
		smtp_enter_state(s, SMTP_STATE_RCPT);
		return;
	}
	smtp_enter_state(s, SMTP_STATE_HELO);
	smtp_set_pending(s, SMTP_PENDING_MESSAGE);
	s->hooks->message(s, smtp_tx_view(s), s->msg.data != NULL ? s->msg.data : "",
	    s->msg.len, s->ud);
}

void
smtp_session_mail_done(struct smtp_session *s, const struct smtp_reply *reply)
{
	ASSERT(s->pending == SMTP_PENDING_MAIL);
	if (reply == NULL || (reply->code >= 200 && reply->code < 300)) {
		smtp_enter_state(s, SMTP_STATE_MAIL);
		if (reply == NULL)
			smtp_reply(s, 250, "2.1.0", "Ok");
	} else {
		smtp_tx_reset(s);
	}
	if (reply != NULL)
		smtp_reply_struct(s, reply);
	smtp_answered(s);
}

void
smtp_session_rcpt_done(struct smtp_session *s, const struct smtp_reply *reply)
{
	ASSERT(s->pending == SMTP_PENDING_RCPT);
	if (reply == NULL || (reply->code >= 200 && reply->code < 300)) {
		if (s->n_rcpts == s->cap_rcpts) {
			s->cap_rcpts = s->cap_rcpts * 2 + 8;
			s->rcpts = xrealloc(s->rcpts, (s->cap_rcpts + 1) * sizeof(*s->rcpts));
		}
		s->rcpts[s->n_rcpts++] = xstrdup(s->pending_rcpt);
		s->rcpts[s->n_rcpts] = NULL;
		smtp_enter_state(s, SMTP_STATE_RCPT);
		if (reply == NULL)
			smtp_reply(s, 250, "2.1.5", "Ok");
	}
	if (reply != NULL)
		smtp_reply_struct(s, reply);
	smtp_answered(s);
}

void
smtp_session_message_done(struct smtp_session *s, const struct smtp_reply *reply)
{
	ASSERT(s->pending == SMTP_PENDING_MESSAGE);
	if (reply != NULL)
		smtp_reply_struct(s, reply);
	else
		smtp_reply(s, 451, "4.3.0", "Error: internal error");
	smtp_tx_reset(s);
	smtp_answered(s);
}
