/*
 * lmdb_env.h - the LMDB plumbing shared by the scan stores that keep a
 * file under the state directory (bayes statistics, greylisting records):
 * where the file goes, creating its directory, opening the environment,
 * starting a transaction across map resizes by other processes, and
 * growing a full map.
 *
 * It exists so the stores differ only in their records: every process of
 * a worker pool maps the same file, and the rules for doing that safely
 * (adopt a size another process chose, clear reader slots of killed
 * processes) are the same whatever the records are.
 *
 * Functions returning int return 0 or an LMDB / errno code, which
 * mdb_strerror() describes.
 */
#ifndef SCAN_LMDB_ENV_H
#define SCAN_LMDB_ENV_H

#include <stddef.h>

#include <lmdb.h>

struct config;
struct obj;

/*
 * The section's `path`, else "<dbdir>/<name>" ("." without a dbdir).
 * Heap string, or NULL when the result would be too long.
 */
char *lmdb_env_path(const struct obj *sec, const struct config *cfg, const char *name);
/* Creates `path` and its missing parents (mode 0750). 0, or -1 with errno. */
int lmdb_env_mkdir_p(const char *path);
/*
 * Creates and opens the environment at `path` (maxdbs 0: only the unnamed
 * database), then releases reader slots left by dead processes. On error
 * the environment is closed and *env_r is NULL.
 */
int lmdb_env_open(MDB_env **env_r, const char *path, unsigned maxdbs, size_t mapsize,
    unsigned flags);
/* "<what> <path>: <LMDB error>", heap string for an error_r. */
char *lmdb_env_error(const char *what, const char *path, int rc);
/* mdb_txn_begin() that adopts the map size another process grew to. */
int lmdb_env_txn_begin(MDB_env *env, unsigned flags, MDB_txn **txn_r);
/* Doubles *mapsize (the file is sparse) for a replay after MDB_MAP_FULL. */
int lmdb_env_grow(MDB_env *env, size_t *mapsize);

#endif
