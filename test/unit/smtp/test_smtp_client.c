/*
 * Unit tests for the outbound SMTP client: a scripted fake server on a
 * loopback listener in the same loop (replies chosen per command, a
 * transcript of what the client sent), our own smtp_session as the
 * server for an interop test, and the pure reply parser / dot encoder.
 */
#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "event/conn.h"
#include "event/tls.h"
#include "smtp/smtp_client.h"
#include "smtp/smtp_session.h"
#include "test.h"

#define HAS(hay, needle) (strstr((hay), (needle)) != NULL)

static struct ev_loop *loop;
static struct ssl_ctx_st *server_ctx, *client_ctx;

/* ---- the fake server ---- */

struct fake {
	int lfd;
	ev_io accept_w;
	struct conn *c;
	struct sockaddr_in addr;
	bool silent;              /* never answer, not even the banner */
	const char *banner;
	const char *ehlo;         /* full reply lines incl. CRLF */
	const char *helo;
	const char *mail;
	const char *rcpt[8];      /* per recipient index; NULL = 250; "" = silence */
	const char *data;         /* reply to DATA */
	const char *end;          /* reply to "." */
	bool starttls;            /* answer STARTTLS with 220 and handshake */
	bool starttls_bad;        /* answer 220, then hang up */
	bool hold_until_data;     /* queue replies MAIL..DATA (pipelining check) */
	bool holding;
	size_t rcpt_i;
	bool in_data;
	bool saw_pipelined;
	struct buf pending;
	struct buf log;           /* command lines, '\n' separated */
	struct buf body;          /* raw DATA lines of the last message */
	size_t messages;
};

static void
fake_reply(struct fake *f, const char *r)
{
	if (r == NULL || r[0] == '\0' || f->c == NULL)
		return;
	if (f->holding)
		buf_append_cstr(&f->pending, r);
	else
		conn_write(f->c, r, strlen(r));
}

static void
fake_flush(struct fake *f)
{
	if (f->pending.len > 0)
		conn_write(f->c, f->pending.data, f->pending.len);
	buf_reset(&f->pending);
}

static bool
verb(const char *line, const char *v)
{
	return strncasecmp(line, v, strlen(v)) == 0;
}

static void
fake_command(struct fake *f, const char *line)
{
	buf_append_cstr(&f->log, line);
	buf_putc(&f->log, '\n');
	if (verb(line, "EHLO"))
		fake_reply(f, f->ehlo != NULL ? f->ehlo : "250-fake\r\n250 8BITMIME\r\n");
	else if (verb(line, "HELO"))
		fake_reply(f, f->helo != NULL ? f->helo : "250 fake\r\n");
	else if (verb(line, "MAIL")) {
		f->rcpt_i = 0;
		f->holding = f->hold_until_data;
		fake_reply(f, f->mail != NULL ? f->mail : "250 2.1.0 Ok\r\n");
	} else if (verb(line, "RCPT")) {
		const char *r = f->rcpt_i < 8 ? f->rcpt[f->rcpt_i] : NULL;

		f->rcpt_i++;
		fake_reply(f, r != NULL ? r : "250 2.1.5 Ok\r\n");
	} else if (verb(line, "DATA")) {
		const char *r = f->data != NULL ? f->data : "354 go ahead\r\n";

		fake_reply(f, r);
		f->holding = false;
		fake_flush(f);
		if (r[0] == '3') {
			f->in_data = true;
			buf_reset(&f->body);
		}
	} else if (verb(line, "RSET"))
		fake_reply(f, "250 2.0.0 Ok\r\n");
	else if (verb(line, "QUIT")) {
		fake_reply(f, "221 2.0.0 Bye\r\n");
		conn_close_after_drain(f->c);
	} else if (verb(line, "STARTTLS") && f->starttls) {
		conn_write(f->c, "220 2.0.0 Ready\r\n", 17);
		conn_tls_accept(f->c, server_ctx);
	} else if (verb(line, "STARTTLS") && f->starttls_bad) {
		conn_write(f->c, "220 2.0.0 Ready\r\n", 17);
		conn_close_after_drain(f->c);
	} else
		fake_reply(f, "502 5.5.2 what\r\n");
}

static void
fake_data_line(struct fake *f, const char *line, size_t len)
{
	buf_append(&f->body, line, len);
	if (len == 3 && memcmp(line, ".\r\n", 3) == 0) {
		f->in_data = false;
		f->messages++;
		fake_reply(f, f->end != NULL ? f->end : "250 2.0.0 Ok: queued as X\r\n");
	}
}

static void
fake_cb(struct conn *c, enum conn_event ev, void *ud)
{
	struct fake *f = ud;
	struct buf *in;
	char *nl;
	char line[4096];

	if (ev != CONN_EV_DATA_IN) {
		if (ev == CONN_EV_CLOSED || ev == CONN_EV_ERROR || ev == CONN_EV_TIMEOUT)
			conn_free(&f->c);
		return;
	}
	in = conn_input(c);
	/* DATA lines are consumed in one go per read: a memmove per line of a
	 * 2 MB body costs seconds under ASan. */
	if (f->in_data) {
		size_t pos = 0;

		while (f->in_data && (nl = memchr(in->data + pos, '\n', in->len - pos)) != NULL) {
			size_t len = (size_t)(nl - (in->data + pos)) + 1;

			fake_data_line(f, in->data + pos, len);
			pos += len;
		}
		buf_consume(in, pos);
	}
	while (f->c != NULL && (nl = memchr(in->data, '\n', in->len)) != NULL) {
		size_t len = (size_t)(nl - in->data) + 1;

		if (f->in_data) {
			fake_data_line(f, in->data, len);
			buf_consume(in, len);
			continue;
		}
		snprintf(line, sizeof(line), "%.*s", (int)(len > 2 ? len - 2 : 0), in->data);
		buf_consume(in, len);
		if (in->len > 0 && !verb(line, "STARTTLS"))
			f->saw_pipelined = true;
		fake_command(f, line);
	}
}

static void
fake_accept(struct ev_loop *l, ev_io *w, int revents)
{
	struct fake *f = w->data;
	struct conn_settings cs = { .max_input = 8 << 20, .read_timeout = 10 };
	int fd = accept(f->lfd, NULL, NULL);

	(void)revents;
	if (fd < 0)
		return;
	if (f->c != NULL) {
		close(fd);
		return;
	}
	f->c = conn_new(l, fd, NULL, 0, &cs, fake_cb, f);
	if (!f->silent)
		fake_reply(f, f->banner != NULL ? f->banner : "220 fake ESMTP\r\n");
}

static void
fake_init(struct fake *f)
{
	socklen_t len = sizeof(f->addr);

	memset(f, 0, sizeof(*f));
	buf_init(&f->pending, 0);
	buf_init(&f->log, 0);
	buf_init(&f->body, 0);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	f->addr.sin_family = AF_INET;
	f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(f->lfd, (struct sockaddr *)&f->addr, sizeof(f->addr));
	listen(f->lfd, 8);
	getsockname(f->lfd, (struct sockaddr *)&f->addr, &len);
	ev_io_init(&f->accept_w, fake_accept, f->lfd, EV_READ);
	f->accept_w.data = f;
	ev_io_start(loop, &f->accept_w);
}

static void
fake_deinit(struct fake *f)
{
	ev_io_stop(loop, &f->accept_w);
	close(f->lfd);
	conn_free(&f->c);
	buf_deinit(&f->pending);
	buf_deinit(&f->log);
	buf_deinit(&f->body);
}

/* ---- the client side ---- */

struct obs {
	struct smtp_client *cl;
	int readies, dones, closes;
	struct smtp_client_caps caps;
	struct smtp_client_reply final;
	struct smtp_client_reply rcpts[8];
	size_t n_rcpts, n_accepted;
	bool reusable, unannounced;
	struct smtp_client_end end;
	char diag[600];
};

static void
ob_ready(struct smtp_client *c, const struct smtp_client_caps *caps, void *ud)
{
	struct obs *o = ud;

	(void)c;
	o->readies++;
	o->caps = *caps;
}

static void
ob_done(struct smtp_client *c, const struct smtp_client_result *r, void *ud)
{
	struct obs *o = ud;

	o->dones++;
	o->final = r->reply;
	o->n_rcpts = r->n_rcpts;
	o->n_accepted = r->n_accepted;
	o->reusable = r->reusable;
	o->unannounced = r->sent_8bit_unannounced;
	for (size_t i = 0; i < r->n_rcpts && i < 8; i++)
		o->rcpts[i] = r->rcpts[i];
	smtp_client_diag(c, &r->rcpts[r->n_rcpts - 1], o->diag, sizeof(o->diag));
}

static void
ob_closed(struct smtp_client *c, const struct smtp_client_end *e, void *ud)
{
	struct obs *o = ud;

	(void)c;
	o->closes++;
	o->end = *e;
	o->cl = NULL;
}

static const struct smtp_client_callbacks ob_cb = { ob_ready, ob_done, ob_closed };

static bool
run_until(int *counter, int target, double max_s)
{
	ev_tstamp end = ev_time() + max_s;

	while (*counter < target && ev_time() < end) {
		ev_now_update(loop);
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
		if (*counter < target)
			usleep(1000);
	}
	return *counter >= target;
}

static struct smtp_client_settings
settings(void)
{
	struct smtp_client_settings s = { .helo_name = "client.test" };

	s.helo_timeout = 5;
	return s;
}

static void
start(struct obs *o, struct fake *f, const struct smtp_client_settings *s)
{
	memset(o, 0, sizeof(*o));
	o->cl = smtp_client_connect(loop, (struct sockaddr *)&f->addr,
	    sizeof(f->addr), "localhost", s, &ob_cb, o, NULL);
	test_assert(o->cl != NULL);
}

static struct smtp_client_msg
msg(const char *data, const char *const *rcpts, size_t n)
{
	struct smtp_client_msg m = { .mail_from = "a@x.test", .rcpts = rcpts,
		.n_rcpts = n, .data = data, .data_len = strlen(data), .fd = -1 };

	return m;
}

static const char *const one_rcpt[] = { "b@y.test" };
static const char *const three_rcpts[] = { "b@y.test", "c@y.test", "d@y.test" };

static void
quit_and_close(struct obs *o)
{
	if (o->cl != NULL) {
		smtp_client_quit(o->cl);
		test_assert(run_until(&o->closes, 1, 5));
	}
}

/* ---- the tests ---- */

static void
test_two_messages(void)
{
	struct fake f;
	struct obs o;
	struct smtp_client_settings s = settings();
	struct smtp_client_msg m = msg("Subject: 1\r\n\r\nhello\r\n", one_rcpt, 1);

	test_begin("two messages on one connection, no pipelining");
	fake_init(&f);
	f.ehlo = "250-fake\r\n250-SIZE 100000\r\n250 8BITMIME\r\n";
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 5));
	test_assert(o.caps.esmtp && o.caps.size && o.caps.size_max == 100000);
	test_assert(!o.caps.pipelining && !o.caps.tls);
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(smtp_client_send(o.cl, &m) == -1); /* busy */
	test_assert(run_until(&o.dones, 1, 5));
	test_assert(o.final.code == 250 && o.rcpts[0].code == 250);
	test_assert(strcmp(o.rcpts[0].enhanced, "2.0.0") == 0);
	test_assert(HAS(o.rcpts[0].text, "queued as X"));
	test_assert(o.reusable && o.n_accepted == 1);
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 2, 5));
	test_assert(o.final.code == 250 && f.messages == 2);
	quit_and_close(&o);
	test_assert(o.end.clean && o.end.reply.code == 221 && o.end.ready_seen);
	test_assert(HAS(f.log.data, "EHLO client.test\nMAIL FROM:<a@x.test> SIZE=21\n"
	    "RCPT TO:<b@y.test>\nDATA\nMAIL FROM:<a@x.test> SIZE=21\n"));
	test_assert(!HAS(f.log.data, "RSET") && HAS(f.log.data, "QUIT"));
	test_assert(!f.saw_pipelined);
	test_assert(strcmp(f.body.data, "Subject: 1\r\n\r\nhello\r\n.\r\n") == 0);
	fake_deinit(&f);
	test_end();
}

static void
test_pipelining(void)
{
	struct fake f;
	struct obs o;
	struct smtp_client_settings s = settings();
	struct smtp_client_msg m = msg("x\r\n", three_rcpts, 3);

	test_begin("pipelining: mixed recipient results");
	fake_init(&f);
	f.ehlo = "250-fake\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n";
	f.hold_until_data = true; /* a client waiting per command would stall */
	f.rcpt[1] = "450 4.2.0 <c@y.test>: greylisted\r\n";
	f.rcpt[2] = "550-5.1.1 <d@y.test>: no such\r\n550 5.1.1 user here\r\n";
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 5));
	test_assert(o.caps.pipelining && o.caps.enhancedstatuscodes);
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 1, 5));
	test_assert(f.saw_pipelined);
	test_assert(o.n_rcpts == 3 && o.n_accepted == 1);
	test_assert(o.rcpts[0].code == 250 &&
	    o.rcpts[0].stage == SMTP_CLIENT_STAGE_DATA_END);
	test_assert(o.rcpts[1].code == 450 && strcmp(o.rcpts[1].enhanced, "4.2.0") == 0);
	test_assert(o.rcpts[2].code == 550 && strcmp(o.rcpts[2].enhanced, "5.1.1") == 0);
	test_assert(strcmp(o.rcpts[2].text, "<d@y.test>: no such user here") == 0);
	test_assert(strcmp(o.diag, "host localhost[127.0.0.1] said: 550 5.1.1 "
	    "<d@y.test>: no such user here (in reply to RCPT TO command)") == 0);
	/* all refused at RCPT: DATA refused too; next message starts with RSET */
	f.hold_until_data = true;
	f.rcpt[0] = "550 5.1.1 no\r\n";
	f.rcpt[1] = "550 5.1.1 no\r\n";
	f.rcpt[2] = "550 5.1.1 no\r\n";
	f.data = "554 5.5.1 no valid recipients\r\n";
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 2, 5));
	test_assert(o.n_accepted == 0 && o.rcpts[0].code == 550 && o.final.code == 554);
	f.data = NULL;
	f.rcpt[0] = f.rcpt[1] = f.rcpt[2] = NULL;
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 3, 5));
	test_assert(o.n_accepted == 3);
	test_assert(HAS(f.log.data, "DATA\nRSET\nMAIL FROM:<a@x.test>\n"));
	quit_and_close(&o);
	fake_deinit(&f);
	test_end();
}

static void
test_rejections(void)
{
	struct fake f;
	struct obs o;
	struct smtp_client_settings s = settings();
	struct smtp_client_msg m = msg("x\r\n", three_rcpts, 2);

	test_begin("DATA rejected, MAIL rejected, no pipelining");
	fake_init(&f);
	f.rcpt[1] = "452 4.5.3 too many\r\n";
	f.data = "554 5.7.1 go away\r\n";
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 5));
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 1, 5));
	test_assert(o.rcpts[0].code == 554 && o.rcpts[0].stage == SMTP_CLIENT_STAGE_DATA);
	test_assert(o.rcpts[1].code == 452);
	test_assert(o.final.code == 554 && o.reusable);
	f.data = NULL;
	f.mail = "553 5.7.1 sender refused\r\n";
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 2, 5));
	test_assert(o.rcpts[0].code == 553 && o.rcpts[1].code == 553);
	test_assert(o.rcpts[1].stage == SMTP_CLIENT_STAGE_MAIL);
	test_assert(HAS(f.log.data, "DATA\nRSET\nMAIL"));
	quit_and_close(&o);
	fake_deinit(&f);
	test_end();
}

static void
test_banner_and_helo(void)
{
	struct fake f;
	struct obs o;
	struct smtp_client_settings s = settings();
	struct smtp_client_msg m = msg("x\r\n", one_rcpt, 1);

	test_begin("banner 554");
	fake_init(&f);
	f.banner = "554 5.7.1 no service for you\r\n";
	start(&o, &f, &s);
	test_assert(run_until(&o.closes, 1, 5));
	test_assert(o.readies == 0 && !o.end.ready_seen && !o.end.clean);
	test_assert(o.end.reply.code == 554 && HAS(o.end.reply.text, "no service"));
	test_assert(o.end.reply.stage == SMTP_CLIENT_STAGE_BANNER);
	test_assert(HAS(f.log.data, "QUIT"));
	fake_deinit(&f);
	test_end();

	test_begin("EHLO 502 -> HELO");
	fake_init(&f);
	f.ehlo = "502 5.5.1 what is EHLO\r\n";
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 5));
	test_assert(!o.caps.esmtp && !o.caps.pipelining);
	m.body_8bit = true;
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 1, 5));
	test_assert(o.final.code == 250 && o.unannounced);
	test_assert(HAS(f.log.data, "EHLO client.test\nHELO client.test\n"
	    "MAIL FROM:<a@x.test>\n"));
	quit_and_close(&o);
	fake_deinit(&f);
	test_end();
}

static void
test_tls(void)
{
	struct fake f;
	struct obs o;
	struct smtp_client_settings s = settings();
	struct smtp_client_msg m = msg("secret\r\n", one_rcpt, 1);

	test_begin("STARTTLS (may) with a self-signed server");
	fake_init(&f);
	f.ehlo = "250-fake\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
	f.starttls = true;
	s.tls = SMTP_TLS_MAY;
	s.tls_ctx = client_ctx;
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 5));
	test_assert(o.caps.tls && HAS(o.caps.tls_desc, "TLS"));
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 1, 5));
	test_assert(o.final.code == 250);
	test_assert(HAS(f.log.data, "EHLO client.test\nSTARTTLS\nEHLO client.test\nMAIL"));
	quit_and_close(&o);
	test_assert(o.end.clean);
	fake_deinit(&f);
	test_end();

	test_begin("STARTTLS refused (may) -> plaintext");
	fake_init(&f);
	f.ehlo = "250-fake\r\n250 STARTTLS\r\n";
	start(&o, &f, &s); /* the fake answers 502 */
	test_assert(run_until(&o.readies, 1, 5));
	test_assert(!o.caps.tls);
	quit_and_close(&o);
	fake_deinit(&f);
	test_end();

	test_begin("STARTTLS handshake failure (may) -> tls_failed");
	fake_init(&f);
	f.ehlo = "250-fake\r\n250 STARTTLS\r\n";
	f.starttls_bad = true;
	start(&o, &f, &s);
	test_assert(run_until(&o.closes, 1, 5));
	test_assert(o.readies == 0 && o.end.tls_failed && o.end.reply.code / 100 == 4);
	test_assert(o.end.reply.stage == SMTP_CLIENT_STAGE_TLS);
	fake_deinit(&f);
	test_end();

	test_begin("ENCRYPT without STARTTLS offered");
	fake_init(&f);
	s.tls = SMTP_TLS_ENCRYPT;
	start(&o, &f, &s);
	test_assert(run_until(&o.closes, 1, 5));
	test_assert(o.readies == 0 && o.end.reply.code == 450);
	test_assert(strcmp(o.end.reply.enhanced, "4.7.4") == 0);
	test_assert(HAS(o.end.reply.text, "TLS is required, but was not offered"));
	test_assert(HAS(f.log.data, "QUIT"));
	fake_deinit(&f);
	test_end();
}

static void
test_timeouts(void)
{
	struct fake f;
	struct obs o;
	struct smtp_client_settings s = settings();
	struct smtp_client_msg m = msg("x\r\n", three_rcpts, 2);

	test_begin("timeout: silent server");
	fake_init(&f);
	f.silent = true;
	s.helo_timeout = 0.3;
	start(&o, &f, &s);
	test_assert(run_until(&o.closes, 1, 3));
	test_assert(o.end.reply.code == 421 && o.end.reply.local);
	test_assert(HAS(o.end.reply.text, "timed out while receiving the initial"));
	start(&o, &f, &s);
	smtp_client_quit(o.cl); /* still connecting: aborted from the loop */
	test_assert(o.closes == 0);
	test_assert(run_until(&o.closes, 1, 3));
	test_assert(!o.end.clean && HAS(o.end.reply.text, "aborted"));
	start(&o, &f, &s);
	smtp_client_free(&o.cl);
	test_assert(o.cl == NULL);
	fake_deinit(&f);
	test_end();

	test_begin("timeout at RCPT: done with 4xx, then closed");
	fake_init(&f);
	f.rcpt[1] = "";
	s.rcpt_timeout = 0.3;
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 3));
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.closes, 1, 3));
	test_assert(o.dones == 1 && !o.reusable);
	test_assert(o.rcpts[0].code == 421 && o.rcpts[1].code == 421);
	test_assert(HAS(o.rcpts[1].text, "timed out while sending RCPT TO"));
	fake_deinit(&f);
	test_end();

	test_begin("lost connection during RCPT; connection refused");
	fake_init(&f);
	f.rcpt[0] = "";
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 3));
	test_assert(smtp_client_send(o.cl, &m) == 0);
	run_until(&o.dones, 99, 0.05);
	conn_free(&f.c);
	test_assert(run_until(&o.closes, 1, 3));
	test_assert(o.dones == 1 && o.rcpts[0].code == 421);
	test_assert(strcmp(o.rcpts[0].text, "lost connection with localhost[127.0.0.1] "
	    "while sending RCPT TO") == 0);
	ev_io_stop(loop, &f.accept_w);
	close(f.lfd);
	f.lfd = -1;
	start(&o, &f, &s); /* nothing listens there any more */
	test_assert(run_until(&o.closes, 1, 3));
	test_assert(o.end.reply.code == 421 && HAS(o.end.reply.text, "refused"));
	fake_deinit(&f);
	test_end();
}

static void
test_dot_stuffing_and_8bit(void)
{
	struct fake f;
	struct obs o;
	struct smtp_client_settings s = settings();
	struct smtp_client_msg m = msg(".hello\n..x\nfoo\n.\nend", one_rcpt, 1);

	test_begin("dot-stuffing, bare LF, missing final newline, prefix");
	fake_init(&f);
	f.ehlo = "250-fake\r\n250-SIZE 1000\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n";
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 5));
	m.prefix = "Received: by us\r\n";
	m.prefix_len = strlen(m.prefix);
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 1, 5));
	test_assert(strcmp(f.body.data, "Received: by us\r\n..hello\r\n...x\r\nfoo\r\n"
	    "..\r\nend\r\n.\r\n") == 0);
	test_end();

	test_begin("8BITMIME, SMTPUTF8, SIZE limit");
	m.prefix = NULL;
	m.prefix_len = 0;
	m.body_8bit = true;
	m.smtputf8 = true;
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 2, 5));
	test_assert(!o.unannounced);
	test_assert(HAS(f.log.data, "MAIL FROM:<a@x.test> SIZE=20 BODY=8BITMIME SMTPUTF8\n"));
	m.size = 5000;
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 3, 5));
	test_assert(o.rcpts[0].code == 552 && strcmp(o.rcpts[0].enhanced, "5.3.4") == 0);
	test_assert(o.reusable && f.messages == 2);
	m.size = 0;
	m.mail_from = "bad>addr";
	test_assert(smtp_client_send(o.cl, &m) == -1);
	quit_and_close(&o);
	fake_deinit(&f);

	fake_init(&f);
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 5));
	m.mail_from = "a@x.test";
	test_assert(smtp_client_send(o.cl, &m) == 0); /* needs SMTPUTF8 */
	test_assert(run_until(&o.dones, 1, 5));
	test_assert(o.rcpts[0].code == 550 && strcmp(o.rcpts[0].enhanced, "5.6.7") == 0);
	test_assert(!HAS(f.log.data, "MAIL"));
	quit_and_close(&o);
	fake_deinit(&f);
	test_end();
}

/* Undo dot-stuffing of what the fake server got (for comparisons). */
static size_t
unstuff(const struct buf *b, char *out)
{
	size_t n = 0, i = 0;

	while (i < b->len) {
		const char *nl = memchr(b->data + i, '\n', b->len - i);
		size_t len = (size_t)(nl - (b->data + i)) + 1;

		if (len == 3 && b->data[i] == '.')
			break;
		if (b->data[i] == '.') {
			i++;
			len--;
		}
		memcpy(out + n, b->data + i, len);
		n += len;
		i += len;
	}
	return n;
}

static void
test_big_fd(void)
{
	struct fake f;
	struct obs o;
	struct smtp_client_settings s = settings();
	struct smtp_client_msg m = msg("", one_rcpt, 1);
	size_t size = 2 << 20, n;
	char *content = malloc(size), *back = malloc(size * 2);
	FILE *fp = tmpfile();

	test_begin("2 MB message from an fd, with an offset");
	for (size_t i = 0; i < size; i++)
		content[i] = (i % 77 == 76) ? '\n' : (i % 77 == 0) ? '.' : (char)('a' + i % 26);
	content[size - 1] = '\n';
	fwrite("SKIPME", 1, 6, fp);
	fwrite(content, 1, size, fp);
	fflush(fp);
	fake_init(&f);
	start(&o, &f, &s);
	test_assert(run_until(&o.readies, 1, 5));
	m.data = NULL;
	m.fd = fileno(fp);
	m.fd_offset = 6;
	m.fd_len = size;
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 1, 60));
	test_assert(o.final.code == 250);
	n = unstuff(&f.body, back);
	/* bare LF became CRLF: compare with the CRs taken out */
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (back[i] != '\r')
			back[k++] = back[i];
	test_assert(k == size && memcmp(back, content, size) == 0);
	quit_and_close(&o);
	fake_deinit(&f);
	fclose(fp);
	free(content);
	free(back);
	test_end();
}

/* ---- interop with our own server ---- */

struct srv {
	struct smtp_session *s;
	char *data;
	size_t len;
	size_t rcpts;
	bool closed;
	char from[300];
	bool eightbit;
};

static void
srv_mail(struct smtp_session *s, const struct smtp_transaction *t, void *ud)
{
	struct srv *v = ud;

	snprintf(v->from, sizeof(v->from), "%s", t->mail_from);
	v->eightbit = t->body == SMTP_BODY_8BITMIME;
	smtp_session_mail_done(s, NULL);
}

static void
srv_rcpt(struct smtp_session *s, const struct smtp_transaction *t,
    const char *rcpt, void *ud)
{
	static const struct smtp_reply no = { 550, "5.1.1", "no such user" };

	(void)t;
	(void)ud;
	smtp_session_rcpt_done(s, strncmp(rcpt, "nobody@", 7) == 0 ? &no : NULL);
}

static void
srv_message(struct smtp_session *s, const struct smtp_transaction *t,
    const char *data, size_t len, void *ud)
{
	static const struct smtp_reply ok = { 250, "2.0.0", "Ok: queued as ABC" };
	struct srv *v = ud;

	free(v->data);
	v->data = malloc(len + 1);
	memcpy(v->data, data, len);
	v->data[len] = '\0';
	v->len = len;
	v->rcpts = t->n_rcpts;
	smtp_session_message_done(s, &ok);
}

static void
srv_closed(struct smtp_session *s, void *ud)
{
	struct srv *v = ud;

	(void)s;
	v->closed = true;
}

static const struct smtp_hooks srv_hooks = {
	.mail = srv_mail, .rcpt = srv_rcpt, .message = srv_message,
	.closed = srv_closed,
};

static struct srv srv_state;
static struct smtp_settings srv_set;

static void
srv_accept(struct ev_loop *l, ev_io *w, int revents)
{
	int fd = accept(w->fd, NULL, NULL);

	(void)revents;
	if (fd >= 0)
		srv_state.s = smtp_session_new(l, fd, &srv_set, &srv_hooks, &srv_state, NULL);
}

static void
test_interop(void)
{
	struct obs o;
	struct smtp_client_settings s = settings();
	const char *const rcpts[] = { "u1@example.com", "nobody@example.com",
		"u2@example.com" };
	const char *text = "Subject: hi\r\n\r\n.leading dot\r\n\xc3\xa9t\xc3\xa9\r\n.\r\nbye\r\n";
	struct smtp_client_msg m = msg(text, rcpts, 3);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ev_io w;

	test_begin("interop with smtp_session (STARTTLS, pipelining, 8BITMIME)");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(lfd, (struct sockaddr *)&a, sizeof(a));
	listen(lfd, 4);
	getsockname(lfd, (struct sockaddr *)&a, &alen);
	srv_set.role = SMTP_ROLE_MX;
	srv_set.hostname = "mx.test";
	srv_set.message_size_limit = 1000000;
	srv_set.tls_ctx = server_ctx;
	ev_io_init(&w, srv_accept, lfd, EV_READ);
	ev_io_start(loop, &w);
	s.tls = SMTP_TLS_ENCRYPT;
	s.tls_ctx = client_ctx;
	memset(&o, 0, sizeof(o));
	o.cl = smtp_client_connect(loop, (struct sockaddr *)&a, sizeof(a), "localhost",
	    &s, &ob_cb, &o, NULL);
	test_assert(run_until(&o.readies, 1, 5));
	test_assert(o.caps.tls && o.caps.pipelining && o.caps.eightbitmime);
	test_assert(o.caps.size && o.caps.size_max == 1000000);
	m.body_8bit = true;
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 1, 5));
	test_assert(o.rcpts[0].code == 250 && o.rcpts[1].code == 550 &&
	    o.rcpts[2].code == 250);
	test_assert(HAS(o.rcpts[0].text, "queued as ABC"));
	test_assert(srv_state.rcpts == 2 && srv_state.eightbit);
	test_assert(strcmp(srv_state.from, "a@x.test") == 0);
	test_assert(srv_state.data != NULL && strcmp(srv_state.data, text) == 0);
	test_assert(smtp_client_send(o.cl, &m) == 0);
	test_assert(run_until(&o.dones, 2, 5));
	test_assert(o.n_accepted == 2);
	quit_and_close(&o);
	test_assert(o.end.clean);
	int dummy = 0;
	run_until(&dummy, 1, 0.1);
	test_assert(srv_state.closed);
	ev_io_stop(loop, &w);
	close(lfd);
	free(srv_state.data);
	test_end();
}

/* ---- pure parts ---- */

static int
feed(struct smtp_reply_parser *p, const char *s)
{
	return smtp_reply_parser_line(p, s, strlen(s));
}

static void
test_reply_parser(void)
{
	struct smtp_reply_parser p;
	struct smtp_client_reply r;
	struct smtp_client_caps caps;

	test_begin("reply parser");
	smtp_reply_parser_init(&p);
	test_assert(feed(&p, "250-mx.test Hello") == 0);
	test_assert(feed(&p, "250-PIPELINING") == 0);
	test_assert(feed(&p, "250-SIZE 1024\r") == 0);
	test_assert(feed(&p, "250-starttls") == 0);
	test_assert(feed(&p, "250 8BITMIME") == 1);
	memset(&caps, 0, sizeof(caps));
	smtp_client_parse_caps(&p, &caps);
	test_assert(caps.pipelining && caps.size && caps.size_max == 1024);
	test_assert(caps.starttls && caps.eightbitmime && !caps.smtputf8);
	smtp_reply_parser_init(&p);
	test_assert(feed(&p, "550-5.1.1 first") == 0);
	test_assert(feed(&p, "550 5.1.1 second\ttab") == 1);
	smtp_reply_parser_export(&p, SMTP_CLIENT_STAGE_RCPT, &r);
	test_assert(r.code == 550 && strcmp(r.enhanced, "5.1.1") == 0);
	test_assert(strcmp(r.text, "first second tab") == 0);
	smtp_reply_parser_init(&p);
	test_assert(feed(&p, "451") == 1);
	smtp_reply_parser_export(&p, SMTP_CLIENT_STAGE_RCPT, &r);
	test_assert(strcmp(r.enhanced, "4.0.0") == 0 && r.text[0] == '\0');
	smtp_reply_parser_init(&p);
	test_assert(feed(&p, "250 5.1.1 class mismatch") == 1);
	smtp_reply_parser_export(&p, SMTP_CLIENT_STAGE_RCPT, &r);
	test_assert(strcmp(r.enhanced, "2.0.0") == 0 && HAS(r.text, "5.1.1"));
	smtp_reply_parser_init(&p);
	test_assert(feed(&p, "250-a") == 0 && feed(&p, "251 b") == -1);
	smtp_reply_parser_init(&p);
	test_assert(feed(&p, "hello") == -1);
	smtp_reply_parser_init(&p);
	test_assert(feed(&p, "250x") == -1);
	smtp_reply_parser_init(&p);
	test_assert(feed(&p, "150 x") == -1);
	smtp_reply_parser_init(&p);
	test_assert(smtp_reply_parser_line(&p, "250 a\0b", 7) == -1);
	smtp_reply_parser_init(&p);
	for (int i = 0; i < SMTP_CLIENT_REPLY_LINES_MAX; i++)
		test_assert(feed(&p, "250-x") == 0);
	test_assert(feed(&p, "250 x") == -1);
	test_end();
}

struct dot_ctx {
	struct smtp_dot_state st;
	struct buf out;
};

static int
dot_chunk(const void *chunk, size_t n, void *ud)
{
	struct dot_ctx *d = ud;

	return smtp_dot_encode(&d->st, chunk, n, &d->out);
}

static void
test_dot_encoder(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", ".\r\n" },
		{ "a", "a\r\n.\r\n" },
		{ ".", "..\r\n.\r\n" },
		{ "a\r\n.\r\n", "a\r\n..\r\n.\r\n" },
		{ "a\n.b\n", "a\r\n..b\r\n.\r\n" },
		{ "a\r", "a\r\n.\r\n" },
		{ "a\rb\r\n", "a\r\nb\r\n.\r\n" },
		{ "x\r.\ry", "x\r\n..\r\ny\r\n.\r\n" },
		{ "x.\r\n..\n", "x.\r\n...\r\n.\r\n" },
	};

	test_begin("dot encoder, every split");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t chunk = 1; chunk <= 4; chunk++) {
			struct dot_ctx d;

			smtp_dot_init(&d.st);
			buf_init(&d.out, 0);
			test_trickle(cases[i].in, strlen(cases[i].in), chunk, dot_chunk, &d);
			smtp_dot_finish(&d.st, &d.out);
			test_assert(d.out.len == strlen(cases[i].out) &&
			    memcmp(d.out.data, cases[i].out, d.out.len) == 0);
			buf_deinit(&d.out);
		}
	}
	test_end();
}

int
main(void)
{
	char dir[] = "/tmp/smtpc-test-XXXXXX", cert[128], key[128];
	char *err = NULL;
	struct tls_server_opts o = { 0 };

	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	if (tls_selfsigned_ensure(cert, key, "localhost", &err) < 0)
		return 1;
	o.cert_file = cert;
	o.key_file = key;
	server_ctx = tls_server_ctx_new(&o, &err);
	client_ctx = tls_client_ctx_new(false, NULL, NULL, &err);
	if (server_ctx == NULL || client_ctx == NULL)
		return 1;
	test_reply_parser();
	test_dot_encoder();
	test_two_messages();
	test_pipelining();
	test_rejections();
	test_banner_and_helo();
	test_tls();
	test_timeouts();
	test_dot_stuffing_and_8bit();
	test_big_fd();
	test_interop();
	tls_ctx_free(&server_ctx);
	tls_ctx_free(&client_ctx);
	unlink(cert);
	unlink(key);
	rmdir(dir);
	ev_loop_destroy(loop);
	return test_exit();
}
