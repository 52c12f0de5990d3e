/*
 * pop3_session.c - the POP3 connection: input lines, the state machine,
 * replies, TLS, timeouts, and RETR/TOP streamed from the message file.
 *
 * Replies of one input batch are collected in `out` and handed to the
 * connection together, so pipelined commands (RFC 2449 PIPELINING) get
 * their answers in few segments. A message is never read whole into
 * memory: RETR reads it in chunks and refills the connection's output
 * buffer whenever it drains, with reading paused, so commands pipelined
 * behind a RETR wait for its final ".\r\n" and a slow reader costs us at
 * most one chunk plus the socket buffer.
 *
 * Runs in the pop3/pop3s worker processes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "log/log.h"
#include "pop3/pop3_internal.h"

#define POP3_INPUT_MAX (16 * 1024)
#define POP3_OUT_MAX (1024 * 1024)
/* One read of a message file; the connection gets more when it drains. */
#define POP3_CHUNK (64 * 1024)

static unsigned long session_counter;

static void session_process(struct pop3_session *s);
static void session_end(struct pop3_session *s);

static const char *const state_names[] = {
	"TLS_WAIT", "STLS", "AUTHORIZATION", "SASL", "TRANSACTION", "QUIT",
};

void
pop3_enter_state(struct pop3_session *s, enum pop3_state st)
{
	log_debug(POP3_LOG, s->id, "state %s -> %s", state_names[s->state], state_names[st]);
	s->state = st;
}

static void PRINTF_LIKE(2, 0)
reply_va(struct pop3_session *s, const char *fmt, va_list ap)
{
	size_t before = s->out.len;

	if (buf_vprintf(&s->out, fmt, ap) < 0 || buf_append(&s->out, "\r\n", 2) < 0) {
		/* Only a client pipelining far past any sane depth gets here. */
		s->out.len = before;
		s->closing = true;
	}
}

void
pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_va(s, fmt, ap);
	va_end(ap);
}

void
pop3_error(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_va(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->set.error_limit) {
		log_info(POP3_LOG, s->id, "too many errors from %s", s->client_ip);
		pop3_reply(s, "-ERR Too many errors, closing connection");
		pop3_close(s);
	}
}

void
pop3_close(struct pop3_session *s)
{
	s->closing = true;
	pop3_enter_state(s, POP3_STATE_QUIT);
}

bool
pop3_auth_allowed(const struct pop3_session *s)
{
	return s->tls || s->set.auth_plaintext ||
	    (s->set.auth_plaintext_loopback && s->loopback);
}

static void
flush_out(struct pop3_session *s)
{
	if (s->out.len == 0 || s->conn == NULL)
		return;
	if (conn_write(s->conn, s->out.data, s->out.len) < 0)
		s->closing = true;
	buf_reset(&s->out);
}

/* ----- RETR / TOP ----- */

static void
send_stop(struct pop3_session *s)
{
	if (s->msg_fd >= 0)
		close(s->msg_fd);
	s->msg_fd = -1;
	s->sending = false;
}

void
pop3_send_message(struct pop3_session *s, unsigned i, bool top, uint64_t lines)
{
	s->msg_fd = pop3_maildrop_open_msg(s->md, i, !top);
	if (s->msg_fd < 0) {
		pop3_error(s, "-ERR [SYS/TEMP] Message %u is no longer available", i + 1);
		return;
	}
	if (top)
		pop3_reply(s, "+OK Top of message follows");
	else
		pop3_reply(s, "+OK %llu octets",
		    (unsigned long long)pop3_maildrop_size(s->md, i));
	pop3_enc_init(&s->enc, top, lines);
	s->sending = true;
}

/*
 * Moves the next chunk of the message into the output. Returns true
 * while there is more to send (then we wait for CONN_EV_DRAINED).
 */
static bool
send_pump(struct pop3_session *s)
{
	char chunk[POP3_CHUNK];
	ssize_t n;

	while (conn_output_pending(s->conn) + s->out.len < POP3_CHUNK) {
		n = s->enc.done ? 0 : read(s->msg_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* The +OK is out already: all we can do is hang up. */
			log_error(POP3_LOG, s->id, "message read failed: %s", strerror(errno));
			send_stop(s);
			pop3_close(s);
			return false;
		}
		if (n == 0) {
			(void)pop3_enc_finish(&s->enc, &s->out);
			send_stop(s);
			return false;
		}
		if (pop3_enc_feed(&s->enc, chunk, (size_t)n, &s->out) < 0) {
			send_stop(s);
			pop3_close(s);
			return false;
		}
		flush_out(s);
	}
	return true;
}

/* ----- STLS ----- */

void
pop3_begin_tls(struct pop3_session *s)
{
	pop3_reply(s, "+OK Begin TLS negotiation");
	/* The +OK must go out in plaintext before the handshake. */
	flush_out(s);
	if (conn_tls_accept(s->conn, s->set.tls_ctx) < 0) {
		pop3_close(s);
		return;
	}
	pop3_enter_state(s, POP3_STATE_STLS);
}

/* ----- auth ----- */

void
pop3_start_auth(struct pop3_session *s, const char *user, const char *pass)
{
	size_t ul = strlen(user), pl = strlen(pass);

	s->secret_len = ul + pl + 2;
	s->secret = xmalloc(s->secret_len);
	memcpy(s->secret, user, ul + 1);
	memcpy(s->secret + ul + 1, pass, pl + 1);
	s->auth_pending = true;
	if (s->conn != NULL)
		conn_pause_read(s->conn);
	s->hooks->auth(s, s->secret, s->secret + ul + 1, s->client_ip, s->ud);
}

static void
wipe_secret(struct pop3_session *s)
{
	if (s->secret != NULL) {
		explicit_bzero(s->secret, s->secret_len);
		free(s->secret);
	}
	s->secret = NULL;
	s->secret_len = 0;
}

static void
open_maildrop(struct pop3_session *s, const char *user, const char *root)
{
	const char *err = NULL;

	switch (pop3_maildrop_open(root, &s->md, &err)) {
	case POP3_OPEN_OK:
		free(s->user);
		s->user = xstrdup(user);
		log_info(POP3_LOG, s->id, "login %s from %s, %u messages", user, s->client_ip,
		    pop3_maildrop_count(s->md));
		pop3_reply(s, "+OK Logged in");
		pop3_enter_state(s, POP3_STATE_TRANSACTION);
		break;
	case POP3_OPEN_BUSY:
		log_info(POP3_LOG, s->id, "maildrop of %s is locked", user);
		pop3_error(s, "-ERR [IN-USE] Mailbox is locked by another POP3 session");
		break;
	case POP3_OPEN_ERROR:
		log_error(POP3_LOG, s->id, "cannot open maildrop of %s: %s", user,
		    err != NULL ? err : "?");
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox");
		break;
	}
}

void
pop3_session_auth_done(struct pop3_session *s, enum pop3_auth_result result,
    const char *user, const char *mailbox_root)
{
	ASSERT(s->auth_pending);
	s->auth_pending = false;
	if (user == NULL && s->secret != NULL)
		user = s->secret;
	if (!s->dead && s->state != POP3_STATE_QUIT) {
		switch (result) {
		case POP3_AUTH_OK:
			open_maildrop(s, user != NULL ? user : "?", mailbox_root);
			break;
		case POP3_AUTH_FAILED:
			pop3_error(s, "-ERR [AUTH] Authentication failed");
			break;
		case POP3_AUTH_TEMPFAIL:
			pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication failure");
			break;
		case POP3_AUTH_BLOCKED:
			pop3_reply(s, "-ERR [AUTH] Too many failed logins, try later");
			pop3_close(s);
			break;
		}
	}
	wipe_secret(s);
	if (s->dead) {
		if (!s->in_input)
			session_end(s);
		return;
	}
	if (!s->in_input)
		session_process(s);
}

/* ----- input ----- */

/*
 * One command line: 1 with the line (CRLF stripped) and *used_r, 0 =
 * need more input, 2 = bytes consumed without a line (an over-long one,
 * answered once).
 */
static int
take_line(struct pop3_session *s, struct buf *in, struct str *line_r, size_t *used_r)
{
	size_t limit = POP3_LINE_MAX;
	const char *lf;
	size_t n;

	if (in->len == 0)
		return 0;
	if (s->state == POP3_STATE_SASL ||
	    str_has_prefix_case(str_make(in->data, in->len), "AUTH "))
		limit = POP3_AUTH_LINE_MAX;
	lf = memchr(in->data, '\n', in->len);
	n = lf != NULL ? (size_t)(lf - in->data) + 1 : in->len;
	if (s->skip_line || n > limit) {
		if (!s->skip_line)
			pop3_error(s, "-ERR Line too long");
		s->skip_line = lf == NULL;
		buf_consume(in, n);
		return 2;
	}
	if (lf == NULL)
		return 0;
	*used_r = n;
	*line_r = str_make(in->data, n - 1);
	if (line_r->len > 0 && line_r->ptr[line_r->len - 1] == '\r')
		line_r->len--;
	return 1;
}

static bool
process_command(struct pop3_session *s, struct buf *in)
{
	struct str line;
	struct pop3_cmd cmd;
	enum pop3_parse_error perr;
	size_t used;
	int ret = take_line(s, in, &line, &used);

	if (ret != 1)
		return ret != 0;
	if (s->state == POP3_STATE_SASL) {
		pop3_sasl_response(s, line);
	} else if (pop3_cmd_parse(line.ptr, line.len, &cmd, &perr) < 0) {
		if (perr == POP3_PARSE_UNKNOWN)
			pop3_error(s, "-ERR Unknown command");
		else
			pop3_error(s, "-ERR Syntax error");
	} else {
		pop3_cmd_dispatch(s, &cmd);
	}
	/* Consumed after handling: `line` points into the buffer. */
	buf_consume(in, used);
	return true;
}

static bool
process_step(struct pop3_session *s)
{
	switch (s->state) {
	case POP3_STATE_TLS_WAIT:
	case POP3_STATE_STLS:
	case POP3_STATE_QUIT:
		return false;
	default:
		break;
	}
	if (s->shutdown) {
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
		pop3_close(s);
		return false;
	}
	return process_command(s, conn_input(s->conn));
}

static void
session_process(struct pop3_session *s)
{
	if (s->in_input)
		return;
	s->in_input = true;
	while (s->conn != NULL && !s->closing && !s->end_requested && !s->auth_pending) {
		if (s->sending) {
			/* Commands pipelined behind a RETR wait for its end. */
			if (send_pump(s))
				break;
			continue;
		}
		if (!process_step(s))
			break;
	}
	s->in_input = false;
	if (s->dead) {
		if (!s->auth_pending)
			session_end(s);
		return;
	}
	flush_out(s);
	if (s->end_requested) {
		session_end(s);
		return;
	}
	if (s->closing) {
		if (s->sending)
			send_stop(s);
		conn_close_after_drain(s->conn);
		return;
	}
	if (s->sending || s->auth_pending || s->state == POP3_STATE_STLS ||
	    s->state == POP3_STATE_TLS_WAIT) {
		conn_pause_read(s->conn);
		return;
	}
	conn_resume_read(s->conn);
	if (conn_eof(s->conn))
		session_end(s);
}

/* ----- lifetime ----- */

static void
session_free(struct pop3_session *s)
{
	send_stop(s);
	/* Not QUIT: the marks are forgotten, nothing is removed. */
	pop3_maildrop_close(&s->md);
	wipe_secret(s);
	free(s->user);
	buf_deinit(&s->out);
	free(s);
}

static void
session_end(struct pop3_session *s)
{
	if (s->in_input) {
		s->end_requested = true;
		return;
	}
	conn_free(&s->conn);
	if (s->auth_pending) {
		s->dead = true;
		return;
	}
	log_debug(POP3_LOG, s->id, "session ended");
	if (s->hooks->closed != NULL)
		s->hooks->closed(s, s->ud);
	session_free(s);
}

static void
on_tls_ready(struct pop3_session *s)
{
	char desc[128];

	s->tls = true;
	conn_tls_describe(s->conn, desc, sizeof(desc));
	log_debug(POP3_LOG, s->id, "TLS established: %s", desc);
	if (s->state == POP3_STATE_TLS_WAIT)
		pop3_reply(s, "+OK POP3 ready");
	/* RFC 2595 section 4: forget what the client said before. */
	free(s->user);
	s->user = NULL;
	pop3_enter_state(s, POP3_STATE_AUTH);
	session_process(s);
}

static void
conn_cb(struct conn *c, enum conn_event ev, void *ud)
{
	struct pop3_session *s = ud;

	UNUSED(c);
	switch (ev) {
	case CONN_EV_DATA_IN:
	case CONN_EV_DRAINED:
		session_process(s);
		break;
	case CONN_EV_TLS_READY:
		on_tls_ready(s);
		break;
	case CONN_EV_TIMEOUT:
		if (s->closing || s->auth_pending) {
			session_end(s);
			break;
		}
		log_info(POP3_LOG, s->id, "timeout from %s", s->client_ip);
		pop3_reply(s, "-ERR Autologout; idle for too long");
		pop3_close(s);
		session_process(s);
		break;
	case CONN_EV_CLOSED:
		if (s->closing || s->sending) {
			session_end(s);
			break;
		}
		session_process(s);
		break;
	case CONN_EV_ERROR:
		session_end(s);
		break;
	}
}

static bool
ip_is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	    strncmp(ip, "::ffff:127.", 11) == 0 || strcmp(ip, "unix:") == 0;
}

struct pop3_session *
pop3_session_new(struct ev_loop *loop, int fd, const struct pop3_settings *set,
    const struct pop3_hooks *hooks, void *ud, const char *reject)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	struct conn_settings cs = { 0 };

	s->loop = loop;
	s->set = *set;
	if (s->set.error_limit == 0)
		s->set.error_limit = 10;
	if (s->set.timeout <= 0)
		s->set.timeout = 600;
	s->hooks = hooks;
	s->ud = ud;
	s->msg_fd = -1;
	(void)str_format(s->id, sizeof(s->id), "pop3%ld.%lu", (long)getpid(), ++session_counter);
	buf_init(&s->out, POP3_OUT_MAX);
	cs.max_input = POP3_INPUT_MAX;
	cs.read_timeout = s->set.timeout;
	cs.write_timeout = s->set.timeout;
	s->conn = conn_new(loop, fd, NULL, 0, &cs, conn_cb, s);
	str_lcpy(s->client_ip, conn_peer_text(s->conn), sizeof(s->client_ip));
	s->loopback = ip_is_loopback(s->client_ip);
	log_debug(POP3_LOG, s->id, "connect from %s", s->client_ip);
	if (reject != NULL) {
		pop3_reply(s, "-ERR %s", reject);
		pop3_close(s);
	} else if (s->set.implicit_tls && s->set.tls_ctx != NULL) {
		s->state = POP3_STATE_TLS_WAIT;
		if (conn_tls_accept(s->conn, s->set.tls_ctx) < 0)
			pop3_close(s);
	} else {
		pop3_reply(s, "+OK POP3 ready");
		s->state = POP3_STATE_AUTH;
	}
	flush_out(s);
	if (s->closing)
		conn_close_after_drain(s->conn);
	return s;
}

const char *
pop3_session_id(const struct pop3_session *s)
{
	return s->id;
}

void
pop3_session_shutdown(struct pop3_session *s)
{
	s->shutdown = true;
	if (s->in_input || s->auth_pending || s->dead || s->closing || s->sending)
		return;
	pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
	pop3_close(s);
	session_process(s);
}
