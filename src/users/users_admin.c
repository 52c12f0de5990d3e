/*
 * users_admin.c - the synchronous administration functions behind
 * `rspamadm domain|user|alias`: they validate addresses, enforce that users
 * and alias sources belong to a local domain, hash passwords, and run
 * fixed parameterized statements on the standard schema through the
 * backend's blocking exec (the same SQL text for SQLite and PostgreSQL,
 * $N converted for SQLite). Comparisons use lower() so a PostgreSQL table
 * without case-insensitive collation behaves like our SQLite one.
 */
#include "users/users_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/xmalloc.h"

static int
exec(struct users *u, const char *sql, const char *const *params,
    size_t nparams, struct users_rows *rows_r, long *changes_r,
    char **error_r)
{
	return u->backend->ops->exec(u->backend, sql, params, nparams, rows_r,
	    changes_r, error_r);
}

/* 1 when the statement returns a row, 0 when not, -1 on error. */
static int
exists(struct users *u, const char *sql, const char *const *params,
    size_t nparams, char **error_r)
{
	struct users_rows rows = { 0 };
	int rc;

	if (exec(u, sql, params, nparams, &rows, NULL, error_r) < 0)
		return -1;
	rc = rows.nrows > 0 &&
	    !(rows.ncols > 0 && users_cell(&rows, 0, 0) != NULL &&
	    strcmp(users_cell(&rows, 0, 0), "0") == 0);
	users_rows_free(&rows);
	return rc;
}

static char *
lower_dup(const char *s)
{
	char *d = xstrdup(s);

	for (char *p = d; *p != '\0'; p++)
		*p = ascii_tolower(*p);
	return d;
}

static int
domain_norm(const char *domain, char **norm_r, char **error_r)
{
	const char *err;

	if (users_domain_check(domain, &err) < 0) {
		*error_r = xasprintf("bad domain \"%s\": %s", domain, err);
		return -1;
	}
	*norm_r = lower_dup(domain);
	return 0;
}

/* 0 when the domain is in virtual_domains; -1 with an error otherwise. */
static int
domain_must_exist(struct users *u, const char *domain, char **error_r)
{
	const char *p[] = { domain };
	int rc = exists(u, "SELECT 1 FROM virtual_domains "
	    "WHERE lower(name)=$1", p, 1, error_r);

	if (rc == 0)
		*error_r = xasprintf("unknown domain %s (add it with "
		    "`rspamadm domain add %s`)", domain, domain);
	return rc == 1 ? 0 : -1;
}

int
users_admin_domain_add(struct users *u, const char *domain, char **error_r)
{
	char *d;
	const char *p[1];
	int rc;

	if (domain_norm(domain, &d, error_r) < 0)
		return -1;
	p[0] = d;
	rc = exists(u, "SELECT 1 FROM virtual_domains WHERE lower(name)=$1",
	    p, 1, error_r);
	if (rc == 1)
		*error_r = xasprintf("domain %s exists", d);
	if (rc == 0)
		rc = exec(u, "INSERT INTO virtual_domains (name) VALUES ($1)",
		    p, 1, NULL, NULL, error_r);
	else
		rc = -1;
	free(d);
	users_cache_flush(u);
	return rc;
}

int
users_admin_domain_del(struct users *u, const char *domain, char **error_r)
{
	char *d, *pat = NULL, *catchall = NULL;
	const char *p[2];
	int rc;

	if (domain_norm(domain, &d, error_r) < 0)
		return -1;
	pat = xasprintf("%%@%s", d);
	catchall = xasprintf("@%s", d);
	p[0] = pat;
	p[1] = catchall;
	rc = exists(u, "SELECT 1 FROM virtual_users WHERE lower(email) LIKE $1 "
	    "UNION ALL SELECT 1 FROM virtual_aliases WHERE lower(source) LIKE $1 "
	    "OR lower(source)=$2", p, 2, error_r);
	if (rc == 1) {
		*error_r = xasprintf("domain %s still has users or aliases; "
		    "delete them first", d);
		rc = -1;
	} else if (rc == 0) {
		long changes = 0;

		p[0] = d;
		rc = exec(u, "DELETE FROM virtual_domains WHERE lower(name)=$1",
		    p, 1, NULL, &changes, error_r);
		if (rc == 0 && changes == 0) {
			*error_r = xasprintf("unknown domain %s", d);
			rc = -1;
		}
	}
	free(d);
	free(pat);
	free(catchall);
	users_cache_flush(u);
	return rc;
}

/* Column 0 of a statement's rows as a NULL-terminated heap array. */
static char **
rows_column(const struct users_rows *rows)
{
	char **names = xcalloc(rows->nrows + 1, sizeof(char *));

	for (size_t i = 0; i < rows->nrows; i++)
		names[i] = xstrdup(users_cell(rows, i, 0) != NULL ?
		    users_cell(rows, i, 0) : "");
	return names;
}

int
users_admin_domain_list(struct users *u, char ***names_r, char **error_r)
{
	struct users_rows rows = { 0 };

	if (exec(u, "SELECT name FROM virtual_domains ORDER BY name", NULL, 0,
	    &rows, NULL, error_r) < 0)
		return -1;
	*names_r = rows_column(&rows);
	users_rows_free(&rows);
	return 0;
}

void
users_list_free(char **names)
{
	if (names == NULL)
		return;
	for (char **p = names; *p != NULL; p++)
		free(*p);
	free(names);
}

/* Validates and normalizes an address whose domain must be local. */
static int
local_address(struct users *u, const char *addr, char **norm_r,
    char **error_r)
{
	const char *err;

	if (users_address_check(addr, norm_r, &err) < 0) {
		*error_r = xasprintf("bad address \"%s\": %s", addr, err);
		return -1;
	}
	if (domain_must_exist(u, strrchr(*norm_r, '@') + 1, error_r) < 0) {
		free(*norm_r);
		*norm_r = NULL;
		return -1;
	}
	return 0;
}

/* Stores a new user with an already hashed password. */
static int
user_insert(struct users *u, const char *email, const char *hash,
    uint64_t quota, char **error_r)
{
	char *e, quota_s[32];
	const char *p[3];
	int rc;

	if (local_address(u, email, &e, error_r) < 0)
		return -1;
	p[0] = e;
	rc = exists(u, "SELECT 1 FROM virtual_users WHERE lower(email)=lower($1)",
	    p, 1, error_r);
	if (rc == 1) {
		*error_r = xasprintf("user %s exists", e);
		rc = -1;
	} else if (rc == 0) {
		(void)str_format(quota_s, sizeof(quota_s), "%llu",
		    (unsigned long long)quota);
		p[1] = hash;
		p[2] = quota_s;
		rc = exec(u, "INSERT INTO virtual_users (email, password, "
		    "quota_bytes) VALUES ($1, $2, $3)", p, 3, NULL, NULL,
		    error_r);
	}
	free(e);
	users_cache_flush(u);
	return rc;
}

int
users_admin_user_add(struct users *u, const char *email,
    const char *password, uint64_t quota_bytes, char **error_r)
{
	char *hash = NULL;
	const char *err;
	int rc;

	if (password != NULL && password[0] != '\0') {
		hash = users_hash_password(password, NULL, &err);
		if (hash == NULL) {
			*error_r = xasprintf("cannot hash the password: %s", err);
			return -1;
		}
	}
	rc = user_insert(u, email, hash != NULL ? hash : "!", quota_bytes,
	    error_r);
	free(hash);
	return rc;
}

/* UPDATE of one user column; error when the user does not exist. */
static int
user_update(struct users *u, const char *sql, const char *email,
    const char *value, char **error_r)
{
	const char *err, *p[2];
	char *e;
	long changes = 0;
	int rc;

	if (users_address_check(email, &e, &err) < 0) {
		*error_r = xasprintf("bad address \"%s\": %s", email, err);
		return -1;
	}
	p[0] = e;
	p[1] = value;
	rc = exec(u, sql, p, 2, NULL, &changes, error_r);
	if (rc == 0 && changes == 0) {
		*error_r = xasprintf("unknown user %s", e);
		rc = -1;
	}
	free(e);
	users_cache_flush(u);
	return rc;
}

int
users_admin_user_passwd(struct users *u, const char *email,
    const char *password, char **error_r)
{
	const char *err;
	char *hash = users_hash_password(password, NULL, &err);
	int rc;

	if (hash == NULL) {
		*error_r = xasprintf("cannot hash the password: %s", err);
		return -1;
	}
	rc = user_update(u, "UPDATE virtual_users SET password=$2 "
	    "WHERE lower(email)=lower($1)", email, hash, error_r);
	free(hash);
	return rc;
}

int
users_admin_user_set_hash(struct users *u, const char *email,
    const char *hash, char **error_r)
{
	if (!users_hash_supported(hash)) {
		*error_r = xstrdup("not a crypt(3) hash we can check");
		return -1;
	}
	return user_update(u, "UPDATE virtual_users SET password=$2 "
	    "WHERE lower(email)=lower($1)", email, hash, error_r);
}

int
users_admin_user_quota(struct users *u, const char *email,
    uint64_t quota_bytes, char **error_r)
{
	char q[32];

	(void)str_format(q, sizeof(q), "%llu", (unsigned long long)quota_bytes);
	return user_update(u, "UPDATE virtual_users SET quota_bytes=$2 "
	    "WHERE lower(email)=lower($1)", email, q, error_r);
}

int
users_admin_user_del(struct users *u, const char *email, char **error_r)
{
	const char *err, *p[1];
	char *e;
	long changes = 0;
	int rc;

	if (users_address_check(email, &e, &err) < 0) {
		*error_r = xasprintf("bad address \"%s\": %s", email, err);
		return -1;
	}
	p[0] = e;
	rc = exec(u, "DELETE FROM virtual_users WHERE lower(email)=lower($1)",
	    p, 1, NULL, &changes, error_r);
	if (rc == 0 && changes == 0) {
		*error_r = xasprintf("unknown user %s", e);
		rc = -1;
	}
	if (rc == 0)
		rc = exec(u, "DELETE FROM virtual_aliases "
		    "WHERE lower(destination)=lower($1)", p, 1, NULL, NULL,
		    error_r);
	free(e);
	users_cache_flush(u);
	return rc;
}

/* " WHERE <col> LIKE '%@domain'" for an optional domain filter: the
 * pattern in *pat_r (heap) or NULL. */
static int
domain_filter(const char *domain, char **pat_r, char **error_r)
{
	char *d;

	*pat_r = NULL;
	if (domain == NULL)
		return 0;
	if (domain_norm(domain, &d, error_r) < 0)
		return -1;
	*pat_r = xasprintf("%%@%s", d);
	free(d);
	return 0;
}

int
users_admin_user_list(struct users *u, const char *domain,
    struct users_entry **entries_r, size_t *n_r, char **error_r)
{
	struct users_rows rows = { 0 };
	const char *p[1];
	char *pat;
	int rc;

	if (domain_filter(domain, &pat, error_r) < 0)
		return -1;
	p[0] = pat;
	rc = exec(u, pat != NULL ? "SELECT email, quota_bytes FROM "
	    "virtual_users WHERE lower(email) LIKE $1 ORDER BY email" :
	    "SELECT email, quota_bytes FROM virtual_users ORDER BY email",
	    p, pat != NULL ? 1 : 0, &rows, NULL, error_r);
	free(pat);
	if (rc < 0)
		return -1;
	*entries_r = xcalloc(rows.nrows + 1, sizeof(**entries_r));
	for (size_t i = 0; i < rows.nrows; i++) {
		const char *e = users_cell(&rows, i, 0);
		const char *q = users_cell(&rows, i, 1);

		(*entries_r)[i].email = xstrdup(e != NULL ? e : "");
		(*entries_r)[i].quota_bytes = q != NULL ?
		    strtoull(q, NULL, 10) : 0;
	}
	*n_r = rows.nrows;
	users_rows_free(&rows);
	return 0;
}

void
users_entries_free(struct users_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(entries[i].email);
	free(entries);
}

/* An alias source: "local@domain" or "@domain", the domain local. */
static int
alias_source(struct users *u, const char *source, char **norm_r,
    char **error_r)
{
	char *d;

	if (source[0] != '@')
		return local_address(u, source, norm_r, error_r);
	if (domain_norm(source + 1, &d, error_r) < 0)
		return -1;
	if (domain_must_exist(u, d, error_r) < 0) {
		free(d);
		return -1;
	}
	*norm_r = xasprintf("@%s", d);
	free(d);
	return 0;
}

int
users_admin_alias_add(struct users *u, const char *source,
    const char *dest, char **error_r)
{
	const char *err, *p[2];
	char *s, *d;
	int rc;

	if (users_address_check(dest, &d, &err) < 0) {
		*error_r = xasprintf("bad destination \"%s\": %s", dest, err);
		return -1;
	}
	if (alias_source(u, source, &s, error_r) < 0) {
		free(d);
		return -1;
	}
	p[0] = s;
	p[1] = d;
	rc = exists(u, "SELECT 1 FROM virtual_aliases WHERE "
	    "lower(source)=lower($1) AND lower(destination)=lower($2)",
	    p, 2, error_r);
	if (rc == 1) {
		*error_r = xasprintf("alias %s -> %s exists", s, d);
		rc = -1;
	} else if (rc == 0) {
		rc = exec(u, "INSERT INTO virtual_aliases (source, destination) "
		    "VALUES ($1, $2)", p, 2, NULL, NULL, error_r);
	}
	free(s);
	free(d);
	users_cache_flush(u);
	return rc;
}

int
users_admin_alias_del(struct users *u, const char *source,
    const char *dest, char **error_r)
{
	const char *p[2] = { source, dest };
	long changes = 0;
	int rc;

	rc = exec(u, dest != NULL ? "DELETE FROM virtual_aliases WHERE "
	    "lower(source)=lower($1) AND lower(destination)=lower($2)" :
	    "DELETE FROM virtual_aliases WHERE lower(source)=lower($1)",
	    p, dest != NULL ? 2 : 1, NULL, &changes, error_r);
	if (rc == 0 && changes == 0) {
		*error_r = dest != NULL ?
		    xasprintf("no alias %s -> %s", source, dest) :
		    xasprintf("no alias %s", source);
		rc = -1;
	}
	users_cache_flush(u);
	return rc;
}

int
users_admin_alias_list(struct users *u, const char *domain,
    struct users_alias **aliases_r, size_t *n_r, char **error_r)
{
	struct users_rows rows = { 0 };
	const char *p[2];
	char *pat, *catchall = NULL;
	int rc;

	if (domain_filter(domain, &pat, error_r) < 0)
		return -1;
	if (pat != NULL)
		catchall = xstrdup(pat + 1);
	p[0] = pat;
	p[1] = catchall;
	rc = exec(u, pat != NULL ? "SELECT source, destination FROM "
	    "virtual_aliases WHERE lower(source) LIKE $1 OR lower(source)=$2 "
	    "ORDER BY source, destination" :
	    "SELECT source, destination FROM virtual_aliases "
	    "ORDER BY source, destination", p, pat != NULL ? 2 : 0, &rows,
	    NULL, error_r);
	free(pat);
	free(catchall);
	if (rc < 0)
		return -1;
	*aliases_r = xcalloc(rows.nrows + 1, sizeof(**aliases_r));
	for (size_t i = 0; i < rows.nrows; i++) {
		const char *s = users_cell(&rows, i, 0);
		const char *d = users_cell(&rows, i, 1);

		(*aliases_r)[i].source = xstrdup(s != NULL ? s : "");
		(*aliases_r)[i].dest = xstrdup(d != NULL ? d : "");
	}
	*n_r = rows.nrows;
	users_rows_free(&rows);
	return 0;
}

void
users_aliases_free(struct users_alias *aliases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(aliases[i].source);
		free(aliases[i].dest);
	}
	free(aliases);
}
