/*
 * users.h - virtual domains, users (crypt(3) passwords, quotas) and aliases,
 * in SQLite (default) or PostgreSQL, with a short-lived lookup cache.
 *
 * Schema, as Postfix/Dovecot SQL setups already have it:
 *   virtual_domains(name)
 *   virtual_users(email, password, quota_bytes)
 *   virtual_aliases(source, destination)   one row per destination;
 *                                          source "@domain" is a catch-all
 *
 * Configuration: the `users` section of local.d/mta.conf (the `mta.users`
 * object of the merged tree); every key is optional:
 *
 *   users {
 *     backend = "sqlite";          # or "pgsql"
 *     path = "/var/lib/x/db/users.sqlite"; # sqlite; default
 *                                  # <state_dir>/db/users.sqlite
 *     conninfo = "host=/run/postgresql dbname=mail user=mail"; # pgsql
 *     cache_ttl = 30s;             # positive and negative answers; 0 = off
 *     cache_size = 10000;          # entries
 *     query_timeout = 5s;          # pgsql: one query, connect included
 *     query_domain = "SELECT 1 FROM virtual_domains WHERE name=$1";
 *     query_user = "SELECT email, password, quota_bytes FROM virtual_users WHERE email=$1";
 *     query_alias = "SELECT destination FROM virtual_aliases WHERE source=$1";
 *   }
 *
 * The queries are parameterized: $1 is the looked-up value (domain, full
 * address, alias source), $2 its local part, $3 its domain (for a domain
 * lookup all three are the domain). A tutorial-style query with '%s' (quoted
 * or not), %u (local part), %d (domain) is converted to $1/$2/$3; the value
 * is never pasted into SQL text. query_user must return the columns email,
 * password, quota_bytes in that order (quota may be NULL = unlimited);
 * query_domain any row when the domain is local; query_alias one
 * destination per row. The default PostgreSQL user/alias queries compare
 * lower(email)/lower(source); the SQLite schema we create uses COLLATE
 * NOCASE, so local parts compare case-insensitively on both.
 *
 * Calling convention of the lookups (domain_is_local, resolve,
 * authenticate, sender_allowed):
 * - SQLite, and PostgreSQL opened without a loop: the callback is called
 *   synchronously, before the lookup function returns, and the function
 *   returns NULL.
 * - PostgreSQL with a loop: libpq runs non-blocking on the loop (one
 *   connection, queries queued in order, reconnect on failure, each query
 *   bounded by query_timeout). A cache hit still calls back synchronously
 *   and returns NULL; otherwise the function returns a request handle the
 *   caller may cancel with users_cancel() (e.g. when its session goes away)
 *   and the callback runs later from the loop. After the callback the handle
 *   is dead.
 * Callers must therefore cope with the callback running before the call
 * returns. A callback may start or cancel lookups but must not call
 * users_close().
 *
 * Passwords: users_authenticate() runs crypt(3) (yescrypt costs a few ms of
 * CPU), synchronously inside the call, in the caller's process.
 *
 * Runs in: the smtp/submission workers (resolve, authenticate,
 * sender_allowed), the imap/pop3 workers (authenticate), qmgr (resolve,
 * quotas) and rspamadm (admin functions, blocking).
 */
#ifndef USERS_USERS_H
#define USERS_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct obj;
struct ev_loop;
struct users;
struct users_req;

/* Maximum alias nesting and expanded addresses of one resolution. */
#define USERS_MAX_ALIAS_DEPTH 10
#define USERS_MAX_FANOUT 1000
/* RFC 5321 path limit. */
#define USERS_MAX_ADDRESS 254

/*
 * Opens the backend described by `conf` (the mta.users object, or NULL for
 * all defaults). state_dir gives the default SQLite path; it may be NULL
 * only when `path` or pgsql is configured. The SQLite file (and its db/
 * directory, mode 0700) and schema are created on first use. loop may be
 * NULL (blocking PostgreSQL; rspamadm). PostgreSQL connects lazily, so a
 * database that is down at startup is not an error.
 * Returns NULL with *error_r (heap, caller frees) on bad config or an
 * unopenable SQLite file.
 */
struct users *users_open(const struct obj *conf, const char *state_dir,
    struct ev_loop *loop, char **error_r);
/* Cancels pending requests (their callbacks are not called), closes the
 * backend and frees; sets *u to NULL. NULL is fine. */
void users_close(struct users **u);

/* Drops every cached answer (after admin changes, on SIGHUP). */
void users_cache_flush(struct users *u);

/* Cancels a pending request; its callback is never called. Sets *req to
 * NULL; NULL is fine. */
void users_cancel(struct users_req **req);

/* ----- lookups ----- */

/* result: 1 local domain, 0 not local, -1 temporary failure. */
typedef void users_domain_cb(int result, void *ud);
struct users_req *users_domain_is_local(struct users *u, const char *domain,
    users_domain_cb *cb, void *ud);

enum users_status {
	/* at least one local mailbox or remote destination */
	USERS_FOUND,
	/* the domain is not one of ours (relay only if authorized) */
	USERS_NOT_LOCAL,
	/* our domain, but no such user/alias (550 5.1.1) */
	USERS_UNKNOWN,
	/* not a valid address (501/553) */
	USERS_INVALID,
	/* database unreachable or timed out (451 4.3.0) */
	USERS_TEMPFAIL,
};

struct users_mailbox {
	const char *email;    /* as stored in virtual_users */
	uint64_t quota_bytes; /* 0 = unlimited */
};

/*
 * The answer of users_resolve(). Everything is borrowed and valid only
 * during the callback; copy what you keep.
 */
struct users_resolution {
	enum users_status status;
	/* the address looked up, domain lower-cased */
	const char *address;
	/* local mailboxes after alias expansion, without duplicates */
	const struct users_mailbox *mailboxes;
	size_t n_mailboxes;
	/* alias destinations outside our domains: relay to them */
	const char *const *remote;
	size_t n_remote;
	/* the address matched only through a catch-all alias "@domain" */
	bool catchall;
	/* depth or fan-out limit hit: the lists are incomplete (logged) */
	bool truncated;
	/* reason text for USERS_TEMPFAIL/USERS_INVALID, else NULL */
	const char *error;
};

typedef void users_resolve_cb(const struct users_resolution *r, void *ud);

/*
 * Resolves a recipient address. Aliases are consulted for local domains
 * only; an exact alias replaces the address (list the address among its own
 * destinations to keep a copy: an address met again in its own expansion
 * is a final mailbox and is not expanded again, so loops end). The catch-all
 * "@domain" applies only when neither a user nor an alias matches exactly.
 * Bounded by USERS_MAX_ALIAS_DEPTH and USERS_MAX_FANOUT.
 */
struct users_req *users_resolve(struct users *u, const char *address,
    users_resolve_cb *cb, void *ud);

/* result: 1 password correct, 0 unknown user or wrong password, -1 temporary
 * failure. */
typedef void users_auth_cb(int result, void *ud);

/*
 * Checks a login (the full e-mail address) against virtual_users.password:
 * yescrypt $y$, SHA512-CRYPT $6$, SHA256-CRYPT $5$, bcrypt $2b$/$2y$/$2a$,
 * also with Dovecot's {SHA512-CRYPT}/{BLF-CRYPT}/{CRYPT}/... prefixes.
 * Unknown users cost one hash too, so timing does not reveal them.
 */
struct users_req *users_authenticate(struct users *u, const char *username,
    const char *password, users_auth_cb *cb, void *ud);

/*
 * Submission sender check: 1 when mail_from is the authenticated user's own
 * address, or an address that resolves (through exact aliases, not a
 * catch-all) to that user's mailbox; also 1 for the null sender "".
 * 0 otherwise, -1 on temporary failure. Same callback type as
 * authentication.
 */
struct users_req *users_sender_allowed(struct users *u, const char *auth_user,
    const char *mail_from, users_auth_cb *cb, void *ud);

/* ----- helpers ----- */

/*
 * Checks address syntax: one '@', non-empty local part and domain, no
 * spaces or control characters, at most USERS_MAX_ADDRESS bytes. With
 * norm_r (may be NULL) returns a heap copy with the domain lower-cased.
 * Returns 0, or -1 with *error_r static text.
 */
int users_address_check(const char *address, char **norm_r,
    const char **error_r);
/* Domain syntax (letters, digits, '-', '.', no empty labels); 0 or -1. */
int users_domain_check(const char *domain, const char **error_r);

/* Converts a configured query (see above) to $N parameters (pgsql) or ?N
 * (sqlite). Returns a heap string, or NULL with *error_r static text. */
enum users_sql_dialect {
	USERS_SQL_PGSQL,
	USERS_SQL_SQLITE,
};
char *users_query_convert(const char *query, enum users_sql_dialect dialect,
    const char **error_r);

/*
 * Hashes a password: scheme NULL or "yescrypt" (default), "sha512"
 * (SHA512-CRYPT) or "bcrypt". Returns a heap crypt(3) string, or NULL with
 * *error_r static text.
 */
char *users_hash_password(const char *plain, const char *scheme,
    const char **error_r);
/* 1 when `plain` matches `hash` (prefixes and schemes as in
 * users_authenticate), 0 otherwise; constant-time compare. */
int users_verify_password(const char *plain, const char *hash);

/* Parses "1G", "500M", "10k", "123" (bytes, powers of 1024) or "0"; 0 or
 * -1. */
int users_parse_size(const char *s, uint64_t *bytes_r);

/* ----- administration (synchronous, blocking even with a loop) ----- */

/* They return 0, or -1 with *error_r (heap, caller frees), e.g.
 * "unknown domain example.org", "user a@b exists". They work on the
 * standard schema (the table names above), whatever the queries are, and
 * flush the cache. */
int users_admin_domain_add(struct users *u, const char *domain, char **error_r);
/* Refuses while users or aliases of the domain exist. */
int users_admin_domain_del(struct users *u, const char *domain, char **error_r);
/* Sorted names, NULL-terminated heap array (free with users_list_free). */
int users_admin_domain_list(struct users *u, char ***names_r, char **error_r);

/* Hashes `password` (plain text) with yescrypt; NULL or "" stores the
 * invalid hash "!" (no login). The domain must exist and the user must
 * not. */
int users_admin_user_add(struct users *u, const char *email,
    const char *password, uint64_t quota_bytes, char **error_r);
/* Also deletes the aliases whose destination is this user. */
int users_admin_user_del(struct users *u, const char *email, char **error_r);
/* Plain text, hashed with yescrypt. */
int users_admin_user_passwd(struct users *u, const char *email,
    const char *password, char **error_r);
/* Stores an existing crypt(3) string as is (imports from another
 * system); refuses hashes users_verify_password cannot check. */
int users_admin_user_set_hash(struct users *u, const char *email,
    const char *hash, char **error_r);
int users_admin_user_quota(struct users *u, const char *email,
    uint64_t quota_bytes, char **error_r);

struct users_entry {
	char *email;
	uint64_t quota_bytes;
};
/* domain NULL = all. Sorted; *n_r entries; free with
 * users_entries_free. */
int users_admin_user_list(struct users *u, const char *domain,
    struct users_entry **entries_r, size_t *n_r, char **error_r);
void users_entries_free(struct users_entry *entries, size_t n);

/* source "user@domain" or "@domain" (catch-all); the source's domain must be
 * local; dest any valid address. Duplicates are an error. */
int users_admin_alias_add(struct users *u, const char *source,
    const char *dest, char **error_r);
/* dest NULL deletes every row of source; error when nothing matched. */
int users_admin_alias_del(struct users *u, const char *source,
    const char *dest, char **error_r);
struct users_alias {
	char *source, *dest;
};
int users_admin_alias_list(struct users *u, const char *domain,
    struct users_alias **aliases_r, size_t *n_r, char **error_r);
void users_aliases_free(struct users_alias *aliases, size_t n);

void users_list_free(char **names);

#endif
