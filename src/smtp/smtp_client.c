/*
 * smtp_client.c - the outbound SMTP client session (see smtp_client.h).
 *
 * One state machine per connection. Connecting is done here (a
 * non-blocking connect() watched by our own io watcher and timer) because
 * struct conn wants a connected fd; from the banner on, everything goes
 * through conn's buffers, timeouts and TLS.
 *
 * A transaction keeps a queue of the replies it still expects (RSET, MAIL,
 * each RCPT, DATA, end of DATA). With PIPELINING the whole group is
 * written at once and the queue drains as replies arrive; without it one
 * command is written per reply. Either way the replies are matched in
 * order, which is all RFC 2920 promises.
 *
 * The body is streamed: a slice of the message (memory or pread() from
 * the queue file) is dot-stuffed into a scratch buffer and queued on the
 * connection only when its output has drained, so at most one slice is
 * ever copied, however big the message.
 *
 * Failures end in exactly one place, client_end(): it gives the owner the
 * pending transaction's `done` (4xx for everyone: Postfix-style "lost
 * connection with host X while sending RCPT TO") and then `closed`.
 * Callbacks are counted so the owner may free the client inside any of
 * them; every path that calls the owner checks whether the client still
 * exists afterwards.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "log/log.h"
#include "smtp/smtp_client.h"

#define LOG_COMP "smtp_client"
#define BODY_SLICE (64 * 1024)      /* bytes of content encoded at a time */
#define INPUT_MAX (64 * 1024)

enum client_state {
	CS_CONNECTING,
	CS_BANNER,
	CS_EHLO,
	CS_HELO,
	CS_STARTTLS,
	CS_TLS,
	CS_IDLE,
	CS_TRANS,     /* awaiting replies of the transaction */
	CS_BODY,      /* streaming the content */
	CS_QUIT,
	CS_DEAD,
};

enum deferred {
	DEF_NONE,
	DEF_LOCAL_DONE,  /* a send() refused locally: report done */
	DEF_END,         /* end the client with c->end */
};

struct expect {
	enum smtp_client_stage stage;
	size_t rcpt;
};

struct trans {
	const struct smtp_client_msg *m;
	struct smtp_client_reply *rcpts;
	struct smtp_client_reply mail;     /* MAIL reply (code 0 = none yet) */
	struct smtp_client_reply final;    /* message level */
	bool mail_ok;
	size_t n_ok;
	size_t next_rcpt;                  /* without PIPELINING */
	struct expect *exp;
	size_t exp_head, exp_tail, exp_cap;
	bool discard_end;                  /* "." sent after a stray 354 */
	bool have_final;
	bool unannounced_8bit;
	/* body streaming */
	int part;                          /* 0 prefix, 1 data/fd, 2 finished */
	size_t off;
	struct smtp_dot_state dot;
};

struct smtp_client {
	struct ev_loop *loop;
	const struct smtp_client_settings *set;
	const struct smtp_client_callbacks *cb;
	void *ud;
	struct conn *conn;
	int fd;                            /* while connecting */
	ev_io connect_io;
	ev_timer timer;                    /* connect timeout; deferred actions */
	enum client_state state;
	enum smtp_client_stage stage;      /* for failure texts */
	enum deferred def;
	char host[256];                    /* peer_name or address text */
	char peer[320];                    /* "host[addr]:port" */
	char peer_short[320];              /* "host[addr]" */
	struct smtp_reply_parser rp;
	struct smtp_client_caps caps;
	struct smtp_client_end end;        /* what `closed` will say */
	bool need_rset;
	unsigned in_cb;
	bool owner_freed;
	struct trans *t;
	struct buf enc;                    /* encoded body slice */
	char *slice;                       /* pread() buffer */
};

static bool client_end(struct smtp_client *c, const struct smtp_client_reply *why,
    bool clean);
static bool trans_finish(struct smtp_client *c, bool reusable);
static void on_conn(struct conn *conn, enum conn_event ev, void *ud);

static double
tmo(double v, double dflt)
{
	return v > 0 ? v : dflt;
}

const char *
smtp_client_stage_name(enum smtp_client_stage s)
{
	static const char *const names[] = {
		[SMTP_CLIENT_STAGE_CONNECT] = "connect",
		[SMTP_CLIENT_STAGE_BANNER] = "initial greeting",
		[SMTP_CLIENT_STAGE_HELO] = "EHLO",
		[SMTP_CLIENT_STAGE_STARTTLS] = "STARTTLS",
		[SMTP_CLIENT_STAGE_TLS] = "TLS handshake",
		[SMTP_CLIENT_STAGE_RSET] = "RSET",
		[SMTP_CLIENT_STAGE_MAIL] = "MAIL FROM",
		[SMTP_CLIENT_STAGE_RCPT] = "RCPT TO",
		[SMTP_CLIENT_STAGE_DATA] = "DATA",
		[SMTP_CLIENT_STAGE_BODY] = "message body",
		[SMTP_CLIENT_STAGE_DATA_END] = "end of DATA",
		[SMTP_CLIENT_STAGE_QUIT] = "QUIT",
		[SMTP_CLIENT_STAGE_LOCAL] = "local checks",
	};

	if ((size_t)s >= ARRAY_SIZE(names) || names[s] == NULL)
		return "unknown";
	return names[s];
}

/* What the client was doing, for "lost connection ... while %s". */
static const char *
stage_while(enum smtp_client_stage s)
{
	switch (s) {
	case SMTP_CLIENT_STAGE_CONNECT:
		return "connecting";
	case SMTP_CLIENT_STAGE_BANNER:
		return "receiving the initial server greeting";
	case SMTP_CLIENT_STAGE_TLS:
		return "performing the TLS handshake";
	case SMTP_CLIENT_STAGE_BODY:
		return "sending message body";
	case SMTP_CLIENT_STAGE_DATA_END:
		return "sending end of data -- message may be sent more than once";
	case SMTP_CLIENT_STAGE_HELO:
		return "performing the EHLO handshake";
	default:
		return NULL;
	}
}

static void PRINTF_LIKE(5, 6)
local_reply(struct smtp_client_reply *r, enum smtp_client_stage stage,
    int code, const char *enhanced, const char *fmt, ...)
{
	va_list ap;

	memset(r, 0, sizeof(*r));
	r->code = code;
	r->stage = stage;
	r->local = true;
	str_lcpy(r->enhanced, enhanced, sizeof(r->enhanced));
	va_start(ap, fmt);
	(void)vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* "lost connection with host X while sending RCPT TO" style failures. */
static void
lost_reply(struct smtp_client *c, struct smtp_client_reply *r, const char *what)
{
	const char *w = stage_while(c->stage);

	if (w != NULL)
		local_reply(r, c->stage, 421, "4.4.2", "%s %s while %s", what,
		    c->peer_short, w);
	else
		local_reply(r, c->stage, 421, "4.4.2", "%s %s while sending %s",
		    what, c->peer_short, smtp_client_stage_name(c->stage));
}

int
smtp_client_diag(const struct smtp_client *c, const struct smtp_client_reply *r,
    char *out, size_t size)
{
	if (r->local)
		return str_format(out, size, "%s", r->text);
	return str_format(out, size, "host %s said: %d %s %s (in reply to %s command)",
	    c->peer_short, r->code, r->enhanced, r->text,
	    smtp_client_stage_name(r->stage));
}

const char *
smtp_client_peer(const struct smtp_client *c)
{
	return c->peer;
}

const struct smtp_client_caps *
smtp_client_caps(const struct smtp_client *c)
{
	return &c->caps;
}

/* ---- lifetime and owner callbacks ---- */

static void
trans_free(struct trans *t)
{
	if (t == NULL)
		return;
	free(t->rcpts);
	free(t->exp);
	free(t);
}

static void
client_destroy(struct smtp_client *c)
{
	ev_io_stop(c->loop, &c->connect_io);
	ev_timer_stop(c->loop, &c->timer);
	if (c->fd >= 0)
		close(c->fd);
	conn_free(&c->conn);
	trans_free(c->t);
	buf_deinit(&c->enc);
	free(c->slice);
	free(c);
}

/* After an owner callback: false when the owner freed the client. */
static bool
cb_return(struct smtp_client *c)
{
	c->in_cb--;
	if (c->owner_freed) {
		if (c->in_cb == 0)
			client_destroy(c);
		return false;
	}
	return true;
}

void
smtp_client_free(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;

	*cp = NULL;
	if (c == NULL)
		return;
	if (c->in_cb > 0) {
		c->owner_freed = true;
		ev_io_stop(c->loop, &c->connect_io);
		ev_timer_stop(c->loop, &c->timer);
		return;
	}
	client_destroy(c);
}

/* Gives the owner `done` for the current transaction; false if freed. */
static bool
trans_report(struct smtp_client *c, bool reusable)
{
	struct trans *t = c->t;
	struct smtp_client_result r;
	size_t i;

	memset(&r, 0, sizeof(r));
	r.reply = t->final;
	r.rcpts = t->rcpts;
	r.n_rcpts = t->m->n_rcpts;
	r.sent_8bit_unannounced = t->unannounced_8bit;
	r.reusable = reusable;
	for (i = 0; i < r.n_rcpts; i++) {
		/* A recipient the server took shares the message's fate. */
		if (t->rcpts[i].code == 0 || (t->rcpts[i].code / 100 == 2 &&
		    !t->rcpts[i].local))
			t->rcpts[i] = t->final;
		if (t->rcpts[i].code / 100 == 2)
			r.n_accepted++;
	}
	c->t = NULL;
	c->in_cb++;
	if (c->cb->done != NULL)
		c->cb->done(c, &r, c->ud);
	trans_free(t);
	return cb_return(c);
}

/*
 * The one way out: `done` for a pending transaction (with `why` for every
 * recipient not yet refused), then `closed`, then the client is freed.
 * Returns false (the client is gone) so callers can `return client_end()`.
 */
static bool
client_end(struct smtp_client *c, const struct smtp_client_reply *why, bool clean)
{
	struct smtp_client_end e = c->end;

	if (c->state == CS_DEAD)
		return false;
	c->state = CS_DEAD;
	if (c->conn != NULL)
		conn_set_callback(c->conn, on_conn, c);
	if (c->t != NULL) {
		c->t->final = *why;
		for (size_t i = 0; i < c->t->m->n_rcpts; i++)
			if (c->t->rcpts[i].code / 100 == 2)
				c->t->rcpts[i].code = 0;
		if (!trans_report(c, false))
			return false;
	}
	if (e.reply.code == 0)
		e.reply = *why;
	e.clean = clean;
	if (!clean)
		log_info(LOG_COMP, c->peer, "%s", e.reply.text[0] != '\0' ?
		    e.reply.text : "connection ended");
	c->in_cb++;
	if (c->cb->closed != NULL)
		c->cb->closed(c, &e, c->ud);
	if (cb_return(c))
		client_destroy(c);
	return false;
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct smtp_client *c = w->data;
	struct smtp_client_reply r;

	(void)loop;
	(void)revents;
	ev_timer_stop(c->loop, &c->timer);
	if (c->def == DEF_LOCAL_DONE) {
		c->def = DEF_NONE;
		c->state = CS_IDLE;
		(void)trans_report(c, true);
	} else if (c->def == DEF_END) {
		c->def = DEF_NONE;
		(void)client_end(c, &c->end.reply, c->end.clean);
	} else if (c->state == CS_CONNECTING) {
		local_reply(&r, SMTP_CLIENT_STAGE_CONNECT, 421, "4.4.1",
		    "connect to %s: Connection timed out", c->peer_short);
		(void)client_end(c, &r, false);
	}
}

static void
defer(struct smtp_client *c, enum deferred what)
{
	c->def = what;
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_set(&c->timer, 0., 0.);
	ev_timer_start(c->loop, &c->timer);
}

/* ---- writing ---- */

static bool
send_line(struct smtp_client *c, const char *line)
{
	struct smtp_client_reply r;

	log_debug(LOG_COMP, c->peer, "> %s", line);
	if (conn_write(c->conn, line, strlen(line)) < 0 ||
	    conn_write(c->conn, "\r\n", 2) < 0) {
		lost_reply(c, &r, "lost connection with");
		return client_end(c, &r, false);
	}
	return true;
}

static void
set_read_timeout(struct smtp_client *c, double t)
{
	conn_set_timeouts(c->conn, t, t);
}

static bool
send_ehlo(struct smtp_client *c, bool helo)
{
	char line[300];

	(void)str_format(line, sizeof(line), "%s %s", helo ? "HELO" : "EHLO",
	    c->set->helo_name != NULL ? c->set->helo_name : "localhost");
	c->state = helo ? CS_HELO : CS_EHLO;
	c->stage = SMTP_CLIENT_STAGE_HELO;
	set_read_timeout(c, tmo(c->set->helo_timeout, 300));
	return send_line(c, line);
}

/*
 * Sends QUIT and waits for its reply (or EOF, or quit_timeout) before
 * ending with `why` (NULL: a clean quit, the 221 becomes the reason).
 */
static bool
begin_quit(struct smtp_client *c, const struct smtp_client_reply *why)
{
	if (why != NULL)
		c->end.reply = *why;
	c->end.clean = why == NULL;
	c->state = CS_QUIT;
	c->stage = SMTP_CLIENT_STAGE_QUIT;
	set_read_timeout(c, tmo(c->set->quit_timeout, 300));
	return send_line(c, "QUIT");
}

static bool
ready(struct smtp_client *c)
{
	c->state = CS_IDLE;
	c->end.ready_seen = true;
	/* Idle: the owner decides how long to keep a cached connection. */
	set_read_timeout(c, 0);
	c->in_cb++;
	if (c->cb->ready != NULL)
		c->cb->ready(c, &c->caps, c->ud);
	return cb_return(c);
}

/* ---- greeting: banner, EHLO/HELO, STARTTLS ---- */

static bool
tls_required_fail(struct smtp_client *c, const char *fmt_reason)
{
	struct smtp_client_reply r;

	local_reply(&r, SMTP_CLIENT_STAGE_STARTTLS, 450, "4.7.4",
	    "TLS is required, but %s %s", fmt_reason, c->peer_short);
	return begin_quit(c, &r);
}

/* EHLO/HELO accepted: maybe STARTTLS, else ready. */
static bool
after_helo(struct smtp_client *c)
{
	bool tls_active = conn_tls_active(c->conn);
	enum smtp_client_tls tls = c->set->tls;

	if (tls_active || tls == SMTP_TLS_NONE)
		return ready(c);
	if (tls == SMTP_TLS_ENCRYPT && c->set->tls_ctx == NULL) {
		struct smtp_client_reply r;

		local_reply(&r, SMTP_CLIENT_STAGE_STARTTLS, 450, "4.7.5",
		    "TLS is required, but no TLS client context is configured");
		return begin_quit(c, &r);
	}
	if (!c->caps.starttls || c->set->tls_ctx == NULL) {
		if (tls == SMTP_TLS_ENCRYPT)
			return tls_required_fail(c, "was not offered by host");
		return ready(c);
	}
	c->state = CS_STARTTLS;
	c->stage = SMTP_CLIENT_STAGE_STARTTLS;
	return send_line(c, "STARTTLS");
}

static bool
on_greeting_reply(struct smtp_client *c, const struct smtp_client_reply *r)
{
	int cls = r->code / 100;

	switch (c->state) {
	case CS_BANNER:
		if (r->code != 220)
			return begin_quit(c, r);
		return send_ehlo(c, false);
	case CS_EHLO:
		if (cls == 2) {
			smtp_client_parse_caps(&c->rp, &c->caps);
			return after_helo(c);
		}
		if (cls == 5 && !conn_tls_active(c->conn))
			return send_ehlo(c, true);
		return begin_quit(c, r);
	case CS_HELO:
		if (cls != 2)
			return begin_quit(c, r);
		c->caps.esmtp = false;
		return after_helo(c);
	case CS_STARTTLS:
		if (r->code != 220) {
			if (c->set->tls == SMTP_TLS_ENCRYPT)
				return tls_required_fail(c, "STARTTLS was refused by host");
			log_info(LOG_COMP, c->peer, "STARTTLS refused (%d %s), "
			    "continuing in plaintext", r->code, r->text);
			return ready(c);
		}
		c->state = CS_TLS;
		c->stage = SMTP_CLIENT_STAGE_TLS;
		if (conn_tls_connect(c->conn, c->set->tls_ctx, c->host) < 0) {
			struct smtp_client_reply f;

			local_reply(&f, SMTP_CLIENT_STAGE_TLS, 454, "4.7.5",
			    "cannot set up TLS for %s", c->peer_short);
			c->end.tls_failed = c->set->tls == SMTP_TLS_MAY;
			return client_end(c, &f, false);
		}
		return true;
	default:
		return true;
	}
}

/* ---- transaction ---- */

static void
expect_push(struct trans *t, enum smtp_client_stage st, size_t rcpt)
{
	ASSERT(t->exp_tail < t->exp_cap);
	t->exp[t->exp_tail].stage = st;
	t->exp[t->exp_tail].rcpt = rcpt;
	t->exp_tail++;
}

static bool
format_mail(struct smtp_client *c, const struct smtp_client_msg *m,
    struct buf *out)
{
	uint64_t size = m->size;

	if (size == 0)
		size = m->prefix_len + (m->data != NULL ? m->data_len : m->fd_len);
	if (buf_printf(out, "MAIL FROM:<%s>", m->mail_from) < 0)
		return false;
	if (c->caps.size && buf_printf(out, " SIZE=%" PRIu64, size) < 0)
		return false;
	if (m->body_8bit && c->caps.eightbitmime &&
	    buf_append_cstr(out, " BODY=8BITMIME") < 0)
		return false;
	if (m->smtputf8 && c->caps.smtputf8 && buf_append_cstr(out, " SMTPUTF8") < 0)
		return false;
	return buf_append_cstr(out, "\r\n") == 0;
}

/* Queues `verb` [<addr>] CRLF in `out` and its expected reply. */
static void
add_cmd(struct trans *t, struct buf *out, enum smtp_client_stage st,
    size_t rcpt, const char *verb, const char *addr)
{
	if (addr != NULL)
		(void)buf_printf(out, "%s<%s>\r\n", verb, addr);
	else
		(void)buf_printf(out, "%s\r\n", verb);
	expect_push(t, st, rcpt);
}

/* Writes the next command(s): the whole group with PIPELINING. */
static bool
trans_write(struct smtp_client *c, struct buf *out)
{
	struct smtp_client_reply r;

	if (out->len > 0) {
		log_debug(LOG_COMP, c->peer, "> %.*s", (int)(out->len - 2), out->data);
		if (conn_write(c->conn, out->data, out->len) < 0) {
			lost_reply(c, &r, "lost connection with");
			buf_deinit(out);
			return client_end(c, &r, false);
		}
	}
	buf_deinit(out);
	return true;
}

static double
stage_timeout(struct smtp_client *c, enum smtp_client_stage st)
{
	const struct smtp_client_settings *s = c->set;

	switch (st) {
	case SMTP_CLIENT_STAGE_MAIL:
	case SMTP_CLIENT_STAGE_RSET:
		return tmo(s->mail_timeout, 300);
	case SMTP_CLIENT_STAGE_RCPT:
		return tmo(s->rcpt_timeout, 300);
	case SMTP_CLIENT_STAGE_DATA:
		return tmo(s->data_init_timeout, 120);
	case SMTP_CLIENT_STAGE_DATA_END:
		return tmo(s->data_done_timeout, 600);
	default:
		return tmo(s->helo_timeout, 300);
	}
}

/* The oldest outstanding reply decides the stage and its timeout. */
static void
trans_arm(struct smtp_client *c)
{
	struct trans *t = c->t;

	if (t->exp_head < t->exp_tail) {
		c->stage = t->exp[t->exp_head].stage;
		set_read_timeout(c, stage_timeout(c, c->stage));
	}
}

static bool
trans_start(struct smtp_client *c)
{
	struct trans *t = c->t;
	const struct smtp_client_msg *m = t->m;
	struct buf out;
	size_t i;

	buf_init(&out, 0);
	if (c->need_rset)
		add_cmd(t, &out, SMTP_CLIENT_STAGE_RSET, 0, "RSET", NULL);
	c->need_rset = true; /* until the transaction ends cleanly */
	(void)format_mail(c, m, &out); /* unlimited buffer: cannot fail */
	expect_push(t, SMTP_CLIENT_STAGE_MAIL, 0);
	if (c->caps.pipelining) {
		for (i = 0; i < m->n_rcpts; i++)
			add_cmd(t, &out, SMTP_CLIENT_STAGE_RCPT, i, "RCPT TO:",
			    m->rcpts[i]);
		add_cmd(t, &out, SMTP_CLIENT_STAGE_DATA, 0, "DATA", NULL);
	}
	c->state = CS_TRANS;
	trans_arm(c);
	return trans_write(c, &out);
}

/* Without PIPELINING: the command after a reply. */
static bool
trans_next_cmd(struct smtp_client *c)
{
	struct trans *t = c->t;
	struct buf out;

	buf_init(&out, 0);
	if (t->next_rcpt < t->m->n_rcpts) {
		add_cmd(t, &out, SMTP_CLIENT_STAGE_RCPT, t->next_rcpt, "RCPT TO:",
		    t->m->rcpts[t->next_rcpt]);
		t->next_rcpt++;
	} else if (t->n_ok == 0) {
		buf_deinit(&out);
		local_reply(&t->final, SMTP_CLIENT_STAGE_RCPT, 554, "5.5.1",
		    "no valid recipients");
		t->have_final = true;
		return trans_finish(c, true);
	} else {
		add_cmd(t, &out, SMTP_CLIENT_STAGE_DATA, 0, "DATA", NULL);
	}
	trans_arm(c);
	return trans_write(c, &out);
}

static bool body_fill(struct smtp_client *c);

static bool
trans_finish(struct smtp_client *c, bool reusable)
{
	struct trans *t = c->t;

	if (!t->have_final)
		t->final = t->mail_ok ? t->final : t->mail;
	c->state = CS_IDLE;
	set_read_timeout(c, 0);
	if (!t->mail_ok) {
		/* MAIL refused: that is every recipient's answer. */
		for (size_t i = 0; i < t->m->n_rcpts; i++)
			t->rcpts[i] = t->mail;
		t->final = t->mail;
	}
	return trans_report(c, reusable);
}

static bool
on_data_reply(struct smtp_client *c, const struct smtp_client_reply *r)
{
	struct trans *t = c->t;

	if (r->code == 354 && t->mail_ok && t->n_ok > 0) {
		c->state = CS_BODY;
		c->stage = SMTP_CLIENT_STAGE_BODY;
		t->part = 0;
		t->off = 0;
		smtp_dot_init(&t->dot);
		set_read_timeout(c, tmo(c->set->data_xfer_timeout, 180));
		return body_fill(c);
	}
	if (r->code == 354) {
		/* Pipelined DATA got 354 though nothing is to be sent: end an
		 * empty message at once and ignore what the server says. */
		t->discard_end = true;
		if (t->mail_ok) {
			local_reply(&t->final, SMTP_CLIENT_STAGE_RCPT, 554, "5.5.1",
			    "no valid recipients");
			t->have_final = true;
		}
		expect_push(t, SMTP_CLIENT_STAGE_DATA_END, 0);
		trans_arm(c);
		return send_line(c, ".");
	}
	if (t->mail_ok && t->n_ok > 0) {
		t->final = *r;
		t->have_final = true;
	} else if (t->mail_ok) {
		local_reply(&t->final, SMTP_CLIENT_STAGE_RCPT, 554, "5.5.1",
		    "no valid recipients");
		t->have_final = true;
	}
	return trans_finish(c, true);
}

static bool
on_trans_reply(struct smtp_client *c, const struct smtp_client_reply *r)
{
	struct trans *t = c->t;
	struct expect e;

	if (t->exp_head >= t->exp_tail) {
		struct smtp_client_reply f;

		local_reply(&f, c->stage, 451, "4.5.0", "unexpected reply from %s: "
		    "%d %s", c->peer_short, r->code, r->text);
		return client_end(c, &f, false);
	}
	e = t->exp[t->exp_head++];
	switch (e.stage) {
	case SMTP_CLIENT_STAGE_RSET:
		if (r->code / 100 != 2)
			return client_end(c, r, false);
		break;
	case SMTP_CLIENT_STAGE_MAIL:
		t->mail = *r;
		t->mail_ok = r->code / 100 == 2;
		if (!t->mail_ok && !c->caps.pipelining)
			return trans_finish(c, true);
		if (!c->caps.pipelining)
			return trans_next_cmd(c);
		break;
	case SMTP_CLIENT_STAGE_RCPT:
		t->rcpts[e.rcpt] = *r;
		if (r->code / 100 == 2)
			t->n_ok++;
		if (!c->caps.pipelining)
			return trans_next_cmd(c);
		break;
	case SMTP_CLIENT_STAGE_DATA:
		return on_data_reply(c, r);
	case SMTP_CLIENT_STAGE_DATA_END:
		if (t->discard_end)
			return trans_finish(c, true);
		t->final = *r;
		t->have_final = true;
		c->need_rset = false;
		return trans_finish(c, true);
	default:
		break;
	}
	trans_arm(c);
	return true;
}

/* ---- body streaming ---- */

/* The next slice of raw content: pointer and length (0 at the end). */
static int
body_slice(struct smtp_client *c, const char **p_r, size_t *len_r)
{
	struct trans *t = c->t;
	const struct smtp_client_msg *m = t->m;
	size_t total, n;
	ssize_t got;

	for (;;) {
		if (t->part == 0) {
			total = m->prefix != NULL ? m->prefix_len : 0;
		} else if (t->part == 1) {
			total = m->data != NULL ? m->data_len : m->fd_len;
		} else {
			*len_r = 0;
			return 0;
		}
		if (t->off < total)
			break;
		t->part++;
		t->off = 0;
	}
	n = MIN(total - t->off, (size_t)BODY_SLICE);
	if (t->part == 0 || m->data != NULL) {
		*p_r = (t->part == 0 ? m->prefix : m->data) + t->off;
	} else {
		if (c->slice == NULL)
			c->slice = xmalloc(BODY_SLICE);
		do {
			got = pread(m->fd, c->slice, n, m->fd_offset + (off_t)t->off);
		} while (got < 0 && errno == EINTR);
		if (got <= 0)
			return -1;
		n = (size_t)got;
		*p_r = c->slice;
	}
	t->off += n;
	*len_r = n;
	return 0;
}

static bool
body_read_error(struct smtp_client *c)
{
	struct smtp_client_reply r;

	/* A half-sent message must not be completed: drop the connection. */
	local_reply(&r, SMTP_CLIENT_STAGE_BODY, 451, "4.3.0",
	    "cannot read the message file: %s", strerror(errno != 0 ? errno : EIO));
	return client_end(c, &r, false);
}

/* Queues the next slice (called when the output drained). */
static bool
body_fill(struct smtp_client *c)
{
	struct trans *t = c->t;
	const char *p = NULL;
	size_t len;
	struct smtp_client_reply r;

	errno = 0;
	if (body_slice(c, &p, &len) < 0)
		return body_read_error(c);
	buf_reset(&c->enc);
	if (len > 0)
		(void)smtp_dot_encode(&t->dot, p, len, &c->enc);
	else
		(void)smtp_dot_finish(&t->dot, &c->enc);
	if (conn_write(c->conn, c->enc.data, c->enc.len) < 0) {
		lost_reply(c, &r, "lost connection with");
		return client_end(c, &r, false);
	}
	if (len == 0) {
		c->state = CS_TRANS;
		expect_push(t, SMTP_CLIENT_STAGE_DATA_END, 0);
		trans_arm(c);
	}
	return true;
}

/* ---- input ---- */

static bool
dispatch_reply(struct smtp_client *c)
{
	struct smtp_client_reply r;

	smtp_reply_parser_export(&c->rp, c->stage, &r);
	log_debug(LOG_COMP, c->peer, "< %d %s %s", r.code, r.enhanced, r.text);
	switch (c->state) {
	case CS_BANNER:
	case CS_EHLO:
	case CS_HELO:
	case CS_STARTTLS:
		return on_greeting_reply(c, &r);
	case CS_TRANS:
		return on_trans_reply(c, &r);
	case CS_QUIT:
		return client_end(c, c->end.clean ? &r : &c->end.reply, c->end.clean);
	case CS_BODY:
		/* A reply in the middle of the body: the server gave up on us. */
		r.stage = SMTP_CLIENT_STAGE_BODY;
		return client_end(c, &r, false);
	default:
		/* e.g. "421 idle timeout" while idle */
		return client_end(c, &r, false);
	}
}

static bool
protocol_error(struct smtp_client *c)
{
	struct smtp_client_reply r;

	local_reply(&r, c->stage, 451, "4.5.0",
	    "malformed reply from %s while %s%s", c->peer_short,
	    stage_while(c->stage) != NULL ? "" : "sending ",
	    stage_while(c->stage) != NULL ? stage_while(c->stage) :
	    smtp_client_stage_name(c->stage));
	return client_end(c, &r, false);
}

static void
read_replies(struct smtp_client *c)
{
	struct buf *in = conn_input(c->conn);
	const char *nl;
	size_t len;
	int rc;

	while (c->state != CS_DEAD && in->len > 0 && c->state != CS_TLS) {
		nl = memchr(in->data, '\n', in->len);
		if (nl == NULL) {
			if (in->len > SMTP_CLIENT_REPLY_LINE_MAX)
				(void)protocol_error(c);
			return;
		}
		len = (size_t)(nl - in->data);
		rc = smtp_reply_parser_line(&c->rp, in->data, len);
		buf_consume(in, len + 1);
		if (rc < 0) {
			(void)protocol_error(c);
			return;
		}
		if (rc == 1) {
			if (!dispatch_reply(c))
				return;
			smtp_reply_parser_init(&c->rp);
		}
	}
}

static void
on_conn(struct conn *conn, enum conn_event ev, void *ud)
{
	struct smtp_client *c = ud;
	struct smtp_client_reply r;

	(void)conn;
	switch (ev) {
	case CONN_EV_DATA_IN:
		read_replies(c);
		return;
	case CONN_EV_DRAINED:
		if (c->state == CS_BODY)
			(void)body_fill(c);
		return;
	case CONN_EV_TLS_READY:
		conn_tls_describe(c->conn, c->caps.tls_desc, sizeof(c->caps.tls_desc));
		c->caps.tls = true;
		log_info(LOG_COMP, c->peer, "TLS established: %s", c->caps.tls_desc);
		(void)send_ehlo(c, false);
		return;
	case CONN_EV_TIMEOUT:
		local_reply(&r, c->stage, 421, "4.4.2", "conversation with %s timed "
		    "out while %s%s", c->peer_short,
		    stage_while(c->stage) != NULL ? "" : "sending ",
		    stage_while(c->stage) != NULL ? stage_while(c->stage) :
		    smtp_client_stage_name(c->stage));
		break;
	case CONN_EV_CLOSED:
		if (c->state == CS_QUIT) {
			/* No reply to QUIT, but the server hung up: fine. */
			local_reply(&r, SMTP_CLIENT_STAGE_QUIT, 221, "2.0.0",
			    "connection closed by %s", c->peer_short);
			(void)client_end(c, c->end.clean ? &r : &c->end.reply,
			    c->end.clean);
			return;
		}
		if (c->state == CS_IDLE)
			local_reply(&r, c->stage, 421, "4.4.2",
			    "connection closed by %s while idle", c->peer_short);
		else
			lost_reply(c, &r, "lost connection with");
		break;
	case CONN_EV_ERROR:
	default:
		lost_reply(c, &r, "lost connection with");
		break;
	}
	if (c->state == CS_TLS) {
		/* Any way the handshake can end but TLS_READY. */
		local_reply(&r, SMTP_CLIENT_STAGE_TLS, 454, "4.7.5",
		    "TLS handshake with %s failed", c->peer_short);
		c->end.tls_failed = c->set->tls == SMTP_TLS_MAY;
	}
	(void)client_end(c, &r, false);
}

/* ---- connecting ---- */

static bool
connected(struct smtp_client *c)
{
	struct conn_settings cs;
	int fd = c->fd;

	memset(&cs, 0, sizeof(cs));
	cs.max_input = INPUT_MAX;
	cs.read_timeout = tmo(c->set->helo_timeout, 300);
	cs.write_timeout = cs.read_timeout;
	c->fd = -1;
	c->conn = conn_new(c->loop, fd, NULL, 0, &cs, on_conn, c);
	c->state = CS_BANNER;
	c->stage = SMTP_CLIENT_STAGE_BANNER;
	return true;
}

static void
on_connect_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct smtp_client *c = w->data;
	struct smtp_client_reply r;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)loop;
	(void)revents;
	ev_io_stop(c->loop, &c->connect_io);
	ev_timer_stop(c->loop, &c->timer);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		local_reply(&r, SMTP_CLIENT_STAGE_CONNECT, 421, "4.4.1",
		    "connect to %s: %s", c->peer_short, strerror(err));
		(void)client_end(c, &r, false);
		return;
	}
	(void)connected(c);
}

static int
bind_source(int fd, int family, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;

		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return 0; /* an address of the other family: not for us */
		len = sizeof(*sin);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;

		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return 0;
		len = sizeof(*sin6);
	} else {
		return 0;
	}
	return bind(fd, (struct sockaddr *)&ss, len);
}

static void
peer_names(struct smtp_client *c, const struct sockaddr *addr, const char *name)
{
	char text[64];
	int port = 0;

	conn_addr_to_text(addr, text, sizeof(text));
	if (addr->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)(const void *)addr)->sin_port);
	else if (addr->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)(const void *)addr)->sin6_port);
	str_lcpy(c->host, name != NULL && name[0] != '\0' ? name : text,
	    sizeof(c->host));
	(void)str_format(c->peer_short, sizeof(c->peer_short), "%s[%s]", c->host, text);
	(void)str_format(c->peer, sizeof(c->peer), "%s:%d", c->peer_short, port);
}

/* socket + bind + non-blocking connect; 0, or -1 with errno. */
static int
start_connect(struct smtp_client *c, const struct sockaddr *addr, socklen_t len)
{
	int one = 1;

	c->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	/* Commands go out in small writes (pipelined groups, the end of
	 * DATA): Nagle would hold each behind the peer's delayed ACK. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->set->bind_address != NULL && c->set->bind_address[0] != '\0' &&
	    bind_source(c->fd, addr->sa_family, c->set->bind_address) < 0)
		return -1;
	if (connect(c->fd, addr, len) < 0 && errno != EINPROGRESS)
		return -1;
	return 0;
}

struct smtp_client *
smtp_client_connect(struct ev_loop *loop, const struct sockaddr *addr,
    socklen_t addr_len, const char *peer_name,
    const struct smtp_client_settings *set,
    const struct smtp_client_callbacks *cb, void *ud,
    struct smtp_client_end *end_r)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->set = set;
	c->cb = cb;
	c->ud = ud;
	c->fd = -1;
	buf_init(&c->enc, 0);
	smtp_reply_parser_init(&c->rp);
	peer_names(c, addr, peer_name);
	ev_init(&c->connect_io, on_connect_io);
	c->connect_io.data = c;
	ev_init(&c->timer, on_timer);
	c->timer.data = c;
	c->state = CS_CONNECTING;
	c->stage = SMTP_CLIENT_STAGE_CONNECT;
	if (start_connect(c, addr, addr_len) < 0) {
		int err = errno;

		if (c->fd < 0 && end_r != NULL) {
			memset(end_r, 0, sizeof(*end_r));
			local_reply(&end_r->reply, SMTP_CLIENT_STAGE_CONNECT, 421,
			    "4.4.1", "cannot create socket: %s", strerror(err));
		}
		if (c->fd < 0) {
			client_destroy(c);
			return NULL;
		}
		/* Refused at once (loopback) or bind failure: report from the loop. */
		local_reply(&c->end.reply, SMTP_CLIENT_STAGE_CONNECT, 421, "4.4.1",
		    "connect to %s: %s", c->peer_short, strerror(err));
		defer(c, DEF_END);
		return c;
	}
	ev_io_set(&c->connect_io, c->fd, EV_WRITE);
	ev_io_start(loop, &c->connect_io);
	ev_timer_set(&c->timer, tmo(set->connect_timeout, 30), 0.);
	ev_timer_start(loop, &c->timer);
	return c;
}

/* ---- owner requests ---- */

/* Envelope addresses go on command lines: no CR, LF, brackets, controls. */
static bool
addr_ok(const char *a)
{
	if (a == NULL || strlen(a) > 512)
		return false;
	for (; *a != '\0'; a++) {
		unsigned char ch = (unsigned char)*a;

		if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>')
			return false;
	}
	return true;
}

/* SIZE and SMTPUTF8 checks that fail every recipient without a word sent. */
static bool
local_refusal(struct smtp_client *c, const struct smtp_client_msg *m,
    struct smtp_client_reply *r)
{
	uint64_t size = m->size;

	if (size == 0)
		size = m->prefix_len + (m->data != NULL ? m->data_len : m->fd_len);
	if (m->smtputf8 && !c->caps.smtputf8) {
		local_reply(r, SMTP_CLIENT_STAGE_LOCAL, 550, "5.6.7",
		    "SMTPUTF8 is required, but was not offered by host %s",
		    c->peer_short);
		return true;
	}
	if (c->caps.size && c->caps.size_max > 0 && size > c->caps.size_max) {
		local_reply(r, SMTP_CLIENT_STAGE_LOCAL, 552, "5.3.4",
		    "message size %" PRIu64 " exceeds size limit %" PRIu64
		    " of server %s", size, c->caps.size_max, c->peer_short);
		return true;
	}
	return false;
}

int
smtp_client_send(struct smtp_client *c, const struct smtp_client_msg *m)
{
	struct trans *t;
	size_t i;

	if (c->state != CS_IDLE || c->t != NULL || c->def != DEF_NONE ||
	    m->n_rcpts == 0 || !addr_ok(m->mail_from))
		return -1;
	for (i = 0; i < m->n_rcpts; i++)
		if (!addr_ok(m->rcpts[i]) || m->rcpts[i][0] == '\0')
			return -1;
	if (m->data == NULL && m->fd_len > 0 && m->fd < 0)
		return -1;
	t = xcalloc(1, sizeof(*t));
	t->m = m;
	t->rcpts = xcalloc(m->n_rcpts, sizeof(*t->rcpts));
	t->exp_cap = m->n_rcpts + 4;
	t->exp = xcalloc(t->exp_cap, sizeof(*t->exp));
	c->t = t;
	if (local_refusal(c, m, &t->final)) {
		t->have_final = true;
		t->mail_ok = true; /* trans_report: everyone gets `final` */
		c->state = CS_TRANS;
		defer(c, DEF_LOCAL_DONE);
		return 0;
	}
	if (m->body_8bit && !c->caps.eightbitmime) {
		t->unannounced_8bit = true;
		log_info(LOG_COMP, c->peer, "8-bit message sent as is: "
		    "the server does not announce 8BITMIME");
	}
	(void)trans_start(c);
	return 0;
}

void
smtp_client_quit(struct smtp_client *c)
{
	struct smtp_client_reply r;

	if (c->state == CS_DEAD || c->state == CS_QUIT || c->def == DEF_END)
		return;
	if (c->state == CS_IDLE && c->def == DEF_NONE) {
		(void)begin_quit(c, NULL);
		return;
	}
	/* Busy: abort like a lost connection, reported from the loop. */
	lost_reply(c, &r, "delivery aborted; connection with");
	c->end.reply = r;
	c->end.clean = false;
	ev_io_stop(c->loop, &c->connect_io);
	defer(c, DEF_END);
}
