/*
 * Loopback test of http_server + http_client in one process: the server
 * runs its own libev loop in a second thread, the client side (assertions)
 * runs in the main thread. Covers real client shapes, keep-alive with
 * pipelining, 16 concurrent keep-alive clients, async replies, legacy
 * RSPAMC, Expect: 100-continue, limits (431 early, 413), garbage, stalled
 * clients hitting the timeout, unix sockets and graceful stop.
 */
#include "http/http_client.h"
#include "http/http_server.h"
#include "event/listen.h"
#include "core/buf.h"
#include "core/pool.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SOCK_PATH "/tmp/test_http_server.sock"

static struct ev_loop *srv_loop;
static struct http_server *srv;
static ev_async stop_async;
static struct http_server_stats final_stats;
static char tcp_target[64];

struct pending {
	ev_timer t;
	struct http_request *req;
};

static void
on_async_reply(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pending *p = (struct pending *)w;
	char body[64];
	int n;

	(void)loop;
	(void)revents;
	n = snprintf(body, sizeof(body), "async %.*s", (int)p->req->msg->body_len,
	    p->req->msg->body != NULL ? p->req->msg->body : "");
	http_reply(p->req, 200, NULL, "text/plain", NULL, 0, body, (size_t)n);
	free(p);
}

static void
reply_echo(struct http_request *req)
{
	const struct http_message *m = req->msg;
	struct http_header extra[3];
	const struct http_header *h = NULL;
	unsigned n_rcpt = 0;
	char *cnt;

	while ((h = http_message_header_next(m, h, "Rcpt")) != NULL)
		n_rcpt++;
	cnt = pool_printf(req->pool, "%u", n_rcpt);
	extra[0].name = STR_LIT("X-Rcpt-Count");
	extra[0].value = str_from_cstr(cnt);
	extra[1].name = STR_LIT("X-Peer");
	extra[1].value = str_from_cstr(pool_printf(req->pool, "%s%s",
	    req->peer_is_unix ? "unix " : "", req->peer_text));
	extra[2].name = STR_LIT("X-Path");
	extra[2].value = m->path;
	http_reply(req, 200, NULL, "text/plain", extra, 3, m->body, m->body_len);
}

static void
handler(struct http_request *req, void *ud)
{
	const struct http_message *m = req->msg;
	struct pending *p;

	(void)ud;
	if (m->legacy_rspamc) {
		const char *r = "RSPAMD/1.3 0 EX_OK\r\nMetric: default; False; 0.00 / 15.00 / 0.0\r\n";

		http_reply_raw(req, r, strlen(r), true);
	} else if (str_eq_cstr(m->path, "/ping")) {
		http_reply(req, 200, NULL, "text/plain", NULL, 0, "pong\r\n", 6);
	} else if (str_eq_cstr(m->path, "/async")) {
		p = calloc(1, sizeof(*p));
		p->req = req;
		ev_timer_init(&p->t, on_async_reply, 0.02, 0.);
		ev_timer_start(srv_loop, &p->t);
	} else if (str_eq_cstr(m->path, "/echo") || str_eq_cstr(m->path, "/checkv2")) {
		reply_echo(req);
	} else {
		http_reply_json_error(req, 500, "invalid command", "protocol-error");
	}
}

static void
on_stopped(struct http_server *s, void *ud)
{
	(void)ud;
	http_server_get_stats(s, &final_stats);
	ev_break(srv_loop, EVBREAK_ALL);
}

static void
on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	http_server_stop_accepting(srv, on_stopped, NULL);
}

static void *
server_thread(void *arg)
{
	(void)arg;
	ev_run(srv_loop, 0);
	return NULL;
}

static int
start_server(pthread_t *th)
{
	struct http_server_settings s = { .timeout = 0.5, .max_body = 1024 * 1024 };
	int *fds1, *fds2, fds[2];
	size_t n1, n2;
	char *err = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (listen_parse_and_bind("127.0.0.1:0", &fds1, &n1, &err) < 0 ||
	    listen_parse_and_bind(SOCK_PATH " mode=0600", &fds2, &n2, &err) < 0) {
		fprintf(stderr, "listen: %s\n", err);
		return -1;
	}
	fds[0] = fds1[0];
	fds[1] = fds2[0];
	free(fds1);
	free(fds2);
	getsockname(fds[0], (struct sockaddr *)&sin, &len);
	snprintf(tcp_target, sizeof(tcp_target), "127.0.0.1:%u", ntohs(sin.sin_port));
	srv_loop = ev_loop_new(EVFLAG_AUTO);
	srv = http_server_new(srv_loop, fds, 2, &s, handler, NULL);
	ev_async_init(&stop_async, on_stop);
	ev_async_start(srv_loop, &stop_async);
	return pthread_create(th, NULL, server_thread, NULL);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
tcp_connect(void)
{
	struct sockaddr_in sin;
	const char *colon = strchr(tcp_target, ':');
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
send_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, s, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void
send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/*
 * Reads one response from fd with the response parser (leftover bytes of a
 * following response are kept in *carry). Returns a heap fingerprint
 * "STATUS|Connection|body" or NULL on EOF/timeout.
 */
static char *
read_response(int fd, struct buf *carry, double timeout)
{
	struct http_parser *p = http_parser_new(true, NULL);
	const struct http_message *m;
	const struct http_header *h;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char data[65536], *out = NULL;
	size_t used;
	ssize_t n;
	int r = 0, st;
	const char *err;
	double end = now_s() + timeout;

	if (carry->len > 0) {
		r = http_parser_feed(p, carry->data, carry->len, &used, &st, &err);
		buf_consume(carry, used);
	}
	while (r == 0 && now_s() < end) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(fd, data, sizeof(data));
		if (n <= 0) {
			r = http_parser_finish(p, &st, &err);
			break;
		}
		r = http_parser_feed(p, data, (size_t)n, &used, &st, &err);
		if (r == 1 && used < (size_t)n)
			buf_append(carry, data + used, (size_t)n - used);
	}
	if (r == 1) {
		m = http_parser_message(p);
		h = http_message_header(m, "Connection");
		out = malloc(m->body_len + 128);
		snprintf(out, m->body_len + 128, "%d|%.*s|%.*s", m->status,
		    h != NULL ? (int)h->value.len : 0, h != NULL ? h->value.ptr : "",
		    (int)m->body_len, m->body != NULL ? m->body : "");
	}
	http_parser_free(&p);
	return out;
}

/* True when the server closes fd within `timeout` seconds. */
static bool
wait_closed(int fd, double timeout)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char data[4096];
	double end = now_s() + timeout;
	ssize_t n;

	while (now_s() < end) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = read(fd, data, sizeof(data));
		if (n <= 0)
			return true;
	}
	return false;
}

static bool
resp_is(char *got, const char *want)
{
	bool ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "got '%s', want '%s'\n", got ? got : "(null)", want);
	free(got);
	return ok;
}

static void
test_client_basic(void)
{
	struct http_client_response resp;
	struct http_header hs[2] = {
		{ STR_LIT("Rcpt"), STR_LIT("a@b") },
		{ STR_LIT("Rcpt"), STR_LIT("c@d") },
	};
	const struct http_header *h;
	char *err = NULL;

	test_begin("client: ping, echo with headers, unix socket, 500 error");
	test_assert(http_client_request(tcp_target, 5, "GET", "/ping", NULL, 0,
	    NULL, 0, &resp, &err) == 0);
	test_assert(resp.status == 200 && resp.body_len == 6 &&
	    strcmp(resp.body, "pong\r\n") == 0);
	h = http_client_response_header(&resp, "Server");
	test_assert(h != NULL && str_has_prefix_case(h->value, "rspamd/"));
	test_assert(http_client_response_header(&resp, "Date") != NULL);
	h = http_client_response_header(&resp, "Connection");
	test_assert(h != NULL && str_eq_cstr(h->value, "close"));
	http_client_response_free(&resp);

	test_assert(http_client_request(tcp_target, 5, "POST", "/echo", hs, 2,
	    "hello", 5, &resp, &err) == 0);
	test_assert(resp.status == 200 && strcmp(resp.body, "hello") == 0);
	h = http_client_response_header(&resp, "X-Rcpt-Count");
	test_assert(h != NULL && str_eq_cstr(h->value, "2"));
	h = http_client_response_header(&resp, "X-Peer");
	test_assert(h != NULL && str_eq_cstr(h->value, "127.0.0.1"));
	http_client_response_free(&resp);

	test_assert(http_client_request(SOCK_PATH, 5, "POST", "/echo", NULL, 0,
	    "x", 1, &resp, &err) == 0);
	h = http_client_response_header(&resp, "X-Peer");
	test_assert(h != NULL && str_eq_cstr(h->value, "unix unix:"));
	http_client_response_free(&resp);

	test_assert(http_client_request(tcp_target, 5, "POST", "/nope", NULL, 0,
	    NULL, 0, &resp, &err) == 0);
	test_assert(resp.status == 500 && str_eq_cstr(resp.reason, "invalid command"));
	test_assert(strcmp(resp.body,
	    "{\"error\":\"invalid command\",\"error_domain\":\"protocol-error\"}") == 0);
	http_client_response_free(&resp);

	{
		struct http_header ex = { STR_LIT("Expect"), STR_LIT("100-continue") };

		test_assert(http_client_request(tcp_target, 5, "POST", "/echo", &ex, 1,
		    "abc", 3, &resp, &err) == 0);
		test_assert(resp.status == 200 && strcmp(resp.body, "abc") == 0);
		http_client_response_free(&resp);
		test_assert(http_client_request(tcp_target, 5, "HEAD", "/ping", NULL, 0,
		    NULL, 0, &resp, &err) == 0);
		h = http_client_response_header(&resp, "Content-Length");
		test_assert(resp.status == 200 && resp.body_len == 0 && h != NULL &&
		    str_eq_cstr(h->value, "6"));
		http_client_response_free(&resp);
	}
	test_assert(http_client_request("127.0.0.1:1", 2, "GET", "/", NULL, 0,
	    NULL, 0, &resp, &err) == -1);
	test_assert(err != NULL && strstr(err, "refused") != NULL);
	free(err);
	test_end();
}

static void
test_keepalive_pipelined(void)
{
	int fd = tcp_connect();
	struct buf carry;

	test_begin("keep-alive: pipelined requests answered in order");
	buf_init(&carry, 0);
	send_str(fd, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
	    "POST /async HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"
	    "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
	test_assert(resp_is(read_response(fd, &carry, 3), "200|keep-alive|one"));
	test_assert(resp_is(read_response(fd, &carry, 3), "200|keep-alive|async two"));
	test_assert(resp_is(read_response(fd, &carry, 3), "200|keep-alive|pong\r\n"));
	send_str(fd, "GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	test_assert(resp_is(read_response(fd, &carry, 3), "200|keep-alive|pong\r\n"));
	send_str(fd, "GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
	test_assert(resp_is(read_response(fd, &carry, 3), "200|close|pong\r\n"));
	test_assert(wait_closed(fd, 2));
	close(fd);
	buf_deinit(&carry);
	test_end();
}

static void
test_client_shapes(void)
{
	int fd;
	struct buf carry;

	test_begin("rspamc HTTP/1.0, Expect 100-continue, legacy RSPAMC");
	buf_init(&carry, 0);
	fd = tcp_connect();
	send_str(fd, "POST /checkv2 HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi");
	test_assert(resp_is(read_response(fd, &carry, 3), "200|close|hi"));
	test_assert(wait_closed(fd, 2));
	close(fd);

	fd = tcp_connect();
	send_str(fd, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	test_assert(resp_is(read_response(fd, &carry, 3), "100||"));
	send_str(fd, "body");
	test_assert(resp_is(read_response(fd, &carry, 3), "200|keep-alive|body"));
	close(fd);

	/* half-close after a request whose reply is large */
	{
		static char big[900000];
		char head[128];
		char *r;

		memset(big, 'q', sizeof(big));
		fd = tcp_connect();
		snprintf(head, sizeof(head),
		    "POST /echo HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", sizeof(big));
		send_str(fd, head);
		send_all(fd, big, sizeof(big));
		shutdown(fd, SHUT_WR);
		r = read_response(fd, &carry, 5);
		/* the reply may say keep-alive (EOF came after it was sent) */
		test_assert(r != NULL && strncmp(r, "200|", 4) == 0 &&
		    strlen(strrchr(r, '|') + 1) == sizeof(big));
		test_assert(wait_closed(fd, 3));
		free(r);
		close(fd);
	}

	fd = tcp_connect();
	send_str(fd, "CHECK RSPAMC/1.3\r\nContent-length: 4\r\nRcpt: <a@b>\r\n\r\nbody");
	{
		char data[512];
		size_t got = 0;
		ssize_t n;

		while (got < sizeof(data) - 1 &&
		    (n = read(fd, data + got, sizeof(data) - 1 - got)) > 0)
			got += (size_t)n;
		data[got] = '\0';
		test_assert(strncmp(data, "RSPAMD/1.3 0 EX_OK\r\nMetric: default; False;", 43) == 0);
	}
	close(fd);
	buf_deinit(&carry);
	test_end();
}

static void
test_bad_input(void)
{
	struct buf carry;
	int fd;
	char *r;

	test_begin("garbage -> 400 and close; lying chunked; server still serves");
	buf_init(&carry, 0);
	fd = tcp_connect();
	send_all(fd, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n", 22);
	r = read_response(fd, &carry, 3);
	test_assert(r != NULL && strncmp(r, "400|close|{\"error\":", 19) == 0);
	free(r);
	test_assert(wait_closed(fd, 3));
	close(fd);

	fd = tcp_connect();
	send_str(fd, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
	r = read_response(fd, &carry, 3);
	test_assert(r != NULL && strncmp(r, "400|close|", 10) == 0);
	free(r);
	close(fd);

	fd = tcp_connect();
	send_str(fd, "POST /echo HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n");
	r = read_response(fd, &carry, 3);
	test_assert(r != NULL && strncmp(r, "413|close|", 10) == 0);
	free(r);
	close(fd);

	fd = tcp_connect();
	send_str(fd, "GET /ping HTTP/1.1\r\n\r\n");
	test_assert(resp_is(read_response(fd, &carry, 3), "200|keep-alive|pong\r\n"));
	close(fd);
	buf_deinit(&carry);
	test_end();
}

static void
test_huge_header(void)
{
	int fd = tcp_connect();
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };
	static char chunk[65536];
	struct buf carry;
	size_t sent = 0;
	double start = now_s();
	char *r = NULL;
	ssize_t n;

	test_begin("100 MB header -> 431 early, not buffered");
	buf_init(&carry, 0);
	memset(chunk, 'a', sizeof(chunk));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	send_str(fd, "GET / HTTP/1.1\r\nX-Big: ");
	while (sent < 100u * 1024 * 1024 && now_s() - start < 10) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (pfd.revents & (POLLIN | POLLERR | POLLHUP))
			break;
		n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			sent += (size_t)n;
	}
	fcntl(fd, F_SETFL, 0);
	r = read_response(fd, &carry, 3);
	test_assert(r != NULL && strncmp(r, "431|close|", 10) == 0);
	test_assert(sent < 20u * 1024 * 1024);
	test_assert(now_s() - start < 5);
	fprintf(stderr, "  sent %zu bytes before 431 in %.2f s\n", sent, now_s() - start);
	free(r);
	close(fd);
	buf_deinit(&carry);
	test_end();
}

static void
test_timeouts(void)
{
	int fd1 = tcp_connect(), fd2 = tcp_connect(), fd3;
	double start = now_s();

	test_begin("stalled and idle clients are closed after the timeout");
	send_str(fd1, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
	test_assert(wait_closed(fd1, 3));
	test_assert(wait_closed(fd2, 3));
	test_assert(now_s() - start >= 0.4 && now_s() - start < 2.5);
	close(fd1);
	close(fd2);
	/* slow drip: a byte every 0.3 s never trips the 0.5 s idle timeout,
	 * but the whole-request limit (2 s) does */
	{
		struct pollfd pfd;
		struct buf carry;
		size_t i;
		char *r;

		fd1 = tcp_connect();
		pfd.fd = fd1;
		pfd.events = POLLIN;
		start = now_s();
		send_str(fd1, "POST /echo HTTP/1.1\r\nX-Slow: ");
		for (i = 0; i < 30 && poll(&pfd, 1, 300) == 0; i++)
			send_all(fd1, "x", 1);
		buf_init(&carry, 0);
		r = read_response(fd1, &carry, 3);
		test_assert(r != NULL && strncmp(r, "408|close|", 10) == 0);
		test_assert(now_s() - start < 4);
		free(r);
		buf_deinit(&carry);
		close(fd1);
	}
	fd3 = tcp_connect();
	send_str(fd3, "GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
	{
		struct buf carry;

		buf_init(&carry, 0);
		test_assert(resp_is(read_response(fd3, &carry, 3), "200|close|pong\r\n"));
		buf_deinit(&carry);
	}
	close(fd3);
	test_end();
}

static void
test_concurrent(void)
{
	enum { N = 16, ROUNDS = 20 };
	int fds[N], i, round, ok = 0;
	struct buf carry[N];
	struct http_client_job jobs[64];
	char req[128];
	int len;
	size_t failed;

	test_begin("16 concurrent keep-alive clients; 64 parallel client jobs");
	for (i = 0; i < N; i++) {
		fds[i] = tcp_connect();
		buf_init(&carry[i], 0);
	}
	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < N; i++) {
			len = snprintf(req, sizeof(req),
			    "POST /%s HTTP/1.1\r\nContent-Length: 2\r\n\r\n%02d",
			    i % 2 ? "async" : "echo", i);
			send_all(fds[i], req, (size_t)len);
		}
		for (i = 0; i < N; i++) {
			char want[64];
			char *r = read_response(fds[i], &carry[i], 3);

			snprintf(want, sizeof(want), "200|keep-alive|%s%02d",
			    i % 2 ? "async " : "", i);
			ok += r != NULL && strcmp(r, want) == 0;
			free(r);
		}
	}
	test_assert(ok == N * ROUNDS);
	for (i = 0; i < N; i++) {
		close(fds[i]);
		buf_deinit(&carry[i]);
	}
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 64; i++) {
		jobs[i].target = tcp_target;
		jobs[i].timeout_s = 5;
		jobs[i].method = "POST";
		jobs[i].path = "/async";
		jobs[i].body = "x";
		jobs[i].body_len = 1;
	}
	failed = http_client_run_many(jobs, 64, 16, NULL, NULL);
	test_assert(failed == 0);
	for (i = 0; i < 64; i++) {
		test_assert(jobs[i].result == 0 && jobs[i].resp.status == 200 &&
		    strcmp(jobs[i].resp.body, "async x") == 0);
		http_client_response_free(&jobs[i].resp);
		free(jobs[i].error);
	}
	test_end();
}

int
main(void)
{
	pthread_t th;

	if (start_server(&th) != 0)
		return 1;
	test_client_basic();
	test_keepalive_pipelined();
	test_client_shapes();
	test_bad_input();
	test_huge_header();
	test_timeouts();
	test_concurrent();

	test_begin("graceful stop");
	ev_async_send(srv_loop, &stop_async);
	pthread_join(th, NULL);
	test_assert(final_stats.requests >= 390);
	test_assert(final_stats.bad_requests >= 4);
	test_assert(final_stats.timeouts >= 2);
	test_assert(final_stats.inflight == 0 && final_stats.active == 0);
	test_assert(http_server_active(srv) == 0);
	http_server_free(&srv);
	ev_loop_destroy(srv_loop);
	unlink(SOCK_PATH);
	test_end();
	return test_exit();
}
