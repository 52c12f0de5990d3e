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
 * Closing after an error reply: conn_close_after_drain() half-closes
 * (SHUT_WR) and then keeps reading and discarding for a short while, so
 * that unread client bytes (the rest of a rejected body) do not make the
 * kernel answer with a RST that would destroy our reply in flight.
 */
#include "event/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/str.h"
#include "core/xmalloc.h"

#define CONN_DEFAULT_MAX_INPUT (1024 * 1024)
#define CONN_READ_CHUNK (64 * 1024)
#define CONN_LINGER_SECONDS 2.0
#define CONN_LINGER_MAX_BYTES (1024 * 1024)

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

/* Reads what the socket has; returns -1 on error, else bytes read (0 at EOF). */
static ssize_t
read_some(struct conn *c)
{
	char scratch[4096];
	size_t room;
	ssize_t n;

	if (c->lingering) {
		n = read(c->fd, scratch, sizeof(scratch));
		if (n > 0)
			c->linger_bytes += (size_t)n;
		return n;
	}
	room = c->s.max_input - c->in.len;
	if (room > CONN_READ_CHUNK)
		room = CONN_READ_CHUNK;
	if (buf_reserve(&c->in, room) < 0)
		return -1;
	n = read(c->fd, c->in.data + c->in.len, room);
	if (n > 0) {
		c->in.len += (size_t)n;
		c->in.data[c->in.len] = '\0';
	}
	return n;
}

static void
report_eof(struct conn *c)
{
	c->eof = true;
	update_read_watcher(c);
	if (c->closed_reported)
		return;
	c->closed_reported = true;
	emit(c, CONN_EV_CLOSED);
}

static void
on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	bool got = false;
	ssize_t n;

	(void)loop;
	(void)revents;
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
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == 0) {
			if (got && !c->lingering && !emit(c, CONN_EV_DATA_IN))
				return;
			report_eof(c);
			return;
		}
		c->failed = true;
		update_read_watcher(c);
		if (got && !c->lingering && !emit(c, CONN_EV_DATA_IN))
			return;
		emit(c, CONN_EV_ERROR);
		return;
	}
	if (c->lingering) {
		if (c->linger_bytes > CONN_LINGER_MAX_BYTES)
			report_eof(c);
		return;
	}
	if (got && !emit(c, CONN_EV_DATA_IN))
		return;
	if (c->in.len >= c->s.max_input && read_active(c)) {
		/* The owner consumed nothing from a full buffer. */
		c->failed = true;
		update_read_watcher(c);
		emit(c, CONN_EV_ERROR);
	}
}

/* 1 = all sent, 0 = would block, -1 = error. */
static int
flush_out(struct conn *c)
{
	ssize_t n;

	while (c->out_pos < c->out.len) {
		n = write(c->fd, c->out.data + c->out_pos, c->out.len - c->out_pos);
		if (n > 0) {
			c->out_pos += (size_t)n;
			c->last_write = ev_now(c->loop);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	buf_reset(&c->out);
	c->out_pos = 0;
	return 1;
}

static void
start_linger(struct conn *c)
{
	(void)shutdown(c->fd, SHUT_WR);
	if (c->eof || c->failed) {
		c->closed_reported = true;
		emit(c, CONN_EV_CLOSED);
		return;
	}
	c->lingering = true;
	c->linger_start = ev_now(c->loop);
	update_read_watcher(c);
	arm_timer(c);
}

static void
on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	int r;

	(void)loop;
	(void)revents;
	r = c->failed ? -1 : flush_out(c);
	if (r == 0) {
		if (!ev_is_active(&c->ww))
			ev_io_start(c->loop, &c->ww);
		return;
	}
	ev_io_stop(c->loop, &c->ww);
	if (r < 0) {
		c->failed = true;
		update_read_watcher(c);
		emit(c, CONN_EV_ERROR);
		return;
	}
	if (c->closing) {
		if (!c->lingering)
			start_linger(c);
		return;
	}
	emit(c, CONN_EV_DRAINED);
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
	} else if ((read_active(c) && c->s.read_timeout > 0 &&
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
		if (read_active(c) && c->s.read_timeout > 0) {
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

static void
update_read_watcher(struct conn *c)
{
	if (read_active(c) && (c->lingering || c->in.len < c->s.max_input)) {
		if (!ev_is_active(&c->rw))
			ev_io_start(c->loop, &c->rw);
	} else if (ev_is_active(&c->rw)) {
		ev_io_stop(c->loop, &c->rw);
	}
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
	if (ev_is_active(&c->ww) || ev_is_pending(&c->ww) || c->out.len == before)
		return 0;
	c->last_write = ev_now(c->loop);
	r = flush_out(c);
	if (r == 0) {
		ev_io_start(c->loop, &c->ww);
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

void
conn_close_after_drain(struct conn *c)
{
	if (c->closing)
		return;
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
