/*
 * http_server.c - HTTP/1.x server for one worker process (scanner and
 * controller).
 *
 * Objects: the server owns the listening watchers (not the fds) and a list
 * of http_conn; each http_conn owns a `struct conn` (socket, buffers,
 * timeouts) and a parser, and has at most one request in flight. Bytes
 * flow conn input buffer -> parser (which copies them) -> complete
 * message -> handler. While a request is in flight reading is paused, so
 * pipelined requests wait in the buffer and are answered in order.
 *
 * A request may outlive its socket: if the client goes away while the
 * handler is still working (async scan), the socket is closed but the
 * http_conn stays as a zombie holding the parser (the request's message
 * points into it) until http_reply*() is called; the reply is dropped.
 *
 * Error policy: parser errors get a JSON error reply with the parser's
 * status and Connection: close; the connection then lingers briefly so the
 * reply is not destroyed by a RST. Timeouts just close (as Rspamd does).
 */
#include "http/http_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "log/log.h"

#define ACCEPTS_PER_WAKEUP 64
#define ACCEPT_BACKOFF 0.5
#define CONN_MAX_INPUT (256 * 1024)

struct http_listener {
	ev_io w;
	struct http_server *srv;
	size_t index;
};

struct http_conn {
	struct http_server *srv;
	struct conn *c;                /* NULL once the socket is gone */
	struct http_parser *parser;
	struct http_request *req;      /* in flight, or NULL */
	size_t listener_index;
	unsigned n_requests;
	bool closing;                  /* no more requests on this connection */
	bool eof;                      /* the client sent EOF */
	bool sent_continue;
	ev_tstamp req_start;           /* first byte of the request being read */
	struct http_conn *prev, *next;
};

struct http_server {
	struct ev_loop *loop;
	struct http_server_settings s;
	http_handler_fn *handler;
	void *ud;
	struct http_listener *listeners;
	size_t n_listeners;
	ev_timer backoff;
	struct http_conn *conns;
	unsigned n_conns;
	bool stopping;
	void (*done)(struct http_server *srv, void *ud);
	void *done_ud;
	struct http_server_stats stats;
	uint64_t next_id;
	time_t date_sec;
	char date[64];
};

static void process_input(struct http_conn *hc);
static void conn_event(struct conn *c, enum conn_event ev, void *ud);

static const char *
component(const struct http_server *srv)
{
	return srv->s.log_component != NULL ? srv->s.log_component : "http";
}

static void
check_done(struct http_server *srv)
{
	void (*done)(struct http_server *, void *) = srv->done;

	if (srv->stopping && srv->n_conns == 0 && done != NULL) {
		srv->done = NULL;
		done(srv, srv->done_ud);
	}
}

static void
free_request(struct http_request *req)
{
	pool_free(&req->pool);
	free(req);
}

/* Drops the socket; the http_conn itself goes too unless a request is
 * still in flight (then it waits for the reply as a zombie). */
static void
hc_close(struct http_conn *hc)
{
	struct http_server *srv = hc->srv;

	conn_free(&hc->c);
	hc->closing = true;
	if (hc->req != NULL)
		return;
	if (hc->prev != NULL)
		hc->prev->next = hc->next;
	else
		srv->conns = hc->next;
	if (hc->next != NULL)
		hc->next->prev = hc->prev;
	srv->n_conns--;
	http_parser_free(&hc->parser);
	free(hc);
	check_done(srv);
}

static const char *
http_date(struct http_server *srv)
{
	time_t now = (time_t)ev_now(srv->loop);
	struct tm tm;

	if (now != srv->date_sec && gmtime_r(&now, &tm) != NULL) {
		srv->date_sec = now;
		if (strftime(srv->date, sizeof(srv->date),
		    "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
			srv->date[0] = '\0';
	}
	return srv->date;
}

/* Header text without CR/LF/NUL, so no reply header can be split. */
static void
put_clean(struct buf *b, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = s[i];

		buf_putc(b, (c == '\r' || c == '\n' || c == '\0') ? ' ' : c);
	}
}

static void
write_head(struct http_conn *hc, struct buf *b, int status, const char *reason,
    const char *ctype, size_t len, bool keep)
{
	struct http_server *srv = hc->srv;

	if (reason == NULL || reason[0] == '\0')
		reason = http_status_reason(status);
	buf_printf(b, "HTTP/1.1 %d ", status);
	put_clean(b, reason, strlen(reason));
	buf_printf(b, "\r\nConnection: %s\r\nServer: %s\r\n",
	    keep ? "keep-alive" : "close",
	    srv->s.server_name != NULL ? srv->s.server_name : "rspamd/3.4-compat");
	buf_printf(b, "Date: %s\r\nContent-Length: %zu\r\n", http_date(srv), len);
	if (ctype != NULL) {
		buf_append_cstr(b, "Content-Type: ");
		put_clean(b, ctype, strlen(ctype));
		buf_append_cstr(b, "\r\n");
	}
}

static bool
keep_alive_ok(const struct http_conn *hc, const struct http_message *m)
{
	const struct http_server_settings *s = &hc->srv->s;

	if (m == NULL || !m->keep_alive || m->legacy_rspamc || s->no_keep_alive)
		return false;
	if (hc->srv->stopping || hc->eof || hc->closing)
		return false;
	return s->max_keepalive_requests == 0 ||
	    hc->n_requests + 1 < s->max_keepalive_requests;
}

/* Queues a response; returns whether the connection stays open. */
static bool
send_response(struct http_conn *hc, const struct http_message *m, int status,
    const char *reason, const char *ctype, const struct http_header *extra,
    size_t n_extra, const void *body, size_t len)
{
	bool keep = keep_alive_ok(hc, m);
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	write_head(hc, &b, status, reason, ctype, len, keep);
	for (i = 0; i < n_extra; i++) {
		put_clean(&b, extra[i].name.ptr, extra[i].name.len);
		buf_append(&b, ": ", 2);
		put_clean(&b, extra[i].value.ptr, extra[i].value.len);
		buf_append(&b, "\r\n", 2);
	}
	buf_append(&b, "\r\n", 2);
	/* A HEAD reply announces the length but carries no body. */
	if (m != NULL && str_eq_cstr(m->method, "HEAD"))
		len = 0;
	{
		struct iovec iov[2] = {
			{ b.data, b.len },
			{ (void *)(uintptr_t)body, len },
		};

		if (conn_writev(hc->c, iov, len > 0 ? 2 : 1) < 0)
			keep = false;
	}
	buf_deinit(&b);
	return keep;
}

/* JSON string body for {"error":..,"error_domain":..}. */
static void
json_escape(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_putc(b, (char)c);
	}
	buf_putc(b, '"');
}

static void
error_body(struct buf *b, const char *message, const char *domain)
{
	buf_init(b, 0);
	buf_append_cstr(b, "{\"error\":");
	json_escape(b, message);
	buf_append_cstr(b, ",\"error_domain\":");
	json_escape(b, domain != NULL ? domain : "protocol-error");
	buf_putc(b, '}');
}

static void
reply_parse_error(struct http_conn *hc, int status, const char *error)
{
	struct http_server *srv = hc->srv;
	struct buf b;

	srv->stats.bad_requests++;
	log_info(component(srv), NULL, "bad request from %s: %d %s",
	    conn_peer_text(hc->c), status, error);
	hc->closing = true;
	error_body(&b, error, "http-error");
	(void)send_response(hc, NULL, status, error, "application/json", NULL, 0,
	    b.data, b.len);
	buf_deinit(&b);
	conn_close_after_drain(hc->c);
}

static void
dispatch(struct http_conn *hc)
{
	struct http_server *srv = hc->srv;
	struct http_request *req = xcalloc(1, sizeof(*req));

	req->msg = http_parser_message(hc->parser);
	req->pool = pool_new(srv->s.request_pool_cap);
	req->peer_text = conn_peer_text(hc->c);
	req->peer_is_unix = conn_peer_is_unix(hc->c);
	req->peer = conn_peer(hc->c, NULL);
	req->listener_index = hc->listener_index;
	req->id = ++srv->next_id;
	req->start_time = ev_now(srv->loop);
	req->conn = hc;
	hc->req = req;
	hc->sent_continue = false;
	srv->stats.requests++;
	srv->stats.inflight++;
	conn_pause_read(hc->c);
	srv->handler(req, srv->ud);
}

static void
maybe_continue(struct http_conn *hc)
{
	const struct http_message *m = http_parser_message(hc->parser);

	if (!hc->sent_continue && http_parser_head_done(hc->parser) &&
	    m->expect_continue) {
		hc->sent_continue = true;
		(void)conn_write(hc->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
}

/* The client sent EOF and no request is in flight. Returns false when the
 * connection was freed. */
static bool
handle_eof(struct http_conn *hc)
{
	int st = 0;
	const char *err = NULL;
	int r = http_parser_finish(hc->parser, &st, &err);

	if (r == 1) {
		dispatch(hc);
		return true;
	}
	if (r < 0) {
		reply_parse_error(hc, st, err);
		return true;
	}
	if (conn_output_pending(hc->c) > 0) {
		/* The client half-closed; let the last reply go out first. */
		hc->closing = true;
		conn_close_after_drain(hc->c);
		return true;
	}
	hc_close(hc);
	return false;
}

/* Feeds buffered input to the parser and runs complete requests in order. */
static void
process_input(struct http_conn *hc)
{
	struct buf *in;
	size_t used;
	int r, st = 0;
	const char *err = NULL;

	while (hc->c != NULL && hc->req == NULL && !hc->closing) {
		in = conn_input(hc->c);
		if (in->len == 0) {
			if (hc->eof && !handle_eof(hc))
				return;
			break;
		}
		if (!http_parser_in_progress(hc->parser))
			hc->req_start = ev_now(hc->srv->loop);
		else if (ev_now(hc->srv->loop) - hc->req_start > hc->srv->s.request_timeout) {
			reply_parse_error(hc, 408, "request read timeout");
			break;
		}
		r = http_parser_feed(hc->parser, in->data, in->len, &used, &st, &err);
		buf_consume(in, used);
		if (r < 0) {
			reply_parse_error(hc, st, err);
			break;
		}
		if (r == 0) {
			maybe_continue(hc);
			continue;
		}
		dispatch(hc);
	}
	if (hc->c != NULL && hc->req == NULL && !hc->closing && !hc->eof)
		conn_resume_read(hc->c);
}

static void
conn_event(struct conn *c, enum conn_event ev, void *ud)
{
	struct http_conn *hc = ud;

	(void)c;
	switch (ev) {
	case CONN_EV_DATA_IN:
	case CONN_EV_DRAINED:
	case CONN_EV_TLS_READY: /* no TLS here; treated as a wake-up */
		if (hc->closing && ev == CONN_EV_DRAINED)
			return;
		process_input(hc);
		return;
	case CONN_EV_CLOSED:
		hc->eof = true;
		if (hc->closing) {
			/* A reply still being written keeps the socket; the
			 * connection reports CLOSED again once it is sent. */
			if (conn_output_pending(hc->c) == 0)
				hc_close(hc);
			return;
		}
		if (hc->req == NULL)
			process_input(hc);
		return;
	case CONN_EV_TIMEOUT:
		hc->srv->stats.timeouts++;
		log_debug(component(hc->srv), NULL, "timeout, closing %s",
		    conn_peer_text(hc->c));
		hc_close(hc);
		return;
	case CONN_EV_ERROR:
		hc_close(hc);
		return;
	}
}

static void
new_conn(struct http_server *srv, int fd, const struct sockaddr *sa,
    socklen_t len, size_t index)
{
	struct http_conn *hc = xcalloc(1, sizeof(*hc));
	struct http_limits lim = {
		.max_header_bytes = srv->s.max_header_bytes,
		.max_headers = srv->s.max_headers,
		.max_body = srv->s.max_body,
	};
	struct conn_settings cs = {
		.max_input = CONN_MAX_INPUT,
		.read_timeout = srv->s.timeout,
		.write_timeout = srv->s.timeout,
	};

	hc->srv = srv;
	hc->listener_index = index;
	hc->parser = http_parser_new(false, &lim);
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		int on = 1;

		/* Replies are written whole; never wait for a delayed ACK. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
	hc->c = conn_new(srv->loop, fd, sa, len, &cs, conn_event, hc);
	hc->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = hc;
	srv->conns = hc;
	srv->n_conns++;
	srv->stats.connections++;
}

static void
set_listening(struct http_server *srv, bool on)
{
	size_t i;

	for (i = 0; i < srv->n_listeners; i++) {
		if (on)
			ev_io_start(srv->loop, &srv->listeners[i].w);
		else
			ev_io_stop(srv->loop, &srv->listeners[i].w);
	}
}

static void
on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_server *srv = w->data;

	(void)loop;
	(void)revents;
	if (!srv->stopping)
		set_listening(srv, true);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_listener *l = w->data;
	struct http_server *srv = l->srv;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i;

	(void)loop;
	(void)revents;
	for (i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		len = sizeof(ss);
		fd = accept4(w->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: back off instead of spinning. */
				log_warn(component(srv), NULL, "accept: %s",
				    strerror(errno));
				set_listening(srv, false);
				ev_timer_set(&srv->backoff, ACCEPT_BACKOFF, 0.);
				ev_timer_start(srv->loop, &srv->backoff);
			}
			return;
		}
		if (srv->n_conns >= srv->s.max_connections) {
			close(fd);
			continue;
		}
		new_conn(srv, fd, (struct sockaddr *)&ss, len, l->index);
	}
}

struct http_server *
http_server_new(struct ev_loop *loop, const int *fds, size_t n_fds,
    const struct http_server_settings *s, http_handler_fn *handler, void *ud)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	size_t i;

	srv->loop = loop;
	if (s != NULL)
		srv->s = *s;
	if (srv->s.timeout <= 0)
		srv->s.timeout = 60.0;
	if (srv->s.request_timeout <= 0)
		srv->s.request_timeout = 4 * srv->s.timeout;
	if (srv->s.max_connections == 0)
		srv->s.max_connections = 10000;
	srv->handler = handler;
	srv->ud = ud;
	srv->n_listeners = n_fds;
	srv->listeners = xcalloc(n_fds + 1, sizeof(*srv->listeners));
	for (i = 0; i < n_fds; i++) {
		srv->listeners[i].srv = srv;
		srv->listeners[i].index = i;
		ev_io_init(&srv->listeners[i].w, on_accept, fds[i], EV_READ);
		srv->listeners[i].w.data = &srv->listeners[i];
	}
	ev_init(&srv->backoff, on_backoff);
	srv->backoff.data = srv;
	set_listening(srv, true);
	return srv;
}

void
http_server_free(struct http_server **srvp)
{
	struct http_server *srv = *srvp;
	struct http_conn *hc;

	if (srv == NULL)
		return;
	*srvp = NULL;
	set_listening(srv, false);
	ev_timer_stop(srv->loop, &srv->backoff);
	srv->done = NULL;
	while ((hc = srv->conns) != NULL) {
		if (hc->req != NULL) {
			/* Orphaned: the handler must not reply any more. */
			free_request(hc->req);
			hc->req = NULL;
		}
		hc_close(hc);
	}
	free(srv->listeners);
	free(srv);
}

void
http_server_stop_accepting(struct http_server *srv,
    void (*done)(struct http_server *srv, void *ud), void *ud)
{
	struct http_conn *hc, *next;

	srv->stopping = true;
	srv->done = done;
	srv->done_ud = ud;
	set_listening(srv, false);
	ev_timer_stop(srv->loop, &srv->backoff);
	/*
	 * Idle keep-alive connections may be closed at any time, clients
	 * expect that. A connection that has not yet sent its first request
	 * is different: closing it would fail a request the client has
	 * already committed to (during a reload, the old worker may have
	 * accepted it an instant before stopping). It gets its request
	 * answered, with "Connection: close", or meets the read timeout.
	 */
	for (hc = srv->conns; hc != NULL; hc = next) {
		next = hc->next;
		if (hc->req == NULL && hc->c != NULL && hc->n_requests > 0 &&
		    !http_parser_in_progress(hc->parser) &&
		    conn_output_pending(hc->c) == 0)
			hc_close(hc);
	}
	check_done(srv);
}

unsigned
http_server_active(const struct http_server *srv)
{
	return srv->n_conns;
}

void
http_server_get_stats(const struct http_server *srv, struct http_server_stats *r)
{
	*r = srv->stats;
	r->active = srv->n_conns;
}

/* Common tail of every reply: free the request, decide what comes next. */
static void
finish_request(struct http_conn *hc, struct http_request *req, bool keep)
{
	hc->srv->stats.inflight--;
	hc->req = NULL;
	free_request(req);
	http_parser_reset(hc->parser);
	if (hc->c == NULL) {
		hc_close(hc);
		return;
	}
	hc->n_requests++;
	if (!keep) {
		hc->closing = true;
		conn_close_after_drain(hc->c);
	}
	/* Pipelined input is picked up by process_input's loop (sync reply)
	 * or on CONN_EV_DRAINED (async reply). */
}

void
http_reply(struct http_request *req, int status, const char *reason,
    const char *content_type, const struct http_header *extra_headers,
    size_t n_extra, const void *body, size_t len)
{
	struct http_conn *hc = req->conn;
	bool keep = false;

	if (hc->c != NULL)
		keep = send_response(hc, req->msg, status, reason, content_type,
		    extra_headers, n_extra, body, len);
	finish_request(hc, req, keep);
}

void
http_reply_json_error(struct http_request *req, int status,
    const char *message, const char *domain)
{
	struct buf b;

	error_body(&b, message, domain);
	http_reply(req, status, message, "application/json", NULL, 0, b.data, b.len);
	buf_deinit(&b);
}

void
http_reply_raw(struct http_request *req, const void *bytes, size_t len, bool close)
{
	struct http_conn *hc = req->conn;
	bool keep = false;

	if (hc->c != NULL) {
		keep = !close && keep_alive_ok(hc, req->msg);
		if (conn_write(hc->c, bytes, len) < 0)
			keep = false;
	}
	finish_request(hc, req, keep);
}

bool
http_request_client_gone(const struct http_request *req)
{
	return req->conn->c == NULL;
}
