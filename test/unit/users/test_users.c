/*
 * Unit tests for src/users on SQLite in a temp dir: admin functions,
 * resolution (exact, one-to-many alias, catch-all, loops, external
 * destinations, unknown user, non-local domain), authentication against
 * yescrypt/SHA512-CRYPT/bcrypt hashes made by crypt(3), the sender check,
 * the cache TTL, and the conversion of tutorial-style queries.
 */
#include "users/users.h"
#include "test.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/obj.h"

static char tmpdir[64];

struct res {
	bool called;
	enum users_status status;
	char mbox[8][128];
	uint64_t quota[8];
	size_t n_mbox;
	char remote[8][128];
	size_t n_remote;
	bool catchall, truncated;
};

static void
resolve_cb(const struct users_resolution *r, void *ud)
{
	struct res *res = ud;

	res->called = true;
	res->status = r->status;
	res->catchall = r->catchall;
	res->truncated = r->truncated;
	res->n_mbox = r->n_mailboxes;
	for (size_t i = 0; i < r->n_mailboxes && i < 8; i++) {
		snprintf(res->mbox[i], sizeof(res->mbox[i]), "%s",
		    r->mailboxes[i].email);
		res->quota[i] = r->mailboxes[i].quota_bytes;
	}
	res->n_remote = r->n_remote;
	for (size_t i = 0; i < r->n_remote && i < 8; i++)
		snprintf(res->remote[i], sizeof(res->remote[i]), "%s",
		    r->remote[i]);
}

static struct res
resolve(struct users *u, const char *addr)
{
	struct res res;

	memset(&res, 0, sizeof(res));
	test_assert(users_resolve(u, addr, resolve_cb, &res) == NULL);
	test_assert(res.called);
	return res;
}

static bool
has_mbox(const struct res *r, const char *email)
{
	for (size_t i = 0; i < r->n_mbox && i < 8; i++)
		if (strcmp(r->mbox[i], email) == 0)
			return true;
	return false;
}

static void
int_cb(int result, void *ud)
{
	*(int *)ud = result;
}

static int
auth(struct users *u, const char *user, const char *pw)
{
	int r = 99;

	test_assert(users_authenticate(u, user, pw, int_cb, &r) == NULL);
	return r;
}

static int
sender(struct users *u, const char *user, const char *from)
{
	int r = 99;

	test_assert(users_sender_allowed(u, user, from, int_cb, &r) == NULL);
	return r;
}

static int
is_local(struct users *u, const char *d)
{
	int r = 99;

	test_assert(users_domain_is_local(u, d, int_cb, &r) == NULL);
	return r;
}

/* A users section with cache_ttl (seconds) and optional extra keys. */
static struct obj *
conf_new(double ttl)
{
	struct obj *o = obj_new_object();

	obj_object_set(o, "cache_ttl", obj_new_float(ttl));
	return o;
}

static struct users *
open_users(double ttl)
{
	struct obj *conf = conf_new(ttl);
	char *err = NULL;
	struct users *u = users_open(conf, tmpdir, NULL, &err);

	if (u == NULL)
		fprintf(stderr, "users_open: %s\n", err);
	test_assert(u != NULL);
	free(err);
	obj_free(&conf);
	return u;
}

static void
ok(int rc, char *err)
{
	if (rc != 0)
		fprintf(stderr, "unexpected error: %s\n", err != NULL ? err : "(none)");
	test_assert(rc == 0);
	free(err);
}

static void
test_admin(void)
{
	struct users *u;
	char *err = NULL, **names;
	struct users_entry *ents;
	struct users_alias *als;
	size_t n;

	test_begin("admin add/list/del");
	u = open_users(0);
	ok(users_admin_domain_add(u, "Example.COM", &err), err);
	err = NULL;
	ok(users_admin_domain_add(u, "example.org", &err), err);
	err = NULL;
	test_assert(users_admin_domain_add(u, "example.com", &err) < 0);
	test_assert(err != NULL && strstr(err, "exists") != NULL);
	free(err);
	err = NULL;
	test_assert(users_admin_domain_add(u, "bad..dom", &err) < 0);
	free(err);
	err = NULL;
	ok(users_admin_domain_list(u, &names, &err), err);
	test_assert(names[0] != NULL && strcmp(names[0], "example.com") == 0);
	test_assert(names[1] != NULL && strcmp(names[1], "example.org") == 0);
	test_assert(names[2] == NULL);
	users_list_free(names);

	err = NULL;
	ok(users_admin_user_add(u, "alice@EXAMPLE.com", "secret1", 1u << 30,
	    &err), err);
	err = NULL;
	test_assert(users_admin_user_add(u, "ALICE@example.com", "x", 0,
	    &err) < 0);
	test_assert(err != NULL && strstr(err, "exists") != NULL);
	free(err);
	err = NULL;
	test_assert(users_admin_user_add(u, "bob@nowhere.net", "x", 0, &err) < 0);
	test_assert(err != NULL && strstr(err, "unknown domain") != NULL);
	free(err);
	err = NULL;
	test_assert(users_admin_user_add(u, "a b@example.com", "x", 0, &err) < 0);
	free(err);
	err = NULL;
	test_assert(users_admin_user_add(u, "a@b@example.com", "x", 0, &err) < 0);
	free(err);
	err = NULL;
	ok(users_admin_user_add(u, "bob@example.com", "secret2", 0, &err), err);
	err = NULL;
	ok(users_admin_user_add(u, "carol@example.org", "secret3", 0, &err), err);
	err = NULL;
	ok(users_admin_user_list(u, "example.com", &ents, &n, &err), err);
	test_assert(n == 2);
	test_assert(n == 2 && strcmp(ents[0].email, "alice@example.com") == 0 &&
	    ents[0].quota_bytes == (1u << 30));
	users_entries_free(ents, n);

	err = NULL;
	ok(users_admin_alias_add(u, "sales@example.com", "alice@example.com",
	    &err), err);
	err = NULL;
	test_assert(users_admin_alias_add(u, "sales@example.com",
	    "alice@example.com", &err) < 0);
	free(err);
	err = NULL;
	test_assert(users_admin_alias_add(u, "x@other.net", "alice@example.com",
	    &err) < 0);
	free(err);
	err = NULL;
	ok(users_admin_alias_list(u, NULL, &als, &n, &err), err);
	test_assert(n == 1 && strcmp(als[0].dest, "alice@example.com") == 0);
	users_aliases_free(als, n);

	err = NULL;
	test_assert(users_admin_domain_del(u, "example.org", &err) < 0);
	test_assert(err != NULL && strstr(err, "still has") != NULL);
	free(err);
	err = NULL;
	ok(users_admin_user_del(u, "carol@example.org", &err), err);
	err = NULL;
	ok(users_admin_domain_del(u, "example.org", &err), err);
	err = NULL;
	test_assert(users_admin_user_del(u, "carol@example.org", &err) < 0);
	free(err);
	err = NULL;
	ok(users_admin_alias_del(u, "sales@example.com", NULL, &err), err);
	err = NULL;
	test_assert(users_admin_alias_del(u, "sales@example.com", NULL, &err) < 0);
	free(err);
	users_close(&u);
	test_assert(u == NULL);
	test_end();
}

static void
add_alias(struct users *u, const char *s, const char *d)
{
	char *err = NULL;

	ok(users_admin_alias_add(u, s, d, &err), err);
}

static void
test_resolve(void)
{
	struct users *u = open_users(30);
	struct res r;

	test_begin("resolve");
	add_alias(u, "team@example.com", "alice@example.com");
	add_alias(u, "team@example.com", "Bob@Example.com");
	add_alias(u, "team@example.com", "friend@remote.net");
	add_alias(u, "loop1@example.com", "loop2@example.com");
	add_alias(u, "loop2@example.com", "loop1@example.com");
	add_alias(u, "keep@example.com", "keep@example.com");
	add_alias(u, "keep@example.com", "alice@example.com");

	r = resolve(u, "alice@example.com");
	test_assert(r.status == USERS_FOUND && r.n_mbox == 1 &&
	    strcmp(r.mbox[0], "alice@example.com") == 0 &&
	    r.quota[0] == (1u << 30) && !r.catchall);
	r = resolve(u, "ALICE@EXAMPLE.COM");
	test_assert(r.status == USERS_FOUND && r.n_mbox == 1);
	r = resolve(u, "team@example.com");
	test_assert(r.status == USERS_FOUND && r.n_mbox == 2 &&
	    has_mbox(&r, "alice@example.com") && has_mbox(&r, "bob@example.com"));
	test_assert(r.n_remote == 1 && strcmp(r.remote[0], "friend@remote.net") == 0);
	r = resolve(u, "nobody@example.com");
	test_assert(r.status == USERS_UNKNOWN && r.n_mbox == 0);
	r = resolve(u, "someone@remote.net");
	test_assert(r.status == USERS_NOT_LOCAL);
	r = resolve(u, "not an address");
	test_assert(r.status == USERS_INVALID);
	r = resolve(u, "loop1@example.com");
	test_assert(r.status == USERS_UNKNOWN && r.n_mbox == 0);
	/* "keep" is not a mailbox: it expands to itself (final, no user) and
	 * alice */
	r = resolve(u, "keep@example.com");
	test_assert(r.status == USERS_FOUND && r.n_mbox == 1 &&
	    has_mbox(&r, "alice@example.com"));

	add_alias(u, "@example.com", "bob@example.com");
	r = resolve(u, "nobody@example.com");
	test_assert(r.status == USERS_FOUND && r.catchall && r.n_mbox == 1 &&
	    has_mbox(&r, "bob@example.com"));
	/* exact matches win over the catch-all */
	r = resolve(u, "alice@example.com");
	test_assert(r.n_mbox == 1 && has_mbox(&r, "alice@example.com") &&
	    !r.catchall);
	r = resolve(u, "team@example.com");
	test_assert(r.n_mbox == 2 && !r.catchall);

	test_assert(is_local(u, "EXAMPLE.com") == 1);
	test_assert(is_local(u, "remote.net") == 0);
	test_assert(is_local(u, "bad domain") == 0);
	users_close(&u);
	test_end();
}

static void
test_deep(void)
{
	struct users *u = open_users(30);
	char s[64], d[64];
	struct res r;

	test_begin("depth and fan-out bounds");
	for (int i = 0; i < 15; i++) {
		snprintf(s, sizeof(s), "chain%d@example.com", i);
		snprintf(d, sizeof(d), "chain%d@example.com", i + 1);
		add_alias(u, s, d);
	}
	add_alias(u, "chain15@example.com", "alice@example.com");
	r = resolve(u, "chain0@example.com");
	test_assert(r.truncated && r.n_mbox == 0);
	r = resolve(u, "chain8@example.com");
	test_assert(!r.truncated && r.n_mbox == 1);
	users_close(&u);
	test_end();
}

static void
set_hash(struct users *u, const char *email, const char *prefix,
    const char *pw, const char *dovecot_prefix)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], full[512], *err = NULL;
	const char *h;

	test_assert(crypt_gensalt_rn(prefix, 0, NULL, 0, salt,
	    sizeof(salt)) != NULL);
	h = crypt(pw, salt);
	test_assert(h != NULL && h[0] == '$');
	snprintf(full, sizeof(full), "%s%s", dovecot_prefix, h);
	ok(users_admin_user_set_hash(u, email, full, &err), err);
}

static void
test_auth(void)
{
	struct users *u = open_users(30);
	const char *err;
	char *h;

	test_begin("authenticate");
	test_assert(auth(u, "alice@example.com", "secret1") == 1);
	test_assert(auth(u, "Alice@EXAMPLE.com", "secret1") == 1);
	test_assert(auth(u, "alice@example.com", "secret2") == 0);
	test_assert(auth(u, "alice@example.com", "") == 0);
	test_assert(auth(u, "ghost@example.com", "secret1") == 0);
	test_assert(auth(u, "garbage", "secret1") == 0);

	set_hash(u, "bob@example.com", "$6$", "sha-pw", "");
	test_assert(auth(u, "bob@example.com", "sha-pw") == 1);
	test_assert(auth(u, "bob@example.com", "sha-pX") == 0);
	set_hash(u, "bob@example.com", "$6$", "sha-pw2", "{SHA512-CRYPT}");
	test_assert(auth(u, "bob@example.com", "sha-pw2") == 1);
	set_hash(u, "bob@example.com", "$2b$", "bf-pw", "");
	test_assert(auth(u, "bob@example.com", "bf-pw") == 1);
	test_assert(auth(u, "bob@example.com", "bf-pX") == 0);
	set_hash(u, "bob@example.com", "$2b$", "bf-pw2", "{BLF-CRYPT}");
	test_assert(auth(u, "bob@example.com", "bf-pw2") == 1);
	set_hash(u, "bob@example.com", "$y$", "y-pw", "");
	test_assert(auth(u, "bob@example.com", "y-pw") == 1);

	h = users_hash_password("pw", "sha512", &err);
	test_assert(h != NULL && strncmp(h, "$6$", 3) == 0);
	test_assert(users_verify_password("pw", h) == 1);
	free(h);
	h = users_hash_password("pw", "bcrypt", &err);
	test_assert(h != NULL && strncmp(h, "$2b$", 4) == 0);
	test_assert(users_verify_password("pw", h) == 1);
	free(h);
	h = users_hash_password("pw", NULL, &err);
	test_assert(h != NULL && strncmp(h, "$y$", 3) == 0);
	free(h);
	test_assert(users_hash_password("pw", "md5", &err) == NULL);
	test_assert(users_verify_password("pw", "{PLAIN}pw") == 0);
	test_assert(users_verify_password("pw", "pw") == 0);

	test_assert(sender(u, "alice@example.com", "alice@example.com") == 1);
	test_assert(sender(u, "alice@example.com", "ALICE@example.COM") == 1);
	test_assert(sender(u, "alice@example.com", "team@example.com") == 1);
	test_assert(sender(u, "alice@example.com", "") == 1);
	test_assert(sender(u, "bob@example.com", "alice@example.com") == 0);
	/* the catch-all delivers nobody@ to bob, but does not let him send */
	test_assert(sender(u, "bob@example.com", "nobody@example.com") == 0);
	test_assert(sender(u, "alice@example.com", "x@remote.net") == 0);
	users_close(&u);
	test_end();
}

static void
test_cache(void)
{
	struct users *u = open_users(1.0), *admin = open_users(0);
	char *err = NULL;
	struct res r;

	test_begin("cache TTL");
	r = resolve(u, "dave@example.com");
	test_assert(r.status == USERS_FOUND && r.catchall);
	/* another process (admin) adds dave: the cached answer stays until
	 * the TTL ends */
	ok(users_admin_user_add(admin, "dave@example.com", "pw", 0, &err), err);
	r = resolve(u, "dave@example.com");
	test_assert(r.catchall);
	usleep(1200 * 1000);
	r = resolve(u, "dave@example.com");
	test_assert(r.status == USERS_FOUND && !r.catchall &&
	    has_mbox(&r, "dave@example.com"));
	/* admin functions flush their own cache at once */
	err = NULL;
	ok(users_admin_user_del(u, "dave@example.com", &err), err);
	r = resolve(u, "dave@example.com");
	test_assert(r.catchall);
	users_close(&u);
	users_close(&admin);
	test_end();
}

static void
test_convert(void)
{
	const char *err;
	char *s;
	struct obj *conf;
	struct users *u;
	struct res r;

	test_begin("query conversion");
	s = users_query_convert("SELECT 1 FROM virtual_users WHERE email='%s'",
	    USERS_SQL_PGSQL, &err);
	test_assert(s != NULL &&
	    strcmp(s, "SELECT 1 FROM virtual_users WHERE email=$1") == 0);
	free(s);
	s = users_query_convert("SELECT x FROM t WHERE u=%u AND d='%d' AND "
	    "n LIKE 'a%' AND m=$1 AND p=100%%", USERS_SQL_SQLITE, &err);
	test_assert(s != NULL && strcmp(s, "SELECT x FROM t WHERE u=?2 AND "
	    "d=?3 AND n LIKE 'a%' AND m=?1 AND p=100%") == 0);
	free(s);
	s = users_query_convert("SELECT 'it''s' WHERE e='%s'", USERS_SQL_PGSQL,
	    &err);
	test_assert(s != NULL && strcmp(s, "SELECT 'it''s' WHERE e=$1") == 0);
	free(s);
	test_assert(users_query_convert("WHERE e='x%s'", USERS_SQL_PGSQL,
	    &err) == NULL);
	test_assert(users_query_convert("WHERE e='%s", USERS_SQL_PGSQL,
	    &err) == NULL);
	test_assert(users_query_convert("WHERE e=%n", USERS_SQL_PGSQL,
	    &err) == NULL);
	test_assert(users_query_convert("WHERE e=$4", USERS_SQL_PGSQL,
	    &err) == NULL);

	/* a tutorial-style configuration runs, with %u/%d */
	conf = conf_new(0);
	obj_object_set(conf, "query_user", obj_new_string(
	    "SELECT email, password, quota_bytes FROM virtual_users "
	    "WHERE email = '%u' || '@' || '%d'"));
	obj_object_set(conf, "query_domain", obj_new_string(
	    "SELECT 1 FROM virtual_domains WHERE name='%s'"));
	u = users_open(conf, tmpdir, NULL, &s);
	test_assert(u != NULL);
	r = resolve(u, "bob@example.com");
	test_assert(r.status == USERS_FOUND && has_mbox(&r, "bob@example.com"));
	users_close(&u);
	obj_object_set(conf, "query_alias", obj_new_string("SELECT '%s"));
	test_assert(users_open(conf, tmpdir, NULL, &s) == NULL);
	free(s);
	obj_object_set(conf, "query_alias", obj_new_string("x"));
	obj_object_set(conf, "bogus", obj_new_int(1));
	test_assert(users_open(conf, tmpdir, NULL, &s) == NULL);
	test_assert(strstr(s, "bogus") != NULL);
	free(s);
	obj_free(&conf);
	test_end();
}

static void
test_helpers(void)
{
	uint64_t v;
	const char *err;
	char *n;

	test_begin("helpers");
	test_assert(users_parse_size("1G", &v) == 0 && v == 1073741824ull);
	test_assert(users_parse_size("500M", &v) == 0 && v == 500ull << 20);
	test_assert(users_parse_size("10kb", &v) == 0 && v == 10240);
	test_assert(users_parse_size("123", &v) == 0 && v == 123);
	test_assert(users_parse_size("1X", &v) < 0);
	test_assert(users_parse_size("", &v) < 0);
	test_assert(users_parse_size("-1", &v) < 0);
	test_assert(users_address_check("Joe@Example.COM", &n, &err) == 0 &&
	    strcmp(n, "Joe@example.com") == 0);
	free(n);
	test_assert(users_address_check("@example.com", NULL, &err) < 0);
	test_assert(users_address_check("joe@", NULL, &err) < 0);
	test_assert(users_address_check("joe\x01@example.com", NULL, &err) < 0);
	test_assert(users_address_check("joe@exa_mple.com", NULL, &err) < 0);
	{
		char big[300];

		memset(big, 'a', sizeof(big));
		memcpy(big + 280, "@example.com", 13);
		test_assert(users_address_check(big, NULL, &err) < 0);
	}
	test_end();
}

int
main(void)
{
	char cmd[128];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_users.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	test_helpers();
	test_admin();
	test_resolve();
	test_deep();
	test_auth();
	test_cache();
	test_convert();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return test_exit();
}
