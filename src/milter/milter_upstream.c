/*
 * milter_upstream.c - a minimal asynchronous HTTP/1.1 client for the
 * proxy's upstream mode: one connection per message (Connection: close),
 * POST /checkv2 with the envelope as scan protocol headers, the reply
 * read with the HTTP response parser and the body parsed as JSON.
 *
 * The host is resolved with getaddrinfo() at request time; upstream hosts
 * are IP literals or "localhost" in practice, which resolve locally
 * without blocking on DNS.
 */
#include "milter/milter_upstream.h"
#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "http/http_parser.h"
#include "log/log.h"
#include "milter/milter_session.h"

#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct upstream_req {
	struct conn *conn;
	struct http_parser *parser;
	milter_upstream_done_fn *done;
	void *ud;
};

static void
finish(struct upstream_req *u, const struct http_message *m)
{
	struct obj *reply = NULL;
	char *err = NULL;

	if (m != NULL && m->status == 200 && m->body != NULL) {
		reply = ucl_parse_json(m->body, m->body_len, &err);
		if (reply == NULL)
			log_warn("proxy", NULL, "upstream reply is not JSON: %s", err);
		free(err);
	} else {
		log_warn("proxy", NULL, "upstream scan failed (status %d)", m != NULL ? m->status : 0);
	}
	u->done(reply, u->ud);
	obj_free(&reply);
	conn_free(&u->conn);
	http_parser_free(&u->parser);
	free(u);
}

static void
on_conn(struct conn *c, enum conn_event ev, void *ud)
{
	struct upstream_req *u = ud;
	struct buf *in = conn_input(c);
	size_t used = 0;
	int status = 0, r;
	const char *err = NULL;

	if (ev == CONN_EV_DATA_IN) {
		r = http_parser_feed(u->parser, in->data, in->len, &used, &status, &err);
		buf_consume(in, in->len);
		if (r == 1)
			finish(u, http_parser_message(u->parser));
		else if (r < 0)
			finish(u, NULL);
		return;
	}
	if (ev == CONN_EV_DRAINED)
		return;
	if (ev == CONN_EV_CLOSED &&
	    http_parser_finish(u->parser, &status, &err) == 1) {
		finish(u, http_parser_message(u->parser));
		return;
	}
	finish(u, NULL);
}

/* "host:port", "[v6]:port" -> a connecting non-blocking socket. */
static int
connect_to(const char *hostport, struct sockaddr_storage *ss, socklen_t *len_r)
{
	char host[256], *colon;
	struct addrinfo hints, *res = NULL;
	int fd;

	if (str_lcpy(host, hostport[0] == '[' ? hostport + 1 : hostport, sizeof(host)) >=
	    sizeof(host))
		return -1;
	colon = strrchr(host, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	if (colon > host && colon[-1] == ']')
		colon[-1] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0) {
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len_r = res->ai_addrlen;
	}
	freeaddrinfo(res);
	return fd;
}

static void
build_request(struct buf *out, const char *hostport, const struct milter_scan_request *req)
{
	buf_printf(out, "POST /checkv2 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
	    "Content-Length: %zu\r\n", hostport, req->len);
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];

		/* header values from the MTA must not split our request */
		if (memchr(h->value.ptr, '\r', h->value.len) != NULL ||
		    memchr(h->value.ptr, '\n', h->value.len) != NULL)
			continue;
		buf_append(out, h->name.ptr, h->name.len);
		buf_append(out, ": ", 2);
		buf_append(out, h->value.ptr, h->value.len);
		buf_append(out, "\r\n", 2);
	}
	buf_append(out, "\r\n", 2);
}

int
milter_upstream_scan(struct ev_loop *loop, const char *hostport, double timeout,
    const struct milter_scan_request *req, milter_upstream_done_fn *done, void *ud)
{
	struct upstream_req *u;
	struct conn_settings cs;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	struct buf head;
	struct iovec iov[2];
	int fd = connect_to(hostport, &ss, &sslen);

	if (fd < 0)
		return -1;
	u = xcalloc(1, sizeof(*u));
	memset(&cs, 0, sizeof(cs));
	cs.read_timeout = timeout;
	cs.write_timeout = timeout;
	u->done = done;
	u->ud = ud;
	u->parser = http_parser_new(true, NULL);
	u->conn = conn_new(loop, fd, (struct sockaddr *)&ss, sslen, &cs, on_conn, u);
	buf_init(&head, 0);
	build_request(&head, hostport, req);
	iov[0].iov_base = head.data;
	iov[0].iov_len = head.len;
	iov[1].iov_base = (void *)req->data;
	iov[1].iov_len = req->len;
	if (conn_writev(u->conn, iov, 2) < 0) {
		buf_deinit(&head);
		conn_free(&u->conn);
		http_parser_free(&u->parser);
		free(u);
		return -1;
	}
	buf_deinit(&head);
	return 0;
}
