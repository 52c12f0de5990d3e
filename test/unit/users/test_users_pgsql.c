/*
 * The PostgreSQL backend against a real server: asynchronous lookups on a
 * libev loop (answers arrive from the loop, not inside the call), cancel,
 * reconnect after the server kills our session, a temporary failure when
 * the server is unreachable, the blocking mode used by rspamadm, and a
 * tutorial-style '%s' query. Runs only when PG_CONNINFO is set (the
 * functional test test_users_admin.py starts a private server and runs
 * this binary); otherwise it reports a skip and passes.
 */
#include "users/users.h"
#include "test.h"

#include <ev.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/obj.h"

static const char *conninfo;
static struct ev_loop *loop;

static const char setup_sql[] =
    "DROP TABLE IF EXISTS virtual_domains, virtual_users, virtual_aliases;"
    "CREATE TABLE virtual_domains (name text PRIMARY KEY);"
    "CREATE TABLE virtual_users (email text PRIMARY KEY, password text NOT NULL,"
    " quota_bytes bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE virtual_aliases (source text NOT NULL, destination text NOT NULL,"
    " PRIMARY KEY (source, destination));"
    "INSERT INTO virtual_domains VALUES ('example.com');"
    "INSERT INTO virtual_aliases VALUES ('team@example.com', 'ann@example.com'),"
    " ('team@example.com', 'ext@remote.net'), ('@example.com', 'ann@example.com');";

static int
sql(const char *text)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;
	int ok;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "%s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, text);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "%s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

struct res {
	int done;
	enum users_status status;
	size_t n_mbox, n_remote;
	char mbox0[128];
	uint64_t quota0;
	bool catchall;
	int result;
};

static void
resolve_cb(const struct users_resolution *r, void *ud)
{
	struct res *res = ud;

	res->done++;
	res->status = r->status;
	res->n_mbox = r->n_mailboxes;
	res->n_remote = r->n_remote;
	res->catchall = r->catchall;
	if (r->n_mailboxes > 0) {
		snprintf(res->mbox0, sizeof(res->mbox0), "%s",
		    r->mailboxes[0].email);
		res->quota0 = r->mailboxes[0].quota_bytes;
	}
}

static void
int_cb(int result, void *ud)
{
	struct res *res = ud;

	res->done++;
	res->result = result;
}

static void
run_until(const int *flag)
{
	for (int i = 0; i < 1000 && *flag == 0; i++)
		ev_run(loop, EVRUN_ONCE);
}

static struct users *
open_pg_t(const char *ci, struct ev_loop *l, const char *query_user,
    double timeout)
{
	struct obj *conf = obj_new_object();
	struct users *u;
	char *err = NULL;

	obj_object_set(conf, "backend", obj_new_string("pgsql"));
	obj_object_set(conf, "conninfo", obj_new_string(ci));
	obj_object_set(conf, "cache_ttl", obj_new_int(0));
	obj_object_set(conf, "query_timeout", obj_new_float(timeout));
	if (query_user != NULL)
		obj_object_set(conf, "query_user", obj_new_string(query_user));
	u = users_open(conf, NULL, l, &err);
	if (u == NULL)
		fprintf(stderr, "users_open: %s\n", err);
	free(err);
	obj_free(&conf);
	return u;
}

static struct users *
open_pg(const char *ci, struct ev_loop *l, const char *query_user)
{
	return open_pg_t(ci, l, query_user, 3);
}

static void
test_async(void)
{
	struct users *u = open_pg(conninfo, loop, NULL);
	struct users_req *req;
	struct res r = { 0 }, r2 = { 0 }, r3 = { 0 };

	test_begin("async resolve, auth, cancel");
	test_assert(u != NULL);
	req = users_resolve(u, "Team@Example.COM", resolve_cb, &r);
	test_assert(req != NULL && r.done == 0);
	run_until(&r.done);
	test_assert(r.done == 1 && r.status == USERS_FOUND && r.n_mbox == 1 &&
	    r.n_remote == 1 && strcmp(r.mbox0, "ann@example.com") == 0 &&
	    r.quota0 == 1048576);

	memset(&r, 0, sizeof(r));
	test_assert(users_authenticate(u, "ann@example.com", "annpw", int_cb,
	    &r) != NULL);
	run_until(&r.done);
	test_assert(r.done == 1 && r.result == 1);
	memset(&r, 0, sizeof(r));
	(void)users_authenticate(u, "ann@example.com", "wrong", int_cb, &r);
	run_until(&r.done);
	test_assert(r.result == 0);

	/* three in flight, the middle one cancelled */
	memset(&r, 0, sizeof(r));
	(void)users_resolve(u, "nobody@example.com", resolve_cb, &r);
	req = users_resolve(u, "ann@example.com", resolve_cb, &r2);
	(void)users_resolve(u, "x@elsewhere.org", resolve_cb, &r3);
	users_cancel(&req);
	test_assert(req == NULL);
	run_until(&r3.done);
	run_until(&r.done);
	test_assert(r.done == 1 && r.status == USERS_FOUND && r.catchall);
	test_assert(r2.done == 0);
	test_assert(r3.done == 1 && r3.status == USERS_NOT_LOCAL);

	/* the server drops our session: the next lookup reconnects */
	test_assert(sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE pid <> pg_backend_pid() AND datname = current_database()") == 0);
	memset(&r, 0, sizeof(r));
	(void)users_sender_allowed(u, "ann@example.com", "team@example.com",
	    int_cb, &r);
	run_until(&r.done);
	test_assert(r.done == 1 && r.result == 1);

	/* a pending request is dropped silently by close */
	memset(&r, 0, sizeof(r));
	(void)users_resolve(u, "ann@example.com", resolve_cb, &r);
	users_close(&u);
	ev_run(loop, EVRUN_NOWAIT);
	test_assert(r.done == 0);
	test_end();
}

static void
test_unreachable(void)
{
	struct users *u = open_pg("host=127.0.0.1 port=1 connect_timeout=2",
	    loop, NULL);
	struct res r = { 0 };

	test_begin("unreachable server: temporary failure");
	test_assert(u != NULL);
	(void)users_resolve(u, "ann@example.com", resolve_cb, &r);
	run_until(&r.done);
	test_assert(r.done == 1 && r.status == USERS_TEMPFAIL);
	memset(&r, 0, sizeof(r));
	(void)users_authenticate(u, "ann@example.com", "annpw", int_cb, &r);
	run_until(&r.done);
	test_assert(r.done == 1 && r.result == -1);
	users_close(&u);
	test_end();
}

static void
test_timeout(void)
{
	struct users *u = open_pg_t(conninfo, loop,
	    "SELECT email, password, quota_bytes FROM virtual_users "
	    "WHERE email=$1 UNION ALL SELECT NULL, NULL, NULL "
	    "FROM pg_sleep(3) WHERE $2 = 'slow'",
	    0.5);
	struct res r = { 0 };

	test_begin("query timeout, then a fresh connection");
	test_assert(u != NULL);
	(void)users_authenticate(u, "slow@example.com", "x", int_cb, &r);
	run_until(&r.done);
	test_assert(r.done == 1 && r.result == -1);
	memset(&r, 0, sizeof(r));
	(void)users_authenticate(u, "ann@example.com", "annpw", int_cb, &r);
	run_until(&r.done);
	test_assert(r.done == 1 && r.result == 1);
	users_close(&u);
	test_end();
}

static void
test_blocking(void)
{
	struct users *u = open_pg(conninfo, NULL,
	    "SELECT email, password, quota_bytes FROM virtual_users "
	    "WHERE email='%s'");
	struct res r = { 0 };
	char *err = NULL;

	test_begin("blocking mode, admin, tutorial query");
	test_assert(u != NULL);
	test_assert(users_resolve(u, "ann@example.com", resolve_cb, &r) == NULL);
	test_assert(r.done == 1 && r.status == USERS_FOUND);
	test_assert(users_admin_user_add(u, "bob@example.com", "bobpw",
	    5u << 20, &err) == 0);
	free(err);
	err = NULL;
	test_assert(users_admin_user_add(u, "bob@example.com", "x", 0, &err) < 0);
	free(err);
	memset(&r, 0, sizeof(r));
	(void)users_authenticate(u, "bob@example.com", "bobpw", int_cb, &r);
	test_assert(r.done == 1 && r.result == 1);
	err = NULL;
	test_assert(users_admin_user_del(u, "bob@example.com", &err) == 0);
	free(err);
	users_close(&u);
	test_end();
}

int
main(void)
{
	const char *err;
	char *hash, *ins;

	conninfo = getenv("PG_CONNINFO");
	if (conninfo == NULL || conninfo[0] == '\0') {
		printf("skip: PG_CONNINFO not set\n");
		return 0;
	}
	hash = users_hash_password("annpw", "sha512", &err);
	ins = malloc(512);
	if (hash == NULL || ins == NULL || sql(setup_sql) < 0)
		return 1;
	snprintf(ins, 512, "INSERT INTO virtual_users VALUES "
	    "('ann@example.com', '{SHA512-CRYPT}%s', 1048576)", hash);
	if (sql(ins) < 0)
		return 1;
	free(ins);
	free(hash);
	loop = ev_loop_new(EVFLAG_AUTO);
	test_async();
	test_unreachable();
	test_timeout();
	test_blocking();
	ev_loop_destroy(loop);
	return test_exit();
}
