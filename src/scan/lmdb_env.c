/*
 * lmdb_env.c - opening and growing the LMDB files of the scan stores
 * (see lmdb_env.h for why the bayes and greylist stores share this).
 */
#include "scan/lmdb_env.h"

#include "config/config.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <sys/stat.h>

char *
lmdb_env_path(const struct obj *sec, const struct config *cfg, const char *name)
{
	const char *p = obj_get_string(obj_lookup(sec, "path"));
	char buf[4096];

	if (p != NULL)
		return xstrdup(p);
	if (str_format(buf, sizeof(buf), "%s/%s",
	    cfg != NULL && cfg->dbdir != NULL ? cfg->dbdir : ".", name) < 0)
		return NULL;
	return xstrdup(buf);
}

int
lmdb_env_mkdir_p(const char *path)
{
	char tmp[4096];

	if (str_lcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0750) < 0 && errno != EEXIST ? -1 : 0;
}

int
lmdb_env_open(MDB_env **env_r, const char *path, unsigned maxdbs, size_t mapsize,
    unsigned flags)
{
	int rc;

	if ((rc = mdb_env_create(env_r)) != 0) {
		*env_r = NULL;
		return rc;
	}
	if ((maxdbs == 0 || (rc = mdb_env_set_maxdbs(*env_r, maxdbs)) == 0) &&
	    (rc = mdb_env_set_mapsize(*env_r, mapsize)) == 0 &&
	    (rc = mdb_env_open(*env_r, path, flags, 0640)) == 0) {
		/* Reader slots of workers killed while reading would pin old pages. */
		(void)mdb_reader_check(*env_r, NULL);
		return 0;
	}
	mdb_env_close(*env_r);
	*env_r = NULL;
	return rc;
}

char *
lmdb_env_error(const char *what, const char *path, int rc)
{
	return xasprintf("%s %s: %s", what, path, mdb_strerror(rc));
}

int
lmdb_env_txn_begin(MDB_env *env, unsigned flags, MDB_txn **txn_r)
{
	int rc = mdb_txn_begin(env, NULL, flags, txn_r);

	/* Another process grew the map: adopt its size and try again. */
	if (rc == MDB_MAP_RESIZED) {
		(void)mdb_env_set_mapsize(env, 0);
		rc = mdb_txn_begin(env, NULL, flags, txn_r);
	}
	return rc;
}

int
lmdb_env_grow(MDB_env *env, size_t *mapsize)
{
	*mapsize *= 2;
	return mdb_env_set_mapsize(env, *mapsize);
}
