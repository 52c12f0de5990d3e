/* Unit tests for the buffered libev connection over a socketpair. */
#include "event/conn.h"
#include "test.h"

#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ctx {
	struct ev_loop *loop;
	struct conn *c;
	unsigned n_data, n_drained, n_timeout, n_closed, n_error;
	size_t got;
	bool free_on_closed;
	bool in_cb_write;       /* conn_write from inside the callback */
};

static void
cb(struct conn *c, enum conn_event ev, void *ud)
{
	struct ctx *x = ud;

	switch (ev) {
	case CONN_EV_DATA_IN:
		x->n_data++;
		x->got += conn_input(c)->len;
		if (x->in_cb_write)
			test_assert(conn_write(c, conn_input(c)->data, conn_input(c)->len) == 0);
		buf_consume(conn_input(c), conn_input(c)->len);
		break;
	case CONN_EV_DRAINED:
		x->n_drained++;
		break;
	case CONN_EV_TIMEOUT:
		x->n_timeout++;
		conn_free(&x->c);
		break;
	case CONN_EV_CLOSED:
		x->n_closed++;
		if (x->free_on_closed)
			conn_free(&x->c);
		break;
	case CONN_EV_ERROR:
		x->n_error++;
		conn_free(&x->c);
		break;
	case CONN_EV_TLS_READY: /* plaintext only here; see test_tls.c */
		break;
	}
	ev_break(x->loop, EVBREAK_ONE);
}

static void
run_until(struct ctx *x, unsigned *counter, unsigned want)
{
	int i;

	for (i = 0; i < 200 && *counter < want; i++)
		ev_run(x->loop, EVRUN_ONCE);
}

static void
test_echo_and_close(void)
{
	struct ctx x;
	int sv[2];
	char buf[64];
	ssize_t n;

	test_begin("data in, write, drained, peer close, unix peer");
	memset(&x, 0, sizeof(x));
	x.loop = ev_loop_new(EVFLAG_AUTO);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	x.c = conn_new(x.loop, sv[0], NULL, 0, NULL, cb, &x);
	x.in_cb_write = true;
	x.free_on_closed = true;
	test_assert(conn_peer_is_unix(x.c));
	test_assert(strcmp(conn_peer_text(x.c), "unix:") == 0);
	test_assert(write(sv[1], "hello", 5) == 5);
	run_until(&x, &x.n_drained, 1);
	test_assert(x.n_data >= 1 && x.got == 5 && x.n_drained == 1);
	n = read(sv[1], buf, sizeof(buf));
	test_assert(n == 5 && memcmp(buf, "hello", 5) == 0);
	close(sv[1]);
	run_until(&x, &x.n_closed, 1);
	test_assert(x.n_closed == 1 && x.c == NULL);
	ev_loop_destroy(x.loop);
	test_end();
}

static void
test_timeout(void)
{
	struct ctx x;
	struct conn_settings s = { .read_timeout = 0.1 };
	int sv[2];
	double start;

	test_begin("read timeout; paused reading has none");
	memset(&x, 0, sizeof(x));
	x.loop = ev_loop_new(EVFLAG_AUTO);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	x.c = conn_new(x.loop, sv[0], NULL, 0, &s, cb, &x);
	conn_pause_read(x.c);
	start = ev_time();
	/* paused: no timeout for 0.3 s */
	while (ev_time() - start < 0.3)
		ev_run(x.loop, EVRUN_NOWAIT);
	test_assert(x.n_timeout == 0);
	conn_resume_read(x.c);
	run_until(&x, &x.n_timeout, 1);
	test_assert(x.n_timeout == 1 && x.c == NULL);
	test_assert(ev_time() - start < 1.0);
	close(sv[1]);
	ev_loop_destroy(x.loop);
	test_end();
}

static void
test_close_after_drain(void)
{
	struct ctx x;
	int sv[2];
	char buf[100000];
	size_t total = 0;
	ssize_t n;
	static char big[200000];

	test_begin("close after drain delivers everything then EOF");
	memset(&x, 0, sizeof(x));
	x.loop = ev_loop_new(EVFLAG_AUTO);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	x.c = conn_new(x.loop, sv[0], NULL, 0, NULL, cb, &x);
	x.free_on_closed = true;
	memset(big, 'z', sizeof(big));
	test_assert(conn_write(x.c, big, sizeof(big)) == 0);
	conn_close_after_drain(x.c);
	test_assert(conn_write(x.c, "x", 1) == -1);
	while (x.c != NULL) {
		ev_run(x.loop, EVRUN_NOWAIT);
		n = read(sv[1], buf, sizeof(buf));
		if (n > 0)
			total += (size_t)n;
		if (n == 0)
			close(sv[1]), sv[1] = -1;
		if (sv[1] < 0)
			ev_run(x.loop, EVRUN_ONCE);
	}
	test_assert(total == sizeof(big));
	test_assert(x.n_closed == 1);
	if (sv[1] >= 0)
		close(sv[1]);
	ev_loop_destroy(x.loop);
	test_end();
}

static void
test_input_limit(void)
{
	struct ctx x;
	struct conn_settings s = { .max_input = 16 };
	int sv[2];

	test_begin("input buffer limit pauses reading");
	memset(&x, 0, sizeof(x));
	x.loop = ev_loop_new(EVFLAG_AUTO);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	x.c = conn_new(x.loop, sv[0], NULL, 0, &s, cb, &x);
	test_assert(write(sv[1], "0123456789abcdefghijklmnop", 26) == 26);
	run_until(&x, &x.n_data, 2);
	test_assert(x.got == 26);
	conn_free(&x.c);
	close(sv[1]);
	ev_loop_destroy(x.loop);
	test_end();
}

int
main(void)
{
	test_echo_and_close();
	test_timeout();
	test_close_after_drain();
	test_input_limit();
	return test_exit();
}
