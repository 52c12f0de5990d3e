/*
 * http_client.c - small poll()-driven HTTP/1.1 client for command-line
 * tools (rspamc, rspamadm).
 *
 * Every request is a job with its own socket and response parser; jobs are
 * advanced by one poll() loop (connect -> write head and body -> read until
 * the parser has a full response or the server closes). The blocking
 * http_client_request() is a batch of one. Name resolution uses
 * getaddrinfo() and blocks, which is fine for a CLI; each resolved
 * address is tried in turn until one connects.
 *
 * The server may answer and close before it has read our whole body (413,
 * 431): a failed write therefore switches to reading, and only when no
 * response can be read is the write error reported.
 */
#include "http/http_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/xmalloc.h"

#define CLIENT_DEFAULT_PARALLEL 8

enum cstate { CS_IDLE, CS_CONNECTING, CS_WRITING, CS_READING, CS_DONE };

struct cjob {
	struct http_client_job *job;
	enum cstate state;
	int fd;
	struct addrinfo *ai_list, *ai_cur;
	struct sockaddr_un sun;
	bool is_unix;
	struct buf head;
	size_t head_off, body_off;
	struct http_parser *parser;
	double deadline;
	int write_errno;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
http_client_response_free(struct http_client_response *resp)
{
	pool_free(&resp->pool);
	memset(resp, 0, sizeof(*resp));
}

const struct http_header *
http_client_response_header(const struct http_client_response *resp,
    const char *name)
{
	unsigned i;

	for (i = 0; i < resp->n_headers; i++)
		if (str_case_eq_cstr(resp->headers[i].name, name))
			return &resp->headers[i];
	return NULL;
}

static void
finish_job(struct cjob *cj, char *error)
{
	if (cj->fd >= 0)
		close(cj->fd);
	cj->fd = -1;
	if (cj->ai_list != NULL)
		freeaddrinfo(cj->ai_list);
	cj->ai_list = cj->ai_cur = NULL;
	buf_deinit(&cj->head);
	http_parser_free(&cj->parser);
	cj->state = CS_DONE;
	if (error != NULL) {
		cj->job->result = -1;
		cj->job->error = error;
	} else {
		cj->job->result = 0;
	}
}

/* Splits "host:port" / "[v6]:port" and resolves it. */
static int
resolve_target(struct cjob *cj, const char *target, char **error_r)
{
	struct addrinfo hints;
	char host[256];
	const char *colon, *hs, *he;
	int rc;

	if (target[0] == '/' || target[0] == '.') {
		if (strlen(target) >= sizeof(cj->sun.sun_path)) {
			*error_r = xasprintf("socket path too long: %s", target);
			return -1;
		}
		cj->sun.sun_family = AF_UNIX;
		str_lcpy(cj->sun.sun_path, target, sizeof(cj->sun.sun_path));
		cj->is_unix = true;
		return 0;
	}
	if (target[0] == '[') {
		hs = target + 1;
		he = strchr(target, ']');
		colon = he != NULL && he[1] == ':' ? he + 1 : NULL;
	} else {
		hs = target;
		colon = he = strrchr(target, ':');
	}
	if (colon == NULL || he == hs || (size_t)(he - hs) >= sizeof(host) ||
	    colon[1] == '\0') {
		*error_r = xasprintf("bad target '%s' (need host:port or a socket path)", target);
		return -1;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, colon + 1, &hints, &cj->ai_list);
	if (rc != 0) {
		*error_r = xasprintf("cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	cj->ai_cur = cj->ai_list;
	return 0;
}

static bool
has_header(const struct http_client_job *job, const char *name)
{
	size_t i;

	for (i = 0; i < job->n_headers; i++)
		if (str_case_eq_cstr(job->headers[i].name, name))
			return true;
	return false;
}

static void
build_head(struct cjob *cj)
{
	const struct http_client_job *job = cj->job;
	const char *method = job->method != NULL ? job->method : "GET";
	size_t i;

	buf_init(&cj->head, 0);
	buf_printf(&cj->head, "%s %s HTTP/1.%d\r\n", method,
	    job->path != NULL ? job->path : "/", job->http10 ? 0 : 1);
	if (!job->http10 && !has_header(job, "Host"))
		buf_printf(&cj->head, "Host: %s\r\n",
		    cj->is_unix ? "localhost" : job->target);
	if (!has_header(job, "Connection"))
		buf_append_cstr(&cj->head, "Connection: close\r\n");
	if (!has_header(job, "Content-Length") &&
	    (job->body_len > 0 || strcmp(method, "GET") != 0))
		buf_printf(&cj->head, "Content-Length: %zu\r\n", job->body_len);
	for (i = 0; i < job->n_headers; i++) {
		buf_append(&cj->head, job->headers[i].name.ptr, job->headers[i].name.len);
		buf_append(&cj->head, ": ", 2);
		buf_append(&cj->head, job->headers[i].value.ptr, job->headers[i].value.len);
		buf_append(&cj->head, "\r\n", 2);
	}
	buf_append(&cj->head, "\r\n", 2);
}

/* Starts a non-blocking connect to the next address; -1 when none left. */
static int
try_connect(struct cjob *cj, char **error_r)
{
	const struct sockaddr *sa;
	socklen_t len;
	int family, err = ECONNREFUSED;

	for (;;) {
		if (cj->is_unix) {
			if (cj->fd == -2)
				break;
			sa = (const struct sockaddr *)&cj->sun;
			len = sizeof(cj->sun);
			family = AF_UNIX;
		} else {
			if (cj->ai_cur == NULL)
				break;
			sa = cj->ai_cur->ai_addr;
			len = cj->ai_cur->ai_addrlen;
			family = cj->ai_cur->ai_family;
			cj->ai_cur = cj->ai_cur->ai_next;
		}
		cj->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (cj->fd >= 0 && family != AF_UNIX) {
			int on = 1;

			/* Head and body go out as separate sends: no Nagle wait. */
			(void)setsockopt(cj->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		}
		if (cj->fd >= 0) {
			if (connect(cj->fd, sa, len) == 0 || errno == EINPROGRESS) {
				cj->state = CS_CONNECTING;
				return 0;
			}
			err = errno;
			close(cj->fd);
		} else {
			err = errno;
		}
		cj->fd = cj->is_unix ? -2 : -1;
	}
	cj->fd = -1;
	*error_r = xasprintf("cannot connect to %s: %s", cj->job->target, strerror(err));
	return -1;
}

static void
start_job(struct cjob *cj, struct http_client_job *job)
{
	char *error = NULL;

	memset(cj, 0, sizeof(*cj));
	cj->job = job;
	cj->fd = -1;
	memset(&job->resp, 0, sizeof(job->resp));
	job->error = NULL;
	cj->deadline = now_s() + (job->timeout_s > 0 ? job->timeout_s : 60.0);
	buf_init(&cj->head, 0);
	if (resolve_target(cj, job->target, &error) < 0 ||
	    try_connect(cj, &error) < 0) {
		finish_job(cj, error);
		return;
	}
	build_head(cj);
	cj->parser = http_parser_new(true, NULL);
	if (job->method != NULL && strcmp(job->method, "HEAD") == 0)
		http_parser_set_no_body(cj->parser);
}

static int
copy_response(struct cjob *cj)
{
	const struct http_message *m = http_parser_message(cj->parser);
	struct http_client_response *r = &cj->job->resp;
	unsigned i;

	r->pool = pool_new(0);
	r->status = m->status;
	r->version_minor = m->version_minor;
	r->reason = str_make(pool_memdup(r->pool, m->reason.ptr, m->reason.len),
	    m->reason.len);
	r->headers = pool_calloc(r->pool, m->n_headers + 1, sizeof(*r->headers));
	for (i = 0; i < m->n_headers; i++) {
		const struct http_header *h = &m->headers[i];

		r->headers[i].name = str_make(pool_strndup(r->pool, h->name.ptr,
		    h->name.len), h->name.len);
		r->headers[i].value = str_make(pool_strndup(r->pool, h->value.ptr,
		    h->value.len), h->value.len);
	}
	r->n_headers = m->n_headers;
	r->body = pool_strndup(r->pool, m->body != NULL ? m->body : "", m->body_len);
	r->body_len = m->body_len;
	return 0;
}

static void
on_connected(struct cjob *cj)
{
	int err = 0;
	socklen_t len = sizeof(err);
	char *error = NULL;

	if (getsockopt(cj->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		cj->state = CS_WRITING;
		return;
	}
	close(cj->fd);
	cj->fd = cj->is_unix ? -2 : -1;
	if (try_connect(cj, &error) < 0) {
		free(error);
		finish_job(cj, xasprintf("cannot connect to %s: %s", cj->job->target,
		    strerror(err)));
	}
}

static void
do_write(struct cjob *cj)
{
	const struct http_client_job *job = cj->job;
	const char *p;
	size_t left;
	ssize_t n;

	for (;;) {
		if (cj->head_off < cj->head.len) {
			p = cj->head.data + cj->head_off;
			left = cj->head.len - cj->head_off;
		} else if (cj->body_off < job->body_len) {
			p = (const char *)job->body + cj->body_off;
			left = job->body_len - cj->body_off;
		} else {
			cj->state = CS_READING;
			return;
		}
		n = send(cj->fd, p, left, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			/* The server may have answered early: read it. */
			cj->write_errno = errno;
			cj->state = CS_READING;
			return;
		}
		if (cj->head_off < cj->head.len)
			cj->head_off += (size_t)n;
		else
			cj->body_off += (size_t)n;
	}
}

static void
read_eof(struct cjob *cj)
{
	int st;
	const char *err;
	int r = http_parser_finish(cj->parser, &st, &err);

	if (r == 1) {
		copy_response(cj);
		finish_job(cj, NULL);
	} else if (cj->write_errno != 0) {
		finish_job(cj, xasprintf("write error to %s: %s", cj->job->target,
		    strerror(cj->write_errno)));
	} else {
		finish_job(cj, xasprintf("bad reply from %s: %s", cj->job->target,
		    r == 0 ? "connection closed without a reply" : err));
	}
}

/* Feeds received bytes; interim 1xx responses are skipped. Returns 1
 * when the job finished. */
static int
feed_reply(struct cjob *cj, const char *data, size_t len)
{
	size_t used;
	int st, r;
	const char *err;

	while (len > 0) {
		r = http_parser_feed(cj->parser, data, len, &used, &st, &err);
		if (r < 0) {
			finish_job(cj, xasprintf("bad reply from %s: %s", cj->job->target, err));
			return 1;
		}
		if (r == 0)
			return 0;
		if (http_parser_message(cj->parser)->status >= 200) {
			copy_response(cj);
			finish_job(cj, NULL);
			return 1;
		}
		http_parser_reset(cj->parser);
		data += used;
		len -= used;
	}
	return 0;
}

static void
do_read(struct cjob *cj)
{
	char data[65536];
	ssize_t n;

	for (;;) {
		n = read(cj->fd, data, sizeof(data));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (n < 0 && cj->write_errno == 0)
				cj->write_errno = errno;
			read_eof(cj);
			return;
		}
		if (feed_reply(cj, data, (size_t)n))
			return;
	}
}

static void
advance(struct cjob *cj, short revents)
{
	if (cj->state == CS_CONNECTING && revents != 0)
		on_connected(cj);
	if (cj->state == CS_WRITING && (revents & (POLLOUT | POLLERR | POLLHUP)))
		do_write(cj);
	if (cj->state == CS_READING && (revents & (POLLIN | POLLERR | POLLHUP)))
		do_read(cj);
	if (cj->state != CS_DONE && now_s() >= cj->deadline)
		finish_job(cj, xasprintf("timeout talking to %s", cj->job->target));
}

static short
wanted_events(const struct cjob *cj)
{
	return cj->state == CS_READING ? POLLIN : POLLOUT;
}

size_t
http_client_run_many(struct http_client_job *jobs, size_t n,
    unsigned max_parallel,
    void (*done)(struct http_client_job *job, void *ud), void *ud)
{
	struct cjob *cjs;
	struct pollfd *pfds;
	size_t next = 0, active = 0, failed = 0, i, k;
	double t, wait;

	if (max_parallel == 0)
		max_parallel = CLIENT_DEFAULT_PARALLEL;
	if (max_parallel > n)
		max_parallel = (unsigned)(n > 0 ? n : 1);
	cjs = xcalloc(max_parallel, sizeof(*cjs));
	pfds = xcalloc(max_parallel, sizeof(*pfds));
	for (i = 0; i < max_parallel; i++)
		cjs[i].state = CS_IDLE;
	while (next < n || active > 0) {
		/* fill free slots, reap finished ones */
		for (i = 0; i < max_parallel; i++) {
			if (cjs[i].state == CS_DONE) {
				failed += cjs[i].job->result < 0;
				active--;
				cjs[i].state = CS_IDLE;
				if (done != NULL)
					done(cjs[i].job, ud);
			}
			if (cjs[i].state == CS_IDLE && next < n) {
				start_job(&cjs[i], &jobs[next++]);
				active++;
				i--; /* it may have finished at once */
			}
		}
		if (active == 0)
			continue;
		t = now_s();
		wait = 1.0;
		for (i = 0, k = 0; i < max_parallel; i++) {
			pfds[i].fd = cjs[i].state > CS_IDLE && cjs[i].state < CS_DONE ?
			    cjs[i].fd : -1;
			pfds[i].events = wanted_events(&cjs[i]);
			pfds[i].revents = 0;
			if (pfds[i].fd >= 0) {
				k++;
				if (cjs[i].deadline - t < wait)
					wait = cjs[i].deadline - t;
			}
		}
		if (k > 0)
			(void)poll(pfds, max_parallel, wait > 0 ? (int)(wait * 1000) + 1 : 0);
		for (i = 0; i < max_parallel; i++)
			if (pfds[i].fd >= 0)
				advance(&cjs[i], pfds[i].revents);
	}
	free(cjs);
	free(pfds);
	return failed;
}

int
http_client_request(const char *hostport_or_unix_path, double timeout_s,
    const char *method, const char *path,
    const struct http_header *headers, size_t n,
    const void *body, size_t len,
    struct http_client_response *resp_r, char **error_r)
{
	struct http_client_job job;

	memset(&job, 0, sizeof(job));
	job.target = hostport_or_unix_path;
	job.timeout_s = timeout_s;
	job.method = method;
	job.path = path;
	job.headers = headers;
	job.n_headers = n;
	job.body = body;
	job.body_len = len;
	(void)http_client_run_many(&job, 1, 1, NULL, NULL);
	if (job.result < 0) {
		*error_r = job.error;
		memset(resp_r, 0, sizeof(*resp_r));
		return -1;
	}
	*resp_r = job.resp;
	return 0;
}
