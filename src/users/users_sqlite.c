/*
 * users_sqlite.c - the embedded backend: one SQLite file under the state
 * dir (<state>/db/users.sqlite), created with the standard schema on first
 * open.
 *
 * Lookups are synchronous: a prepared statement per configured query, run
 * to completion inside the call. SQLite answers from the page cache in
 * microseconds, so this is cheaper than any deferral. WAL mode lets the
 * admin tool write while workers read, and busy_timeout makes a reader
 * wait out a writer's short lock instead of failing.
 */
#include "users/users_internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/xmalloc.h"
#include "log/log.h"

#define SQLITE_BUSY_MS 5000

struct sqlite_backend {
	struct users_backend base;
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[USERS_Q_COUNT];
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS virtual_domains ("
    " name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE);"
    "CREATE TABLE IF NOT EXISTS virtual_users ("
    " email TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
    " password TEXT NOT NULL,"
    " quota_bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS virtual_aliases ("
    " source TEXT NOT NULL COLLATE NOCASE,"
    " destination TEXT NOT NULL COLLATE NOCASE,"
    " PRIMARY KEY (source, destination));";

static int
bind_params(sqlite3_stmt *st, const char *const *params, size_t nparams)
{
	int n = sqlite3_bind_parameter_count(st);

	for (int i = 1; i <= n; i++) {
		if ((size_t)i > nparams || params[i - 1] == NULL) {
			if (sqlite3_bind_null(st, i) != SQLITE_OK)
				return -1;
		} else if (sqlite3_bind_text(st, i, params[i - 1], -1,
		    SQLITE_TRANSIENT) != SQLITE_OK) {
			return -1;
		}
	}
	return 0;
}

/* Steps a bound statement to the end, collecting rows. */
static int
collect_rows(sqlite3_stmt *st, struct users_rows *rows)
{
	size_t cap = 0;
	int rc, ncols = sqlite3_column_count(st);

	rows->nrows = 0;
	rows->ncols = (size_t)ncols;
	rows->cells = NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t base = rows->nrows * rows->ncols;

		if (ncols > 0)
			rows->cells = xgrow(rows->cells, &cap,
			    base + rows->ncols, sizeof(char *));
		for (int c = 0; c < ncols; c++) {
			const unsigned char *t = sqlite3_column_text(st, c);

			rows->cells[base + (size_t)c] = t != NULL ?
			    xstrdup((const char *)t) : NULL;
		}
		rows->nrows++;
	}
	if (rc != SQLITE_DONE) {
		users_rows_free(rows);
		return -1;
	}
	return 0;
}

static int
sqlite_lookup(struct users_backend *b, enum users_query q,
    const char *const params[USERS_NPARAMS], struct users_req *req,
    struct users_rows *rows_r)
{
	struct sqlite_backend *s = (struct sqlite_backend *)b;
	sqlite3_stmt *st = s->stmts[q];
	int rc = -1;

	(void)req;
	if (bind_params(st, params, USERS_NPARAMS) == 0 &&
	    collect_rows(st, rows_r) == 0)
		rc = 1;
	if (rc < 0)
		log_error(USERS_LOG, NULL, "%s: lookup: %s", s->path,
		    sqlite3_errmsg(s->db));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static void
sqlite_cancel(struct users_backend *b, struct users_req *req)
{
	(void)b;
	(void)req;
}

static int
sqlite_exec(struct users_backend *b, const char *sql,
    const char *const *params, size_t nparams, struct users_rows *rows_r,
    long *changes_r, char **error_r)
{
	struct sqlite_backend *s = (struct sqlite_backend *)b;
	const char *err = NULL;
	struct users_rows rows = { 0 };
	sqlite3_stmt *st = NULL;
	char *conv = users_query_convert(sql, USERS_SQL_SQLITE, &err);

	if (conv == NULL) {
		*error_r = xasprintf("bad admin query: %s", err);
		return -1;
	}
	if (sqlite3_prepare_v2(s->db, conv, -1, &st, NULL) != SQLITE_OK ||
	    bind_params(st, params, nparams) < 0 ||
	    collect_rows(st, &rows) < 0) {
		*error_r = xasprintf("%s: %s", s->path, sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		free(conv);
		return -1;
	}
	sqlite3_finalize(st);
	free(conv);
	if (changes_r != NULL)
		*changes_r = sqlite3_changes(s->db);
	if (rows_r != NULL)
		*rows_r = rows;
	else
		users_rows_free(&rows);
	return 0;
}

static void
sqlite_close(struct users_backend *b)
{
	struct sqlite_backend *s = (struct sqlite_backend *)b;

	for (size_t i = 0; i < USERS_Q_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static const struct users_backend_ops sqlite_ops = {
	.lookup = sqlite_lookup,
	.cancel = sqlite_cancel,
	.exec = sqlite_exec,
	.close = sqlite_close,
};

/* mkdir -p of the file's directory (<state>/db and the state dir itself
 * on a fresh install), mode 0700: the file holds password hashes. */
static void
make_parent_dir(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p != '\0'; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			(void)mkdir(dir, 0700);
			*p = '/';
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			log_warn(USERS_LOG, NULL, "mkdir %s: %s", dir,
			    strerror(errno));
	}
	free(dir);
}

struct users_backend *
users_sqlite_open(const char *path, char *const queries[USERS_Q_COUNT],
    char **error_r)
{
	struct sqlite_backend *s = xcalloc(1, sizeof(*s));

	s->base.ops = &sqlite_ops;
	s->base.dialect = USERS_SQL_SQLITE;
	s->path = xstrdup(path);
	make_parent_dir(path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(s->db, SQLITE_BUSY_MS);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL;", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < USERS_Q_COUNT; i++) {
		if (sqlite3_prepare_v2(s->db, queries[i], -1, &s->stmts[i],
		    NULL) != SQLITE_OK)
			goto fail;
	}
	return &s->base;
fail:
	*error_r = xasprintf("%s: %s", path, s->db != NULL ?
	    sqlite3_errmsg(s->db) : "cannot open");
	sqlite_close(&s->base);
	return NULL;
}
