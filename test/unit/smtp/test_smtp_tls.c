/*
 * Unit tests for STARTTLS and implicit TLS in the SMTP session: a TLS
 * client conn on the other end of the socketpair, a self-signed
 * certificate in a temporary directory. Pipelined plaintext after
 * STARTTLS must be discarded, EHLO must be repeated, and AUTH appears
 * only once TLS is up.
 */
#include <signal.h>
#include <sys/stat.h>

#include "event/conn.h"
#include "event/tls.h"
#include "smtp_test_fixture.h"
#include "test.h"

#define HAS(r, s) (strstr((r), (s)) != NULL)

static struct ssl_ctx_st *server_ctx, *client_ctx;

struct client {
	struct conn *c;
	struct buf got;
	bool ready, gone;
};

static void
client_cb(struct conn *c, enum conn_event ev, void *ud)
{
	struct client *cl = ud;
	struct buf *in;

	switch (ev) {
	case CONN_EV_DATA_IN:
		in = conn_input(c);
		buf_append(&cl->got, in->data, in->len);
		buf_consume(in, in->len);
		break;
	case CONN_EV_TLS_READY:
		cl->ready = true;
		break;
	case CONN_EV_DRAINED:
		break;
	default:
		cl->gone = true;
		conn_free(&cl->c);
		break;
	}
}

static size_t
finals(const struct buf *b)
{
	size_t n = 0;

	for (size_t i = 0; i + 4 <= b->len; i++)
		if ((i == 0 || b->data[i - 1] == '\n') && b->data[i + 3] == ' ' &&
		    memchr(b->data + i, '\n', b->len - i) != NULL)
			n++;
	return n;
}

/* Sends `data` and waits for `n` final reply lines; returns them. */
static const char *
talk(struct fx *x, struct client *cl, const char *data, size_t n)
{
	static char out[8192];

	if (data != NULL && cl->c != NULL)
		test_assert(conn_write(cl->c, data, strlen(data)) == 0);
	for (int i = 0; i < 5000 && finals(&cl->got) < n && !cl->gone; i++) {
		if (x->pending != FX_NONE && x->async && x->s != NULL)
			fx_answer(x);
		ev_run(x->loop, EVRUN_NOWAIT);
		poll(NULL, 0, 1);
	}
	snprintf(out, sizeof(out), "%.*s", (int)cl->got.len, cl->got.data != NULL ? cl->got.data : "");
	buf_reset(&cl->got);
	return out;
}

static void
wait_ready(struct fx *x, struct client *cl)
{
	for (int i = 0; i < 5000 && !cl->ready && !cl->gone; i++) {
		ev_run(x->loop, EVRUN_NOWAIT);
		poll(NULL, 0, 1);
	}
}

static void
client_open(struct fx *x, struct client *cl)
{
	struct conn_settings cs = { 0 };

	memset(cl, 0, sizeof(*cl));
	buf_init(&cl->got, 0);
	cl->c = conn_new(x->loop, x->cfd, NULL, 0, &cs, client_cb, cl);
	x->cfd = -1;
}

static void
client_close(struct fx *x, struct client *cl)
{
	conn_free(&cl->c);
	for (int i = 0; i < 5000 && !x->closed; i++) {
		ev_run(x->loop, EVRUN_NOWAIT);
		poll(NULL, 0, 1);
	}
	test_assert(x->closed);
	buf_deinit(&cl->got);
	fx_stop(x);
}

static void
test_starttls(void)
{
	struct smtp_settings set;
	struct fx x;
	struct client cl;
	const char *r;
	char line[128];

	test_begin("tls: STARTTLS discards pipelined plaintext, then AUTH");
	fx_settings(&set);
	set.tls_ctx = server_ctx;
	set.auth_plaintext_loopback = false;
	fx_start(&x, &set, NULL);
	client_open(&x, &cl);
	test_assert(HAS(talk(&x, &cl, NULL, 1), "220 mx.test ESMTP"));
	r = talk(&x, &cl, "EHLO c\r\n", 1);
	test_assert(HAS(r, "250-STARTTLS\r\n") && !HAS(r, "AUTH"));
	r = talk(&x, &cl, "STARTTLS\r\nMAIL FROM:<a@b.test>\r\n", 1);
	test_assert(strcmp(r, "220 2.0.0 Ready to start TLS\r\n") == 0);
	test_assert(conn_tls_connect(cl.c, client_ctx, "localhost") == 0);
	wait_ready(&x, &cl);
	test_assert(cl.ready);
	/* Nothing may answer the MAIL sent in plaintext. */
	r = talk(&x, &cl, "MAIL FROM:<a@b.test>\r\n", 1);
	test_assert(strcmp(r, "503 5.5.1 Error: send HELO/EHLO first\r\n") == 0);
	r = talk(&x, &cl, "EHLO c\r\n", 1);
	test_assert(!HAS(r, "STARTTLS") && HAS(r, "250-AUTH PLAIN LOGIN\r\n"));
	r = talk(&x, &cl, "STARTTLS\r\n", 1);
	test_assert(strcmp(r, "503 5.5.1 Error: TLS already active\r\n") == 0);
	snprintf(line, sizeof(line), "AUTH PLAIN %s\r\n", "AHVAZXhhbXBsZS5jb20Ac2VjcmV0");
	r = talk(&x, &cl, line, 1);
	test_assert(strcmp(r, "235 2.7.0 Authentication successful\r\n") == 0);
	r = talk(&x, &cl, "MAIL FROM:<u@example.com>\r\n", 1);
	test_assert(strcmp(r, "250 2.1.0 Ok\r\n") == 0);
	test_assert(x.tls_seen && HAS(x.tls_desc_seen, "TLS"));
	client_close(&x, &cl);
	test_end();
}

static void
test_implicit(void)
{
	struct smtp_settings set;
	struct fx x;
	struct client cl;
	const char *r;

	test_begin("tls: implicit TLS (smtps) greets after the handshake");
	fx_settings(&set);
	set.role = SMTP_ROLE_SMTPS;
	set.tls_ctx = server_ctx;
	set.implicit_tls = true;
	set.auth_plaintext_loopback = false;
	fx_start(&x, &set, NULL);
	client_open(&x, &cl);
	test_assert(conn_tls_connect(cl.c, client_ctx, "localhost") == 0);
	x.async = true;
	r = talk(&x, &cl, NULL, 1);
	test_assert(cl.ready && strcmp(r, "220 mx.test ESMTP\r\n") == 0);
	r = talk(&x, &cl, "EHLO c\r\nMAIL FROM:<u@example.com>\r\n"
	    "AUTH PLAIN AHVAZXhhbXBsZS5jb20Ac2VjcmV0\r\nMAIL FROM:<u@example.com>\r\n", 4);
	test_assert(HAS(r, "250-AUTH PLAIN LOGIN\r\n") && !HAS(r, "STARTTLS"));
	test_assert(HAS(r, "530 5.7.0 Authentication required\r\n235 2.7.0 "
	    "Authentication successful\r\n250 2.1.0 Ok\r\n"));
	client_close(&x, &cl);
	test_end();
}

static void
test_handshake_failure(void)
{
	struct smtp_settings set;
	struct fx x;

	test_begin("tls: garbage instead of a handshake ends the session");
	fx_settings(&set);
	set.tls_ctx = server_ctx;
	set.implicit_tls = true;
	fx_start(&x, &set, NULL);
	test_assert(write(x.cfd, "EHLO plaintext\r\n", 16) == 16);
	for (int i = 0; i < 3000 && !x.closed; i++)
		fx_pump(&x);
	test_assert(x.closed);
	fx_stop(&x);
	test_end();
}

int
main(void)
{
	char dir[] = "/tmp/smtp-tls-XXXXXX", cert[96], key[96];
	char *err = NULL;
	struct tls_server_opts o = { 0 };

	signal(SIGPIPE, SIG_IGN);
	(void)fx_send; /* shared fixture helper this file does not need */
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
	test_starttls();
	test_implicit();
	test_handshake_failure();
	tls_ctx_free(&server_ctx);
	tls_ctx_free(&client_ctx);
	unlink(cert);
	unlink(key);
	rmdir(dir);
	return test_exit();
}
