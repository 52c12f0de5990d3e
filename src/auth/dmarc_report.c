/*
 * dmarc_report.c - aggregate-report data: per day, per From domain, per
 * source IP and evaluated result, a message count, in
 * <dbdir>/dmarc_reports.lmdb, so reports can be generated later
 * (`rspamadm dmarc_report [DATE]` lists a day as JSON).
 *
 * Keys are text with ' ' as separator (it sorts below every character a
 * domain or address may hold, so all keys of a domain are contiguous and
 * the domain's own key comes first):
 *   "YYYYMMDD domain"                        -> "policy pct" (last seen)
 *   "YYYYMMDD domain ip disposition dkim spf" -> 8-byte little-endian count
 *
 * The environment is opened lazily in each process that stores a row and
 * reopened when the pid changed: LMDB handles must not cross fork(), and
 * the engine is built in the main process before the workers fork. Writes
 * are not synced (MDB_NOSYNC): losing the last seconds of report counts in
 * a crash is acceptable, an fsync per scanned message is not. Several
 * worker processes share the file through LMDB's own lock file.
 */
#include "auth/dmarc.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/obj.h"
#include "core/xmalloc.h"

#define DMARC_REPORT_FILE "dmarc_reports.lmdb"
#define DMARC_REPORT_MAPSIZE ((size_t)256 * 1024 * 1024)

static MDB_env *report_env;
static MDB_dbi report_dbi;
static pid_t report_pid;
static char *report_path;

void
dmarc_report_date(long long t, char buf[9])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (strftime(buf, 9, "%Y%m%d", &tm) != 8)
		str_lcpy(buf, "00000000", 9);
}

void
dmarc_report_close(void)
{
	if (report_env != NULL && report_pid == getpid())
		mdb_env_close(report_env);
	/* after a fork the parent's handle is dropped, never closed here */
	report_env = NULL;
	free(report_path);
	report_path = NULL;
}

static int
dmarc_report_fail(int rc, const char *what, char **error_r)
{
	*error_r = xasprintf("%s: %s: %s", report_path != NULL ? report_path :
	    DMARC_REPORT_FILE, what, mdb_strerror(rc));
	return -1;
}

/*
 * Opens (creating when `create`) the database of `dbdir`. Returns 1 when
 * open, 0 when it does not exist and `create` is false, -1 on error.
 */
static int
dmarc_report_open(const char *dbdir, bool create, char **error_r)
{
	char *path;
	MDB_txn *txn;
	int rc;

	if (dbdir == NULL || *dbdir == '\0') {
		*error_r = xstrdup("no dbdir configured");
		return -1;
	}
	path = xasprintf("%s/%s", dbdir, DMARC_REPORT_FILE);
	if (report_env != NULL && report_pid == getpid() &&
	    strcmp(path, report_path) == 0) {
		free(path);
		return 1;
	}
	dmarc_report_close();
	if (access(path, F_OK) != 0) {
		if (!create) {
			free(path);
			return 0;
		}
		if (mkdir(dbdir, 0750) < 0 && errno != EEXIST) {
			*error_r = xasprintf("%s: %s", dbdir, strerror(errno));
			free(path);
			return -1;
		}
	}
	report_path = path;
	if ((rc = mdb_env_create(&report_env)) != 0)
		return dmarc_report_fail(rc, "create", error_r);
	mdb_env_set_mapsize(report_env, DMARC_REPORT_MAPSIZE);
	rc = mdb_env_open(report_env, path, MDB_NOSUBDIR | MDB_NOSYNC, 0640);
	if (rc == 0 && (rc = mdb_txn_begin(report_env, NULL, 0, &txn)) == 0) {
		if ((rc = mdb_dbi_open(txn, NULL, 0, &report_dbi)) == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (rc != 0) {
		dmarc_report_fail(rc, "open", error_r);
		mdb_env_close(report_env);
		report_env = NULL;
		return -1;
	}
	report_pid = getpid();
	return 1;
}

static const char *
disp_name(enum dmarc_disposition d)
{
	return d == DMARC_DISP_REJECT ? "reject" :
	    d == DMARC_DISP_QUARANTINE ? "quarantine" : "none";
}

static int
dmarc_report_put(MDB_txn *txn, const struct dmarc_report_row *row)
{
	char key[600], pol[64];
	MDB_val k, v;
	uint64_t count = 0;
	unsigned char le[8];
	int rc;

	if (str_format(key, sizeof(key), "%s %s", row->date, row->domain) < 0 ||
	    str_format(pol, sizeof(pol), "%s %u", dmarc_policy_name(row->policy),
	    row->pct) < 0)
		return MDB_BAD_VALSIZE;
	k = (MDB_val){ strlen(key), key };
	v = (MDB_val){ strlen(pol), pol };
	if ((rc = mdb_put(txn, report_dbi, &k, &v, 0)) != 0)
		return rc;
	if (str_format(key, sizeof(key), "%s %s %s %s %s %s", row->date,
	    row->domain, row->ip, disp_name(row->disposition),
	    row->dkim_aligned ? "pass" : "fail",
	    row->spf_aligned ? "pass" : "fail") < 0)
		return MDB_BAD_VALSIZE;
	k = (MDB_val){ strlen(key), key };
	rc = mdb_get(txn, report_dbi, &k, &v);
	if (rc == 0 && v.mv_size == 8) {
		for (int i = 7; i >= 0; i--)
			count = (count << 8) | ((const unsigned char *)v.mv_data)[i];
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	count++;
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(count >> (8 * i));
	v = (MDB_val){ sizeof(le), le };
	return mdb_put(txn, report_dbi, &k, &v, 0);
}

int
dmarc_report_store(const char *dbdir, const struct dmarc_report_row *row,
    char **error_r)
{
	MDB_txn *txn;
	int rc;

	if (strchr(row->domain, ' ') != NULL || strchr(row->ip, ' ') != NULL) {
		*error_r = xstrdup("space in domain or address");
		return -1;
	}
	if (dmarc_report_open(dbdir, true, error_r) < 0)
		return -1;
	if ((rc = mdb_txn_begin(report_env, NULL, 0, &txn)) != 0)
		return dmarc_report_fail(rc, "begin", error_r);
	if ((rc = dmarc_report_put(txn, row)) != 0) {
		mdb_txn_abort(txn);
		return dmarc_report_fail(rc, "put", error_r);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return dmarc_report_fail(rc, "commit", error_r);
	return 0;
}

/* Splits a key copy at spaces into at most `max` fields; returns count. */
static size_t
split_fields(char *s, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		f[n++] = s;
		if ((s = strchr(s, ' ')) == NULL)
			break;
		*s++ = '\0';
	}
	return n;
}

static struct obj *
report_domain_new(char **f, const MDB_val *v)
{
	struct obj *d = obj_new_object();
	char pol[64];
	size_t len = MIN(v->mv_size, sizeof(pol) - 1);
	char *sp;

	memcpy(pol, v->mv_data, len);
	pol[len] = '\0';
	obj_object_set(d, "domain", obj_new_string(f[1]));
	if ((sp = strchr(pol, ' ')) != NULL) {
		*sp++ = '\0';
		obj_object_set(d, "policy", obj_new_string(pol));
		obj_object_set(d, "pct", obj_new_int(strtol(sp, NULL, 10)));
	}
	obj_object_set(d, "records", obj_new_array());
	return d;
}

static void
report_add_row(struct obj *dom, char **f, const MDB_val *v)
{
	struct obj *r = obj_new_object();
	uint64_t count = 0;

	if (v->mv_size == 8)
		for (int i = 7; i >= 0; i--)
			count = (count << 8) | ((const unsigned char *)v->mv_data)[i];
	obj_object_set(r, "source_ip", obj_new_string(f[2]));
	obj_object_set(r, "count", obj_new_int((int64_t)count));
	obj_object_set(r, "disposition", obj_new_string(f[3]));
	obj_object_set(r, "dkim", obj_new_string(f[4]));
	obj_object_set(r, "spf", obj_new_string(f[5]));
	obj_array_append(obj_lookup(dom, "records"), r);
}

/* Walks the keys of `date`, building the domains array in `domains`. */
static int
report_walk(MDB_txn *txn, const char *date, struct obj *domains)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char prefix[16], key[600];
	struct obj *dom = NULL;
	int rc;

	str_format(prefix, sizeof(prefix), "%s ", date);
	if ((rc = mdb_cursor_open(txn, report_dbi, &cur)) != 0)
		return rc;
	k = (MDB_val){ strlen(prefix), prefix };
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char *f[6];
		size_t n;
		if (k.mv_size < strlen(prefix) || k.mv_size >= sizeof(key) ||
		    memcmp(k.mv_data, prefix, strlen(prefix)) != 0)
			break;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		n = split_fields(key, f, 6);
		if (n == 2) {
			dom = report_domain_new(f, &v);
			obj_array_append(domains, dom);
		} else if (n == 6 && dom != NULL &&
		    strcmp(obj_get_string(obj_lookup(dom, "domain")), f[1]) == 0) {
			report_add_row(dom, f, &v);
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int
dmarc_report_list_json(const char *dbdir, const char *date, struct buf *out,
    char **error_r)
{
	struct obj *root = obj_new_object(), *domains = obj_new_array();
	MDB_txn *txn;
	int rc, open_rc;

	obj_object_set(root, "date", obj_new_string(date));
	obj_object_set(root, "domains", domains);
	open_rc = dmarc_report_open(dbdir, false, error_r);
	if (open_rc < 0) {
		obj_free(&root);
		return -1;
	}
	if (open_rc > 0) {
		if ((rc = mdb_txn_begin(report_env, NULL, MDB_RDONLY, &txn)) != 0) {
			obj_free(&root);
			return dmarc_report_fail(rc, "begin", error_r);
		}
		rc = report_walk(txn, date, domains);
		mdb_txn_abort(txn);
		if (rc != 0) {
			obj_free(&root);
			return dmarc_report_fail(rc, "read", error_r);
		}
	}
	rc = obj_emit_json(root, out, true);
	obj_free(&root);
	if (rc < 0) {
		*error_r = xstrdup("output too large");
		return -1;
	}
	return 0;
}
