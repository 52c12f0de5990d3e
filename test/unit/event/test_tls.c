/*
 * Unit tests for TLS on conn: two conns over a socketpair on one loop,
 * with a self-signed certificate made by tls_selfsigned_ensure() in a
 * temporary directory. Covers implicit TLS, STARTTLS (pipelined plaintext
 * must be discarded), large transfers (partial writes), a small input
 * buffer with a pausing reader (bytes held inside OpenSSL), close_notify
 * in both directions, failed handshakes, handshake timeouts, certificate
 * verification and Postfix-style protocol lists.
 */
#include "event/conn.h"
#include "event/tls.h"
#include "core/xmalloc.h"
#include "test.h"

#include <ev.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIG_PAYLOAD (1536 * 1024 + 17)

struct side {
	struct conn *c;
	struct buf got;
	char events[64];
	size_t n_events;
	unsigned n_ready, n_data, n_drained, n_closed, n_error, n_timeout;
	bool close_on_closed;   /* answer the peer's close with ours */
	bool pause_each_read;   /* pause after every DATA_IN (resumed by the ticker) */
	SSL_CTX *starttls_ctx;  /* server: "STARTTLS" line -> 220 + accept */
	SSL_CTX *connect_ctx;   /* client: "220" line -> connect */
};

static struct ev_loop *loop;
static SSL_CTX *server_ctx, *client_ctx;
static char *tmpdir, *cert_path, *key_path;

static void
side_event(struct side *s, char ev)
{
	if (s->n_events + 1 < sizeof(s->events))
		s->events[s->n_events++] = ev;
	s->events[s->n_events] = '\0';
}

static void
side_data(struct side *s, struct conn *c)
{
	struct buf *in = conn_input(c);

	s->n_data++;
	(void)buf_append(&s->got, in->data, in->len);
	buf_consume(in, in->len);
	if (s->starttls_ctx != NULL && strstr(s->got.data, "STARTTLS\r\n") != NULL) {
		test_assert(conn_write(c, "220 go ahead\r\n", 14) == 0);
		test_assert(conn_tls_accept(c, s->starttls_ctx) == 0);
		s->starttls_ctx = NULL;
		buf_reset(&s->got);
	} else if (s->connect_ctx != NULL && strstr(s->got.data, "220 ") != NULL) {
		test_assert(conn_tls_connect(c, s->connect_ctx, "localhost") == 0);
		s->connect_ctx = NULL;
		buf_reset(&s->got);
		test_assert(conn_write(c, "EHLO after\r\n", 12) == 0);
	}
	if (s->pause_each_read)
		conn_pause_read(c);
}

static void
cb(struct conn *c, enum conn_event ev, void *ud)
{
	struct side *s = ud;

	switch (ev) {
	case CONN_EV_DATA_IN:
		side_event(s, 'D');
		side_data(s, c);
		break;
	case CONN_EV_DRAINED:
		side_event(s, 'W');
		s->n_drained++;
		break;
	case CONN_EV_TIMEOUT:
		side_event(s, 'T');
		s->n_timeout++;
		conn_free(&s->c);
		break;
	case CONN_EV_CLOSED:
		side_event(s, 'C');
		s->n_closed++;
		if (s->close_on_closed && s->n_closed == 1)
			conn_close_after_drain(c);
		else
			conn_free(&s->c);
		break;
	case CONN_EV_ERROR:
		side_event(s, 'E');
		s->n_error++;
		conn_free(&s->c);
		break;
	case CONN_EV_TLS_READY:
		side_event(s, 'R');
		s->n_ready++;
		break;
	}
}

/* Keeps ev_run(EVRUN_ONCE) from sleeping forever and plays the owner who
 * resumes a paused reader later. */
static struct side *resume_side;

static void
on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	if (resume_side != NULL && resume_side->c != NULL &&
	    conn_read_paused(resume_side->c))
		conn_resume_read(resume_side->c);
}

static void
run_until(unsigned *a, unsigned want_a, unsigned *b, unsigned want_b, double secs)
{
	ev_tstamp end;

	ev_now_update(loop);
	end = ev_now(loop) + secs;
	while ((*a < want_a || (b != NULL && *b < want_b)) && ev_now(loop) < end)
		ev_run(loop, EVRUN_ONCE);
}

static void
pair_open(struct side *srv, struct side *cli, const struct conn_settings *ss)
{
	int sv[2];

	memset(srv, 0, sizeof(*srv));
	memset(cli, 0, sizeof(*cli));
	buf_init(&srv->got, 0);
	buf_init(&cli->got, 0);
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	srv->c = conn_new(loop, sv[0], NULL, 0, ss, cb, srv);
	cli->c = conn_new(loop, sv[1], NULL, 0, NULL, cb, cli);
}

static void
pair_close(struct side *srv, struct side *cli)
{
	conn_free(&srv->c);
	conn_free(&cli->c);
	buf_deinit(&srv->got);
	buf_deinit(&cli->got);
	resume_side = NULL;
}

static char *
make_payload(size_t n)
{
	char *p = malloc(n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)((i * 7 + (i >> 9)) & 0xff);
	return p;
}

static void
test_selfsigned(void)
{
	char *err = NULL, *cert2, *key2;
	struct stat st1, st2;

	test_begin("self-signed certificate: files, key mode, kept when present");
	test_assert(tls_selfsigned_ensure(cert_path, key_path, "localhost", &err) == 0);
	test_assert(err == NULL);
	test_assert(stat(key_path, &st1) == 0 && (st1.st_mode & 0777) == 0600);
	test_assert(stat(cert_path, &st1) == 0);
	test_assert(tls_selfsigned_ensure(cert_path, key_path, "localhost", &err) == 0);
	test_assert(stat(cert_path, &st2) == 0 && st1.st_ino == st2.st_ino);
	cert2 = xasprintf("%s/bad.crt", tmpdir);
	key2 = xasprintf("%s/bad.key", tmpdir);
	test_assert(tls_selfsigned_ensure(cert2, key2, "bad host,name", &err) == -1);
	test_assert(err != NULL && strstr(err, "host name") != NULL);
	free(err);
	test_assert(access(cert2, F_OK) != 0 && access(key2, F_OK) != 0);
	free(cert2);
	free(key2);
	test_end();
}

static void
test_contexts(void)
{
	struct tls_server_opts o = { 0 };
	char *err = NULL, *cert2, *key2;
	SSL_CTX *ctx;

	test_begin("server context: key must match, files must exist");
	cert2 = xasprintf("%s/other.crt", tmpdir);
	key2 = xasprintf("%s/other.key", tmpdir);
	test_assert(tls_selfsigned_ensure(cert2, key2, "other.example", &err) == 0);
	o.cert_file = cert_path;
	o.key_file = key2;
	ctx = tls_server_ctx_new(&o, &err);
	test_assert(ctx == NULL && err != NULL);
	free(err);
	err = NULL;
	o.key_file = "/nonexistent/key.pem";
	ctx = tls_server_ctx_new(&o, &err);
	test_assert(ctx == NULL && err != NULL && strstr(err, "key") != NULL);
	free(err);
	err = NULL;
	o.key_file = key_path;
	o.ciphers = "NO-SUCH-CIPHER";
	ctx = tls_server_ctx_new(&o, &err);
	test_assert(ctx == NULL && err != NULL && strstr(err, "cipher") != NULL);
	free(err);
	err = NULL;
	o.ciphers = "HIGH:!aNULL";
	ctx = tls_server_ctx_new(&o, &err);
	test_assert(ctx != NULL && err == NULL);
	tls_ctx_free(&ctx);
	test_assert(ctx == NULL);
	tls_ctx_free(&ctx);
	free(cert2);
	free(key2);
	test_end();
}

static void
check_protocols(const char *list, int want_min, int want_max)
{
	char *err = NULL;
	SSL_CTX *ctx = tls_client_ctx_new(false, NULL, list, &err);

	if (!test_assert(ctx != NULL)) {
		fprintf(stderr, "  \"%s\": %s\n", list, err);
		free(err);
		return;
	}
	if (!test_assert(SSL_CTX_get_min_proto_version(ctx) == want_min &&
	    SSL_CTX_get_max_proto_version(ctx) == want_max))
		fprintf(stderr, "  \"%s\": min %lx max %lx\n", list,
		    (long)SSL_CTX_get_min_proto_version(ctx),
		    (long)SSL_CTX_get_max_proto_version(ctx));
	tls_ctx_free(&ctx);
}

static void
check_protocols_bad(const char *list)
{
	struct tls_server_opts o = { cert_path, key_path, list, NULL };
	char *err = NULL;
	SSL_CTX *ctx = tls_server_ctx_new(&o, &err);

	if (!test_assert(ctx == NULL && err != NULL && strstr(err, "protocol") != NULL))
		fprintf(stderr, "  \"%s\" was accepted\n", list);
	free(err);
	tls_ctx_free(&ctx);
}

static void
test_protocols(void)
{
	test_begin("Postfix protocol lists map to a version range");
	check_protocols(NULL, TLS1_2_VERSION, 0);
	check_protocols("", TLS1_2_VERSION, 0);
	check_protocols(" , ", TLS1_2_VERSION, 0);
	check_protocols("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", TLS1_2_VERSION, 0);
	check_protocols("!SSLv2:!SSLv3:!TLSv1:!TLSv1.1:!TLSv1.2", TLS1_3_VERSION, 0);
	check_protocols(">=TLSv1.2", TLS1_2_VERSION, 0);
	check_protocols(">=TLSv1.3", TLS1_3_VERSION, 0);
	check_protocols("!SSLv2, !SSLv3", TLS1_VERSION, 0);
	check_protocols("TLSv1.2", TLS1_2_VERSION, TLS1_2_VERSION);
	check_protocols("TLSv1.2 TLSv1.3", TLS1_2_VERSION, 0);
	check_protocols(">=TLSv1.1, <=TLSv1.2", TLS1_1_VERSION, TLS1_2_VERSION);
	check_protocols("tlsv1.3", TLS1_3_VERSION, 0);
	check_protocols_bad("TLSv9");
	check_protocols_bad("!TLSv1.2 junk");
	check_protocols_bad(">=");
	check_protocols_bad("!");
	check_protocols_bad("SSLv3");
	check_protocols_bad("!TLSv1, !TLSv1.1, !TLSv1.2, !TLSv1.3");
	check_protocols_bad(">=TLSv1.3, <=TLSv1.2");
	check_protocols_bad("TLSv1.1, TLSv1.3");
	check_protocols_bad("!TLSv1.2");
	test_end();
}

static void
test_implicit_tls(void)
{
	struct side srv, cli;
	char *payload = make_payload(BIG_PAYLOAD);
	char desc[128];

	test_begin("implicit TLS: handshake, >1 MiB both ways, describe");
	pair_open(&srv, &cli, NULL);
	conn_tls_describe(srv.c, desc, sizeof(desc));
	test_assert(desc[0] == '\0');
	test_assert(!conn_tls_active(srv.c) && conn_tls(srv.c) == NULL);
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	test_assert(conn_tls_accept(srv.c, server_ctx) == -1);
	test_assert(conn_tls_connect(cli.c, client_ctx, "localhost") == 0);
	/* Queued during the handshake: must go out encrypted afterwards. */
	test_assert(conn_write(cli.c, "early\r\n", 7) == 0);
	test_assert(!conn_tls_active(cli.c) && conn_tls(cli.c) != NULL);
	run_until(&srv.n_ready, 1, &cli.n_ready, 1, 10);
	test_assert(srv.n_ready == 1 && cli.n_ready == 1);
	test_assert(conn_tls_active(srv.c) && conn_tls_active(cli.c));
	conn_tls_describe(srv.c, desc, sizeof(desc));
	test_assert(strncmp(desc, "TLSv1.3 with cipher TLS_", 24) == 0 &&
	    strstr(desc, " bits)") != NULL);
	printf("  %s\n", desc);
	run_until(&srv.n_data, 1, &cli.n_drained, 1, 5);
	test_assert(srv.got.len == 7 && memcmp(srv.got.data, "early\r\n", 7) == 0);
	test_assert(cli.events[0] == 'R' && cli.n_drained == 1);
	buf_reset(&srv.got);
	test_assert(conn_write(cli.c, payload, BIG_PAYLOAD) == 0);
	test_assert(conn_write(srv.c, payload, BIG_PAYLOAD) == 0);
	test_assert(conn_output_pending(cli.c) > 0);
	ev_now_update(loop);
	while ((srv.got.len < BIG_PAYLOAD || cli.got.len < BIG_PAYLOAD ||
	    srv.n_drained < 1 || cli.n_drained < 2) && srv.n_error + cli.n_error == 0)
		ev_run(loop, EVRUN_ONCE);
	test_assert(srv.got.len == BIG_PAYLOAD &&
	    memcmp(srv.got.data, payload, BIG_PAYLOAD) == 0);
	test_assert(cli.got.len == BIG_PAYLOAD &&
	    memcmp(cli.got.data, payload, BIG_PAYLOAD) == 0);
	test_assert(srv.n_drained == 1 && cli.n_drained == 2);
	test_assert(srv.n_data > 1 && srv.n_error == 0 && cli.n_error == 0);
	pair_close(&srv, &cli);
	free(payload);
	test_end();
}

static void
test_starttls(void)
{
	struct side srv, cli;
	int sv;

	test_begin("STARTTLS: reply in plaintext, pipelined bytes discarded");
	pair_open(&srv, &cli, NULL);
	srv.starttls_ctx = server_ctx;
	cli.connect_ctx = client_ctx;
	/* The injection: a command pipelined behind STARTTLS in plaintext. */
	sv = conn_fd(cli.c);
	test_assert(write(sv, "STARTTLS\r\nMAIL FROM:<evil@x>\r\n", 30) == 30);
	run_until(&srv.n_ready, 1, &cli.n_ready, 1, 10);
	test_assert(srv.n_ready == 1 && cli.n_ready == 1);
	test_assert(srv.n_drained == 0);
	run_until(&srv.n_data, 2, NULL, 0, 5);
	test_assert(srv.got.len == 12 && memcmp(srv.got.data, "EHLO after\r\n", 12) == 0);
	test_assert(strstr(srv.got.data, "MAIL") == NULL);
	test_assert(strcmp(srv.events, "DRD") == 0);
	test_assert(cli.events[0] == 'D' && cli.events[1] == 'R');
	pair_close(&srv, &cli);
	test_end();
}

static void
test_garbage(void)
{
	struct side srv, cli;

	test_begin("failed handshake: plaintext garbage -> ERROR, no READY");
	pair_open(&srv, &cli, NULL);
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	test_assert(write(conn_fd(cli.c), "EHLO garbage\r\nQUIT\r\n", 20) == 20);
	run_until(&srv.n_error, 1, NULL, 0, 5);
	test_assert(srv.n_error == 1 && srv.n_ready == 0 && srv.c == NULL);
	pair_close(&srv, &cli);

	pair_open(&srv, &cli, NULL);
	test_assert(conn_tls_connect(cli.c, client_ctx, NULL) == 0);
	test_assert(conn_write(srv.c, "220 not tls at all\r\n", 20) == 0);
	run_until(&cli.n_error, 1, NULL, 0, 5);
	test_assert(cli.n_error == 1 && cli.n_ready == 0);
	pair_close(&srv, &cli);
	test_end();
}

static void
test_verify(void)
{
	struct side srv, cli;
	char *err = NULL;
	SSL_CTX *vctx = tls_client_ctx_new(true, cert_path, ">=TLSv1.2", &err);

	test_begin("client verification: name matches, wrong name fails");
	test_assert(vctx != NULL);
	pair_open(&srv, &cli, NULL);
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	test_assert(conn_tls_connect(cli.c, vctx, "localhost") == 0);
	run_until(&srv.n_ready, 1, &cli.n_ready, 1, 10);
	test_assert(srv.n_ready == 1 && cli.n_ready == 1);
	pair_close(&srv, &cli);

	pair_open(&srv, &cli, NULL);
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	test_assert(conn_tls_connect(cli.c, vctx, "mx.wrong.example") == 0);
	run_until(&cli.n_error, 1, &srv.n_error, 1, 10);
	test_assert(cli.n_error == 1 && cli.n_ready == 0 && srv.n_ready == 0);
	pair_close(&srv, &cli);
	tls_ctx_free(&vctx);
	test_end();
}

static void
test_close_notify(void)
{
	struct side srv, cli;
	ev_tstamp t0;

	test_begin("close_after_drain sends close_notify; peer sees data then CLOSED");
	pair_open(&srv, &cli, NULL);
	srv.close_on_closed = true;
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	test_assert(conn_tls_connect(cli.c, client_ctx, "localhost") == 0);
	run_until(&srv.n_ready, 1, &cli.n_ready, 1, 10);
	test_assert(conn_write(cli.c, "bye\r\n", 5) == 0);
	conn_close_after_drain(cli.c);
	test_assert(conn_write(cli.c, "late", 4) == -1);
	ev_now_update(loop);
	t0 = ev_now(loop);
	run_until(&srv.n_closed, 2, &cli.n_closed, 1, 5);
	test_assert(srv.got.len == 5 && memcmp(srv.got.data, "bye\r\n", 5) == 0);
	test_assert(strcmp(srv.events, "RDCC") == 0);
	test_assert(strcmp(cli.events, "RC") == 0);
	/* The client's linger ends on the server's close_notify, not the 2 s
	 * linger timer. */
	test_assert(ev_now(loop) - t0 < 1.5);
	test_assert(srv.n_error == 0 && cli.n_error == 0);
	pair_close(&srv, &cli);
	test_end();
}

static void
test_small_input(void)
{
	struct conn_settings ss = { .max_input = 3000 };
	struct side srv, cli;
	size_t n = 300 * 1024;
	char *payload = make_payload(n);

	test_begin("small input buffer, pausing reader: bytes held by OpenSSL arrive");
	pair_open(&srv, &cli, &ss);
	srv.pause_each_read = true;
	resume_side = &srv;
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	test_assert(conn_tls_connect(cli.c, client_ctx, "localhost") == 0);
	test_assert(conn_write(cli.c, payload, n) == 0);
	ev_now_update(loop);
	while ((srv.got.len < n || cli.n_drained < 1) &&
	    srv.n_error + cli.n_error == 0 && srv.n_data < 100000)
		ev_run(loop, EVRUN_ONCE);
	test_assert(srv.got.len == n && memcmp(srv.got.data, payload, n) == 0);
	test_assert(srv.n_data >= n / 3000 && cli.n_drained == 1);
	pair_close(&srv, &cli);
	free(payload);
	test_end();
}

static void
test_handshake_timeout(void)
{
	struct conn_settings ss = { .read_timeout = 0.2 };
	struct side srv, cli;

	test_begin("a silent peer times out during the handshake");
	pair_open(&srv, &cli, &ss);
	conn_pause_read(srv.c);
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	run_until(&srv.n_timeout, 1, NULL, 0, 3);
	test_assert(srv.n_timeout == 1 && srv.n_ready == 0);
	pair_close(&srv, &cli);
	test_end();
}

static void
test_close_during_handshake(void)
{
	struct side srv, cli;
	char b[64];
	ssize_t n;
	int fd;

	test_begin("close during the handshake: plaintext reply out, queued TLS output dropped");
	pair_open(&srv, &cli, NULL);
	test_assert(conn_write(srv.c, "220 go\r\n", 8) == 0);
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	test_assert(conn_write(srv.c, "SECRET", 6) == 0);
	conn_close_after_drain(srv.c);
	fd = conn_fd(cli.c);
	conn_pause_read(cli.c);
	run_until(&srv.n_closed, 1, NULL, 0, 5);
	test_assert(srv.n_closed == 1 && srv.n_ready == 0 && srv.n_error == 0);
	n = read(fd, b, sizeof(b));
	test_assert(n == 8 && memcmp(b, "220 go\r\n", 8) == 0);
	pair_close(&srv, &cli);
	test_end();
}

static void
test_starttls_big_reply(void)
{
	struct side srv, cli;
	size_t n = 700 * 1024;
	char *reply = malloc(n + 10);

	test_begin("STARTTLS with a large plaintext reply still in flight");
	memset(reply, 'x', n);
	memcpy(reply + n, "\r\n220 go\r\n", 10);
	pair_open(&srv, &cli, NULL);
	cli.connect_ctx = client_ctx;
	test_assert(conn_write(srv.c, reply, n + 10) == 0);
	test_assert(conn_output_pending(srv.c) > 0);
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	/* Queued behind the plaintext: must wait for the handshake. */
	test_assert(conn_write(srv.c, "ENCRYPTED\r\n", 11) == 0);
	run_until(&srv.n_ready, 1, &cli.n_ready, 1, 10);
	test_assert(srv.n_ready == 1 && cli.n_ready == 1);
	run_until(&srv.n_data, 1, &srv.n_drained, 1, 5);
	run_until(&cli.n_data, 1000, NULL, 0, 0.2);
	test_assert(srv.got.len == 12 && memcmp(srv.got.data, "EHLO after\r\n", 12) == 0);
	test_assert(cli.got.len == 11 && memcmp(cli.got.data, "ENCRYPTED\r\n", 11) == 0);
	test_assert(strcmp(srv.events, "RWD") == 0 || strcmp(srv.events, "RDW") == 0);
	pair_close(&srv, &cli);
	free(reply);
	test_end();
}

static void
test_peer_drops(void)
{
	struct side srv, cli;

	test_begin("peer drops TCP without close_notify -> CLOSED; junk record -> ERROR");
	pair_open(&srv, &cli, NULL);
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	test_assert(conn_tls_connect(cli.c, client_ctx, "localhost") == 0);
	run_until(&srv.n_ready, 1, &cli.n_ready, 1, 10);
	conn_free(&cli.c);
	run_until(&srv.n_closed, 1, &srv.n_error, 0, 5);
	test_assert(srv.n_closed == 1 && srv.n_error == 0);
	pair_close(&srv, &cli);

	pair_open(&srv, &cli, NULL);
	test_assert(conn_tls_accept(srv.c, server_ctx) == 0);
	test_assert(conn_tls_connect(cli.c, client_ctx, "localhost") == 0);
	run_until(&srv.n_ready, 1, &cli.n_ready, 1, 10);
	test_assert(write(conn_fd(cli.c), "\x17\x03\x03\x00\x05hello", 10) == 10);
	run_until(&srv.n_error, 1, NULL, 0, 5);
	test_assert(srv.n_error == 1 && srv.n_closed == 0 && srv.n_data == 0);
	pair_close(&srv, &cli);
	test_end();
}

static void
setup(void)
{
	struct tls_server_opts o = { 0 };
	char tmpl[] = "/tmp/test_tls.XXXXXX";
	char *err = NULL;

	test_assert(mkdtemp(tmpl) != NULL);
	tmpdir = xstrdup(tmpl);
	cert_path = xasprintf("%s/cert.pem", tmpdir);
	key_path = xasprintf("%s/key.pem", tmpdir);
	test_selfsigned();
	o.cert_file = cert_path;
	o.key_file = key_path;
	server_ctx = tls_server_ctx_new(&o, &err);
	if (server_ctx == NULL)
		fprintf(stderr, "server ctx: %s\n", err);
	client_ctx = tls_client_ctx_new(false, NULL, NULL, &err);
	if (client_ctx == NULL)
		fprintf(stderr, "client ctx: %s\n", err);
}

static void
teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);

	tls_ctx_free(&server_ctx);
	tls_ctx_free(&client_ctx);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	free(cmd);
	free(tmpdir);
	free(cert_path);
	free(key_path);
}

int
main(void)
{
	ev_timer tick;

	signal(SIGPIPE, SIG_IGN);
	loop = ev_loop_new(EVFLAG_AUTO);
	ev_timer_init(&tick, on_tick, 0.005, 0.005);
	ev_timer_start(loop, &tick);
	setup();
	if (server_ctx != NULL && client_ctx != NULL) {
		test_contexts();
		test_protocols();
		test_implicit_tls();
		test_starttls();
		test_starttls_big_reply();
		test_peer_drops();
		test_garbage();
		test_verify();
		test_close_notify();
		test_small_input();
		test_handshake_timeout();
		test_close_during_handshake();
	}
	teardown();
	ev_timer_stop(loop, &tick);
	ev_loop_destroy(loop);
	return test_exit();
}
