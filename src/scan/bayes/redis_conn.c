/*
 * redis_conn.c - a Redis client connection on a worker's libev loop
 * (hiredis async API with its header-only libev adapter).
 *
 * States: CONNECTING (socket set up, AUTH/SELECT/PING in flight), READY,
 * DOWN (waiting for the backoff timer). Commands submitted while
 * CONNECTING or READY go straight to hiredis, which queues them behind the
 * setup commands; commands submitted while DOWN fail on the next loop
 * iteration, so a scanner whose Redis is gone does not wait out a timeout
 * per message.
 *
 * Ownership rules that keep hiredis's callbacks safe:
 *   - a request handed to hiredis (in_hiredis) is freed only by its hiredis
 *     callback, which hiredis always calls (with a NULL reply when the
 *     context dies); a cancelled or timed-out one stays as an orphan
 *     (cb == NULL) until then;
 *   - every request that still points at the connection is on conn->reqs,
 *     so redis_conn_free() can detach them (req->conn = NULL);
 *   - every entry from the loop (timers, hiredis callbacks) holds the
 *     connection with depth++, and a user callback that frees the
 *     connection only marks it: the memory goes when depth drops to 0;
 *   - hiredis contexts are freed by us only outside onConnect and
 *     onDisconnect (hiredis 0.14 does not guard those), and contexts that
 *     hiredis frees itself (connect error, server closed) are detached
 *     first (ac->data = NULL) so their late callbacks are ignored.
 */
#include "scan/bayes/redis_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>

#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"

#define REDIS_BACKOFF_MIN 0.1
#define REDIS_BACKOFF_MAX 2.0
#define REDIS_DEFAULT_PORT 6379

enum redis_conn_state {
	REDIS_CONN_CONNECTING,
	REDIS_CONN_READY,
	REDIS_CONN_DOWN,
};

struct redis_req {
	struct redis_req *prev, *next; /* on conn->reqs while conn != NULL */
	struct redis_conn *conn;       /* NULL once the connection is freed */
	redis_conn_reply_cb *cb;       /* NULL: cancelled or already answered */
	void *ud;
	ev_timer timer;                /* command timeout, or the DOWN failure */
	bool in_hiredis;
};

struct redis_conn {
	struct ev_loop *loop;
	struct redis_conn_settings set;
	char name[300];
	redisAsyncContext *ac;
	enum redis_conn_state state;
	ev_timer connect_timer;
	ev_timer retry_timer;
	double backoff;
	unsigned setup_pending;
	unsigned depth;   /* loop entries in progress */
	bool freed;       /* redis_conn_free() called */
	bool down_logged; /* one warning per outage */
	struct redis_req *reqs;
};

static void conn_connect(struct redis_conn *conn);

static void
conn_enter(struct redis_conn *conn)
{
	conn->depth++;
}

static void
conn_leave(struct redis_conn *conn)
{
	ASSERT(conn->depth > 0);
	if (--conn->depth == 0 && conn->freed) {
		redis_conn_settings_deinit(&conn->set);
		free(conn);
	}
}

static void
req_link(struct redis_conn *conn, struct redis_req *req)
{
	req->prev = NULL;
	req->next = conn->reqs;
	if (conn->reqs != NULL)
		conn->reqs->prev = req;
	conn->reqs = req;
}

static void
req_unlink(struct redis_conn *conn, struct redis_req *req)
{
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		conn->reqs = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
}

/* Forget the current context (it is dying) and plan the next attempt. */
static void
conn_lost(struct redis_conn *conn, const redisAsyncContext *ac, const char *why)
{
	if (conn->ac == NULL || conn->ac != ac)
		return;
	conn->ac->data = NULL;
	conn->ac = NULL;
	ev_timer_stop(conn->loop, &conn->connect_timer);
	if (conn->state == REDIS_CONN_READY)
		conn->backoff = REDIS_BACKOFF_MIN;
	conn->state = REDIS_CONN_DOWN;
	if (!conn->down_logged) {
		log_warn("redis", conn->name, "connection failed: %s; retrying", why);
		conn->down_logged = true;
	} else {
		log_debug("redis", conn->name, "connection failed: %s", why);
	}
	ev_timer_set(&conn->retry_timer, conn->backoff, 0.);
	ev_timer_start(conn->loop, &conn->retry_timer);
	conn->backoff = MIN(conn->backoff * 2, REDIS_BACKOFF_MAX);
}

/*
 * Drop the current context on our own initiative. Its pending commands
 * fail (their callbacks run inside redisAsyncFree, or right after the
 * current hiredis callback returns).
 */
static void
conn_drop(struct redis_conn *conn, const char *why)
{
	redisAsyncContext *ac = conn->ac;

	if (ac == NULL)
		return;
	conn_lost(conn, ac, why);
	redisAsyncFree(ac);
}

static void
conn_on_connect(const redisAsyncContext *ac, int status)
{
	struct redis_conn *conn = ac->data;

	/* On success the setup replies say when we are ready; on failure
	 * hiredis frees the context itself after we return. */
	if (conn == NULL || status == REDIS_OK)
		return;
	conn_enter(conn);
	conn_lost(conn, ac, ac->errstr != NULL ? ac->errstr : "connect failed");
	conn_leave(conn);
}

static void
conn_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis_conn *conn = ac->data;

	UNUSED(status);
	if (conn == NULL)
		return;
	conn_enter(conn);
	conn_lost(conn, ac, ac->errstr != NULL && ac->err != 0 ? ac->errstr : "server closed");
	conn_leave(conn);
}

static void
conn_hiredis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redis_req *req = privdata;
	struct redis_conn *conn = req->conn;
	redis_conn_reply_cb *cb = req->cb;
	void *ud = req->ud;

	if (conn != NULL) {
		req_unlink(conn, req);
		ev_timer_stop(conn->loop, &req->timer);
	}
	free(req);
	if (conn == NULL)
		return;
	conn_enter(conn);
	if (r == NULL)
		conn_lost(conn, ac, ac->errstr != NULL && ac->err != 0 ? ac->errstr : "connection lost");
	if (cb != NULL && !conn->freed)
		cb(r != NULL ? 0 : -1, r, ud);
	conn_leave(conn);
}

static void
req_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct redis_req *req = w->data;
	struct redis_conn *conn = req->conn;
	redis_conn_reply_cb *cb = req->cb;
	void *ud = req->ud;

	UNUSED(loop);
	UNUSED(revents);
	req->cb = NULL;
	conn_enter(conn);
	if (!req->in_hiredis) {
		/* failed while DOWN: nobody else holds it */
		req_unlink(conn, req);
		free(req);
	} else {
		log_warn("redis", conn->name, "command timed out after %.3f s",
		    conn->set.command_timeout);
		/* may free req (its hiredis callback runs with NULL) */
		conn_drop(conn, "command timeout");
	}
	if (cb != NULL && !conn->freed)
		cb(-1, NULL, ud);
	conn_leave(conn);
}

static void
connect_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct redis_conn *conn = w->data;

	UNUSED(loop);
	UNUSED(revents);
	conn_enter(conn);
	conn_drop(conn, "connect timeout");
	conn_leave(conn);
}

static void
retry_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct redis_conn *conn = w->data;

	UNUSED(loop);
	UNUSED(revents);
	conn_enter(conn);
	conn_connect(conn);
	conn_leave(conn);
}

static void
conn_setup_reply(int rc, const redisReply *reply, void *ud)
{
	struct redis_conn *conn = ud;

	if (rc != 0)
		return; /* the connection is already being retried */
	if (reply->type == REDIS_REPLY_ERROR) {
		log_error("redis", conn->name, "setup refused: %.*s", (int)reply->len, reply->str);
		conn_drop(conn, "setup refused");
		return;
	}
	if (--conn->setup_pending > 0)
		return;
	ev_timer_stop(conn->loop, &conn->connect_timer);
	conn->state = REDIS_CONN_READY;
	conn->backoff = REDIS_BACKOFF_MIN;
	if (conn->down_logged)
		log_info("redis", conn->name, "connection restored");
	conn->down_logged = false;
}

/* AUTH, SELECT, or a PING when neither is needed: the last reply means ready. */
static void
conn_send_setup(struct redis_conn *conn)
{
	char dbbuf[24];
	const char *argv[3];
	size_t lens[3];
	int argc = 1;

	conn->setup_pending = 0;
	if (conn->set.password != NULL) {
		argv[0] = "AUTH";
		lens[0] = 4;
		if (conn->set.username != NULL) {
			argv[argc] = conn->set.username;
			lens[argc++] = strlen(conn->set.username);
		}
		argv[argc] = conn->set.password;
		lens[argc] = strlen(conn->set.password);
		argc++;
		conn->setup_pending++;
		redis_conn_command(conn, argc, argv, lens, conn_setup_reply, conn);
	}
	if (conn->set.db != 0 && str_format(dbbuf, sizeof(dbbuf), "%d", conn->set.db) > 0) {
		argv[0] = "SELECT";
		argv[1] = dbbuf;
		lens[0] = 6;
		lens[1] = strlen(dbbuf);
		conn->setup_pending++;
		redis_conn_command(conn, 2, argv, lens, conn_setup_reply, conn);
	}
	if (conn->setup_pending == 0) {
		argv[0] = "PING";
		lens[0] = 4;
		conn->setup_pending++;
		redis_conn_command(conn, 1, argv, lens, conn_setup_reply, conn);
	}
}

static void
conn_connect(struct redis_conn *conn)
{
	redisAsyncContext *ac;

	if (conn->set.socket_path != NULL)
		ac = redisAsyncConnectUnix(conn->set.socket_path);
	else
		ac = redisAsyncConnect(conn->set.host, conn->set.port);
	conn->state = REDIS_CONN_CONNECTING;
	if (ac == NULL || ac->err != 0) {
		/* pretend it was attached so conn_lost() schedules the retry */
		conn->ac = ac;
		if (ac != NULL) {
			ac->data = conn;
			conn_lost(conn, ac, ac->errstr);
			redisAsyncFree(ac);
		} else {
			conn->state = REDIS_CONN_DOWN;
			ev_timer_set(&conn->retry_timer, conn->backoff, 0.);
			ev_timer_start(conn->loop, &conn->retry_timer);
		}
		return;
	}
	ac->data = conn;
	conn->ac = ac;
	redisLibevAttach(conn->loop, ac);
	redisAsyncSetConnectCallback(ac, conn_on_connect);
	redisAsyncSetDisconnectCallback(ac, conn_on_disconnect);
	ev_timer_set(&conn->connect_timer, conn->set.connect_timeout, 0.);
	ev_timer_start(conn->loop, &conn->connect_timer);
	conn_send_setup(conn);
}

struct redis_conn *
redis_conn_new(struct ev_loop *loop, const struct redis_conn_settings *s)
{
	struct redis_conn *conn = xcalloc(1, sizeof(*conn));

	conn->loop = loop;
	redis_conn_settings_copy(&conn->set, s);
	if (conn->set.connect_timeout <= 0)
		conn->set.connect_timeout = 1.0;
	if (conn->set.command_timeout <= 0)
		conn->set.command_timeout = 1.0;
	if (conn->set.socket_path != NULL)
		str_lcpy(conn->name, conn->set.socket_path, sizeof(conn->name));
	else if (str_format(conn->name, sizeof(conn->name), "%s:%d", conn->set.host,
	    conn->set.port) < 0)
		str_lcpy(conn->name, conn->set.host, sizeof(conn->name));
	conn->backoff = REDIS_BACKOFF_MIN;
	ev_timer_init(&conn->connect_timer, connect_timer_cb, 0., 0.);
	conn->connect_timer.data = conn;
	ev_timer_init(&conn->retry_timer, retry_timer_cb, 0., 0.);
	conn->retry_timer.data = conn;
	conn_enter(conn);
	conn_connect(conn);
	conn_leave(conn);
	return conn;
}

void
redis_conn_free(struct redis_conn **connp)
{
	struct redis_conn *conn = *connp;
	redisAsyncContext *ac;

	if (conn == NULL)
		return;
	*connp = NULL;
	conn_enter(conn);
	conn->freed = true;
	ev_timer_stop(conn->loop, &conn->connect_timer);
	ev_timer_stop(conn->loop, &conn->retry_timer);
	while (conn->reqs != NULL) {
		struct redis_req *req = conn->reqs;

		req_unlink(conn, req);
		ev_timer_stop(conn->loop, &req->timer);
		req->conn = NULL;
		req->cb = NULL;
		if (!req->in_hiredis)
			free(req);
	}
	ac = conn->ac;
	conn->ac = NULL;
	if (ac != NULL) {
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	conn_leave(conn);
}

const char *
redis_conn_name(const struct redis_conn *conn)
{
	return conn->name;
}

bool
redis_conn_is_ready(const struct redis_conn *conn)
{
	return conn->state == REDIS_CONN_READY;
}

struct redis_req *
redis_conn_command(struct redis_conn *conn, int argc, const char **argv,
    const size_t *argvlen, redis_conn_reply_cb *cb, void *ud)
{
	struct redis_req *req = xcalloc(1, sizeof(*req));
	double after = 0.;

	req->conn = conn;
	req->cb = cb;
	req->ud = ud;
	if (conn->ac != NULL && conn->state != REDIS_CONN_DOWN &&
	    redisAsyncCommandArgv(conn->ac, conn_hiredis_reply, req, argc, argv,
	    argvlen) == REDIS_OK) {
		req->in_hiredis = true;
		after = conn->set.command_timeout;
	}
	req_link(conn, req);
	ev_timer_init(&req->timer, req_timer_cb, after, 0.);
	req->timer.data = req;
	ev_timer_start(conn->loop, &req->timer);
	return req;
}

void
redis_conn_cancel(struct redis_conn *conn, struct redis_req *req)
{
	if (req == NULL || req->conn != conn)
		return;
	req->cb = NULL;
	ev_timer_stop(conn->loop, &req->timer);
	if (!req->in_hiredis) {
		req_unlink(conn, req);
		free(req);
	}
}

/* First entry of a "a, b c;d" list. */
static struct str
first_server(const struct obj *servers)
{
	const struct obj *it = NULL;
	const struct obj *v = obj_iter_values(servers, &it);
	const char *s = v != NULL ? obj_get_string(v) : NULL;
	struct str str = str_trim(str_from_cstr(s));
	size_t n = 0;

	while (n < str.len && str.ptr[n] != ',' && str.ptr[n] != ';' && !ascii_isspace(str.ptr[n]))
		n++;
	return str_slice(str, 0, n);
}

static int
parse_port(struct str p, int *port_r)
{
	uint64_t v;

	if (str_to_u64(p, &v) < 0 || v == 0 || v > 65535)
		return -1;
	*port_r = (int)v;
	return 0;
}

int
redis_conn_parse_server(const struct obj *servers, struct redis_conn_settings *s,
    const char **error_r)
{
	struct str str = first_server(servers);
	struct str host = str;
	ptrdiff_t colon;
	int port = REDIS_DEFAULT_PORT;

	if (str.len == 0) {
		*error_r = "no redis server given";
		return -1;
	}
	if (str.ptr[0] == '/') {
		s->socket_path = xstrndup(str.ptr, str.len);
		return 0;
	}
	if (str.ptr[0] == '[') {
		ptrdiff_t close = str_find_chr(str, ']');

		if (close < 0) {
			*error_r = "bad redis server address (no ']')";
			return -1;
		}
		host = str_slice(str, 1, (size_t)close - 1);
		str = str_slice(str, (size_t)close + 1, str.len - (size_t)close - 1);
		if (str.len > 0 && (str.ptr[0] != ':' ||
		    parse_port(str_slice(str, 1, str.len - 1), &port) < 0)) {
			*error_r = "bad redis server port";
			return -1;
		}
	} else if ((colon = str_find_chr(str, ':')) >= 0 &&
	    str_find_chr(str_slice(str, (size_t)colon + 1, str.len - (size_t)colon - 1), ':') < 0) {
		host = str_slice(str, 0, (size_t)colon);
		if (parse_port(str_slice(str, (size_t)colon + 1, str.len - (size_t)colon - 1),
		    &port) < 0) {
			*error_r = "bad redis server port";
			return -1;
		}
	}
	if (host.len == 0) {
		*error_r = "empty redis server host";
		return -1;
	}
	s->host = xstrndup(host.ptr, host.len);
	s->port = port;
	return 0;
}

void
redis_conn_settings_deinit(struct redis_conn_settings *s)
{
	free(s->host);
	free(s->socket_path);
	free(s->username);
	if (s->password != NULL) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	memset(s, 0, sizeof(*s));
}

void
redis_conn_settings_copy(struct redis_conn_settings *dst,
    const struct redis_conn_settings *src)
{
	*dst = *src;
	dst->host = src->host != NULL ? xstrdup(src->host) : NULL;
	dst->socket_path = src->socket_path != NULL ? xstrdup(src->socket_path) : NULL;
	dst->username = src->username != NULL ? xstrdup(src->username) : NULL;
	dst->password = src->password != NULL ? xstrdup(src->password) : NULL;
}
