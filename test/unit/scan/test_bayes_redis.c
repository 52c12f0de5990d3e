/*
 * Unit tests for the Redis statistics backend (bayes_backend_redis) against
 * a private redis-server, driven on a real libev loop: the backend contract
 * (unknown tokens, learn, 208 for the same digest and class, relearn into
 * the other class, per-user counts, stat), password and db options, servers
 * from the global redis {} section, no loop, cancel, and outages (server
 * killed, restarted with an empty script cache, stopped), a digest learnt
 * by another host, and the HyperLogLog token estimate.
 */
#include "scan/bayes/bayes_backend.h"
#include "test.h"

#include <ev.h>

#include "config/config.h"
#include "core/obj.h"
#include "redis_test_server.h"

struct waiter {
	int calls;
	int rc;
	struct bayes_totals totals;
	bool have_totals;
};

static void
on_lookup(int rc, const struct bayes_totals *t, void *ud)
{
	struct waiter *w = ud;

	w->calls++;
	w->rc = rc;
	w->have_totals = t != NULL;
	if (t != NULL)
		w->totals = *t;
}

static void
on_learn(int status, void *ud)
{
	struct waiter *w = ud;

	w->calls++;
	w->rc = status;
}

/* Runs the loop until the callback ran or `max` s passed; returns elapsed. */
static double
wait_for(struct ev_loop *loop, struct waiter *w, double max)
{
	return run_until(loop, &w->calls, max);
}

/* One backend instance under test with the loop that drives it. */
struct suite {
	const struct bayes_backend_ops *ops;
	void *be;
	struct ev_loop *loop;
};

static int
do_learn(struct suite *s, const char *user, uint8_t id, bool spam, const uint64_t *h, size_t n)
{
	struct waiter w = { 0 };
	uint8_t digest[16] = { id, 0xab };

	s->ops->learn(s->be, user, digest, spam, h, n, on_learn, &w);
	wait_for(s->loop, &w, 3);
	return w.calls == 1 ? w.rc : -2;
}

static int
do_lookup(struct suite *s, const char *user, struct bayes_token *t, size_t n,
    struct bayes_totals *totals_r)
{
	struct waiter w = { 0 };

	s->ops->lookup(s->be, user, t, n, on_lookup, &w);
	wait_for(s->loop, &w, 3);
	if (totals_r != NULL)
		*totals_r = w.totals;
	return w.calls == 1 ? w.rc : -2;
}

static int
do_stat(struct suite *s, struct bayes_totals *totals_r)
{
	struct waiter w = { 0 };

	s->ops->stat(s->be, on_lookup, &w);
	wait_for(s->loop, &w, 3);
	*totals_r = w.totals;
	return w.calls == 1 ? w.rc : -2;
}

static bool
counts(struct suite *s, const char *user, uint64_t hash, uint32_t spam, uint32_t ham)
{
	struct bayes_token t = { hash, 99, 99 };

	return do_lookup(s, user, &t, 1, NULL) == 0 && t.spam == spam && t.ham == ham;
}

/* The contract of bayes_backend.h, on an empty store. */
static void
backend_contract(struct suite *s)
{
	const uint64_t a[] = { 1, 2, 3 }, b[] = { 2, 3, UINT64_MAX };
	struct bayes_token unk[2] = { { 42, 7, 7 }, { 43, 7, 7 } };
	struct bayes_totals t;

	test_begin("bayes redis: unknown tokens are 0");
	test_assert(do_lookup(s, NULL, unk, 2, &t) == 0);
	test_assert(unk[0].spam == 0 && unk[0].ham == 0 && unk[1].spam == 0 && unk[1].ham == 0);
	test_assert(t.learned_spam == 0 && t.learned_ham == 0);
	test_assert(do_stat(s, &t) == 0 && t.learned_spam == 0 && t.tokens == 0);
	test_end();

	test_begin("bayes redis: learn counts tokens and totals");
	test_assert(do_learn(s, NULL, 1, true, a, 3) == BAYES_LEARN_OK);
	test_assert(counts(s, NULL, 1, 1, 0) && counts(s, NULL, 3, 1, 0));
	test_assert(do_learn(s, NULL, 2, true, b, 3) == BAYES_LEARN_OK);
	test_assert(counts(s, NULL, 2, 2, 0) && counts(s, NULL, UINT64_MAX, 1, 0));
	test_assert(do_lookup(s, NULL, unk, 0, &t) == 0);
	test_assert(t.learned_spam == 2 && t.learned_ham == 0 && t.tokens == 4);
	test_end();

	test_begin("bayes redis: same digest, same class: 208, nothing changes");
	test_assert(do_learn(s, NULL, 1, true, a, 3) == BAYES_LEARN_ALREADY);
	test_assert(counts(s, NULL, 1, 1, 0) && counts(s, NULL, 2, 2, 0));
	test_assert(do_stat(s, &t) == 0 && t.learned_spam == 2 && t.learned_ham == 0);
	test_end();

	test_begin("bayes redis: relearn into the other class moves the message");
	test_assert(do_learn(s, NULL, 1, false, a, 3) == BAYES_LEARN_OK);
	test_assert(counts(s, NULL, 1, 0, 1) && counts(s, NULL, 2, 1, 1) &&
	    counts(s, NULL, 3, 1, 1));
	test_assert(do_stat(s, &t) == 0 && t.learned_spam == 1 && t.learned_ham == 1 &&
	    t.tokens == 4);
	test_assert(do_learn(s, NULL, 1, false, a, 3) == BAYES_LEARN_ALREADY);
	/* and back again: token 1 ends with only a spam count */
	test_assert(do_learn(s, NULL, 1, true, a, 3) == BAYES_LEARN_OK);
	test_assert(counts(s, NULL, 1, 1, 0) && counts(s, NULL, 2, 2, 0));
	test_assert(do_stat(s, &t) == 0 && t.learned_spam == 2 && t.learned_ham == 0 &&
	    t.tokens == 4);
	test_end();

	test_begin("bayes redis: per-user statistics are separate; stat counts users");
	test_assert(do_learn(s, "alice@example.com", 1, false, a, 3) == BAYES_LEARN_OK);
	test_assert(counts(s, "alice@example.com", 1, 0, 1) && counts(s, NULL, 1, 1, 0));
	test_assert(do_lookup(s, "alice@example.com", unk, 0, &t) == 0 &&
	    t.learned_ham == 1 && t.learned_spam == 0 && t.tokens == 3);
	test_assert(do_stat(s, &t) == 0 && t.learned_spam == 2 && t.learned_ham == 1 &&
	    t.tokens == 7 && t.users == 1);
	test_end();
}

static void
backend_large(struct suite *s)
{
	enum { N = 5000 };
	static uint64_t h[N];
	static struct bayes_token t[N];
	bool all = true;
	double t0, t1, t2;

	test_begin("bayes redis: 5000-token learn and lookup in one round trip each");
	for (size_t i = 0; i < N; i++) {
		h[i] = 0x9e3779b97f4a7c15ULL * (i + 1000);
		t[i].hash = h[i];
	}
	t0 = ev_time();
	test_assert(do_learn(s, NULL, 77, false, h, N) == BAYES_LEARN_OK);
	t1 = ev_time();
	test_assert(do_lookup(s, NULL, t, N, NULL) == 0);
	t2 = ev_time();
	for (size_t i = 0; i < N; i++)
		all = all && t[i].ham == 1 && t[i].spam == 0;
	test_assert(all);
	printf("       5000 tokens: learn %.1f ms, lookup %.1f ms\n", (t1 - t0) * 1e3,
	    (t2 - t1) * 1e3);
	test_end();
}

static void
backend_cancel(struct suite *s)
{
	struct waiter w = { 0 }, w2 = { 0 };
	struct bayes_token t = { 1, 0, 0 };
	struct bayes_op *op;

	test_begin("bayes redis: a cancelled operation never calls back");
	op = s->ops->lookup(s->be, NULL, &t, 1, on_lookup, &w);
	test_assert(op != NULL);
	s->ops->cancel(s->be, op);
	s->ops->stat(s->be, on_lookup, &w2);
	wait_for(s->loop, &w2, 3);
	test_assert(w.calls == 0 && w2.calls == 1 && w2.rc == 0);
	/* close with operations in flight: no callback either */
	test_end();
}

static struct obj *
classifier_for(const struct redis_test_server *srv, const char *password, int db)
{
	struct obj *c = obj_new_object();
	char addr[160];

	if (srv->port != 0)
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", srv->port);
	else
		snprintf(addr, sizeof(addr), "%s", srv->socket_path);
	obj_object_set(c, "backend", obj_new_string("redis"));
	obj_object_set(c, "servers", obj_new_string(addr));
	obj_object_set(c, "timeout", obj_new_float(0.5));
	if (password != NULL)
		obj_object_set(c, "password", obj_new_string(password));
	if (db != 0)
		obj_object_set(c, "db", obj_new_int(db));
	return c;
}

static void *
open_or_fail(const struct obj *classifier, const struct config *cfg, struct ev_loop *loop)
{
	char *error = NULL;
	void *be = bayes_backend_redis.open(classifier, cfg, loop, &error);

	if (be == NULL)
		printf("open: %s\n", error != NULL ? error : "?");
	free(error);
	return be;
}

static void
test_contract_tcp(struct ev_loop *loop, struct redis_test_server *srv)
{
	struct obj *c = classifier_for(srv, NULL, 0);
	struct suite s = { &bayes_backend_redis, open_or_fail(c, NULL, loop), loop };
	struct waiter w = { 0 };
	struct bayes_token t = { 1, 0, 0 };

	test_assert(s.be != NULL && strcmp(bayes_backend_redis.name, "redis") == 0);
	if (s.be != NULL) {
		backend_contract(&s);
		backend_large(&s);
		backend_cancel(&s);
		s.ops->lookup(s.be, NULL, &t, 1, on_lookup, &w);
		s.ops->close(s.be);
		test_begin("bayes redis: close with an operation in flight");
		wait_for(loop, &w, 0.2);
		test_assert(w.calls == 0);
		test_end();
	}
	obj_free(&c);
}

/* Same suite with AUTH and SELECT; the keys land in that db. */
static void
test_password_db(struct ev_loop *loop)
{
	struct redis_test_server srv;
	struct obj *c;
	struct suite s = { &bayes_backend_redis, NULL, loop };
	redisContext *sync;
	redisReply *r;
	uint64_t h = 5;

	test_begin("bayes redis: start a server with a password");
	test_assert(redis_test_start(&srv, "pw-for-test", false));
	test_end();
	c = classifier_for(&srv, "pw-for-test", 2);
	s.be = open_or_fail(c, NULL, loop);
	if (s.be != NULL)
		backend_contract(&s);
	test_begin("bayes redis: password and db options");
	test_assert(s.be != NULL && do_learn(&s, NULL, 9, true, &h, 1) == BAYES_LEARN_OK);
	sync = redis_test_sync(&srv);
	test_assert(sync != NULL);
	if (sync != NULL) {
		r = redisCommand(sync, "SELECT 2");
		freeReplyObject(r);
		r = redisCommand(sync, "HGET RS_5 S");
		test_assert(r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "1") == 0);
		freeReplyObject(r);
		r = redisCommand(sync, "HGET RS learns_spam");
		test_assert(r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "3") == 0);
		freeReplyObject(r);
		redisFree(sync);
	}
	if (s.be != NULL)
		s.ops->close(s.be);
	obj_free(&c);
	/* wrong password: operations fail, within the timeout */
	c = classifier_for(&srv, "wrong", 0);
	s.be = open_or_fail(c, NULL, loop);
	test_assert(s.be != NULL && do_learn(&s, NULL, 10, true, &h, 1) == BAYES_LEARN_ERROR);
	if (s.be != NULL)
		s.ops->close(s.be);
	obj_free(&c);
	redis_test_stop(&srv);
	test_end();
}

/* Servers from the global redis {} section; a unix socket; prefix option. */
static void
test_global_section(struct ev_loop *loop)
{
	struct redis_test_server srv;
	struct config cfg;
	struct obj *classifier = obj_new_object(), *redis = obj_new_object();
	struct suite s = { &bayes_backend_redis, NULL, loop };
	struct bayes_totals t;
	uint64_t h = 11;
	redisContext *sync;
	redisReply *r;

	test_begin("bayes redis: servers from redis {}, unix socket, prefix");
	test_assert(redis_test_start(&srv, NULL, true));
	memset(&cfg, 0, sizeof(cfg));
	cfg.root = obj_new_object();
	obj_object_set(redis, "servers", obj_new_string(srv.socket_path));
	obj_object_set(redis, "timeout", obj_new_string("500ms"));
	obj_object_set(cfg.root, "redis", redis);
	obj_object_set(classifier, "backend", obj_new_string("redis"));
	obj_object_set(classifier, "prefix", obj_new_string("BX"));
	s.be = open_or_fail(classifier, &cfg, loop);
	test_assert(s.be != NULL);
	if (s.be != NULL) {
		test_assert(do_learn(&s, NULL, 1, false, &h, 1) == BAYES_LEARN_OK);
		test_assert(do_stat(&s, &t) == 0 && t.learned_ham == 1 && t.tokens == 1);
		s.ops->close(s.be);
	}
	sync = redis_test_sync(&srv);
	test_assert(sync != NULL);
	if (sync != NULL) {
		r = redisCommand(sync, "HGET BX_11 H");
		test_assert(r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "1") == 0);
		freeReplyObject(r);
		redisFree(sync);
	}
	obj_free(&classifier);
	obj_free(&cfg.root);
	redis_test_stop(&srv);
	test_end();
}

static void
test_bad_config(void)
{
	struct obj *c = obj_new_object();
	char *error = NULL;

	test_begin("bayes redis: open without servers or with a bad timeout fails");
	test_assert(bayes_backend_redis.open(c, NULL, NULL, &error) == NULL && error != NULL);
	free(error);
	error = NULL;
	obj_object_set(c, "servers", obj_new_string("127.0.0.1:1"));
	obj_object_set(c, "timeout", obj_new_string("soon"));
	test_assert(bayes_backend_redis.open(c, NULL, NULL, &error) == NULL && error != NULL);
	free(error);
	obj_free(&c);
	test_end();
}

static void
test_no_loop(struct redis_test_server *srv)
{
	struct obj *c = classifier_for(srv, NULL, 0);
	void *be = open_or_fail(c, NULL, NULL);
	struct waiter w = { 0 };
	struct bayes_token t = { 1, 0, 0 };
	uint8_t digest[16] = { 0 };

	test_begin("bayes redis: without a loop operations fail at once");
	test_assert(be != NULL);
	if (be != NULL) {
		test_assert(bayes_backend_redis.lookup(be, NULL, &t, 1, on_lookup, &w) == NULL);
		test_assert(w.calls == 1 && w.rc == -1);
		test_assert(bayes_backend_redis.learn(be, NULL, digest, true, &t.hash, 1,
		    on_learn, &w) == NULL);
		test_assert(w.calls == 2 && w.rc == BAYES_LEARN_ERROR);
		test_assert(bayes_backend_redis.stat(be, on_lookup, &w) == NULL);
		test_assert(w.calls == 3 && w.rc == -1);
		bayes_backend_redis.close(be);
	}
	obj_free(&c);
	test_end();
}

/* True when INFO commandstats shows `cmd` was called (e.g. "evalsha"). */
static bool
server_saw(const struct redis_test_server *srv, const char *cmd)
{
	redisContext *sync = redis_test_sync(srv);
	redisReply *r;
	char want[64];
	bool seen;

	if (sync == NULL)
		return false;
	snprintf(want, sizeof(want), "cmdstat_%s:", cmd);
	r = redisCommand(sync, "INFO commandstats");
	seen = r != NULL && r->type == REDIS_REPLY_STRING && strstr(r->str, want) != NULL;
	if (r != NULL)
		freeReplyObject(r);
	redisFree(sync);
	return seen;
}

/* Runs one command on a side connection (another host, as far as the
 * backend can tell); true when it got a non-error reply. */
static bool
server_cmd(const struct redis_test_server *srv, const char *fmt, const char *a,
    const char *b, const char *c)
{
	redisContext *sync = redis_test_sync(srv);
	redisReply *r;
	bool ok;

	if (sync == NULL)
		return false;
	r = redisCommand(sync, fmt, a, b, c);
	ok = r != NULL && r->type != REDIS_REPLY_ERROR;
	if (r != NULL)
		freeReplyObject(r);
	redisFree(sync);
	return ok;
}

static void
test_learn_script(struct ev_loop *loop, struct redis_test_server *srv)
{
	enum { N = 20000 };
	static uint64_t h[N];
	struct obj *c = classifier_for(srv, NULL, 0);
	const uint64_t a[] = { 11, 12 };
	struct suite s;
	struct bayes_totals t;
	/* digest { 9, 0xab, 0... } as the backend writes it */
	const char *hex9 = "09ab0000000000000000000000000000";

	obj_object_set(c, "prefix", obj_new_string("PL"));
	s = (struct suite){ &bayes_backend_redis, open_or_fail(c, NULL, loop), loop };
	test_begin("bayes redis: a learn feeds the token HyperLogLog");
	test_assert(s.be != NULL && do_learn(&s, NULL, 8, true, a, 2) == BAYES_LEARN_OK);
	test_assert(server_saw(srv, "pfadd"));
	test_assert(counts(&s, NULL, 11, 1, 0) && counts(&s, NULL, 12, 1, 0));
	test_end();

	test_begin("bayes redis: a digest learnt by another host is 208, then moves");
	/* as if another host had learnt message 9 as spam */
	test_assert(server_cmd(srv, "HSET %s %s %s", "PL_learned", hex9, "S"));
	test_assert(do_learn(&s, NULL, 9, true, a, 2) == BAYES_LEARN_ALREADY);
	test_assert(counts(&s, NULL, 11, 1, 0) && counts(&s, NULL, 12, 1, 0));
	test_assert(do_stat(&s, &t) == 0 && t.learned_spam == 1 && t.tokens == 2);
	/* into ham: the spam counts it never added are not taken away */
	test_assert(do_learn(&s, NULL, 9, false, a, 2) == BAYES_LEARN_OK);
	test_assert(counts(&s, NULL, 11, 0, 1) && counts(&s, NULL, 12, 0, 1));
	test_assert(do_stat(&s, &t) == 0 && t.learned_spam == 0 && t.learned_ham == 1);
	test_end();

	test_begin("bayes redis: the token count is an estimate within 2%");
	for (size_t i = 0; i < N; i++)
		h[i] = 0x9e3779b97f4a7c15ULL * (i + 777777);
	test_assert(do_learn(&s, NULL, 10, true, h, N) == BAYES_LEARN_OK);
	test_assert(do_stat(&s, &t) == 0);
	test_assert(t.tokens > (N + 2) * 98 / 100 && t.tokens < (N + 2) * 102 / 100);
	/* PFADD goes in chunks (Lua's unpack has a limit); the undo too */
	test_assert(do_learn(&s, NULL, 10, false, h, N) == BAYES_LEARN_OK);
	test_assert(counts(&s, NULL, h[0], 0, 1) && counts(&s, NULL, h[N - 1], 0, 1));
	test_end();
	if (s.be != NULL)
		s.ops->close(s.be);
	obj_free(&c);
}

static int
lookup_until_ok(struct suite *s, double max)
{
	struct bayes_token t = { 1, 0, 0 };
	double start = ev_time();

	while (ev_time() - start < max) {
		if (do_lookup(s, NULL, &t, 1, NULL) == 0)
			return 0;
		wait_for(s->loop, &(struct waiter){ 0 }, 0.05);
	}
	return -1;
}

static void
test_outage(struct ev_loop *loop, struct redis_test_server *srv)
{
	struct obj *c = classifier_for(srv, NULL, 0);
	struct suite s = { &bayes_backend_redis, open_or_fail(c, NULL, loop), loop };
	struct waiter w = { 0 };
	struct bayes_token t = { 1, 0, 0 };
	uint64_t h = 1;
	double took;

	test_begin("bayes redis: server killed: operations fail within the timeout");
	test_assert(s.be != NULL && lookup_until_ok(&s, 2) == 0);
	/* scripts were loaded at connect: lookups go out as EVALSHA */
	test_assert(server_saw(srv, "script|load") && server_saw(srv, "evalsha"));
	redis_test_kill(srv);
	s.ops->lookup(s.be, NULL, &t, 1, on_lookup, &w);
	took = wait_for(loop, &w, 3);
	test_assert(w.calls == 1 && w.rc == -1 && took < 1.0);
	test_assert(do_learn(&s, NULL, 3, true, &h, 1) == BAYES_LEARN_ERROR);
	test_end();

	test_begin("bayes redis: server restarted (empty, no scripts): works again");
	test_assert(redis_test_restart(srv));
	test_assert(lookup_until_ok(&s, 4) == 0);
	test_assert(do_learn(&s, NULL, 3, true, &h, 1) == BAYES_LEARN_OK);
	test_assert(counts(&s, NULL, 1, 1, 0));
	/* the sha was known, the new server answered NOSCRIPT, EVAL followed */
	test_assert(server_saw(srv, "evalsha") && server_saw(srv, "eval"));
	test_end();

	test_begin("bayes redis: server stopped: operations fail at the timeout");
	kill(srv->pid, SIGSTOP);
	memset(&w, 0, sizeof(w));
	s.ops->stat(s.be, on_lookup, &w);
	took = wait_for(loop, &w, 3);
	test_assert(w.calls == 1 && w.rc == -1 && took >= 0.45 && took < 1.5);
	kill(srv->pid, SIGCONT);
	test_assert(lookup_until_ok(&s, 4) == 0);
	test_assert(counts(&s, NULL, 1, 1, 0));
	test_end();
	if (s.be != NULL)
		s.ops->close(s.be);
	obj_free(&c);
}

int
main(void)
{
	struct redis_test_server srv;
	struct ev_loop *loop;

	signal(SIGPIPE, SIG_IGN);
	test_bad_config();
	if (!redis_test_available()) {
		printf("skipped: %s not found\n", REDIS_TEST_BINARY);
		return test_exit();
	}
	loop = ev_loop_new(EVFLAG_AUTO);
	test_begin("bayes redis: start redis-server");
	test_assert(redis_test_start(&srv, NULL, false));
	test_end();
	test_contract_tcp(loop, &srv);
	test_no_loop(&srv);
	test_password_db(loop);
	test_global_section(loop);
	test_learn_script(loop, &srv);
	test_outage(loop, &srv);
	redis_test_stop(&srv);
	ev_loop_destroy(loop);
	return test_exit();
}
