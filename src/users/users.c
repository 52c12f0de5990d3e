/*
 * users.c - the user database front end: reads the `users` section of
 * mta.conf, opens the backend, and runs lookups as small resumable state
 * machines (struct users_req) over cached backend queries.
 *
 * A request never blocks on its own: each step asks req_lookup() for one
 * answer (domain row, user row, alias rows). The answer comes from the
 * cache, from a synchronous backend (SQLite, blocking PostgreSQL), or
 * later from the loop; in the last case the step returns and resumes at
 * the same phase when users_req_answer() delivers the rows. The steps are
 * deterministic, so a resumed step asks for the same query and takes the
 * delivered answer.
 *
 * Alias expansion is a breadth-first walk over a list of items that doubles
 * as the visited set: each address is expanded at most once and may appear
 * once more as a "final" item (a mailbox only), which ends loops and
 * implements "alias to itself keeps a copy". Depth and total items are
 * bounded (USERS_MAX_ALIAS_DEPTH, USERS_MAX_FANOUT).
 */
#include "users/users_internal.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"

#define DEFAULT_CACHE_TTL 30.0
#define DEFAULT_CACHE_SIZE 10000
#define DEFAULT_QUERY_TIMEOUT 5.0

static const char *const default_sqlite_queries[USERS_Q_COUNT] = {
	"SELECT 1 FROM virtual_domains WHERE name=$1",
	"SELECT email, password, quota_bytes FROM virtual_users WHERE email=$1",
	"SELECT destination FROM virtual_aliases WHERE source=$1",
};
static const char *const default_pgsql_queries[USERS_Q_COUNT] = {
	"SELECT 1 FROM virtual_domains WHERE lower(name)=lower($1)",
	("SELECT email, password, quota_bytes FROM virtual_users "
	    "WHERE lower(email)=lower($1)"),
	"SELECT destination FROM virtual_aliases WHERE lower(source)=lower($1)",
};
static const char *const query_keys[USERS_Q_COUNT] = {
	"query_domain", "query_user", "query_alias",
};

enum req_kind {
	REQ_DOMAIN,
	REQ_RESOLVE,
	REQ_AUTH,
	REQ_SENDER,
};

enum rs_phase {
	PH_DOMAIN,
	PH_ALIAS,
	PH_USER,
	PH_CATCHALL,
};

struct rs_item {
	char *addr;
	int depth;
	bool final;
};

struct users_req {
	struct users *u;
	struct users_req *prev, *next;
	enum req_kind kind;
	union {
		users_domain_cb *domain;
		users_resolve_cb *resolve;
		users_auth_cb *auth;
	} cb;
	void *ud;
	/* the answer of the pending query, when it arrived */
	bool have_answer;
	int answer_status;
	struct users_rows answer;
	enum users_query pend_q;
	char *pend_key;
	/* REQ_DOMAIN/REQ_AUTH: the key; REQ_AUTH: the password */
	char *key, *password;
	/* REQ_SENDER: the authenticated user */
	char *auth_user;
	/* REQ_RESOLVE/REQ_SENDER */
	struct rs_item *items;
	size_t n_items, cap_items, cur;
	enum rs_phase phase;
	struct users_mailbox *mbox;
	size_t n_mbox, cap_mbox;
	char **remote;
	size_t n_remote, cap_remote;
	bool catchall, truncated, tempfail;
	enum users_status status;
	const char *error;
};

/* ----- configuration ----- */

struct users_settings {
	const char *backend, *path, *conninfo;
	double cache_ttl, timeout;
	int64_t cache_size;
	const char *queries[USERS_Q_COUNT];
};

static int
settings_string(const struct obj *v, const char **out, char **error_r)
{
	if ((*out = obj_get_string(v)) == NULL) {
		*error_r = xasprintf("%s:%u: users.%s must be a string",
		    v->file != NULL ? v->file : "mta.conf", v->line, v->key);
		return -1;
	}
	return 0;
}

static int
settings_number(const struct obj *v, double *out, char **error_r)
{
	if (obj_get_double(v, out) < 0 || *out < 0) {
		*error_r = xasprintf("%s:%u: users.%s must be a non-negative "
		    "number", v->file != NULL ? v->file : "mta.conf", v->line,
		    v->key);
		return -1;
	}
	return 0;
}

static int
settings_one(struct users_settings *s, const struct obj *v, char **error_r)
{
	double d;

	for (size_t i = 0; i < USERS_Q_COUNT; i++)
		if (strcmp(v->key, query_keys[i]) == 0)
			return settings_string(v, &s->queries[i], error_r);
	if (strcmp(v->key, "backend") == 0)
		return settings_string(v, &s->backend, error_r);
	if (strcmp(v->key, "path") == 0)
		return settings_string(v, &s->path, error_r);
	if (strcmp(v->key, "conninfo") == 0)
		return settings_string(v, &s->conninfo, error_r);
	if (strcmp(v->key, "cache_ttl") == 0)
		return settings_number(v, &s->cache_ttl, error_r);
	if (strcmp(v->key, "query_timeout") == 0)
		return settings_number(v, &s->timeout, error_r);
	if (strcmp(v->key, "cache_size") == 0) {
		if (settings_number(v, &d, error_r) < 0)
			return -1;
		s->cache_size = (int64_t)d;
		return 0;
	}
	*error_r = xasprintf("%s:%u: unknown key users.%s",
	    v->file != NULL ? v->file : "mta.conf", v->line, v->key);
	return -1;
}

static int
settings_read(struct users_settings *s, const struct obj *conf,
    char **error_r)
{
	memset(s, 0, sizeof(*s));
	s->backend = "sqlite";
	s->cache_ttl = DEFAULT_CACHE_TTL;
	s->cache_size = DEFAULT_CACHE_SIZE;
	s->timeout = DEFAULT_QUERY_TIMEOUT;
	if (conf == NULL || conf->type == OBJ_NULL)
		return 0;
	if (conf->type != OBJ_OBJECT) {
		*error_r = xstrdup("mta.conf: users must be a section");
		return -1;
	}
	for (const struct obj *v = obj_first(conf); v != NULL; v = v->next)
		if (settings_one(s, v, error_r) < 0)
			return -1;
	if (strcmp(s->backend, "sqlite") != 0 &&
	    strcmp(s->backend, "pgsql") != 0) {
		*error_r = xasprintf("mta.conf: users.backend must be "
		    "\"sqlite\" or \"pgsql\", not \"%s\"", s->backend);
		return -1;
	}
	return 0;
}

/* Converted queries for the backend's dialect (heap). */
static int
settings_queries(const struct users_settings *s, enum users_sql_dialect d,
    char *out[USERS_Q_COUNT], char **error_r)
{
	for (size_t i = 0; i < USERS_Q_COUNT; i++) {
		const char *q = s->queries[i] != NULL ? s->queries[i] :
		    d == USERS_SQL_PGSQL ? default_pgsql_queries[i] :
		    default_sqlite_queries[i];
		const char *err;

		out[i] = users_query_convert(q, d, &err);
		if (out[i] == NULL) {
			*error_r = xasprintf("mta.conf: users.%s: %s",
			    query_keys[i], err);
			return -1;
		}
	}
	return 0;
}

static struct users_backend *
backend_open(const struct users_settings *s, const char *state_dir,
    struct ev_loop *loop, char **error_r)
{
	enum users_sql_dialect d = strcmp(s->backend, "pgsql") == 0 ?
	    USERS_SQL_PGSQL : USERS_SQL_SQLITE;
	char *queries[USERS_Q_COUNT] = { NULL };
	struct users_backend *b = NULL;
	char *path = NULL;

	if (settings_queries(s, d, queries, error_r) < 0)
		goto out;
	if (d == USERS_SQL_PGSQL) {
		if (s->conninfo == NULL) {
			*error_r = xstrdup("mta.conf: users.backend = "
			    "\"pgsql\" needs users.conninfo");
			goto out;
		}
		b = users_pgsql_open(s->conninfo, queries, loop, s->timeout,
		    error_r);
	} else if (s->path == NULL && state_dir == NULL) {
		*error_r = xstrdup("users: no state dir and no users.path");
	} else {
		path = s->path != NULL ? xstrdup(s->path) :
		    xasprintf("%s/db/users.sqlite", state_dir);
		b = users_sqlite_open(path, queries, error_r);
	}
out:
	for (size_t i = 0; i < USERS_Q_COUNT; i++)
		free(queries[i]);
	free(path);
	return b;
}

struct users *
users_open(const struct obj *conf, const char *state_dir,
    struct ev_loop *loop, char **error_r)
{
	struct users_settings s;
	struct users *u;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];

	if (settings_read(&s, conf, error_r) < 0)
		return NULL;
	u = xcalloc(1, sizeof(*u));
	u->loop = loop;
	u->backend = backend_open(&s, state_dir, loop, error_r);
	if (u->backend == NULL) {
		free(u);
		return NULL;
	}
	u->cache = users_cache_new(s.cache_ttl, (size_t)s.cache_size);
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) != NULL)
		u->dummy_setting = xstrdup(salt);
	return u;
}

static void req_free(struct users_req *req);

void
users_close(struct users **up)
{
	struct users *u = *up;

	if (u == NULL)
		return;
	while (u->reqs != NULL) {
		struct users_req *req = u->reqs;

		users_cancel(&req);
	}
	u->backend->ops->close(u->backend);
	users_cache_free(&u->cache);
	free(u->dummy_setting);
	free(u);
	*up = NULL;
}

void
users_cache_flush(struct users *u)
{
	users_cache_clear(u->cache);
}

/* ----- requests ----- */

static struct users_req *
req_new(struct users *u, enum req_kind kind, void *ud)
{
	struct users_req *req = xcalloc(1, sizeof(*req));

	req->u = u;
	req->kind = kind;
	req->ud = ud;
	req->next = u->reqs;
	if (u->reqs != NULL)
		u->reqs->prev = req;
	u->reqs = req;
	return req;
}

static void
req_free(struct users_req *req)
{
	struct users *u = req->u;

	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		u->reqs = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	users_rows_free(&req->answer);
	free(req->pend_key);
	free(req->key);
	if (req->password != NULL) {
		explicit_bzero(req->password, strlen(req->password));
		free(req->password);
	}
	free(req->auth_user);
	for (size_t i = 0; i < req->n_items; i++)
		free(req->items[i].addr);
	free(req->items);
	for (size_t i = 0; i < req->n_mbox; i++)
		free((char *)req->mbox[i].email);
	free(req->mbox);
	for (size_t i = 0; i < req->n_remote; i++)
		free(req->remote[i]);
	free(req->remote);
	free(req);
}

void
users_cancel(struct users_req **reqp)
{
	struct users_req *req = *reqp;

	if (req == NULL)
		return;
	req->u->backend->ops->cancel(req->u->backend, req);
	req_free(req);
	*reqp = NULL;
}

/*
 * One answer for the current step: 1 rows in req->answer, 0 pending,
 * -1 temporary failure.
 */
static int
req_lookup(struct users_req *req, enum users_query q, const char *key)
{
	struct users *u = req->u;
	const struct users_rows *cached;
	const char *params[USERS_NPARAMS];
	char *local = NULL;
	const char *at = strrchr(key, '@');
	int rc;

	if (req->have_answer) {
		req->have_answer = false;
		return req->answer_status == 0 ? 1 : -1;
	}
	users_rows_free(&req->answer);
	if ((cached = users_cache_get(u->cache, q, key)) != NULL) {
		users_rows_copy(&req->answer, cached);
		return 1;
	}
	params[0] = key;
	if (q == USERS_Q_DOMAIN || at == NULL) {
		params[1] = params[2] = key;
	} else {
		local = xstrndup(key, (size_t)(at - key));
		params[1] = local;
		params[2] = at + 1;
	}
	rc = u->backend->ops->lookup(u->backend, q, params,
	    u->loop != NULL ? req : NULL, &req->answer);
	free(local);
	if (rc == 1)
		users_cache_put(u->cache, q, key, &req->answer);
	else if (rc == 0) {
		req->pend_q = q;
		free(req->pend_key);
		req->pend_key = xstrdup(key);
	}
	return rc;
}

/* ----- resolution ----- */

static bool
item_present(const struct users_req *req, const char *addr, bool final)
{
	for (size_t i = 0; i < req->n_items; i++)
		if (req->items[i].final == final &&
		    strcasecmp(req->items[i].addr, addr) == 0)
			return true;
	return false;
}

/* Queues an alias destination (validated, bounded, deduplicated). */
static void
rs_push(struct users_req *req, const char *dest, int depth)
{
	const char *err;
	char *norm;
	bool final = false;

	if (users_address_check(dest, &norm, &err) < 0) {
		log_warn(USERS_LOG, NULL, "alias destination \"%s\" skipped: %s",
		    dest, err);
		return;
	}
	if (item_present(req, norm, false)) {
		final = true;
		if (item_present(req, norm, true)) {
			free(norm);
			return;
		}
	}
	if (depth > USERS_MAX_ALIAS_DEPTH || req->n_items >= USERS_MAX_FANOUT) {
		if (!req->truncated)
			log_warn(USERS_LOG, NULL, "alias expansion of %s hits "
			    "the %s limit", req->items[0].addr,
			    depth > USERS_MAX_ALIAS_DEPTH ? "depth" : "fan-out");
		req->truncated = true;
		free(norm);
		return;
	}
	req->items = xgrow(req->items, &req->cap_items, req->n_items + 1,
	    sizeof(*req->items));
	req->items[req->n_items++] = (struct rs_item){ norm, depth, final };
}

static void
rs_add_mailbox(struct users_req *req, const struct users_rows *rows)
{
	const char *email = users_cell(rows, 0, 0);
	const char *quota = users_cell(rows, 0, 2);
	uint64_t q = 0;

	if (email == NULL)
		email = req->items[req->cur].addr;
	for (size_t i = 0; i < req->n_mbox; i++)
		if (strcasecmp(req->mbox[i].email, email) == 0)
			return;
	if (quota != NULL)
		q = strtoull(quota, NULL, 10);
	req->mbox = xgrow(req->mbox, &req->cap_mbox, req->n_mbox + 1,
	    sizeof(*req->mbox));
	req->mbox[req->n_mbox++] = (struct users_mailbox){ xstrdup(email), q };
}

static void
rs_add_remote(struct users_req *req, const char *addr)
{
	for (size_t i = 0; i < req->n_remote; i++)
		if (strcasecmp(req->remote[i], addr) == 0)
			return;
	req->remote = xgrow(req->remote, &req->cap_remote, req->n_remote + 1,
	    sizeof(*req->remote));
	req->remote[req->n_remote++] = xstrdup(addr);
}

static void
rs_next_item(struct users_req *req)
{
	req->cur++;
	req->phase = PH_DOMAIN;
}

/* Pushes the destinations of alias rows. */
static void
rs_expand(struct users_req *req, const struct users_rows *rows, int depth)
{
	for (size_t r = 0; r < rows->nrows; r++) {
		const char *d = users_cell(rows, r, 0);

		if (d != NULL)
			rs_push(req, d, depth + 1);
	}
}

/* Advances the current item by one phase: 1 progressed, 0 pending,
 * -1 tempfail. */
static int
rs_phase(struct users_req *req)
{
	struct rs_item *it = &req->items[req->cur];
	const char *domain = strrchr(it->addr, '@') + 1;
	int rc;

	switch (req->phase) {
	case PH_DOMAIN:
		if ((rc = req_lookup(req, USERS_Q_DOMAIN, domain)) <= 0)
			return rc;
		if (req->answer.nrows > 0) {
			req->phase = it->final ? PH_USER : PH_ALIAS;
		} else {
			if (req->cur == 0)
				req->status = USERS_NOT_LOCAL;
			else
				rs_add_remote(req, it->addr);
			rs_next_item(req);
		}
		return 1;
	case PH_ALIAS:
		if ((rc = req_lookup(req, USERS_Q_ALIAS, it->addr)) <= 0)
			return rc;
		if (req->answer.nrows > 0) {
			rs_expand(req, &req->answer, req->items[req->cur].depth);
			rs_next_item(req);
		} else {
			req->phase = PH_USER;
		}
		return 1;
	case PH_USER:
		if ((rc = req_lookup(req, USERS_Q_USER, it->addr)) <= 0)
			return rc;
		if (req->answer.nrows > 0) {
			rs_add_mailbox(req, &req->answer);
			rs_next_item(req);
		} else if (it->final) {
			rs_next_item(req);
		} else {
			req->phase = PH_CATCHALL;
		}
		return 1;
	case PH_CATCHALL:
		if ((rc = req_lookup(req, USERS_Q_ALIAS, domain - 1)) <= 0)
			return rc;
		if (req->answer.nrows > 0 && req->cur == 0)
			req->catchall = true;
		rs_expand(req, &req->answer, req->items[req->cur].depth);
		rs_next_item(req);
		return 1;
	}
	return -1;
}

/* Runs the expansion: 1 done, 0 pending. */
static int
rs_run(struct users_req *req)
{
	while (req->status != USERS_NOT_LOCAL && req->cur < req->n_items) {
		int rc = rs_phase(req);

		if (rc == 0)
			return 0;
		if (rc < 0) {
			req->tempfail = true;
			break;
		}
	}
	if (req->tempfail) {
		req->status = USERS_TEMPFAIL;
		req->error = "user database unavailable";
	} else if (req->status != USERS_NOT_LOCAL) {
		req->status = req->n_mbox + req->n_remote > 0 ? USERS_FOUND :
		    USERS_UNKNOWN;
	}
	return 1;
}

static void
rs_report(struct users_req *req)
{
	struct users_resolution r = {
		.status = req->status,
		.address = req->n_items > 0 ? req->items[0].addr : "",
		.mailboxes = req->mbox,
		.n_mailboxes = req->n_mbox,
		.remote = (const char *const *)req->remote,
		.n_remote = req->n_remote,
		.catchall = req->catchall,
		.truncated = req->truncated,
		.error = req->error,
	};

	if (r.status == USERS_NOT_LOCAL || r.status == USERS_TEMPFAIL ||
	    r.status == USERS_INVALID) {
		r.n_mailboxes = r.n_remote = 0;
		r.catchall = false;
	}
	req->cb.resolve(&r, req->ud);
}

/* ----- the other request kinds ----- */

/* 1 done with *result_r, 0 pending. */
static int
auth_run(struct users_req *req, int *result_r)
{
	const char *hash;
	int rc = req_lookup(req, USERS_Q_USER, req->key);

	if (rc == 0)
		return 0;
	if (rc < 0) {
		*result_r = -1;
		return 1;
	}
	hash = req->answer.nrows > 0 ? users_cell(&req->answer, 0, 1) : NULL;
	if (hash == NULL) {
		/* same CPU cost as a real check */
		if (req->u->dummy_setting != NULL)
			(void)users_verify_password(req->password,
			    req->u->dummy_setting);
		*result_r = 0;
	} else {
		*result_r = users_verify_password(req->password, hash);
	}
	return 1;
}

static int
sender_result(const struct users_req *req)
{
	if (req->tempfail)
		return -1;
	if (req->status != USERS_FOUND || req->catchall)
		return 0;
	for (size_t i = 0; i < req->n_mbox; i++)
		if (strcasecmp(req->mbox[i].email, req->auth_user) == 0)
			return 1;
	return 0;
}

/* Runs a request until it waits or ends; true when it ended (the request
 * is freed then). */
static bool
req_run(struct users_req *req)
{
	int rc = 0, result = 0;

	switch (req->kind) {
	case REQ_DOMAIN:
		rc = req_lookup(req, USERS_Q_DOMAIN, req->key);
		if (rc == 0)
			return false;
		req->cb.domain(rc < 0 ? -1 : req->answer.nrows > 0, req->ud);
		break;
	case REQ_AUTH:
		if (auth_run(req, &result) == 0)
			return false;
		req->cb.auth(result, req->ud);
		break;
	case REQ_RESOLVE:
		if (rs_run(req) == 0)
			return false;
		rs_report(req);
		break;
	case REQ_SENDER:
		if (rs_run(req) == 0)
			return false;
		req->cb.auth(sender_result(req), req->ud);
		break;
	}
	req_free(req);
	return true;
}

void
users_req_answer(struct users_req *req, int status, struct users_rows *rows)
{
	users_rows_free(&req->answer);
	req->answer_status = status;
	if (status == 0 && rows != NULL) {
		req->answer = *rows;
		*rows = (struct users_rows){ 0 };
		users_cache_put(req->u->cache, req->pend_q, req->pend_key,
		    &req->answer);
	}
	req->have_answer = true;
	(void)req_run(req);
}

static struct users_req *
req_start(struct users_req *req)
{
	return req_run(req) ? NULL : req;
}

struct users_req *
users_domain_is_local(struct users *u, const char *domain,
    users_domain_cb *cb, void *ud)
{
	const char *err;
	struct users_req *req;

	if (users_domain_check(domain, &err) < 0) {
		cb(0, ud);
		return NULL;
	}
	req = req_new(u, REQ_DOMAIN, ud);
	req->cb.domain = cb;
	req->key = xstrdup(domain);
	for (char *p = req->key; *p != '\0'; p++)
		*p = ascii_tolower(*p);
	return req_start(req);
}

static struct users_req *
resolve_start(struct users *u, enum req_kind kind, const char *address,
    void *ud, struct users_req **req_r)
{
	struct users_req *req = req_new(u, kind, ud);
	const char *err;
	char *norm;

	*req_r = req;
	if (users_address_check(address, &norm, &err) < 0) {
		req->status = USERS_INVALID;
		req->error = err;
		return NULL;
	}
	req->items = xgrow(req->items, &req->cap_items, 1, sizeof(*req->items));
	req->items[req->n_items++] = (struct rs_item){ norm, 0, false };
	return req;
}

struct users_req *
users_resolve(struct users *u, const char *address, users_resolve_cb *cb,
    void *ud)
{
	struct users_req *req;

	if (resolve_start(u, REQ_RESOLVE, address, ud, &req) == NULL) {
		req->cb.resolve = cb;
		rs_report(req);
		req_free(req);
		return NULL;
	}
	req->cb.resolve = cb;
	return req_start(req);
}

struct users_req *
users_authenticate(struct users *u, const char *username,
    const char *password, users_auth_cb *cb, void *ud)
{
	struct users_req *req;
	const char *err;
	char *norm;

	if (users_address_check(username, &norm, &err) < 0) {
		cb(0, ud);
		return NULL;
	}
	req = req_new(u, REQ_AUTH, ud);
	req->cb.auth = cb;
	req->key = norm;
	req->password = xstrdup(password != NULL ? password : "");
	return req_start(req);
}

struct users_req *
users_sender_allowed(struct users *u, const char *auth_user,
    const char *mail_from, users_auth_cb *cb, void *ud)
{
	struct users_req *req;
	char *a = NULL, *m = NULL;
	const char *err;
	int res = -2;

	if (mail_from[0] == '\0')
		res = 1;
	else if (users_address_check(auth_user, &a, &err) < 0 ||
	    users_address_check(mail_from, &m, &err) < 0)
		res = 0;
	else if (strcasecmp(a, m) == 0)
		res = 1;
	free(m);
	if (res != -2) {
		free(a);
		cb(res, ud);
		return NULL;
	}
	(void)resolve_start(u, REQ_SENDER, mail_from, ud, &req);
	req->cb.auth = cb;
	req->auth_user = a;
	return req_start(req);
}
