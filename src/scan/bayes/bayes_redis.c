/*
 * bayes_redis.c - the Redis statistics backend (bayes_backend.h), driven
 * asynchronously on the worker's libev loop through redis_conn.
 *
 * Layout, in the spirit of Rspamd's so several scanner hosts can share one
 * store (prefix defaults to "RS", <user> is empty without per-user
 * statistics):
 *   <prefix><user>_<token>  hash {S = spam count, H = ham count}, token as
 *                           a decimal uint64; fields at 0 are deleted, so a
 *                           key exists only while some count is positive
 *   <prefix><user>          hash {learns_spam, learns_ham}: class totals
 *   <prefix><user>_tokens   HyperLogLog of the token keys ever learnt
 *   <prefix><user>_learned  hash {hex digest = "S" | "H"}: learnt messages
 *   <prefix>_keys           set of the totals keys (users, for /stat)
 *
 * The token count (/stat, lookup totals) is therefore APPROXIMATE: PFCOUNT
 * of the HyperLogLog, about 0.8% standard error, and it never goes down: a
 * token whose counts a relearn into the other class brings back to zero is
 * still counted. An exact count needed a second command per new token in
 * every learn (HLEN after HINCRBY), a large part of the learn's Redis CPU.
 * A "tokens" field left in the totals hash by an older version is ignored.
 *
 * Every operation is one Lua script run by Redis (EVALSHA, loaded with
 * SCRIPT LOAD when a connection is made; EVAL when the server answers
 * NOSCRIPT, e.g. after a restart or SCRIPT FLUSH), so a lookup is one round
 * trip for all of a message's tokens and a learn is one atomic step:
 * digest check, undo of the other class, token increments, totals, digest.
 *
 * The learn script does one redis.call per token and nothing else per
 * token (the HyperLogLog takes all tokens in a few PFADDs), and passes the
 * increment as the string '1': a Lua number argument costs Redis a
 * float-to-string conversion on every call. Measured with
 * test/bench/learn_throughput, this beat a WATCH/MULTI/EXEC pipeline of
 * plain HINCRBYs (Redis spent as long on HINCRBYs queued in a transaction
 * as on the same calls from Lua, and the client had a reply per command
 * to parse). Tokens arrive deduplicated (tokenizer sort_unique).
 *
 * Reads (lookup, stat) go to read_servers, learns to write_servers; both
 * default to `servers`. Servers and their options come from the classifier
 * section when it names servers, else from the global redis {} section.
 *
 * Without a loop (open() given NULL, e.g. a synchronous caller), every
 * operation calls its callback at once with rc -1 / BAYES_LEARN_ERROR and
 * returns NULL: statistics are unavailable there, not an error to retry.
 */
#include "scan/bayes/bayes_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/bayes/redis_conn.h"
#include "scan/redis_settings.h"

#define BAYES_REDIS_MAX_USER 512

#define BAYES_REDIS_PFADD_CHUNK "1000" /* elements per PFADD in the script (unpack limit) */

enum bayes_redis_script {
	BR_SCRIPT_LOOKUP,
	BR_SCRIPT_LEARN,
	BR_SCRIPT_STAT,
	BR_SCRIPT_COUNT,
};

/* KEYS[1] totals hash, KEYS[2] token HyperLogLog, KEYS[3..] token hashes.
 * Reply: learns_spam, learns_ham, tokens, then spam, ham per token. */
static const char script_lookup[] =
	"local out = {}\n"
	"local t = redis.call('HMGET', KEYS[1], 'learns_spam', 'learns_ham')\n"
	"for i = 1, 2 do out[i] = tonumber(t[i]) or 0 end\n"
	"out[3] = redis.call('PFCOUNT', KEYS[2])\n"
	"for i = 3, #KEYS do\n"
	"  local c = redis.call('HMGET', KEYS[i], 'S', 'H')\n"
	"  out[#out + 1] = tonumber(c[1]) or 0\n"
	"  out[#out + 1] = tonumber(c[2]) or 0\n"
	"end\n"
	"return out\n";

/* KEYS[1] totals, KEYS[2] learnt digests, KEYS[3] set of totals keys,
 * KEYS[4] token HyperLogLog, KEYS[5..] tokens; ARGV[1] class 'S' or 'H',
 * ARGV[2] hex digest. Reply: 200 learnt, 208 already learnt into this
 * class. */
static const char script_learn[] =
	"local cls = ARGV[1]\n"
	"local other = (cls == 'S') and 'H' or 'S'\n"
	"local total = {S = 'learns_spam', H = 'learns_ham'}\n"
	"local before = redis.call('HGET', KEYS[2], ARGV[2])\n"
	"if before == cls then return 208 end\n"
	"if before == other then\n"
	"  for i = 5, #KEYS do\n"
	"    if redis.call('HEXISTS', KEYS[i], other) == 1 and\n"
	"        redis.call('HINCRBY', KEYS[i], other, '-1') <= 0 then\n"
	"      redis.call('HDEL', KEYS[i], other)\n"
	"    end\n"
	"  end\n"
	"  if redis.call('HINCRBY', KEYS[1], total[other], '-1') < 0 then\n"
	"    redis.call('HSET', KEYS[1], total[other], '0')\n"
	"  end\n"
	"end\n"
	"for i = 5, #KEYS do redis.call('HINCRBY', KEYS[i], cls, '1') end\n"
	"for i = 5, #KEYS, " BAYES_REDIS_PFADD_CHUNK " do\n"
	"  redis.call('PFADD', KEYS[4], unpack(KEYS, i, math.min(#KEYS, i + "
	BAYES_REDIS_PFADD_CHUNK " - 1)))\n"
	"end\n"
	"redis.call('HINCRBY', KEYS[1], total[cls], '1')\n"
	"redis.call('HSET', KEYS[2], ARGV[2], cls)\n"
	"redis.call('SADD', KEYS[3], KEYS[1])\n"
	"return 200\n";

/* KEYS[1] set of totals keys; ARGV[1] the shared (no user) totals key.
 * Reply: learns_spam, learns_ham, tokens (sum of the users' HyperLogLog
 * counts), users. */
static const char script_stat[] =
	"local s, h, t, users = 0, 0, 0, 0\n"
	"for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
	"  local v = redis.call('HMGET', k, 'learns_spam', 'learns_ham')\n"
	"  s = s + (tonumber(v[1]) or 0)\n"
	"  h = h + (tonumber(v[2]) or 0)\n"
	"  t = t + redis.call('PFCOUNT', k .. '_tokens')\n"
	"  if k ~= ARGV[1] then users = users + 1 end\n"
	"end\n"
	"return {s, h, t, users}\n";

static const char *const script_body[BR_SCRIPT_COUNT] = {
	script_lookup, script_learn, script_stat,
};

/* One SCRIPT LOAD in flight; lives in struct bayes_redis. */
struct bayes_redis_load {
	struct bayes_redis *be;
	enum bayes_redis_script script;
	bool pending;
};

struct bayes_redis {
	struct ev_loop *loop;
	pid_t pid;
	struct redis_conn *rd;
	struct redis_conn *wr; /* == rd when reads and writes share a server */
	char *prefix;
	size_t prefix_len;
	char sha[BR_SCRIPT_COUNT][41]; /* "" until SCRIPT LOAD answered */
	struct bayes_redis_load loads[BR_SCRIPT_COUNT];
	struct bayes_op *ops;          /* pending, for close() */
};

struct bayes_op {
	struct bayes_op *prev, *next;
	struct bayes_redis *be;
	struct redis_conn *conn;
	struct redis_req *req;
	enum bayes_redis_script script;
	bool retried; /* NOSCRIPT already answered once */
	bayes_lookup_cb *lookup_done;
	bayes_learn_done_cb *learn_done;
	bayes_stat_done_cb *stat_done;
	void *ud;
	struct bayes_token *tokens;
	size_t n;
	/* the command: EVALSHA sha numkeys keys... args... */
	int argc;
	const char **argv;
	size_t *lens;
	char *strings; /* numkeys and keys, argv points in here */
	size_t strings_len, strings_cap;
};

static void
op_link(struct bayes_redis *be, struct bayes_op *op)
{
	op->next = be->ops;
	if (be->ops != NULL)
		be->ops->prev = op;
	be->ops = op;
}

static void
op_unlink(struct bayes_redis *be, struct bayes_op *op)
{
	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		be->ops = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
}

static void
op_free(struct bayes_op *op)
{
	free(op->argv);
	free(op->lens);
	free(op->strings);
	free(op);
}

static struct bayes_op *
op_new(struct bayes_redis *be, struct redis_conn *conn, enum bayes_redis_script script,
    size_t max_args, size_t strings_cap)
{
	struct bayes_op *op = xcalloc(1, sizeof(*op));

	op->be = be;
	op->conn = conn;
	op->script = script;
	op->argv = xcalloc(max_args, sizeof(*op->argv));
	op->lens = xcalloc(max_args, sizeof(*op->lens));
	op->strings = xmalloc(strings_cap);
	op->strings_cap = strings_cap;
	op->argc = 3; /* EVALSHA, sha, numkeys: filled by op_send */
	return op;
}

/* Appends one argument made of up to three parts (prefix, user, suffix). */
static void
op_arg(struct bayes_op *op, const char *a, size_t alen, const char *b, size_t blen,
    const char *c, size_t clen)
{
	char *p = op->strings + op->strings_len;

	ASSERT(op->strings_len + alen + blen + clen <= op->strings_cap);
	memcpy(p, a, alen);
	if (blen > 0)
		memcpy(p + alen, b, blen);
	if (clen > 0)
		memcpy(p + alen + blen, c, clen);
	op->argv[op->argc] = p;
	op->lens[op->argc] = alen + blen + clen;
	op->argc++;
	op->strings_len += alen + blen + clen;
}

/* Decimal digits of v into buf (at least 21 bytes); returns the length. */
static size_t
u64_decimal(uint64_t v, char *buf)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static void
op_key(struct bayes_op *op, const char *user, const char *suffix, size_t suffix_len)
{
	op_arg(op, op->be->prefix, op->be->prefix_len, user, strlen(user), suffix, suffix_len);
}

static void
op_token_key(struct bayes_op *op, const char *user, uint64_t hash)
{
	char num[24];
	size_t len;

	num[0] = '_';
	len = u64_decimal(hash, num + 1) + 1;
	op_key(op, user, num, len);
}

static void op_reply(int rc, const redisReply *reply, void *ud);

/* Sends (or resends) the command with EVALSHA when the sha is known. */
static void
op_send(struct bayes_op *op, size_t numkeys)
{
	struct bayes_redis *be = op->be;
	const char *sha = be->sha[op->script];
	char *p;

	if (numkeys != (size_t)-1) {
		p = op->strings + op->strings_len;
		op->argv[2] = p;
		op->lens[2] = u64_decimal(numkeys, p);
		op->strings_len += op->lens[2];
	}
	if (sha[0] != '\0' && !op->retried) {
		op->argv[0] = "EVALSHA";
		op->argv[1] = sha;
		op->lens[1] = strlen(sha);
	} else {
		op->argv[0] = "EVAL";
		op->argv[1] = script_body[op->script];
		op->lens[1] = strlen(script_body[op->script]);
	}
	op->lens[0] = strlen(op->argv[0]);
	op->req = redis_conn_command(op->conn, op->argc, op->argv, op->lens, op_reply, op);
}

static int
reply_int(const redisReply *r, uint64_t *v_r)
{
	if (r->type != REDIS_REPLY_INTEGER)
		return -1;
	*v_r = r->integer > 0 ? (uint64_t)r->integer : 0;
	return 0;
}

static int
lookup_parse(struct bayes_op *op, const redisReply *r, struct bayes_totals *t)
{
	uint64_t v[2];

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 + 2 * op->n)
		return -1;
	if (reply_int(r->element[0], &t->learned_spam) < 0 ||
	    reply_int(r->element[1], &t->learned_ham) < 0 ||
	    reply_int(r->element[2], &t->tokens) < 0)
		return -1;
	for (size_t i = 0; i < op->n; i++) {
		if (reply_int(r->element[3 + 2 * i], &v[0]) < 0 ||
		    reply_int(r->element[4 + 2 * i], &v[1]) < 0)
			return -1;
		op->tokens[i].spam = (uint32_t)MIN(v[0], UINT32_MAX);
		op->tokens[i].ham = (uint32_t)MIN(v[1], UINT32_MAX);
	}
	return 0;
}

static int
stat_parse(const redisReply *r, struct bayes_totals *t)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 4)
		return -1;
	if (reply_int(r->element[0], &t->learned_spam) < 0 ||
	    reply_int(r->element[1], &t->learned_ham) < 0 ||
	    reply_int(r->element[2], &t->tokens) < 0 ||
	    reply_int(r->element[3], &t->users) < 0)
		return -1;
	return 0;
}

/* Calls the operation's callback with the parsed reply (r NULL: failure). */
static void
op_complete(struct bayes_op *op, const redisReply *r)
{
	struct bayes_totals t = { 0 };
	uint64_t status = 0;
	int rc = -1;

	switch (op->script) {
	case BR_SCRIPT_LOOKUP:
		if (r != NULL && lookup_parse(op, r, &t) == 0)
			rc = 0;
		op->lookup_done(rc, rc == 0 ? &t : NULL, op->ud);
		break;
	case BR_SCRIPT_LEARN:
		if (r == NULL || reply_int(r, &status) < 0)
			status = BAYES_LEARN_ERROR;
		op->learn_done((int)status, op->ud);
		break;
	case BR_SCRIPT_STAT:
		if (r != NULL && stat_parse(r, &t) == 0)
			rc = 0;
		op->stat_done(rc, rc == 0 ? &t : NULL, op->ud);
		break;
	default:
		panic("bayes_redis: bad script %d", (int)op->script);
	}
}

static void
load_reply(int rc, const redisReply *reply, void *ud)
{
	struct bayes_redis_load *load = ud;

	load->pending = false;
	if (rc == 0 && reply->type == REDIS_REPLY_STRING && reply->len == 40)
		memcpy(load->be->sha[load->script], reply->str, 41);
}

/*
 * Ask the server to cache a script, so later commands can use EVALSHA.
 * Sent when the backend opens and again after an EVAL while the sha is
 * still unknown (the first attempt may have met a server that was down).
 * The load records live in the backend, which outlives its connections,
 * and a freed connection calls no callback: nothing to cancel.
 */
static void
bayes_redis_load_script(struct bayes_redis *be, struct redis_conn *conn,
    enum bayes_redis_script script)
{
	struct bayes_redis_load *load = &be->loads[script];
	const char *argv[3] = { "SCRIPT", "LOAD", script_body[script] };
	size_t lens[3] = { 6, 4, strlen(script_body[script]) };

	if (load->pending || be->sha[script][0] != '\0')
		return;
	load->be = be;
	load->script = script;
	load->pending = true;
	redis_conn_command(conn, 3, argv, lens, load_reply, load);
}

static void
op_reply(int rc, const redisReply *reply, void *ud)
{
	struct bayes_op *op = ud;
	struct bayes_redis *be = op->be;

	op->req = NULL;
	if (rc == 0 && reply->type == REDIS_REPLY_ERROR) {
		if (!op->retried && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
			/* the server lost its script cache: send the body once */
			op->retried = true;
			op_send(op, (size_t)-1);
			return;
		}
		log_warn("bayes", redis_conn_name(op->conn), "redis error: %.*s",
		    (int)MIN(reply->len, 200), reply->str);
		reply = NULL;
	} else if (rc != 0) {
		reply = NULL;
	}
	if (reply != NULL && be->sha[op->script][0] == '\0')
		bayes_redis_load_script(be, op->conn, op->script);
	op_unlink(be, op);
	op_complete(op, reply);
	op_free(op);
}


static bool
bayes_redis_usable(const struct bayes_redis *be)
{
	/* an instance inherited across fork shares its sockets: never use it */
	return be->loop != NULL && be->pid == getpid();
}

static size_t
bayes_redis_key_max(const struct bayes_redis *be, size_t user_len)
{
	/* prefix, user, "_", up to 20 digits (or "_learned") */
	return be->prefix_len + user_len + 24;
}

static struct bayes_op *
bayes_redis_lookup(void *p, const char *user, struct bayes_token *tokens, size_t n,
    bayes_lookup_cb *done, void *ud)
{
	struct bayes_redis *be = p;
	const char *u = user != NULL ? user : "";
	size_t ulen = strlen(u);
	struct bayes_op *op;

	if (!bayes_redis_usable(be) || ulen > BAYES_REDIS_MAX_USER) {
		done(-1, NULL, ud);
		return NULL;
	}
	op = op_new(be, be->rd, BR_SCRIPT_LOOKUP, 5 + n,
	    24 + (n + 2) * bayes_redis_key_max(be, ulen));
	op_key(op, u, "", 0);
	op_key(op, u, "_tokens", 7);
	for (size_t i = 0; i < n; i++)
		op_token_key(op, u, tokens[i].hash);
	op->tokens = tokens;
	op->n = n;
	op->lookup_done = done;
	op->ud = ud;
	op_link(be, op);
	op_send(op, 2 + n);
	return op;
}

static struct bayes_op *
bayes_redis_learn(void *p, const char *user, const uint8_t digest[16], bool spam,
    const uint64_t *hashes, size_t n, bayes_learn_done_cb *done, void *ud)
{
	static const char hex[] = "0123456789abcdef";
	struct bayes_redis *be = p;
	const char *u = user != NULL ? user : "";
	size_t ulen = strlen(u);
	char digest_hex[32];
	struct bayes_op *op;

	if (!bayes_redis_usable(be) || ulen > BAYES_REDIS_MAX_USER) {
		done(BAYES_LEARN_ERROR, ud);
		return NULL;
	}
	for (size_t i = 0; i < 16; i++) {
		digest_hex[2 * i] = hex[digest[i] >> 4];
		digest_hex[2 * i + 1] = hex[digest[i] & 0xf];
	}
	op = op_new(be, be->wr, BR_SCRIPT_LEARN, 9 + n,
	    64 + (n + 4) * bayes_redis_key_max(be, ulen));
	op_key(op, u, "", 0);
	op_key(op, u, "_learned", 8);
	op_arg(op, be->prefix, be->prefix_len, "_keys", 5, NULL, 0);
	op_key(op, u, "_tokens", 7);
	for (size_t i = 0; i < n; i++)
		op_token_key(op, u, hashes[i]);
	op_arg(op, spam ? "S" : "H", 1, NULL, 0, NULL, 0);
	op_arg(op, digest_hex, sizeof(digest_hex), NULL, 0, NULL, 0);
	op->learn_done = done;
	op->ud = ud;
	op_link(be, op);
	op_send(op, 4 + n);
	return op;
}

static struct bayes_op *
bayes_redis_stat(void *p, bayes_stat_done_cb *done, void *ud)
{
	struct bayes_redis *be = p;
	struct bayes_op *op;

	if (!bayes_redis_usable(be)) {
		done(-1, NULL, ud);
		return NULL;
	}
	op = op_new(be, be->rd, BR_SCRIPT_STAT, 5, 64 + 2 * bayes_redis_key_max(be, 0));
	op_arg(op, be->prefix, be->prefix_len, "_keys", 5, NULL, 0);
	op_arg(op, be->prefix, be->prefix_len, NULL, 0, NULL, 0);
	op->stat_done = done;
	op->ud = ud;
	op_link(be, op);
	op_send(op, 1);
	return op;
}

static void
bayes_redis_cancel(void *p, struct bayes_op *op)
{
	struct bayes_redis *be = p;

	if (op == NULL)
		return;
	redis_conn_cancel(op->conn, op->req);
	op_unlink(be, op);
	op_free(op);
}

static void
bayes_redis_close(void *p)
{
	struct bayes_redis *be = p;

	if (be == NULL)
		return;
	/* connections first: after that no reply can reach an op */
	if (be->wr != be->rd)
		redis_conn_free(&be->wr);
	redis_conn_free(&be->rd);
	while (be->ops != NULL) {
		struct bayes_op *op = be->ops;

		op_unlink(be, op);
		op_free(op);
	}
	free(be->prefix);
	free(be);
}

/* Seconds from a number (UCL "1s" arrives as one) or a "500ms"/"2s" string. */
static int
bayes_redis_timeout(const struct obj *o, double *t_r)
{
	const char *s = obj_get_string(o);
	char *end;
	double d;

	if (obj_get_double(o, &d) == 0) {
		*t_r = d;
		return d > 0 ? 0 : -1;
	}
	if (s == NULL)
		return -1;
	d = strtod(s, &end);
	if (end == s || d <= 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		d /= 1000;
	else if (strcmp(end, "min") == 0 || strcmp(end, "m") == 0)
		d *= 60;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		return -1;
	*t_r = d;
	return 0;
}

static int
bayes_redis_settings(const struct obj *sec, const char *const order[3],
    struct redis_conn_settings *s, const char **error_r)
{
	const struct obj *o;

	memset(s, 0, sizeof(*s));
	if (redis_settings_read(sec, order, 3, s, error_r) < 0)
		return -1;
	s->connect_timeout = s->command_timeout = 1.0;
	if ((o = obj_lookup(sec, "timeout")) != NULL &&
	    bayes_redis_timeout(o, &s->command_timeout) < 0) {
		*error_r = "redis timeout must be a positive duration";
		return -1;
	}
	s->connect_timeout = s->command_timeout;
	return 0;
}

static bool
bayes_redis_same_server(const struct redis_conn_settings *a, const struct redis_conn_settings *b)
{
	return a->port == b->port && a->db == b->db &&
	    (a->host == NULL) == (b->host == NULL) &&
	    (a->host == NULL || strcmp(a->host, b->host) == 0) &&
	    (a->socket_path == NULL) == (b->socket_path == NULL) &&
	    (a->socket_path == NULL || strcmp(a->socket_path, b->socket_path) == 0);
}

static void *
bayes_redis_open(const struct obj *classifier, const struct config *cfg,
    struct ev_loop *loop, char **error_r)
{
	static const char *const rd_order[3] = { "read_servers", "servers", "write_servers" };
	static const char *const wr_order[3] = { "write_servers", "servers", "read_servers" };
	static const char *const keys[3] = { "servers", "read_servers", "write_servers" };
	const struct obj *sec = redis_settings_section(classifier, cfg, keys, 3);
	const struct obj *prefix = classifier != NULL ? obj_lookup(classifier, "prefix") : NULL;
	struct redis_conn_settings rs, ws;
	const char *error = NULL;
	struct bayes_redis *be;

	memset(&rs, 0, sizeof(rs));
	memset(&ws, 0, sizeof(ws));
	if (sec == NULL)
		error = "no servers (classifier servers or redis { servers })";
	else if (bayes_redis_settings(sec, rd_order, &rs, &error) == 0)
		(void)bayes_redis_settings(sec, wr_order, &ws, &error);
	if (error != NULL) {
		redis_conn_settings_deinit(&rs);
		redis_conn_settings_deinit(&ws);
		*error_r = xasprintf("redis backend: %s", error);
		return NULL;
	}
	be = xcalloc(1, sizeof(*be));
	be->loop = loop;
	be->pid = getpid();
	be->prefix = xstrdup(prefix != NULL && obj_get_string(prefix) != NULL ?
	    obj_get_string(prefix) : "RS");
	be->prefix_len = strlen(be->prefix);
	if (loop != NULL) {
		be->rd = redis_conn_new(loop, &rs);
		be->wr = bayes_redis_same_server(&rs, &ws) ? be->rd : redis_conn_new(loop, &ws);
		for (int i = 0; i < BR_SCRIPT_COUNT; i++)
			bayes_redis_load_script(be, be->rd, (enum bayes_redis_script)i);
	}
	redis_conn_settings_deinit(&rs);
	redis_conn_settings_deinit(&ws);
	return be;
}

const struct bayes_backend_ops bayes_backend_redis = {
	.name = "redis",
	.open = bayes_redis_open,
	.close = bayes_redis_close,
	.lookup = bayes_redis_lookup,
	.learn = bayes_redis_learn,
	.stat = bayes_redis_stat,
	.cancel = bayes_redis_cancel,
};
