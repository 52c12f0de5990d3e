/*
 * Unit tests for redis_conn (hiredis on libev): address parsing, setup
 * (AUTH, SELECT), replies, cancel, freeing from a callback, a server that
 * dies, comes back, or stops answering. Runs a private redis-server.
 */
#include "scan/bayes/redis_conn.h"
#include "test.h"

#include <ev.h>

#include "core/obj.h"
#include "redis_test_server.h"

struct result {
	int calls;
	int rc;
	int type;
	long long integer;
	char str[64];
	struct redis_conn **free_conn; /* free this connection from the callback */
};

static void
on_reply(int rc, const redisReply *reply, void *ud)
{
	struct result *res = ud;

	res->calls++;
	res->rc = rc;
	res->type = reply != NULL ? reply->type : -1;
	res->str[0] = '\0';
	if (reply != NULL) {
		res->integer = reply->integer;
		if (reply->str != NULL)
			snprintf(res->str, sizeof(res->str), "%.*s", (int)reply->len, reply->str);
	}
	if (res->free_conn != NULL)
		redis_conn_free(res->free_conn);
}

static void
run_for(struct ev_loop *loop, double secs)
{
	int never = 0;

	run_until(loop, &never, secs);
}

static struct redis_req *
cmd(struct redis_conn *c, const char *a0, const char *a1, const char *a2, struct result *res)
{
	const char *argv[3] = { a0, a1, a2 };
	size_t lens[3] = { strlen(a0), a1 ? strlen(a1) : 0, a2 ? strlen(a2) : 0 };
	int argc = a2 ? 3 : a1 ? 2 : 1;

	memset(res, 0, sizeof(*res));
	return redis_conn_command(c, argc, argv, lens, on_reply, res);
}

static void
test_parse(void)
{
	struct redis_conn_settings s;
	const char *err = NULL;
	struct obj *o;

	test_begin("redis_conn: parse server addresses");
	memset(&s, 0, sizeof(s));
	o = obj_new_string("10.0.0.1:6380, 10.0.0.2");
	test_assert(redis_conn_parse_server(o, &s, &err) == 0);
	test_assert(s.host != NULL && strcmp(s.host, "10.0.0.1") == 0 && s.port == 6380);
	redis_conn_settings_deinit(&s);
	obj_free(&o);
	o = obj_new_string("localhost");
	test_assert(redis_conn_parse_server(o, &s, &err) == 0);
	test_assert(strcmp(s.host, "localhost") == 0 && s.port == 6379);
	redis_conn_settings_deinit(&s);
	obj_free(&o);
	o = obj_new_string("/run/redis/redis.sock");
	test_assert(redis_conn_parse_server(o, &s, &err) == 0);
	test_assert(s.host == NULL && strcmp(s.socket_path, "/run/redis/redis.sock") == 0);
	redis_conn_settings_deinit(&s);
	obj_free(&o);
	o = obj_new_string("[::1]:7000");
	test_assert(redis_conn_parse_server(o, &s, &err) == 0);
	test_assert(strcmp(s.host, "::1") == 0 && s.port == 7000);
	redis_conn_settings_deinit(&s);
	obj_free(&o);
	o = obj_new_array();
	obj_array_append(o, obj_new_string("127.0.0.1:1234"));
	obj_array_append(o, obj_new_string("127.0.0.1:1235"));
	test_assert(redis_conn_parse_server(o, &s, &err) == 0);
	test_assert(strcmp(s.host, "127.0.0.1") == 0 && s.port == 1234);
	redis_conn_settings_deinit(&s);
	obj_free(&o);
	o = obj_new_string("host:99999");
	test_assert(redis_conn_parse_server(o, &s, &err) < 0);
	redis_conn_settings_deinit(&s);
	obj_free(&o);
	o = obj_new_string("host:");
	test_assert(redis_conn_parse_server(o, &s, &err) < 0);
	obj_free(&o);
	redis_conn_settings_deinit(&s);
	test_assert(redis_conn_parse_server(NULL, &s, &err) < 0);
	test_end();
}

static struct redis_conn_settings
settings_for(const struct redis_test_server *srv, const char *password, int db)
{
	struct redis_conn_settings s;

	memset(&s, 0, sizeof(s));
	if (srv->port != 0) {
		s.host = "127.0.0.1";
		s.port = srv->port;
	} else {
		s.socket_path = (char *)srv->socket_path;
	}
	s.password = (char *)password;
	s.db = db;
	s.connect_timeout = 0.5;
	s.command_timeout = 0.5;
	return s;
}

static void
test_basic(struct ev_loop *loop, struct redis_test_server *srv)
{
	struct redis_conn_settings s = settings_for(srv, NULL, 0);
	struct redis_conn *c = redis_conn_new(loop, &s);
	struct result res, res2;
	struct redis_req *req;

	test_begin("redis_conn: commands, pipelining, cancel, free in callback");
	cmd(c, "SET", "k", "v1", &res);
	cmd(c, "GET", "k", NULL, &res2);
	run_until(loop, &res2.calls, 2);
	test_assert(res.calls == 1 && res.rc == 0 && res.type == REDIS_REPLY_STATUS);
	test_assert(res2.calls == 1 && res2.rc == 0 && strcmp(res2.str, "v1") == 0);
	test_assert(redis_conn_is_ready(c));
	/* an error reply is rc 0 with REDIS_REPLY_ERROR */
	cmd(c, "NOSUCHCOMMAND", NULL, NULL, &res);
	run_until(loop, &res.calls, 2);
	test_assert(res.rc == 0 && res.type == REDIS_REPLY_ERROR);
	/* cancelled: never called */
	req = cmd(c, "GET", "k", NULL, &res);
	redis_conn_cancel(c, req);
	cmd(c, "PING", NULL, NULL, &res2);
	run_until(loop, &res2.calls, 2);
	run_for(loop, 0.05);
	test_assert(res.calls == 0 && res2.calls == 1);
	/* freeing the connection from a reply callback: later replies dropped */
	cmd(c, "PING", NULL, NULL, &res);
	res.free_conn = &c;
	cmd(c, "PING", NULL, NULL, &res2);
	run_until(loop, &res.calls, 2);
	run_for(loop, 0.1);
	test_assert(res.calls == 1 && c == NULL && res2.calls == 0);
	redis_conn_free(&c);
	test_end();
}

static void
test_auth_db(struct ev_loop *loop)
{
	struct redis_test_server srv;
	struct redis_conn_settings s;
	struct redis_conn *c;
	struct result res;
	redisContext *sync;
	redisReply *r;

	test_begin("redis_conn: AUTH and SELECT; wrong password refused");
	test_assert(redis_test_start(&srv, "sekret", false));
	s = settings_for(&srv, "sekret", 5);
	c = redis_conn_new(loop, &s);
	cmd(c, "SET", "in5", "yes", &res);
	run_until(loop, &res.calls, 2);
	test_assert(res.rc == 0 && res.type == REDIS_REPLY_STATUS);
	sync = redis_test_sync(&srv);
	test_assert(sync != NULL);
	if (sync != NULL) {
		r = redisCommand(sync, "SELECT 5");
		freeReplyObject(r);
		r = redisCommand(sync, "GET in5");
		test_assert(r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "yes") == 0);
		freeReplyObject(r);
		redisFree(sync);
	}
	redis_conn_free(&c);
	s = settings_for(&srv, "wrong", 0);
	c = redis_conn_new(loop, &s);
	cmd(c, "GET", "in5", NULL, &res);
	run_until(loop, &res.calls, 2);
	test_assert(res.calls == 1 && (res.rc == -1 || res.type == REDIS_REPLY_ERROR));
	test_assert(!redis_conn_is_ready(c));
	redis_conn_free(&c);
	redis_test_stop(&srv);
	test_end();
}

/* Runs PINGs until one succeeds or `max` seconds pass. */
static bool
ping_until_ok(struct ev_loop *loop, struct redis_conn *c, double max)
{
	struct result res;
	double spent = 0;

	while (spent < max) {
		cmd(c, "PING", NULL, NULL, &res);
		spent += run_until(loop, &res.calls, 2);
		if (res.rc == 0 && res.type == REDIS_REPLY_STATUS)
			return true;
		spent += 0.05;
		run_for(loop, 0.05);
	}
	return false;
}

static void
test_outage(struct ev_loop *loop, struct redis_test_server *srv)
{
	struct redis_conn_settings s = settings_for(srv, NULL, 0);
	struct redis_conn *c = redis_conn_new(loop, &s);
	struct result res;
	double took;

	test_begin("redis_conn: server killed, restarted, stopped (SIGSTOP)");
	test_assert(ping_until_ok(loop, c, 2));
	redis_test_kill(srv);
	cmd(c, "PING", NULL, NULL, &res);
	took = run_until(loop, &res.calls, 3);
	test_assert(res.calls == 1 && res.rc == -1 && took < 1.0);
	/* while down, commands fail at once rather than after the timeout */
	cmd(c, "PING", NULL, NULL, &res);
	took = run_until(loop, &res.calls, 3);
	test_assert(res.calls == 1 && res.rc == -1 && took < 0.4);
	test_assert(redis_test_restart(srv));
	test_assert(ping_until_ok(loop, c, 4));
	/* a server that stops answering: the command times out */
	kill(srv->pid, SIGSTOP);
	cmd(c, "PING", NULL, NULL, &res);
	took = run_until(loop, &res.calls, 3);
	test_assert(res.calls == 1 && res.rc == -1 && took >= 0.45 && took < 1.5);
	kill(srv->pid, SIGCONT);
	test_assert(ping_until_ok(loop, c, 4));
	redis_conn_free(&c);
	test_end();
}

static void
test_unix(struct ev_loop *loop)
{
	struct redis_test_server srv;
	struct redis_conn_settings s;
	struct redis_conn *c;

	test_begin("redis_conn: unix socket");
	test_assert(redis_test_start(&srv, NULL, true));
	s = settings_for(&srv, NULL, 0);
	c = redis_conn_new(loop, &s);
	test_assert(ping_until_ok(loop, c, 2));
	redis_conn_free(&c);
	redis_test_stop(&srv);
	test_end();
}

int
main(void)
{
	struct redis_test_server srv;
	struct ev_loop *loop;

	signal(SIGPIPE, SIG_IGN);
	test_parse();
	if (!redis_test_available()) {
		printf("skipped: %s not found\n", REDIS_TEST_BINARY);
		return test_exit();
	}
	loop = ev_loop_new(EVFLAG_AUTO);
	test_begin("redis_conn: start redis-server");
	test_assert(redis_test_start(&srv, NULL, false));
	test_end();
	test_basic(loop, &srv);
	test_auth_db(loop);
	test_outage(loop, &srv);
	test_unix(loop);
	redis_test_stop(&srv);
	ev_loop_destroy(loop);
	return test_exit();
}
