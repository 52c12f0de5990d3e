/*
 * users_pgsql.c - the PostgreSQL backend, for sites whose users already
 * live in a Postfix/Dovecot SQL database or that run several mail nodes.
 *
 * With a loop (workers), libpq runs non-blocking: PQconnectStart/
 * PQconnectPoll and PQsendQueryParams/PQconsumeInput driven by an ev_io on
 * the connection's socket, one connection, queries queued in order. Each
 * connect and each query is bounded by query_timeout (an ev_timer). When
 * the connection breaks while a query is in flight it is re-established
 * and the query re-sent once (lookups are read-only SELECTs, so a retry is
 * harmless); a failed connect fails the queued lookups with a temporary
 * error and the next lookup tries again, so a restarted database heals
 * without a worker restart.
 *
 * Without a loop (rspamadm) and for the admin statements, a separate
 * blocking connection runs PQexecParams.
 *
 * Values always travel as bind parameters. Lookup parameters are typed
 * text, so a query may use any subset of $1..$3; admin parameters are left
 * untyped so the server can coerce '1024' into a bigint column.
 */
#include "users/users_internal.h"

#include <ev.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"

#define TEXT_OID 25

enum pg_state {
	PG_DOWN,
	PG_CONNECTING,
	PG_IDLE,
	PG_BUSY,
};

struct pg_query {
	struct pg_query *next;
	struct users_req *req; /* NULL once cancelled */
	enum users_query q;
	char *params[USERS_NPARAMS];
	bool retried;
};

struct pg_backend {
	struct users_backend base;
	char *conninfo;
	char *queries[USERS_Q_COUNT];
	int nparams[USERS_Q_COUNT];
	struct ev_loop *loop;
	double timeout;
	/* asynchronous connection */
	PGconn *conn;
	enum pg_state state;
	ev_io io;
	ev_timer timer;
	struct pg_query *head, *tail; /* head is in flight when PG_BUSY */
	int result_status;            /* 0 ok, -1 error, for the head */
	struct users_rows result;
	/* blocking connection (admin, or lookups without a loop) */
	PGconn *bconn;
};

static void pg_connect(struct pg_backend *pg);

/* A libpq message without its trailing newlines, for one log line (static
 * buffer: workers are single-threaded). */
static const char *
pg_msg(const char *m)
{
	static char buf[512];
	size_t len;

	str_lcpy(buf, m != NULL ? m : "", sizeof(buf));
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	return buf;
}
static void pg_send(struct pg_backend *pg);

static void
rows_from_result(const PGresult *res, struct users_rows *rows)
{
	int nr = PQntuples(res), nc = PQnfields(res);

	rows->nrows = (size_t)nr;
	rows->ncols = (size_t)nc;
	rows->cells = nr > 0 && nc > 0 ?
	    xcalloc((size_t)nr * (size_t)nc, sizeof(char *)) : NULL;
	for (int r = 0; r < nr; r++)
		for (int c = 0; c < nc; c++)
			if (!PQgetisnull(res, r, c))
				rows->cells[(size_t)r * (size_t)nc + (size_t)c] =
				    xstrdup(PQgetvalue(res, r, c));
}

static void
query_free(struct pg_query *pq)
{
	for (size_t i = 0; i < USERS_NPARAMS; i++)
		free(pq->params[i]);
	free(pq);
}

/* Pops the head and hands its answer to its request (if still wanted). */
static void
pg_complete_head(struct pg_backend *pg, int status)
{
	struct pg_query *pq = pg->head;
	struct users_rows rows = pg->result;

	pg->result = (struct users_rows){ 0 };
	pg->head = pq->next;
	if (pg->head == NULL)
		pg->tail = NULL;
	if (pq->req != NULL)
		users_req_answer(pq->req, status, &rows);
	users_rows_free(&rows);
	query_free(pq);
}

static void
pg_watch(struct pg_backend *pg, int events)
{
	ev_io_stop(pg->loop, &pg->io);
	ev_io_set(&pg->io, PQsocket(pg->conn), events);
	ev_io_start(pg->loop, &pg->io);
}

static void
pg_timer_start(struct pg_backend *pg)
{
	ev_timer_stop(pg->loop, &pg->timer);
	ev_timer_set(&pg->timer, pg->timeout, 0.0);
	ev_timer_start(pg->loop, &pg->timer);
}

static void
pg_drop_conn(struct pg_backend *pg)
{
	ev_io_stop(pg->loop, &pg->io);
	ev_timer_stop(pg->loop, &pg->timer);
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->state = PG_DOWN;
	users_rows_free(&pg->result);
}

/* Fails every queued lookup with a temporary error. */
static void
pg_fail_all(struct pg_backend *pg)
{
	while (pg->head != NULL)
		pg_complete_head(pg, -1);
}

/*
 * The connection is unusable (reason logged). A query in flight is re-sent
 * once over a new connection; a second failure fails the queue.
 */
static void
pg_broken(struct pg_backend *pg, const char *what, bool retry)
{
	log_warn(USERS_LOG, NULL, "pgsql: %s: %s", what,
	    pg_msg(pg->conn != NULL ? PQerrorMessage(pg->conn) :
	    "no connection"));
	pg_drop_conn(pg);
	if (pg->head == NULL)
		return;
	if (retry && !pg->head->retried) {
		pg->head->retried = true;
		pg_connect(pg);
		return;
	}
	pg_complete_head(pg, -1);
	if (pg->head != NULL && pg->state == PG_DOWN)
		pg_connect(pg);
}

static void
pg_connect_poll(struct pg_backend *pg)
{
	switch (PQconnectPoll(pg->conn)) {
	case PGRES_POLLING_READING:
		pg_watch(pg, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		pg_watch(pg, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		ev_io_stop(pg->loop, &pg->io);
		ev_timer_stop(pg->loop, &pg->timer);
		pg->state = PG_IDLE;
		pg_send(pg);
		break;
	default:
		log_warn(USERS_LOG, NULL, "pgsql: connect: %s",
		    pg_msg(PQerrorMessage(pg->conn)));
		pg_drop_conn(pg);
		pg_fail_all(pg);
		break;
	}
}

static void
pg_connect(struct pg_backend *pg)
{
	pg->conn = PQconnectStart(pg->conninfo);
	if (pg->conn == NULL || PQstatus(pg->conn) == CONNECTION_BAD ||
	    PQsetnonblocking(pg->conn, 1) != 0) {
		log_warn(USERS_LOG, NULL, "pgsql: connect: %s",
		    pg_msg(pg->conn != NULL ? PQerrorMessage(pg->conn) :
		    "out of memory"));
		pg_drop_conn(pg);
		pg_fail_all(pg);
		return;
	}
	pg->state = PG_CONNECTING;
	pg_timer_start(pg);
	pg_watch(pg, EV_WRITE);
}

/* Sends the head query when the connection is idle. */
static void
pg_send(struct pg_backend *pg)
{
	struct pg_query *pq = pg->head;
	const Oid types[USERS_NPARAMS] = { TEXT_OID, TEXT_OID, TEXT_OID };
	int flush;

	if (pg->state != PG_IDLE || pq == NULL)
		return;
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		pg_broken(pg, "idle connection", true);
		return;
	}
	if (!PQsendQueryParams(pg->conn, pg->queries[pq->q],
	    pg->nparams[pq->q], types, (const char *const *)pq->params, NULL,
	    NULL, 0)) {
		pg_broken(pg, "send", true);
		return;
	}
	pg->state = PG_BUSY;
	pg->result_status = 0;
	pg_timer_start(pg);
	flush = PQflush(pg->conn);
	if (flush < 0)
		pg_broken(pg, "send", true);
	else
		pg_watch(pg, flush == 1 ? EV_READ | EV_WRITE : EV_READ);
}

/* Reads what arrived; completes the head when its results are in. */
static void
pg_read(struct pg_backend *pg)
{
	PGresult *res;

	if (!PQconsumeInput(pg->conn)) {
		pg_broken(pg, "read", true);
		return;
	}
	while (!PQisBusy(pg->conn)) {
		res = PQgetResult(pg->conn);
		if (res == NULL && pg->result_status < 0 &&
		    PQstatus(pg->conn) == CONNECTION_BAD) {
			/* the server ended the session (restart, idle
			 * kill): our query did not run, send it again */
			pg_broken(pg, "query", true);
			return;
		}
		if (res == NULL) {
			ev_timer_stop(pg->loop, &pg->timer);
			ev_io_stop(pg->loop, &pg->io);
			pg->state = PG_IDLE;
			pg_complete_head(pg, pg->result_status);
			pg_send(pg);
			return;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			users_rows_free(&pg->result);
			rows_from_result(res, &pg->result);
		} else {
			log_warn(USERS_LOG, NULL, "pgsql: query: %s",
			    pg_msg(PQresultErrorMessage(res)));
			pg->result_status = -1;
		}
		PQclear(res);
	}
}

static void
pg_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pg_backend *pg = w->data;

	(void)loop;
	if (pg->state == PG_CONNECTING) {
		pg_connect_poll(pg);
		return;
	}
	if (pg->state != PG_BUSY)
		return;
	if (revents & EV_WRITE) {
		int flush = PQflush(pg->conn);

		if (flush < 0) {
			pg_broken(pg, "send", true);
			return;
		}
		if (flush == 0)
			pg_watch(pg, EV_READ);
	}
	if (revents & EV_READ)
		pg_read(pg);
}

static void
pg_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pg_backend *pg = w->data;

	(void)loop;
	(void)revents;
	log_warn(USERS_LOG, NULL, "pgsql: %s timed out after %.1f s",
	    pg->state == PG_CONNECTING ? "connect" : "query", pg->timeout);
	if (pg->state == PG_CONNECTING) {
		pg_drop_conn(pg);
		pg_fail_all(pg);
		return;
	}
	pg_drop_conn(pg);
	pg_complete_head(pg, -1);
	if (pg->head != NULL && pg->state == PG_DOWN)
		pg_connect(pg);
}

/* The blocking connection, (re)connected on demand; NULL with *error_r. */
static PGconn *
pg_blocking_conn(struct pg_backend *pg, char **error_r)
{
	if (pg->bconn != NULL && PQstatus(pg->bconn) == CONNECTION_OK)
		return pg->bconn;
	if (pg->bconn != NULL)
		PQfinish(pg->bconn);
	pg->bconn = PQconnectdb(pg->conninfo);
	if (pg->bconn == NULL || PQstatus(pg->bconn) != CONNECTION_OK) {
		*error_r = xasprintf("pgsql: connect: %s",
		    pg_msg(pg->bconn != NULL ? PQerrorMessage(pg->bconn) :
		    "out of memory"));
		if (pg->bconn != NULL)
			PQfinish(pg->bconn);
		pg->bconn = NULL;
		return NULL;
	}
	return pg->bconn;
}

/* PQexecParams on the blocking connection, reconnecting once when the
 * connection was lost. Returns a result the caller clears, or NULL. */
static PGresult *
pg_exec_blocking(struct pg_backend *pg, const char *sql, int nparams,
    const Oid *types, const char *const *params, char **error_r)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGconn *c = pg_blocking_conn(pg, error_r);
		PGresult *res;
		ExecStatusType st;

		if (c == NULL)
			return NULL;
		res = PQexecParams(c, sql, nparams, types, params, NULL, NULL, 0);
		st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
			return res;
		if (PQstatus(c) == CONNECTION_OK || attempt == 1) {
			*error_r = xasprintf("pgsql: %s", pg_msg(res != NULL ?
			    PQresultErrorMessage(res) : PQerrorMessage(c)));
			PQclear(res);
			return NULL;
		}
		PQclear(res);
	}
	return NULL;
}

static int
pg_lookup(struct users_backend *b, enum users_query q,
    const char *const params[USERS_NPARAMS], struct users_req *req,
    struct users_rows *rows_r)
{
	struct pg_backend *pg = (struct pg_backend *)b;
	const Oid types[USERS_NPARAMS] = { TEXT_OID, TEXT_OID, TEXT_OID };
	struct pg_query *pq;

	if (req == NULL || pg->loop == NULL) {
		char *error = NULL;
		PGresult *res = pg_exec_blocking(pg, pg->queries[q],
		    pg->nparams[q], types, params, &error);

		if (res == NULL) {
			log_warn(USERS_LOG, NULL, "%s", error);
			free(error);
			return -1;
		}
		rows_from_result(res, rows_r);
		PQclear(res);
		return 1;
	}
	pq = xcalloc(1, sizeof(*pq));
	pq->req = req;
	pq->q = q;
	for (size_t i = 0; i < USERS_NPARAMS; i++)
		pq->params[i] = xstrdup(params[i]);
	if (pg->tail != NULL)
		pg->tail->next = pq;
	else
		pg->head = pq;
	pg->tail = pq;
	if (pg->state == PG_DOWN)
		pg_connect(pg);
	else
		pg_send(pg);
	return 0;
}

static void
pg_cancel(struct users_backend *b, struct users_req *req)
{
	struct pg_backend *pg = (struct pg_backend *)b;

	for (struct pg_query *pq = pg->head; pq != NULL; pq = pq->next)
		if (pq->req == req)
			pq->req = NULL;
}

static int
pg_exec(struct users_backend *b, const char *sql, const char *const *params,
    size_t nparams, struct users_rows *rows_r, long *changes_r,
    char **error_r)
{
	struct pg_backend *pg = (struct pg_backend *)b;
	const char *err;
	char *conv = users_query_convert(sql, USERS_SQL_PGSQL, &err);
	PGresult *res;

	if (conv == NULL) {
		*error_r = xasprintf("bad admin query: %s", err);
		return -1;
	}
	res = pg_exec_blocking(pg, conv, (int)nparams, NULL, params, error_r);
	free(conv);
	if (res == NULL)
		return -1;
	if (rows_r != NULL)
		rows_from_result(res, rows_r);
	if (changes_r != NULL)
		*changes_r = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

static void
pg_close(struct users_backend *b)
{
	struct pg_backend *pg = (struct pg_backend *)b;

	if (pg->loop != NULL)
		pg_drop_conn(pg);
	while (pg->head != NULL) {
		struct pg_query *pq = pg->head;

		pg->head = pq->next;
		query_free(pq);
	}
	if (pg->bconn != NULL)
		PQfinish(pg->bconn);
	for (size_t i = 0; i < USERS_Q_COUNT; i++)
		free(pg->queries[i]);
	free(pg->conninfo);
	free(pg);
}

static const struct users_backend_ops pg_ops = {
	.lookup = pg_lookup,
	.cancel = pg_cancel,
	.exec = pg_exec,
	.close = pg_close,
};

struct users_backend *
users_pgsql_open(const char *conninfo, char *const queries[USERS_Q_COUNT],
    struct ev_loop *loop, double timeout, char **error_r)
{
	struct pg_backend *pg;
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);

	if (opts == NULL) {
		*error_r = xstrdup("mta.conf: users.conninfo does not parse");
		return NULL;
	}
	PQconninfoFree(opts);
	pg = xcalloc(1, sizeof(*pg));
	pg->base.ops = &pg_ops;
	pg->base.dialect = USERS_SQL_PGSQL;
	pg->conninfo = xstrdup(conninfo);
	pg->loop = loop;
	pg->timeout = timeout > 0 ? timeout : 5.0;
	for (size_t i = 0; i < USERS_Q_COUNT; i++) {
		pg->queries[i] = xstrdup(queries[i]);
		pg->nparams[i] = users_query_max_param(queries[i]);
	}
	ev_init(&pg->io, pg_io_cb);
	pg->io.data = pg;
	ev_init(&pg->timer, pg_timer_cb);
	pg->timer.data = pg;
	return &pg->base;
}
