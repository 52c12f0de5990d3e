/*
 * greylist_lmdb.c - the embedded greylisting store: one LMDB file
 * (<dbdir>/greylist.mdb and its -lock file) shared by all workers.
 *
 * Key: the record name the module computed ("rgb<hash>", "rgm<hash>").
 * Value: first sight and expiry as two native doubles (the file is local
 * to this host, so byte order need not be portable).
 *
 * LMDB has no TTL: an expired record reads as absent, is overwritten by
 * the next first sight, and every write transaction also sweeps a few
 * records after the place the previous sweep stopped, deleting expired
 * ones, so the file stays bounded by the live records without a timer.
 * Commits are not fsynced: losing the last seconds of records to an OS
 * crash only means a sender is greylisted once more.
 */
#include "scan/greylist/greylist.h"

#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/lmdb_env.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#define GL_LMDB_MAPSIZE (256ull * 1024 * 1024)
#define GL_SWEEP_STEP 64

struct gl_lmdb {
	MDB_env *env;
	MDB_dbi dbi;
	size_t mapsize;
	char sweep_at[GREYLIST_KEY_MAX]; /* next key the sweep looks at; "" = start */
};

struct gl_val {
	double first, expire_at;
};

char *
greylist_lmdb_path(const struct obj *sec, const struct config *cfg)
{
	return lmdb_env_path(sec, cfg, "greylist.mdb");
}

/* The directory part of `path`, created. */
static int
make_parent(const char *path)
{
	char dir[4096];
	char *slash;

	if (str_lcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	return lmdb_env_mkdir_p(dir);
}

static void
gl_lmdb_close(void *p)
{
	struct gl_lmdb *st = p;

	if (st == NULL)
		return;
	mdb_env_close(st->env);
	free(st);
}

static int
open_env(struct gl_lmdb *st, const char *path)
{
	MDB_txn *txn;
	int rc = lmdb_env_open(&st->env, path, 0, st->mapsize,
	    MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC);

	if (rc != 0 || (rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &st->dbi)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static void *
gl_lmdb_open(const struct obj *sec, const struct config *cfg, struct ev_loop *loop,
    char **error_r)
{
	struct gl_lmdb *st = xcalloc(1, sizeof(*st));
	char *path = greylist_lmdb_path(sec, cfg);
	int rc;

	(void)loop;
	st->mapsize = GL_LMDB_MAPSIZE;
	if (path == NULL) {
		*error_r = xstrdup("greylist lmdb: path too long");
		free(st);
		return NULL;
	}
	rc = make_parent(path) < 0 ? errno : open_env(st, path);
	if (rc == 0) {
		free(path);
		return st;
	}
	*error_r = lmdb_env_error("greylist lmdb", path, rc);
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
	free(path);
	return NULL;
}

static void
read_rec(struct gl_lmdb *st, MDB_txn *txn, const char *key, double now, struct greylist_rec *r)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	struct gl_val gv;

	memset(r, 0, sizeof(*r));
	if (mdb_get(txn, st->dbi, &k, &v) != 0 || v.mv_size != sizeof(gv))
		return;
	memcpy(&gv, v.mv_data, sizeof(gv));
	r->first = gv.first;
	r->expire_at = gv.expire_at;
	r->found = gv.expire_at > now;
}

static struct greylist_op *
gl_lmdb_lookup(void *p, const char *const keys[2], double now, greylist_lookup_cb *cb,
    void *ud)
{
	struct gl_lmdb *st = p;
	struct greylist_rec recs[2];
	MDB_txn *txn;
	int rc = lmdb_env_txn_begin(st->env, MDB_RDONLY, &txn);

	memset(recs, 0, sizeof(recs));
	if (rc != 0) {
		log_warn("greylist", NULL, "lmdb read: %s", mdb_strerror(rc));
		cb(-1, recs, ud);
		return NULL;
	}
	for (int i = 0; i < 2; i++)
		read_rec(st, txn, keys[i], now, &recs[i]);
	mdb_txn_abort(txn);
	cb(0, recs, ud);
	return NULL;
}

/* Deletes expired records among the next few after the last sweep. */
static int
sweep(struct gl_lmdb *st, MDB_txn *txn, double now)
{
	MDB_cursor *cur;
	MDB_val k = { strlen(st->sweep_at), st->sweep_at }, v;
	int rc = mdb_cursor_open(txn, st->dbi, &cur);

	if (rc != 0)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, k.mv_size != 0 ? MDB_SET_RANGE : MDB_FIRST);
	for (int i = 0; rc == 0 && i < GL_SWEEP_STEP; i++) {
		struct gl_val gv;

		if (v.mv_size != sizeof(gv) || (memcpy(&gv, v.mv_data, sizeof(gv)), gv.expire_at <= now)) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
			continue;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	/* Where the next sweep starts; at the end it wraps around. */
	if (rc == 0 && k.mv_size < sizeof(st->sweep_at)) {
		memcpy(st->sweep_at, k.mv_data, k.mv_size);
		st->sweep_at[k.mv_size] = '\0';
	} else {
		st->sweep_at[0] = '\0';
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

static int
update_txn(struct gl_lmdb *st, const char *const keys[2], const struct greylist_rec recs[2],
    enum greylist_verdict verdict, double now, double expire)
{
	MDB_txn *txn;
	int rc = lmdb_env_txn_begin(st->env, 0, &txn);

	if (rc != 0)
		return rc;
	for (int i = 0; i < 2 && rc == 0; i++) {
		MDB_val k = { strlen(keys[i]), (void *)keys[i] }, v;
		struct gl_val gv = { now, now + expire };
		struct greylist_rec cur;

		/* Another worker may have written since our lookup: re-read. */
		read_rec(st, txn, keys[i], now, &cur);
		if (verdict == GREYLIST_NEW && cur.found)
			continue;
		if (verdict == GREYLIST_PASS) {
			if (!recs[i].found || !cur.found)
				continue;
			gv.first = cur.first;
		}
		v.mv_size = sizeof(gv);
		v.mv_data = &gv;
		rc = mdb_put(txn, st->dbi, &k, &v, 0);
	}
	if (rc == 0)
		rc = sweep(st, txn, now);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static void
gl_lmdb_update(void *p, const char *const keys[2], const struct greylist_rec recs[2],
    enum greylist_verdict verdict, double now, double expire)
{
	struct gl_lmdb *st = p;
	int rc = update_txn(st, keys, recs, verdict, now, expire);

	/* The map is full: double it (sparse file) and replay once. */
	if (rc == MDB_MAP_FULL) {
		if (lmdb_env_grow(st->env, &st->mapsize) == 0)
			rc = update_txn(st, keys, recs, verdict, now, expire);
	}
	if (rc != 0)
		log_error("greylist", NULL, "lmdb write: %s", mdb_strerror(rc));
}

static void
gl_lmdb_cancel(void *st, struct greylist_op *op)
{
	/* Lookups complete before they return: nothing is ever pending. */
	(void)st;
	(void)op;
}

const struct greylist_store_ops greylist_store_lmdb = {
	.name = "lmdb",
	.open = gl_lmdb_open,
	.close = gl_lmdb_close,
	.lookup = gl_lmdb_lookup,
	.update = gl_lmdb_update,
	.cancel = gl_lmdb_cancel,
};
