/*
 * users_internal.h - shared by the files of src/users/: the users handle,
 * the backend interface (SQLite, PostgreSQL), the result rows and the
 * cache. Nothing outside src/users/ includes it.
 */
#ifndef USERS_USERS_INTERNAL_H
#define USERS_USERS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "users/users.h"

#define USERS_LOG "users"

enum users_query {
	USERS_Q_DOMAIN,
	USERS_Q_USER,
	USERS_Q_ALIAS,
	USERS_Q_COUNT,
};

/* A query result: nrows x ncols text cells, NULL for SQL NULL. */
struct users_rows {
	size_t nrows, ncols;
	char **cells;
};

void users_rows_free(struct users_rows *rows);
void users_rows_copy(struct users_rows *dst, const struct users_rows *src);
static inline const char *
users_cell(const struct users_rows *rows, size_t row, size_t col)
{
	return col < rows->ncols ? rows->cells[row * rows->ncols + col] : NULL;
}

/* Parameters of one lookup: $1 value, $2 local part, $3 domain. */
#define USERS_NPARAMS 3

struct users_backend;

struct users_backend_ops {
	/*
	 * A lookup for `req` (NULL when blocking). Returns 1 with *rows_r
	 * filled (synchronous), 0 when pending (the backend later calls
	 * users_req_answer(req, ...)), -1 on temporary failure.
	 */
	int (*lookup)(struct users_backend *b, enum users_query q,
	    const char *const params[USERS_NPARAMS], struct users_req *req,
	    struct users_rows *rows_r);
	/* The request will not take its answer any more. */
	void (*cancel)(struct users_backend *b, struct users_req *req);
	/* Blocking statement for the admin functions: sql uses $N; params
	 * are text. Rows of a SELECT into rows_r (may be NULL), affected rows
	 * into changes_r (may be NULL). 0 or -1 with *error_r (heap). */
	int (*exec)(struct users_backend *b, const char *sql,
	    const char *const *params, size_t nparams, struct users_rows *rows_r,
	    long *changes_r, char **error_r);
	void (*close)(struct users_backend *b);
};

struct users_backend {
	const struct users_backend_ops *ops;
	enum users_sql_dialect dialect;
};

struct users_cache;

struct users {
	struct users_backend *backend;
	struct ev_loop *loop;
	struct users_cache *cache;
	/* pending async requests, to cancel them on close */
	struct users_req *reqs;
	/* a yescrypt setting hashed against when the user is unknown */
	char *dummy_setting;
};

/* Backends; they take ownership of nothing passed in. */
struct users_backend *users_sqlite_open(const char *path,
    char *const queries[USERS_Q_COUNT], char **error_r);
struct users_backend *users_pgsql_open(const char *conninfo,
    char *const queries[USERS_Q_COUNT], struct ev_loop *loop, double timeout,
    char **error_r);
/* The stored password is a crypt(3) string of a scheme we check. */
bool users_hash_supported(const char *hash);
/* Highest $N used by a converted pgsql query (0 if none). */
int users_query_max_param(const char *sql);

/* Called by an asynchronous backend when the lookup of `req` completes:
 * status 0 with rows (taken), or -1. */
void users_req_answer(struct users_req *req, int status,
    struct users_rows *rows);

/* Cache of lookup answers, keyed by (query, lower-cased key). */
struct users_cache *users_cache_new(double ttl, size_t max_entries);
void users_cache_free(struct users_cache **c);
void users_cache_clear(struct users_cache *c);
/* Borrowed rows valid until the next cache call, or NULL. */
const struct users_rows *users_cache_get(struct users_cache *c,
    enum users_query q, const char *key);
void users_cache_put(struct users_cache *c, enum users_query q,
    const char *key, const struct users_rows *rows);

#endif
