/*
 * bayes_lmdb.c - the embedded statistics store: token counts in an LMDB
 * environment under the state directory (default <dbdir>/bayes.lmdb/).
 *
 * Why LMDB: every worker process maps the same file and reads it without
 * locks while one learner writes; a learn is one write transaction (all
 * token counts, the class total and the message digest), so a process
 * killed in the middle leaves the previous committed state, never a half
 * learn. Commits are not fsynced by default (sync = false): that keeps
 * training fast and still survives any process crash; only an operating
 * system crash can lose the last learns, never corrupt the store.
 *
 * Databases: "tokens" (key: [user NUL] + 8-byte big-endian hash, so keys
 * sort like the sorted hashes we write; value: spam and ham counts as two
 * uint32), "digests" ([user NUL] + 16-byte message digest -> 'S' or 'H'),
 * "meta" (named uint64 counters, per user prefixed "user NUL").
 *
 * Relearning a message into the other class decrements the tokens of the
 * message as tokenized now (counts never go below zero): we do not keep the
 * old token list, the same text yields the same word tokens.
 */
#include "scan/bayes/bayes_backend.h"
#include "scan/bayes/bayes_internal.h"

#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/lmdb_env.h"

#include <errno.h>
#include <lmdb.h>

/*
 * A learn touches thousands of tokens in random places: writing the pages
 * through the map instead of copying each dirty page with pwrite() at
 * commit more than doubled learns per second (profiled: the commit's
 * copies into the page cache dominated). LMDB stays copy-on-write with
 * WRITEMAP, so a crashed process still leaves the last committed state;
 * only the protection against stray writes through our own pointers is
 * lost, which a statistics store can afford.
 */
#define LMDB_WRITE_FLAGS MDB_WRITEMAP
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LMDB_DEFAULT_MAPSIZE (1024ull * 1024 * 1024)
#define LMDB_MAX_USER 255
#define LMDB_KEY_MAX (LMDB_MAX_USER + 1 + 32)

struct lmdb_be {
	MDB_env *env;
	MDB_dbi tokens, digests, meta;
	MDB_txn *rtxn;       /* reset between lookups, renewed for the next */
	size_t mapsize;
};

struct tok_val {
	uint32_t spam, ham;
};

/* Key prefix of a user (empty for the global statistics). */
static size_t
user_prefix(const char *user, uint8_t *key)
{
	size_t l;

	if (user == NULL || user[0] == '\0')
		return 0;
	l = MIN(strlen(user), (size_t)LMDB_MAX_USER);
	memcpy(key, user, l);
	key[l] = '\0';
	return l + 1;
}

static char *
lmdb_path(const struct obj *classifier, const struct config *cfg)
{
	return lmdb_env_path(classifier, cfg, "bayes.lmdb");
}

bool
bayes_lmdb_exists(const struct obj *classifier, const struct config *cfg)
{
	char *path = lmdb_path(classifier, cfg);
	char file[4200];
	struct stat st;
	bool ok = path != NULL && str_format(file, sizeof(file), "%s/data.mdb", path) >= 0 &&
	    stat(file, &st) == 0;

	free(path);
	return ok;
}

static int
open_dbis(struct lmdb_be *be)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(be->env, NULL, 0, &txn);

	if (rc != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, "tokens", MDB_CREATE, &be->tokens)) != 0 ||
	    (rc = mdb_dbi_open(txn, "digests", MDB_CREATE, &be->digests)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &be->meta)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static void
lmdb_close(void *p)
{
	struct lmdb_be *be = p;

	if (be == NULL)
		return;
	if (be->rtxn != NULL)
		mdb_txn_abort(be->rtxn);
	mdb_env_close(be->env);
	free(be);
}

static int
lmdb_options(const struct obj *classifier, size_t *mapsize_r, bool *sync_r)
{
	int64_t ms = 0;
	bool sync = false;
	const struct obj *o;

	if ((o = obj_lookup(classifier, "mapsize")) != NULL && (obj_get_int(o, &ms) < 0 ||
	    ms < 1024 * 1024))
		return -1;
	if ((o = obj_lookup(classifier, "sync")) != NULL && obj_get_bool(o, &sync) < 0)
		return -1;
	*mapsize_r = ms > 0 ? (size_t)ms : (size_t)LMDB_DEFAULT_MAPSIZE;
	*sync_r = sync;
	return 0;
}

static void *
lmdb_open(const struct obj *classifier, const struct config *cfg, struct ev_loop *loop,
    char **error_r)
{
	struct lmdb_be *be = xcalloc(1, sizeof(*be));
	char *path = lmdb_path(classifier, cfg);
	bool sync;
	int rc;

	(void)loop;
	if (path == NULL || lmdb_options(classifier, &be->mapsize, &sync) < 0) {
		*error_r = xstrdup("bayes lmdb: bad path, mapsize or sync option");
		free(path);
		free(be);
		return NULL;
	}
	if (lmdb_env_mkdir_p(path) < 0)
		rc = errno;
	else if ((rc = lmdb_env_open(&be->env, path, 4, be->mapsize, MDB_NOTLS |
	    LMDB_WRITE_FLAGS | (sync ? 0 : MDB_NOSYNC | MDB_MAPASYNC))) == 0 &&
	    (rc = open_dbis(be)) == 0) {
		free(path);
		return be;
	}
	*error_r = lmdb_env_error("bayes lmdb", path, rc);
	if (be->env != NULL)
		mdb_env_close(be->env);
	free(be);
	free(path);
	return NULL;
}

static uint64_t
meta_get(struct lmdb_be *be, MDB_txn *txn, const uint8_t *pfx, size_t pl, const char *name)
{
	uint8_t key[LMDB_KEY_MAX];
	size_t nl = strlen(name);
	MDB_val k = { pl + nl, key }, v;
	uint64_t x = 0;

	if (pl > 0)
		memcpy(key, pfx, pl);
	memcpy(key + pl, name, nl);
	if (mdb_get(txn, be->meta, &k, &v) == 0 && v.mv_size == sizeof(x))
		memcpy(&x, v.mv_data, sizeof(x));
	return x;
}

static int
meta_add(struct lmdb_be *be, MDB_txn *txn, const uint8_t *pfx, size_t pl, const char *name,
    int64_t delta)
{
	uint8_t key[LMDB_KEY_MAX];
	size_t nl = strlen(name);
	uint64_t x = meta_get(be, txn, pfx, pl, name);
	MDB_val k = { pl + nl, key }, v = { sizeof(x), &x };

	if (pl > 0)
		memcpy(key, pfx, pl);
	memcpy(key + pl, name, nl);
	x = delta < 0 && x < (uint64_t)-delta ? 0 : x + (uint64_t)delta;
	return mdb_put(txn, be->meta, &k, &v, 0);
}

static void
totals_read(struct lmdb_be *be, MDB_txn *txn, const uint8_t *pfx, size_t pl,
    struct bayes_totals *t)
{
	t->learned_spam = meta_get(be, txn, pfx, pl, "learned_spam");
	t->learned_ham = meta_get(be, txn, pfx, pl, "learned_ham");
	t->tokens = meta_get(be, txn, NULL, 0, "tokens");
	t->users = meta_get(be, txn, NULL, 0, "users");
}

static void
token_key(uint8_t *key, size_t pl, uint64_t h)
{
	for (int i = 7; i >= 0; i--, h >>= 8)
		key[pl + (size_t)i] = (uint8_t)h;
}

static struct bayes_op *
lmdb_lookup(void *p, const char *user, struct bayes_token *tokens, size_t n,
    bayes_lookup_cb *done, void *ud)
{
	struct lmdb_be *be = p;
	struct bayes_totals t = { 0, 0, 0, 0 };
	uint8_t key[LMDB_KEY_MAX];
	size_t pl = user_prefix(user, key);
	int rc = be->rtxn != NULL ? mdb_txn_renew(be->rtxn) :
	    lmdb_env_txn_begin(be->env, MDB_RDONLY, &be->rtxn);

	if (rc != 0) {
		log_warn("bayes", NULL, "lmdb read: %s", mdb_strerror(rc));
		if (be->rtxn != NULL)
			mdb_txn_abort(be->rtxn);
		be->rtxn = NULL;
		done(-1, &t, ud);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		MDB_val k = { pl + 8, key }, v;
		struct tok_val tv = { 0, 0 };

		token_key(key, pl, tokens[i].hash);
		if (mdb_get(be->rtxn, be->tokens, &k, &v) == 0 && v.mv_size == sizeof(tv))
			memcpy(&tv, v.mv_data, sizeof(tv));
		tokens[i].spam = tv.spam;
		tokens[i].ham = tv.ham;
	}
	totals_read(be, be->rtxn, key, pl, &t);
	mdb_txn_reset(be->rtxn);
	done(0, &t, ud);
	return NULL;
}

/* Adds delta (+1/-1) to one class count of each token; tracks the token total. */
static int
tokens_apply(struct lmdb_be *be, MDB_txn *txn, uint8_t *key, size_t pl, bool spam,
    int delta, const uint64_t *hashes, size_t n, int64_t *new_r)
{
	for (size_t i = 0; i < n; i++) {
		MDB_val k = { pl + 8, key }, v;
		struct tok_val tv = { 0, 0 };
		uint32_t *c = spam ? &tv.spam : &tv.ham;
		bool existed;
		int rc;

		token_key(key, pl, hashes[i]);
		existed = mdb_get(txn, be->tokens, &k, &v) == 0 && v.mv_size == sizeof(tv);
		if (existed)
			memcpy(&tv, v.mv_data, sizeof(tv));
		else if (delta < 0)
			continue;
		*c = delta < 0 ? (*c > 0 ? *c - 1 : 0) : (*c < UINT32_MAX ? *c + 1 : *c);
		if (tv.spam == 0 && tv.ham == 0) {
			rc = mdb_del(txn, be->tokens, &k, NULL);
			(*new_r)--;
		} else {
			v.mv_size = sizeof(tv);
			v.mv_data = &tv;
			rc = mdb_put(txn, be->tokens, &k, &v, 0);
			*new_r += existed ? 0 : 1;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Class totals, globally and for the user; counts a user on first learn. */
static int
totals_apply(struct lmdb_be *be, MDB_txn *txn, const uint8_t *pfx, size_t pl, bool spam,
    int delta)
{
	const char *name = spam ? "learned_spam" : "learned_ham";
	int rc = meta_add(be, txn, NULL, 0, name, delta);

	if (rc != 0 || pl == 0)
		return rc;
	if (delta > 0 && meta_get(be, txn, pfx, pl, "seen") == 0) {
		if ((rc = meta_add(be, txn, pfx, pl, "seen", 1)) != 0 ||
		    (rc = meta_add(be, txn, NULL, 0, "users", 1)) != 0)
			return rc;
	}
	return meta_add(be, txn, pfx, pl, name, delta);
}

/* The learn itself inside `txn`; returns an LMDB error or 0, *status_r the outcome. */
static int
learn_txn(struct lmdb_be *be, MDB_txn *txn, const char *user, const uint8_t digest[16],
    bool spam, const uint64_t *hashes, size_t n, int *status_r)
{
	uint8_t key[LMDB_KEY_MAX], dkey[LMDB_KEY_MAX];
	size_t pl = user_prefix(user, key);
	MDB_val dk = { pl + 16, dkey }, dv;
	char cls = spam ? 'S' : 'H';
	int64_t new_tokens = 0;
	int rc;

	memcpy(dkey, key, pl);
	memcpy(dkey + pl, digest, 16);
	if (mdb_get(txn, be->digests, &dk, &dv) == 0 && dv.mv_size == 1) {
		if (*(const char *)dv.mv_data == cls) {
			*status_r = BAYES_LEARN_ALREADY;
			return 0;
		}
		if ((rc = tokens_apply(be, txn, key, pl, !spam, -1, hashes, n, &new_tokens)) != 0 ||
		    (rc = totals_apply(be, txn, key, pl, !spam, -1)) != 0)
			return rc;
	}
	if ((rc = tokens_apply(be, txn, key, pl, spam, 1, hashes, n, &new_tokens)) != 0 ||
	    (rc = totals_apply(be, txn, key, pl, spam, 1)) != 0 ||
	    (rc = meta_add(be, txn, NULL, 0, "tokens", new_tokens)) != 0)
		return rc;
	dv.mv_size = 1;
	dv.mv_data = &cls;
	if ((rc = mdb_put(txn, be->digests, &dk, &dv, 0)) != 0)
		return rc;
	*status_r = BAYES_LEARN_OK;
	return 0;
}

static int
learn_once(struct lmdb_be *be, const char *user, const uint8_t digest[16], bool spam,
    const uint64_t *hashes, size_t n, int *status_r)
{
	MDB_txn *txn;
	int rc = lmdb_env_txn_begin(be->env, 0, &txn);

	if (rc != 0)
		return rc;
	rc = learn_txn(be, txn, user, digest, spam, hashes, n, status_r);
	if (rc != 0 || *status_r != BAYES_LEARN_OK) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static struct bayes_op *
lmdb_learn(void *p, const char *user, const uint8_t digest[16], bool spam,
    const uint64_t *hashes, size_t n, bayes_learn_done_cb *done, void *ud)
{
	struct lmdb_be *be = p;
	int status = BAYES_LEARN_ERROR;
	int rc = learn_once(be, user, digest, spam, hashes, n, &status);

	/* The map is full: double it (sparse file) and replay the learn once. */
	if (rc == MDB_MAP_FULL) {
		if (be->rtxn != NULL) {
			mdb_txn_abort(be->rtxn);
			be->rtxn = NULL;
		}
		if (lmdb_env_grow(be->env, &be->mapsize) == 0)
			rc = learn_once(be, user, digest, spam, hashes, n, &status);
	}
	if (rc != 0) {
		log_error("bayes", NULL, "lmdb learn: %s", mdb_strerror(rc));
		status = BAYES_LEARN_ERROR;
	}
	done(status, ud);
	return NULL;
}

static struct bayes_op *
lmdb_stat(void *p, bayes_stat_done_cb *done, void *ud)
{
	struct lmdb_be *be = p;
	struct bayes_totals t = { 0, 0, 0, 0 };
	MDB_txn *txn;
	int rc = lmdb_env_txn_begin(be->env, MDB_RDONLY, &txn);

	if (rc != 0) {
		log_warn("bayes", NULL, "lmdb stat: %s", mdb_strerror(rc));
		done(-1, &t, ud);
		return NULL;
	}
	totals_read(be, txn, NULL, 0, &t);
	mdb_txn_abort(txn);
	done(0, &t, ud);
	return NULL;
}

static void
lmdb_cancel(void *be, struct bayes_op *op)
{
	/* Every operation completed before it returned: nothing is pending. */
	(void)be;
	(void)op;
}

const struct bayes_backend_ops bayes_backend_lmdb = {
	.name = "lmdb",
	.open = lmdb_open,
	.close = lmdb_close,
	.lookup = lmdb_lookup,
	.learn = lmdb_learn,
	.stat = lmdb_stat,
	.cancel = lmdb_cancel,
};
