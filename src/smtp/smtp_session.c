/*
 * smtp_session.c - one inbound ESMTP connection: input loop, replies,
 * hook answers and the connection's life (see smtp_session.h).
 *
 * Input is handled by session_process(), which takes complete commands
 * (or message bytes in DATA/BDAT) from the connection's input buffer in
 * order, and appends replies to s->out. Replies are written when no
 * complete command is left or when a hook is pending: that is the
 * PIPELINING batching of RFC 2920, and it keeps replies in command order
 * because commands are never looked at while a hook is pending.
 *
 * Hooks may answer synchronously (inside the hook call, hence inside
 * session_process(), detected with s->in_input) or later from the loop;
 * both paths end in session_process(), which is never re-entered. The
 * session is never freed under a running loop iteration: ends requested
 * inside the loop are deferred to its exit (s->end_requested), and ends
 * while a hook awaits its answer wait for that answer (s->dead).
 *
 * The verbs themselves are in smtp_cmd.c.
 */
#include "smtp/smtp_internal.h"
#include "core/common.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "log/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_COMP "smtp"
#define OUT_MAX ((size_t)1024 * 1024)
#define INPUT_MAX ((size_t)256 * 1024)

static unsigned long session_counter;

static void session_process(struct smtp_session *s);
static void session_end(struct smtp_session *s);

static const char *const state_names[] = {
	[SMTP_STATE_TLS_WAIT] = "tls-wait",
	[SMTP_STATE_CONNECTED] = "connected",
	[SMTP_STATE_HELO] = "helo",
	[SMTP_STATE_MAIL] = "mail",
	[SMTP_STATE_RCPT] = "rcpt",
	[SMTP_STATE_DATA] = "data",
	[SMTP_STATE_BDAT] = "bdat",
	[SMTP_STATE_AUTH_PLAIN] = "auth-plain",
	[SMTP_STATE_AUTH_USER] = "auth-login-user",
	[SMTP_STATE_AUTH_PASS] = "auth-login-pass",
	[SMTP_STATE_STARTTLS] = "starttls",
	[SMTP_STATE_QUIT] = "quit",
};

void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state != st && log_enabled(LOG_LEVEL_DEBUG))
		log_debug(LOG_COMP, s->id, "state %s -> %s", state_names[s->state],
		    state_names[st]);
	s->state = st;
}

static void reply_va(struct smtp_session *s, int code, const char *enhanced,
    const char *fmt, va_list ap) PRINTF_LIKE(4, 0);

static void
reply_va(struct smtp_session *s, int code, const char *enhanced,
    const char *fmt, va_list ap)
{
	char text[1024];

	if (s->closing || s->dead)
		return;
	if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
		text[0] = '\0';
	if (code >= 400 && code != 421) {
		s->errors++;
		s->batch_error = true;
	}
	if (smtp_reply_format(&s->out, code, enhanced, text) < 0) {
		/* A client that never reads its replies. */
		s->closing = true;
		return;
	}
	if (code >= 400 && code != 421 && s->errors >= s->set.hard_error_limit) {
		log_info(LOG_COMP, s->id, "too many errors from %s", s->client_ip);
		smtp_close_with(s, 421, "4.7.0", "Error: too many errors");
	}
}

void
smtp_reply(struct smtp_session *s, int code, const char *enhanced,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_va(s, code, enhanced, fmt, ap);
	va_end(ap);
}

void
smtp_reply_struct(struct smtp_session *s, const struct smtp_reply *r)
{
	smtp_reply(s, r->code, r->enhanced, "%s", r->text != NULL ? r->text : "");
}

void
smtp_close_with(struct smtp_session *s, int code, const char *enhanced,
    const char *text)
{
	if (s->closing || s->dead)
		return;
	(void)buf_printf(&s->out, "%d %s%s%s %s\r\n", code,
	    enhanced != NULL ? enhanced : "", enhanced != NULL ? " " : "",
	    s->set.hostname, text);
	s->closing = true;
	smtp_enter_state(s, SMTP_STATE_QUIT);
}

void
smtp_tx_reset(struct smtp_session *s)
{
	for (size_t i = 0; i < s->n_rcpts; i++)
		free(s->rcpts[i]);
	s->n_rcpts = 0;
	s->rcpt_attempts = 0;
	s->mail_from[0] = '\0';
	memset(&s->params, 0, sizeof(s->params));
	s->used_bdat = false;
	s->bdat_last = false;
	buf_reset(&s->msg);
}

const struct smtp_transaction *
smtp_tx_view(struct smtp_session *s)
{
	struct smtp_transaction *t = &s->view;

	memset(t, 0, sizeof(*t));
	t->helo = s->helo;
	t->esmtp = s->esmtp;
	t->client_ip = s->client_ip;
	t->client_port = s->client_port;
	t->auth_user = s->auth_user;
	t->tls = s->tls;
	str_lcpy(t->tls_desc, s->tls_desc, sizeof(t->tls_desc));
	t->mail_from = s->mail_from;
	t->smtputf8 = s->params.smtputf8;
	t->body = s->params.body;
	t->declared_size = (size_t)s->params.size;
	t->rcpts = (const char **)s->rcpts;
	t->n_rcpts = s->n_rcpts;
	t->session_id = s->id;
	return t;
}

void
smtp_set_pending(struct smtp_session *s, enum smtp_pending p)
{
	ASSERT(s->pending == SMTP_PENDING_NONE || p == SMTP_PENDING_NONE);
	s->pending = p;
	if (s->conn == NULL)
		return;
	if (p != SMTP_PENDING_NONE)
		conn_pause_read(s->conn);
}

bool
smtp_auth_allowed(const struct smtp_session *s)
{
	return s->set.auth_enabled &&
	    (s->tls || (s->set.auth_plaintext_loopback && s->loopback));
}

static bool
ip_is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	    strncmp(ip, "::ffff:127.", 11) == 0 || strcmp(ip, "unix:") == 0;
}

static void
tarpit_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct smtp_session *s = w->data;

	(void)loop;
	(void)revents;
	s->tarpit_active = false;
	session_process(s);
}

/*
 * Sends the batched replies. Past the soft error limit every batch that
 * carries an error waits one second first (Postfix's error sleep), which
 * slows down dictionary attacks without holding real clients up.
 */
static void
flush_replies(struct smtp_session *s)
{
	if (s->closing && s->tarpit_active) {
		ev_timer_stop(s->loop, &s->tarpit);
		s->tarpit_active = false;
	}
	if (s->out.len == 0 || s->conn == NULL || s->tarpit_active)
		return;
	if (s->batch_error && s->errors > s->set.soft_error_limit && !s->closing) {
		s->batch_error = false;
		s->tarpit_active = true;
		conn_pause_read(s->conn);
		ev_timer_set(&s->tarpit, 1.0, 0.0);
		ev_timer_start(s->loop, &s->tarpit);
		return;
	}
	if (conn_write(s->conn, s->out.data, s->out.len) < 0)
		s->closing = true;
	buf_reset(&s->out);
	s->batch_error = false;
}

/*
 * Finds one command line: 1 with the line (CRLF stripped) and *used_r,
 * 0 = need more input, 2 = bytes were consumed without a line (the parts
 * of an over-long line, answered once with 500).
 */
static int
take_line(struct smtp_session *s, struct buf *in, struct str *line_r, size_t *used_r)
{
	size_t limit = s->set.line_limit;
	const char *lf;
	size_t n;

	if (in->len == 0)
		return 0;
	if (s->state == SMTP_STATE_AUTH_PLAIN || s->state == SMTP_STATE_AUTH_USER ||
	    s->state == SMTP_STATE_AUTH_PASS ||
	    str_has_prefix_case(str_make(in->data, in->len), "AUTH "))
		limit = MAX(limit, SMTP_AUTH_LINE_MAX);
	lf = memchr(in->data, '\n', in->len);
	n = lf != NULL ? (size_t)(lf - in->data) + 1 : in->len;
	if (s->skip_line || n > limit) {
		if (!s->skip_line)
			smtp_reply(s, 500, "5.5.2", "Error: line too long");
		s->skip_line = lf == NULL;
		buf_consume(in, n);
		return n > 0 ? 2 : 0;
	}
	if (lf == NULL)
		return 0;
	*used_r = n;
	*line_r = str_make(in->data, n - 1);
	if (line_r->len > 0 && line_r->ptr[line_r->len - 1] == '\r')
		line_r->len--;
	return 1;
}

static void
process_command(struct smtp_session *s, struct buf *in, bool *progress_r)
{
	struct str line;
	struct smtp_cmd cmd;
	size_t used;

	int ret = take_line(s, in, &line, &used);

	*progress_r = ret != 0;
	if (ret != 1)
		return;
	if (s->state == SMTP_STATE_AUTH_PLAIN || s->state == SMTP_STATE_AUTH_USER ||
	    s->state == SMTP_STATE_AUTH_PASS) {
		smtp_cmd_auth_response(s, line);
	} else if (smtp_cmd_parse(line.ptr, line.len, &cmd) < 0) {
		smtp_reply(s, 500, "5.5.2", "Error: bad syntax");
	} else {
		smtp_cmd_dispatch(s, &cmd);
	}
	/* Consumed after handling: `line` points into the buffer. */
	buf_consume(in, used);
}

static void
process_data(struct smtp_session *s, struct buf *in, bool *progress_r)
{
	size_t used = 0;
	int ret;

	ret = smtp_data_feed(&s->dec, in->data, in->len, &s->msg, &used);
	buf_consume(in, used);
	*progress_r = ret != 0;
	if (ret < 0) {
		/* s->msg has no max of its own: cannot happen, but be safe. */
		s->dec.overflow = true;
		*progress_r = false;
	}
	if (ret == 1)
		smtp_message_complete(s);
}

static void
process_bdat(struct smtp_session *s, struct buf *in, bool *progress_r)
{
	size_t n = (size_t)MIN((uint64_t)in->len, s->bdat_left);
	size_t limit = s->set.message_size_limit;

	if (n > 0 && !s->bdat_discard && !s->dec.overflow) {
		if (limit != 0 && s->msg.len + n > limit)
			s->dec.overflow = true;
		else
			(void)buf_append(&s->msg, in->data, n);
	}
	buf_consume(in, n);
	s->bdat_left -= n;
	*progress_r = s->bdat_left == 0;
	if (s->bdat_left == 0)
		smtp_message_complete(s);
}

/* One step of the input loop; false when nothing more can be done now. */
static bool
process_step(struct smtp_session *s)
{
	struct buf *in = conn_input(s->conn);
	bool progress = false;

	switch (s->state) {
	case SMTP_STATE_TLS_WAIT:
	case SMTP_STATE_STARTTLS:
	case SMTP_STATE_QUIT:
		return false;
	case SMTP_STATE_DATA:
		process_data(s, in, &progress);
		break;
	case SMTP_STATE_BDAT:
		/* A zero-length chunk completes without input. */
		if (in->len == 0 && s->bdat_left != 0)
			return false;
		process_bdat(s, in, &progress);
		break;
	default:
		if (s->shutdown) {
			smtp_close_with(s, 421, "4.3.2", "Service shutting down");
			return false;
		}
		process_command(s, in, &progress);
		break;
	}
	return progress;
}

static void
session_process(struct smtp_session *s)
{
	if (s->in_input)
		return;
	s->in_input = true;
	while (s->conn != NULL && !s->closing && !s->end_requested &&
	    s->pending == SMTP_PENDING_NONE && !s->tarpit_active) {
		if (!process_step(s))
			break;
	}
	s->in_input = false;
	if (s->dead) {
		if (s->pending == SMTP_PENDING_NONE)
			session_end(s);
		return;
	}
	flush_replies(s);
	if (s->end_requested) {
		session_end(s);
		return;
	}
	if (s->closing) {
		conn_close_after_drain(s->conn);
		return;
	}
	if (s->pending == SMTP_PENDING_NONE && !s->tarpit_active &&
	    s->state != SMTP_STATE_STARTTLS && s->state != SMTP_STATE_TLS_WAIT)
		conn_resume_read(s->conn);
	if (s->pending == SMTP_PENDING_NONE && conn_eof(s->conn))
		session_end(s);
}

static void
session_free(struct smtp_session *s)
{
	smtp_tx_reset(s);
	free(s->rcpts);
	free(s->helo);
	free(s->auth_user);
	buf_deinit(&s->msg);
	buf_deinit(&s->out);
	if (s->auth_secret != NULL) {
		explicit_bzero(s->auth_secret, s->auth_secret_len);
		free(s->auth_secret);
	}
	if (s->tarpit_active)
		ev_timer_stop(s->loop, &s->tarpit);
	free(s);
}

/*
 * Ends the session: drops the connection, and once no hook awaits its
 * answer, reports `closed` and frees. Deferred when called from inside
 * the input loop.
 */
static void
session_end(struct smtp_session *s)
{
	if (s->in_input) {
		s->end_requested = true;
		return;
	}
	if (s->tarpit_active) {
		ev_timer_stop(s->loop, &s->tarpit);
		s->tarpit_active = false;
	}
	conn_free(&s->conn);
	if (s->pending != SMTP_PENDING_NONE) {
		s->dead = true;
		return;
	}
	log_debug(LOG_COMP, s->id, "session ended");
	if (s->hooks->closed != NULL)
		s->hooks->closed(s, s->ud);
	session_free(s);
}

static void
on_tls_ready(struct smtp_session *s)
{
	s->tls = true;
	conn_tls_describe(s->conn, s->tls_desc, sizeof(s->tls_desc));
	log_debug(LOG_COMP, s->id, "TLS established: %s", s->tls_desc);
	if (s->state == SMTP_STATE_TLS_WAIT)
		smtp_reply(s, 220, NULL, "%s ESMTP", s->set.hostname);
	/* RFC 3207 4.2: forget everything learnt before; EHLO again. */
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	smtp_tx_reset(s);
	smtp_enter_state(s, SMTP_STATE_CONNECTED);
	conn_resume_read(s->conn);
	session_process(s);
}

static void
conn_cb(struct conn *c, enum conn_event ev, void *ud)
{
	struct smtp_session *s = ud;

	(void)c;
	switch (ev) {
	case CONN_EV_DATA_IN:
		session_process(s);
		break;
	case CONN_EV_DRAINED:
		break;
	case CONN_EV_TLS_READY:
		on_tls_ready(s);
		break;
	case CONN_EV_TIMEOUT:
		if (s->closing || s->pending != SMTP_PENDING_NONE) {
			session_end(s);
			break;
		}
		log_info(LOG_COMP, s->id, "timeout from %s", s->client_ip);
		smtp_close_with(s, 421, "4.4.2", "Error: timeout exceeded");
		session_process(s);
		break;
	case CONN_EV_CLOSED:
		if (s->closing) {
			session_end(s);
			break;
		}
		/* Answer what the client sent before its EOF; session_process()
		 * ends the session once nothing is pending. */
		session_process(s);
		break;
	case CONN_EV_ERROR:
		session_end(s);
		break;
	}
}

static void
session_init_peer(struct smtp_session *s)
{
	str_lcpy(s->client_ip, conn_peer_text(s->conn), sizeof(s->client_ip));
	s->client_port = conn_peer_port(s->conn);
	s->loopback = ip_is_loopback(s->client_ip);
}

static void
settings_defaults(struct smtp_settings *set)
{
	if (set->hostname == NULL)
		set->hostname = "localhost";
	if (set->soft_error_limit == 0)
		set->soft_error_limit = 10;
	if (set->hard_error_limit == 0)
		set->hard_error_limit = 20;
	if (set->recipient_limit == 0)
		set->recipient_limit = 1000;
	if (set->timeout <= 0)
		set->timeout = 300;
	if (set->line_limit == 0)
		set->line_limit = 2048;
	if (set->line_limit < 512)
		set->line_limit = 512;
}

struct smtp_session *
smtp_session_new(struct ev_loop *loop, int fd, const struct smtp_settings *set,
    const struct smtp_hooks *hooks, void *ud, const struct smtp_reply *reject_greeting)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	struct conn_settings cs = { 0 };

	s->loop = loop;
	s->set = *set;
	settings_defaults(&s->set);
	s->hooks = hooks;
	s->ud = ud;
	(void)str_format(s->id, sizeof(s->id), "smtp%ld.%lu", (long)getpid(), ++session_counter);
	buf_init(&s->out, OUT_MAX);
	buf_init(&s->msg, 0);
	ev_init(&s->tarpit, tarpit_cb);
	s->tarpit.data = s;
	cs.max_input = INPUT_MAX;
	cs.read_timeout = s->set.timeout;
	cs.write_timeout = s->set.timeout;
	s->conn = conn_new(loop, fd, NULL, 0, &cs, conn_cb, s);
	session_init_peer(s);
	log_debug(LOG_COMP, s->id, "connect from %s:%d", s->client_ip, s->client_port);
	if (reject_greeting != NULL) {
		smtp_reply_struct(s, reject_greeting);
		s->closing = true;
		smtp_enter_state(s, SMTP_STATE_QUIT);
	} else if (s->set.implicit_tls && s->set.tls_ctx != NULL) {
		smtp_enter_state(s, SMTP_STATE_TLS_WAIT);
		if (conn_tls_accept(s->conn, s->set.tls_ctx) < 0)
			s->closing = true;
	} else {
		smtp_reply(s, 220, NULL, "%s ESMTP", s->set.hostname);
		smtp_enter_state(s, SMTP_STATE_CONNECTED);
	}
	flush_replies(s);
	if (s->closing)
		conn_close_after_drain(s->conn);
	return s;
}

const char *
smtp_session_id(const struct smtp_session *s)
{
	return s->id;
}

void
smtp_answered(struct smtp_session *s)
{
	smtp_set_pending(s, SMTP_PENDING_NONE);
	if (s->dead) {
		if (!s->in_input)
			session_end(s);
		return;
	}
	if (!s->in_input)
		session_process(s);
}

void
smtp_session_shutdown(struct smtp_session *s)
{
	s->shutdown = true;
	if (s->in_input || s->pending != SMTP_PENDING_NONE || s->dead || s->closing)
		return;
	smtp_close_with(s, 421, "4.3.2", "Service shutting down");
	session_process(s);
}
