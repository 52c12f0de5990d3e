/*
 * conn.c - buffered non-blocking connection on a caller's libev loop.
 *
 * Two io watchers (read, write) and one timer per connection. Activity
 * only updates timestamps; the timer re-arms itself for the nearest
 * deadline when it fires, so a busy connection costs no timer syscalls.
 *
 * Callbacks are only ever made from watcher callbacks, never from inside a
 * conn_* call, so the owner's state machine sees no re-entrancy. When a
 * write completes at once inside conn_write(), the DRAINED (or ERROR)
 * report is queued with ev_feed_event() on the idle write watcher and
 * delivered on the next loop iteration. conn_free() from inside the
 * callback is deferred until the callback returns.
 *
 * Buffers grow on demand (reads start small and double only when a read
 * filled the room there was) and are freed when emptied, so an idle
 * connection holds no buffer memory.
 *
 * Closing after an error reply: conn_close_after_drain() half-closes
 * (SHUT_WR) and then keeps reading and discarding for a short while, so
 * that unread client bytes (the rest of a rejected body) do not make the
 * kernel answer with a RST that would destroy our reply in flight.
 *
 * TLS: once conn_tls_accept()/conn_tls_connect() ran, the connection goes
 * through three states. FLUSHING sends the plaintext output queued before
 * the call (the "220 Ready to start TLS" reply); HANDSHAKE drives
 * SSL_do_handshake() from whichever watcher the last attempt asked for;
 * OPEN replaces read()/write() by SSL_read()/SSL_write() (xport_read(),
 * xport_write()) and leaves the rest of the machinery as it is. OpenSSL
 * can need the opposite direction at any time (a read that must write, a
 * write that must read), so the state remembers which watcher a stalled
 * operation waits for; update_read_watcher() and wait_writable() honour
 * that. SSL_read() may hold decrypted bytes the socket no longer signals
 * (when the input buffer filled up): those are picked up by feeding the
 * read watcher. conn_close_after_drain() sends close_notify before the
 * half-close; a close_notify from the peer reads as EOF.
 */
#include "event/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"

#define CONN_DEFAULT_MAX_INPUT (1024 * 1024)
#define CONN_READ_CHUNK (64 * 1024)
/* First read size; buffers grow from here and are freed when emptied. */
#define CONN_READ_MIN 2048
#define CONN_LINGER_SECONDS 2.0
#define CONN_LINGER_MAX_BYTES (1024 * 1024)
/* Per SSL_write() call; keeps lengths within int and retries monotone. */
#define CONN_TLS_WRITE_CHUNK (1024 * 1024)
/* xport_read()/xport_write(): the operation would block. */
#define CONN_IO_AGAIN (-2)

enum conn_tls_state {
	CONN_TLS_FLUSHING,  /* plaintext output before the handshake */
	CONN_TLS_HANDSHAKE,
	CONN_TLS_OPEN,
};

struct conn_tls {
	SSL *ssl;
	enum conn_tls_state state;
	size_t plain_end;       /* out bytes before this go in plaintext */
	bool hs_wants_write;    /* handshake blocked on writability */
	bool read_wants_write;  /* SSL_read() said WANT_WRITE */
	bool write_wants_read;  /* SSL_write() said WANT_READ */
	bool close_notify_sent;
};

struct conn {
	struct ev_loop *loop;
	int fd;
	ev_io rw, ww;
	ev_timer timer;
	struct buf in, out;
	size_t out_pos;
	struct conn_settings s;
	conn_callback_fn *cb;
	void *ud;

	bool read_wanted;   /* owner has not paused reading */
	bool eof;
	bool failed;
	bool closing;       /* close after drain requested */
	bool lingering;     /* SHUT_WR done, discarding input */
	bool closed_reported;
	bool drain_owed;    /* bytes queued since the last DRAINED */
	unsigned in_cb;
	bool free_pending;
	ev_tstamp last_read, last_write, linger_start;
	size_t linger_bytes;

	struct sockaddr_storage peer;
	socklen_t peer_len;
	char peer_text[INET6_ADDRSTRLEN + 8];
	int peer_port;
	bool is_unix;
	struct conn_tls *tls;
};

static void conn_destroy(struct conn *c);
static void update_read_watcher(struct conn *c);
static void arm_timer(struct conn *c);
static bool write_step(struct conn *c);
static bool read_step(struct conn *c);
static bool tls_handshake_step(struct conn *c);

/* Calls the owner; returns false when the owner freed the connection. */
static bool
emit(struct conn *c, enum conn_event ev)
{
	c->in_cb++;
	c->cb(c, ev, c->ud);
	c->in_cb--;
	if (c->free_pending && c->in_cb == 0) {
		conn_destroy(c);
		return false;
	}
	return !c->free_pending;
}

void
conn_addr_to_text(const struct sockaddr *sa, char *out, size_t size)
{
	const void *addr = NULL;

	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (addr == NULL) {
		str_lcpy(out, sa->sa_family == AF_UNIX ? "unix:" : "unknown", size);
		return;
	}
	if (inet_ntop(sa->sa_family, addr, out, (socklen_t)size) == NULL)
		str_lcpy(out, "unknown", size);
}

static void
set_peer(struct conn *c, const struct sockaddr *peer, socklen_t len)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer;

	if (peer != NULL && len > 0 && len <= sizeof(c->peer)) {
		memcpy(&c->peer, peer, len);
		c->peer_len = len;
	} else {
		c->peer_len = sizeof(c->peer);
		if (getpeername(c->fd, (struct sockaddr *)&c->peer, &c->peer_len) < 0)
			c->peer_len = 0;
	}
	if (c->peer_len == 0)
		c->peer.ss_family = AF_UNSPEC;
	c->is_unix = sa->sa_family == AF_UNIX;
	conn_addr_to_text(sa, c->peer_text, sizeof(c->peer_text));
	if (sa->sa_family == AF_INET)
		c->peer_port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	else if (sa->sa_family == AF_INET6)
		c->peer_port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	/* A v4-mapped v6 peer is reported as plain v4, as Rspamd does. */
	if (sa->sa_family == AF_INET6 && strncmp(c->peer_text, "::ffff:", 7) == 0 &&
	    strchr(c->peer_text + 7, '.') != NULL)
		memmove(c->peer_text, c->peer_text + 7, strlen(c->peer_text + 7) + 1);
}

static bool
read_active(const struct conn *c)
{
	return (c->read_wanted || c->lingering) && !c->eof && !c->failed;
}

static bool
tls_open(const struct conn *c)
{
	return c->tls != NULL && c->tls->state == CONN_TLS_OPEN;
}

/* The idle read deadline applies; a handshake always has one, whatever
 * the owner's read state, so a silent peer cannot hold a TLS slot. */
static bool
read_deadline_applies(const struct conn *c)
{
	if (c->tls != NULL && c->tls->state != CONN_TLS_OPEN && !c->lingering &&
	    !c->failed)
		return true;
	return read_active(c);
}

/* Logs why OpenSSL gave up, then empties its error queue (the queue is
 * per thread: stale entries would confuse the next connection). */
static void
tls_log_error(const struct conn *c, const char *what, int ssl_err)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256];

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	else if (ssl_err == SSL_ERROR_SYSCALL && errno != 0)
		str_lcpy(reason, strerror(errno), sizeof(reason));
	else
		str_lcpy(reason, "connection closed", sizeof(reason));
	log_info("tls", c->peer_text, "TLS %s failed: %s", what, reason);
	ERR_clear_error();
}

/* A peer that drops TCP without close_notify: EOF, not an error (SMTP and
 * IMAP carry their own end markers; clients do this all the time). */
static bool
tls_unexpected_eof(int ssl_err, int ret)
{
	unsigned long e = ERR_peek_error();

	if (ssl_err == SSL_ERROR_SYSCALL && e == 0 && ret == 0)
		return true;
	return ssl_err == SSL_ERROR_SSL &&
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

static ssize_t
tls_read(struct conn *c, void *p, size_t len)
{
	struct conn_tls *t = c->tls;
	int n, err;

	ERR_clear_error();
	n = SSL_read(t->ssl, p, (int)MIN(len, (size_t)INT_MAX));
	if (n > 0) {
		t->read_wants_write = false;
		return n;
	}
	err = SSL_get_error(t->ssl, n);
	if (err == SSL_ERROR_WANT_READ) {
		t->read_wants_write = false;
		return CONN_IO_AGAIN;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		t->read_wants_write = true;
		if (!ev_is_active(&c->ww))
			ev_io_start(c->loop, &c->ww);
		return CONN_IO_AGAIN;
	}
	if (err == SSL_ERROR_ZERO_RETURN || tls_unexpected_eof(err, n)) {
		ERR_clear_error();
		return 0;
	}
	tls_log_error(c, "read", err);
	return -1;
}

static ssize_t
tls_write(struct conn *c, const void *p, size_t len)
{
	struct conn_tls *t = c->tls;
	int n, err;

	ERR_clear_error();
	/* Never shorter than a pending retry: the buffer only grows at its
	 * end, and OpenSSL accepts a longer retry of the same bytes. */
	n = SSL_write(t->ssl, p, (int)MIN(len, (size_t)CONN_TLS_WRITE_CHUNK));
	if (n > 0) {
		t->write_wants_read = false;
		return n;
	}
	err = SSL_get_error(t->ssl, n);
	if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
		t->write_wants_read = err == SSL_ERROR_WANT_READ;
		return CONN_IO_AGAIN;
	}
	tls_log_error(c, "write", err);
	return -1;
}

/* Bytes read, 0 at EOF, CONN_IO_AGAIN, or -1 on error. */
static ssize_t
xport_read(struct conn *c, void *p, size_t len)
{
	ssize_t n;

	if (tls_open(c))
		return tls_read(c, p, len);
	do
		n = read(c->fd, p, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return CONN_IO_AGAIN;
	return n;
}

/* Bytes written, CONN_IO_AGAIN, or -1 on error. */
static ssize_t
xport_write(struct conn *c, const void *p, size_t len)
{
	ssize_t n;

	if (tls_open(c))
		return tls_write(c, p, len);
	do
		n = write(c->fd, p, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return CONN_IO_AGAIN;
	return n > 0 ? n : -1;
}

/* Reads what the transport has: bytes read, 0 at EOF, CONN_IO_AGAIN, or
 * -1 on error. */
static ssize_t
read_some(struct conn *c)
{
	char scratch[4096];
	size_t room, want;
	ssize_t n;

	if (c->lingering) {
		n = xport_read(c, scratch, sizeof(scratch));
		if (n > 0)
			c->linger_bytes += (size_t)n;
		return n;
	}
	/* Read into the room there is; the buffer doubles only when a read
	 * filled it, so an idle connection holds a few KB, not a chunk. */
	want = c->in.cap > c->in.len + 1 ? c->in.cap - c->in.len - 1 : 0;
	if (want < CONN_READ_MIN)
		want = CONN_READ_MIN;
	if (want > CONN_READ_CHUNK)
		want = CONN_READ_CHUNK;
	room = c->s.max_input - c->in.len;
	if (room > want)
		room = want;
	if (buf_reserve(&c->in, room) < 0)
		return -1;
	n = xport_read(c, c->in.data + c->in.len, room);
	if (n > 0) {
		c->in.len += (size_t)n;
		c->in.data[c->in.len] = '\0';
	}
	return n;
}

static bool
report_eof(struct conn *c)
{
	c->eof = true;
	update_read_watcher(c);
	if (c->closed_reported)
		return true;
	c->closed_reported = true;
	return emit(c, CONN_EV_CLOSED);
}

/*
 * The TLS part of a read event. Returns 1 to go on reading into the input
 * buffer, 0 when the event was used up, -1 when the owner freed c.
 */
static int
tls_read_prelude(struct conn *c)
{
	struct conn_tls *t = c->tls;

	if (t->state == CONN_TLS_HANDSHAKE) {
		c->last_read = ev_now(c->loop);
		return tls_handshake_step(c) ? 0 : -1;
	}
	if (t->state != CONN_TLS_OPEN) {
		update_read_watcher(c);
		return 0;
	}
	if (t->write_wants_read) {
		t->write_wants_read = false;
		if (!write_step(c))
			return -1;
		if (c->failed)
			return 0;
	}
	if (!read_active(c) || c->in.len >= c->s.max_input) {
		update_read_watcher(c);
		return 0;
	}
	return 1;
}

/* Returns false when the owner freed c. */
static bool
read_step(struct conn *c)
{
	bool got = false;
	ssize_t n;
	int r;

	if (c->tls != NULL && !c->lingering && (r = tls_read_prelude(c)) <= 0)
		return r == 0;
	for (;;) {
		if (!c->lingering && c->in.len >= c->s.max_input)
			break;
		n = read_some(c);
		if (n > 0) {
			got = true;
			c->last_read = ev_now(c->loop);
			if (c->lingering && c->linger_bytes > CONN_LINGER_MAX_BYTES)
				break;
			continue;
		}
		if (n == CONN_IO_AGAIN)
			break;
		if (n == 0) {
			if (got && !c->lingering && !emit(c, CONN_EV_DATA_IN))
				return false;
			return report_eof(c);
		}
		c->failed = true;
		update_read_watcher(c);
		if (got && !c->lingering && !emit(c, CONN_EV_DATA_IN))
			return false;
		return emit(c, CONN_EV_ERROR);
	}
	if (c->lingering) {
		if (c->linger_bytes > CONN_LINGER_MAX_BYTES)
			return report_eof(c);
		return true;
	}
	if (got && !emit(c, CONN_EV_DATA_IN))
		return false;
	/* All consumed: give the memory back (thousands of idle clients). */
	if (c->in.len == 0 && c->in.cap > 0) {
		buf_deinit(&c->in);
		buf_init(&c->in, c->s.max_input);
	}
	if (c->in.len >= c->s.max_input && read_active(c)) {
		/* The owner consumed nothing from a full buffer. */
		c->failed = true;
		update_read_watcher(c);
		return emit(c, CONN_EV_ERROR);
	}
	if (c->tls != NULL)
		update_read_watcher(c);
	return true;
}

static void
on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	(void)read_step(w->data);
}

/* 1 = all sent, 0 = would block, -1 = error. */
static int
flush_out(struct conn *c)
{
	size_t end = c->out.len;
	ssize_t n;

	if (c->tls != NULL && c->tls->state == CONN_TLS_FLUSHING)
		end = c->tls->plain_end;
	else if (c->tls != NULL && c->tls->state == CONN_TLS_HANDSHAKE)
		return c->out_pos < c->out.len ? 0 : 1; /* callers never get here */
	while (c->out_pos < end) {
		n = xport_write(c, c->out.data + c->out_pos, end - c->out_pos);
		if (n > 0) {
			c->out_pos += (size_t)n;
			c->last_write = ev_now(c->loop);
			continue;
		}
		if (n == CONN_IO_AGAIN)
			return 0;
		return -1;
	}
	if (c->out_pos == c->out.len) {
		/* Sent: freed rather than kept, idle connections hold nothing. */
		buf_deinit(&c->out);
		buf_init(&c->out, c->s.max_output);
		c->out_pos = 0;
	}
	return 1;
}

/* After a write that would block: wait for what the transport needs. */
static void
wait_writable(struct conn *c)
{
	if (c->tls != NULL && c->tls->write_wants_read) {
		ev_io_stop(c->loop, &c->ww);
		update_read_watcher(c);
	} else if (!ev_is_active(&c->ww)) {
		ev_io_start(c->loop, &c->ww);
	}
}

/* close_notify: 1 = sent (or hopeless), 0 = retry when writable. */
static int
tls_close_notify(struct conn *c)
{
	struct conn_tls *t = c->tls;
	int r;

	ERR_clear_error();
	r = SSL_shutdown(t->ssl);
	if (r < 0 && SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_WRITE) {
		if (!ev_is_active(&c->ww))
			ev_io_start(c->loop, &c->ww);
		return 0;
	}
	ERR_clear_error();
	t->close_notify_sent = true;
	return 1;
}

/* Returns false when the owner freed c. */
static bool
start_linger(struct conn *c)
{
	if (tls_open(c) && !c->tls->close_notify_sent && !c->failed &&
	    tls_close_notify(c) == 0)
		return true;
	(void)shutdown(c->fd, SHUT_WR);
	if (c->eof || c->failed) {
		c->closed_reported = true;
		return emit(c, CONN_EV_CLOSED);
	}
	c->lingering = true;
	c->linger_start = ev_now(c->loop);
	update_read_watcher(c);
	arm_timer(c);
	return true;
}

/*
 * The TLS part of a write event: the plaintext prefix, the handshake, a
 * read that waited for writability. Returns 1 to go on with the output,
 * 0 when the event was used up, -1 when the owner freed c.
 */
static int
tls_write_prelude(struct conn *c)
{
	struct conn_tls *t = c->tls;
	int r;

	if (t->state == CONN_TLS_FLUSHING) {
		r = flush_out(c);
		if (r == 0) {
			wait_writable(c);
			return 0;
		}
		if (r < 0) {
			c->failed = true;
			return 1;
		}
		t->state = CONN_TLS_HANDSHAKE;
		t->plain_end = 0;
	}
	if (t->state == CONN_TLS_HANDSHAKE)
		return tls_handshake_step(c) ? 0 : -1;
	if (t->read_wants_write) {
		t->read_wants_write = false;
		if (read_active(c) && !read_step(c))
			return -1;
		update_read_watcher(c);
		if (c->failed) {
			ev_io_stop(c->loop, &c->ww);
			return 0;
		}
	}
	return 1;
}

/* Returns false when the owner freed c. */
static bool
write_step(struct conn *c)
{
	int r;

	if (c->tls != NULL && !c->failed && !c->lingering &&
	    (r = tls_write_prelude(c)) <= 0)
		return r == 0;
	r = c->failed ? -1 : flush_out(c);
	if (r == 0) {
		wait_writable(c);
		return true;
	}
	ev_io_stop(c->loop, &c->ww);
	if (r < 0) {
		c->failed = true;
		update_read_watcher(c);
		return emit(c, CONN_EV_ERROR);
	}
	if (c->closing) {
		if (!c->lingering)
			return start_linger(c);
		return true;
	}
	/* A wake-up for TLS's sake with nothing queued reports nothing. */
	if (!c->drain_owed)
		return true;
	c->drain_owed = false;
	return emit(c, CONN_EV_DRAINED);
}

static void
on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	(void)write_step(w->data);
}

/*
 * One handshake attempt, from whichever watcher it waited for. On success
 * reports CONN_EV_TLS_READY, then resumes normal reading and writing
 * (output queued meanwhile goes out encrypted). Returns false when the
 * owner freed c.
 */
static bool
tls_handshake_step(struct conn *c)
{
	struct conn_tls *t = c->tls;
	int r, err;

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->state = CONN_TLS_OPEN;
		t->hs_wants_write = false;
		ev_io_stop(c->loop, &c->ww);
		c->last_read = c->last_write = ev_now(c->loop);
		if (!emit(c, CONN_EV_TLS_READY))
			return false;
		update_read_watcher(c);
		if ((c->out_pos < c->out.len || c->closing) &&
		    !ev_is_active(&c->ww) && !ev_is_pending(&c->ww))
			ev_feed_event(c->loop, &c->ww, EV_WRITE);
		arm_timer(c);
		return true;
	}
	err = SSL_get_error(t->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		t->hs_wants_write = err == SSL_ERROR_WANT_WRITE;
		if (t->hs_wants_write) {
			if (!ev_is_active(&c->ww))
				ev_io_start(c->loop, &c->ww);
		} else {
			ev_io_stop(c->loop, &c->ww);
		}
		update_read_watcher(c);
		arm_timer(c);
		return true;
	}
	tls_log_error(c, "handshake", err);
	c->failed = true;
	ev_io_stop(c->loop, &c->ww);
	update_read_watcher(c);
	return emit(c, CONN_EV_ERROR);
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	ev_tstamp now = ev_now(loop);

	(void)revents;
	if (c->lingering) {
		if (now - c->linger_start >= CONN_LINGER_SECONDS) {
			c->eof = true;
			update_read_watcher(c);
			c->closed_reported = true;
			emit(c, CONN_EV_CLOSED);
			return;
		}
	} else if ((read_deadline_applies(c) && c->s.read_timeout > 0 &&
	    now - c->last_read >= c->s.read_timeout) ||
	    (c->out_pos < c->out.len && c->s.write_timeout > 0 &&
	    now - c->last_write >= c->s.write_timeout)) {
		if (!emit(c, CONN_EV_TIMEOUT))
			return;
		/* Owner kept the connection: give it another full period. */
		c->last_read = c->last_write = now;
	}
	arm_timer(c);
}

/* Arms the timer for the nearest deadline that currently applies. */
static void
arm_timer(struct conn *c)
{
	ev_tstamp now = ev_now(c->loop), next = 0, d;
	bool any = false;

	if (c->lingering) {
		next = c->linger_start + CONN_LINGER_SECONDS - now;
		any = true;
	} else {
		if (read_deadline_applies(c) && c->s.read_timeout > 0) {
			next = c->last_read + c->s.read_timeout - now;
			any = true;
		}
		if (c->out_pos < c->out.len && c->s.write_timeout > 0) {
			d = c->last_write + c->s.write_timeout - now;
			if (!any || d < next)
				next = d;
			any = true;
		}
	}
	ev_timer_stop(c->loop, &c->timer);
	if (!any)
		return;
	if (next < 0.001)
		next = 0.001;
	ev_timer_set(&c->timer, next, 0.);
	ev_timer_start(c->loop, &c->timer);
}

static bool
read_watch_needed(const struct conn *c)
{
	const struct conn_tls *t = c->tls;

	if (t != NULL && !c->lingering && !c->failed) {
		if (t->state == CONN_TLS_FLUSHING)
			return false;
		if (t->state == CONN_TLS_HANDSHAKE)
			return !t->hs_wants_write;
		if (t->write_wants_read)
			return true;
		if (t->read_wants_write)
			return false;
	}
	return read_active(c) && (c->lingering || c->in.len < c->s.max_input);
}

static void
update_read_watcher(struct conn *c)
{
	if (!read_watch_needed(c)) {
		if (ev_is_active(&c->rw))
			ev_io_stop(c->loop, &c->rw);
		return;
	}
	if (!ev_is_active(&c->rw))
		ev_io_start(c->loop, &c->rw);
	/* Decrypted bytes OpenSSL holds do not make the socket readable. */
	if (tls_open(c) && !ev_is_pending(&c->rw) &&
	    (c->lingering || c->in.len < c->s.max_input) &&
	    SSL_has_pending(c->tls->ssl))
		ev_feed_event(c->loop, &c->rw, EV_READ);
}

struct conn *
conn_new(struct ev_loop *loop, int fd, const struct sockaddr *peer,
    socklen_t peer_len, const struct conn_settings *settings,
    conn_callback_fn *cb, void *ud)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	int fl;

	c->loop = loop;
	c->fd = fd;
	if (settings != NULL)
		c->s = *settings;
	if (c->s.max_input == 0)
		c->s.max_input = CONN_DEFAULT_MAX_INPUT;
	c->cb = cb;
	c->ud = ud;
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	buf_init(&c->in, c->s.max_input);
	buf_init(&c->out, c->s.max_output);
	set_peer(c, peer, peer_len);
	ev_io_init(&c->rw, on_read, fd, EV_READ);
	ev_io_init(&c->ww, on_write, fd, EV_WRITE);
	ev_init(&c->timer, on_timer);
	c->rw.data = c->ww.data = c->timer.data = c;
	c->last_read = c->last_write = ev_now(loop);
	c->read_wanted = true;
	update_read_watcher(c);
	arm_timer(c);
	return c;
}

static void
conn_destroy(struct conn *c)
{
	ev_io_stop(c->loop, &c->rw);
	ev_io_stop(c->loop, &c->ww);
	ev_timer_stop(c->loop, &c->timer);
	/* Abrupt on purpose: an orderly close_notify is
	 * conn_close_after_drain()'s job, and freeing must not block. */
	if (c->tls != NULL) {
		SSL_free(c->tls->ssl);
		free(c->tls);
	}
	if (c->fd >= 0)
		close(c->fd);
	buf_deinit(&c->in);
	buf_deinit(&c->out);
	free(c);
}

void
conn_free(struct conn **cp)
{
	struct conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->in_cb > 0) {
		c->free_pending = true;
		ev_io_stop(c->loop, &c->rw);
		ev_io_stop(c->loop, &c->ww);
		ev_timer_stop(c->loop, &c->timer);
		return;
	}
	conn_destroy(c);
}

void
conn_set_callback(struct conn *c, conn_callback_fn *cb, void *ud)
{
	c->cb = cb;
	c->ud = ud;
}

void
conn_set_timeouts(struct conn *c, double read_timeout, double write_timeout)
{
	c->s.read_timeout = read_timeout;
	c->s.write_timeout = write_timeout;
	arm_timer(c);
}

struct buf *
conn_input(struct conn *c)
{
	return &c->in;
}

int
conn_writev(struct conn *c, const struct iovec *iov, int n)
{
	size_t total = 0, before;
	int i, r;

	if (c->failed || c->closing || c->free_pending)
		return -1;
	if (c->out_pos > 0 && c->out_pos == c->out.len) {
		buf_reset(&c->out);
		c->out_pos = 0;
	}
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (buf_reserve(&c->out, total) < 0)
		return -1;
	before = c->out.len;
	for (i = 0; i < n; i++)
		(void)buf_append(&c->out, iov[i].iov_base, iov[i].iov_len);
	if (c->out.len > before)
		c->drain_owed = true;
	if (ev_is_active(&c->ww) || ev_is_pending(&c->ww) || c->out.len == before)
		return 0;
	/* Before the handshake is done, output waits for it; a write that
	 * waits for readability is retried by the read watcher. */
	if (c->tls != NULL &&
	    (c->tls->state != CONN_TLS_OPEN || c->tls->write_wants_read))
		return 0;
	c->last_write = ev_now(c->loop);
	r = flush_out(c);
	if (r == 0) {
		wait_writable(c);
		arm_timer(c);
	} else {
		if (r < 0)
			c->failed = true;
		/* Report DRAINED / ERROR from the loop, not from here. */
		ev_feed_event(c->loop, &c->ww, EV_WRITE);
	}
	return 0;
}

int
conn_write(struct conn *c, const void *data, size_t len)
{
	struct iovec iov = { (void *)(uintptr_t)data, len };

	return conn_writev(c, &iov, 1);
}

size_t
conn_output_pending(const struct conn *c)
{
	return c->out.len - c->out_pos;
}

/*
 * Closing before the handshake finished drops TLS. Plaintext still owed
 * (the STARTTLS reply) goes out; output queued for after the handshake
 * must never go out in the clear, so it is discarded.
 */
static void
tls_abandon(struct conn *c)
{
	struct conn_tls *t = c->tls;

	c->out.len = t->state == CONN_TLS_FLUSHING ? t->plain_end : c->out_pos;
	if (c->out_pos == c->out.len) {
		buf_reset(&c->out);
		c->out_pos = 0;
	}
	SSL_free(t->ssl);
	free(t);
	c->tls = NULL;
	c->drain_owed = false;
}

void
conn_close_after_drain(struct conn *c)
{
	if (c->closing)
		return;
	if (c->tls != NULL && c->tls->state != CONN_TLS_OPEN)
		tls_abandon(c);
	c->closing = true;
	c->read_wanted = false;
	update_read_watcher(c);
	if (!ev_is_active(&c->ww) && !ev_is_pending(&c->ww))
		ev_feed_event(c->loop, &c->ww, EV_WRITE);
}

void
conn_pause_read(struct conn *c)
{
	c->read_wanted = false;
	update_read_watcher(c);
}

void
conn_resume_read(struct conn *c)
{
	if (c->closing)
		return;
	if (!c->read_wanted)
		c->last_read = ev_now(c->loop);
	c->read_wanted = true;
	update_read_watcher(c);
	arm_timer(c);
}

bool
conn_read_paused(const struct conn *c)
{
	return !c->read_wanted;
}

bool
conn_eof(const struct conn *c)
{
	return c->eof;
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

const struct sockaddr_storage *
conn_peer(const struct conn *c, socklen_t *len_r)
{
	if (len_r != NULL)
		*len_r = c->peer_len;
	return &c->peer;
}

const char *
conn_peer_text(const struct conn *c)
{
	return c->peer_text;
}

int
conn_peer_port(const struct conn *c)
{
	return c->peer_port;
}

bool
conn_peer_is_unix(const struct conn *c)
{
	return c->is_unix;
}

struct conn_tls *
conn_tls(const struct conn *c)
{
	return c->tls;
}

static bool
is_ip_literal(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

/* The name the client asks for (SNI; never for an address, RFC 6066) and
 * the name or address the certificate must match if the context verifies. */
static int
tls_set_peer_name(SSL *ssl, const char *sni)
{
	if (is_ip_literal(sni))
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), sni) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(ssl, sni) != 1 || SSL_set1_host(ssl, sni) != 1)
		return -1;
	return 0;
}

static int
tls_start(struct conn *c, SSL_CTX *ctx, bool server, const char *sni)
{
	struct conn_tls *t;
	SSL *ssl;

	if (c->tls != NULL || c->failed || c->closing || c->free_pending || ctx == NULL)
		return -1;
	ERR_clear_error();
	ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1 ||
	    (!server && sni != NULL && *sni != '\0' && tls_set_peer_name(ssl, sni) < 0)) {
		tls_log_error(c, "setup", SSL_ERROR_SSL);
		SSL_free(ssl);
		return -1;
	}
	/* The output buffer may move (realloc) and grow between retries. */
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	t = xcalloc(1, sizeof(*t));
	t->ssl = ssl;
	t->plain_end = c->out.len;
	t->state = c->out_pos < c->out.len ? CONN_TLS_FLUSHING : CONN_TLS_HANDSHAKE;
	c->tls = t;
	/* The plaintext prefix is not reported as DRAINED: TLS_READY implies it. */
	c->drain_owed = false;
	/* Bytes pipelined after STARTTLS never count as protected input. */
	buf_reset(&c->in);
	c->last_read = c->last_write = ev_now(c->loop);
	update_read_watcher(c);
	if (!ev_is_active(&c->ww) && !ev_is_pending(&c->ww))
		ev_feed_event(c->loop, &c->ww, EV_WRITE);
	arm_timer(c);
	return 0;
}

int
conn_tls_accept(struct conn *c, struct ssl_ctx_st *ctx)
{
	return tls_start(c, ctx, true, NULL);
}

int
conn_tls_connect(struct conn *c, struct ssl_ctx_st *ctx, const char *sni)
{
	return tls_start(c, ctx, false, sni);
}

bool
conn_tls_active(const struct conn *c)
{
	return tls_open(c);
}

void
conn_tls_describe(const struct conn *c, char *out, size_t size)
{
	const SSL_CIPHER *cipher;
	int bits, alg_bits = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	if (!tls_open(c) || (cipher = SSL_get_current_cipher(c->tls->ssl)) == NULL)
		return;
	bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
	/* Truncated text is still the useful prefix. */
	(void)str_format(out, size, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(c->tls->ssl), SSL_CIPHER_get_name(cipher), bits, alg_bits);
}
