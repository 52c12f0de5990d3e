/*
 * greylist_redis.c - the greylisting records in Redis, so every scanner
 * host of a site greylists alike: "<prefix>b<hash>" and "<prefix>m<hash>"
 * hold the first-sight unix time; the key's TTL is the expiry, so Redis
 * purges old records itself.
 *
 * A lookup is one MGET on the task's loop (the engine waits for it); the
 * writes after a verdict (SET ... EX NX for a first sight, so a racing
 * host's earlier record wins; EXPIRE on a pass) are not waited for: a lost
 * write only greylists a sender once more.
 *
 * Servers come from greylist { servers } when set, else from redis {}
 * (servers, password, username, db, timeout as there).
 */
#include "scan/greylist/greylist.h"

#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/bayes/redis_conn.h"
#include "scan/redis_settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gl_redis {
	struct redis_conn *conn;
};

struct greylist_op {
	struct gl_redis *st;
	struct redis_req *req;
	greylist_lookup_cb *cb;
	void *ud;
};

/* `own`: the greylist section itself, whose `timeout` means greylisting. */
static int
read_settings(const struct obj *sec, bool own, struct redis_conn_settings *s,
    const char **error_r)
{
	static const char *const keys[] = { "write_servers", "servers" };
	const struct obj *o;
	double t = 1.0;

	if (redis_settings_read(sec, keys, ARRAY_SIZE(keys), s, error_r) < 0)
		return -1;
	o = obj_lookup(sec, own ? "redis_timeout" : "timeout");
	if (o != NULL && (obj_get_double(o, &t) < 0 || t <= 0)) {
		*error_r = "timeout must be a positive duration";
		return -1;
	}
	s->connect_timeout = s->command_timeout = t;
	return 0;
}

static void *
gl_redis_open(const struct obj *gsec, const struct config *cfg, struct ev_loop *loop,
    char **error_r)
{
	static const char *const keys[] = { "servers", "write_servers" };
	const struct obj *sec = redis_settings_section(gsec, cfg, keys, ARRAY_SIZE(keys));
	struct redis_conn_settings s;
	const char *error = NULL;
	struct gl_redis *st;

	memset(&s, 0, sizeof(s));
	if (loop == NULL)
		error = "no event loop";
	else if (sec == NULL)
		error = "no servers (greylist servers or redis { servers })";
	else
		(void)read_settings(sec, sec == gsec, &s, &error);
	if (error != NULL) {
		redis_conn_settings_deinit(&s);
		*error_r = xasprintf("greylist redis: %s", error);
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->conn = redis_conn_new(loop, &s);
	redis_conn_settings_deinit(&s);
	return st;
}

static void
gl_redis_close(void *p)
{
	struct gl_redis *st = p;

	if (st == NULL)
		return;
	redis_conn_free(&st->conn);
	free(st);
}

static void
parse_rec(const redisReply *r, struct greylist_rec *rec)
{
	char *end;
	double t;

	memset(rec, 0, sizeof(*rec));
	if (r == NULL || r->type != REDIS_REPLY_STRING || r->len == 0)
		return;
	t = strtod(r->str, &end);
	if (end == r->str)
		return;
	rec->first = t;
	rec->found = true;
}

static void
lookup_reply(int rc, const redisReply *reply, void *ud)
{
	struct greylist_op *op = ud;
	struct greylist_rec recs[2];

	memset(recs, 0, sizeof(recs));
	if (rc != 0 || reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
		if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
			log_warn("greylist", NULL, "redis: %s", reply->str);
		op->cb(-1, recs, op->ud);
	} else {
		parse_rec(reply->element[0], &recs[0]);
		parse_rec(reply->element[1], &recs[1]);
		op->cb(0, recs, op->ud);
	}
	free(op);
}

static struct greylist_op *
gl_redis_lookup(void *p, const char *const keys[2], double now, greylist_lookup_cb *cb,
    void *ud)
{
	struct gl_redis *st = p;
	struct greylist_op *op = xcalloc(1, sizeof(*op));
	const char *argv[3] = { "MGET", keys[0], keys[1] };
	size_t lens[3] = { 4, strlen(keys[0]), strlen(keys[1]) };

	(void)now;
	op->st = st;
	op->cb = cb;
	op->ud = ud;
	op->req = redis_conn_command(st->conn, 3, argv, lens, lookup_reply, op);
	return op;
}

static void
write_reply(int rc, const redisReply *reply, void *ud)
{
	(void)ud;
	if (rc != 0)
		log_warn("greylist", NULL, "redis write not answered");
	else if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		log_warn("greylist", NULL, "redis write: %s", reply->str);
}

static void
gl_redis_update(void *p, const char *const keys[2], const struct greylist_rec recs[2],
    enum greylist_verdict v, double now, double expire)
{
	struct gl_redis *st = p;
	char tbuf[32], ebuf[32];

	/* floor: a rounded-up first sight would hold mail past `timeout` */
	(void)str_format(tbuf, sizeof(tbuf), "%.0f", floor(now));
	(void)str_format(ebuf, sizeof(ebuf), "%.0f", MAX(expire, 1.0));
	for (int i = 0; i < 2; i++) {
		const char *set[6] = { "SET", keys[i], tbuf, "EX", ebuf, "NX" };
		const char *exp[3] = { "EXPIRE", keys[i], ebuf };
		size_t lens[6];
		const char **argv = v == GREYLIST_NEW ? set : exp;
		int argc = v == GREYLIST_NEW ? 6 : 3;

		if ((v == GREYLIST_NEW && recs[i].found) || (v == GREYLIST_PASS && !recs[i].found))
			continue;
		for (int a = 0; a < argc; a++)
			lens[a] = strlen(argv[a]);
		(void)redis_conn_command(st->conn, argc, argv, lens, write_reply, NULL);
	}
}

static void
gl_redis_cancel(void *p, struct greylist_op *op)
{
	struct gl_redis *st = p;

	if (op == NULL)
		return;
	redis_conn_cancel(st->conn, op->req);
	free(op);
}

const struct greylist_store_ops greylist_store_redis = {
	.name = "redis",
	.open = gl_redis_open,
	.close = gl_redis_close,
	.lookup = gl_redis_lookup,
	.update = gl_redis_update,
	.cancel = gl_redis_cancel,
};
