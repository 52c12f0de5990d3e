/*
 * mailbox_sync.c - keeping a folder's index in step with its Maildir
 * directory: reading and writing rsm-index, scanning cur/ and new/,
 * giving UIDs to new files, moving them to cur/ with ",U=<uid>" in the
 * name, and noticing files other programs renamed or removed.
 *
 * All of it runs under the folder's flock (mbx_lock), the discipline
 * mailbox.h documents. The index is written to a temporary name and
 * renamed, without fsync: it can always be rebuilt from the names, which
 * carry the flags and the UIDs, so a lost index write costs a rescan and
 * never a wrong UID. Delivery does not lock; a file that appears in new/
 * during a scan changes new/'s mtime after the stat we record, so the
 * next sync scans again.
 */
#include "store/mailbox_private.h"

#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Directory mtimes this close to now, on a file system without
 * sub-second times, may hide a later change in the same second. */
#define MTIME_TRUST_SECONDS 2
#define INDEX_MAX_BYTES (1024u * 1024 * 1024)

int
mbx_fail(const char **error_r, const char *reason, int err)
{
	*error_r = reason;
	errno = err;
	return -1;
}

uint32_t
mbx_new_uidvalidity(void)
{
	static uint32_t last;
	uint32_t now = (uint32_t)time(NULL);

	last = now > last ? now : last + 1;
	return last;
}

int
mbx_lock(struct mailbox *mb, const char **error_r)
{
	char path[PATH_MAX];

	if (mb->lock_fd < 0) {
		if (str_format(path, sizeof(path), "%s/%s", mb->dir, MBX_LOCK_FILE) < 0)
			return mbx_fail(error_r, "path too long", ENAMETOOLONG);
		mb->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (mb->lock_fd < 0 && errno == EACCES && (mb->flags & MAILBOX_RDONLY))
			mb->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (mb->lock_fd < 0)
			return mbx_fail(error_r, "cannot open the folder lock", errno);
	}
	while (flock(mb->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return mbx_fail(error_r, "cannot lock the folder", errno);
	}
	return 0;
}

void
mbx_unlock(struct mailbox *mb)
{
	if (mb->lock_fd >= 0)
		(void)flock(mb->lock_fd, LOCK_UN);
}

static void
stat_take(const char *path, struct mbx_stat *s_r)
{
	struct stat st;

	memset(s_r, 0, sizeof(*s_r));
	if (stat(path, &st) < 0)
		return;
	s_r->valid = true;
	s_r->dev = st.st_dev;
	s_r->ino = st.st_ino;
	s_r->size = st.st_size;
	s_r->mtime = st.st_mtim;
}

static bool
ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool
stat_eq(const struct mbx_stat *a, const struct mbx_stat *b)
{
	return a->valid == b->valid && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && ts_eq(a->mtime, b->mtime);
}

/* The mtime to record for a directory: 0 (rescan next time) when young
 * and without nanoseconds. */
static struct timespec
trusted_mtime(struct mailbox *mb, struct timespec t)
{
	struct timespec zero = { 0, 0 };

	if (t.tv_nsec == 0 && t.tv_sec + MTIME_TRUST_SECONDS >= time(NULL)) {
		mb->untrusted = true;
		return zero;
	}
	return t;
}

static int
sub_path(const struct mailbox *mb, const char *sub, char *out, size_t size)
{
	return str_format(out, size, "%s/%s", mb->dir, sub) < 0 ? -1 : 0;
}

/* Reads rsm-index if it changed since we last read or wrote it. A
 * missing or damaged index leaves mb->idx NULL. */
static void
load_index(struct mailbox *mb)
{
	char path[PATH_MAX];
	struct mbx_stat st;
	struct mailbox_index *idx = NULL;
	char *data;
	ssize_t got;
	int fd;

	if (sub_path(mb, MBX_INDEX_FILE, path, sizeof(path)) < 0)
		return;
	stat_take(path, &st);
	if (mb->idx != NULL && stat_eq(&st, &mb->seen_index))
		return;
	mailbox_index_free(mb->idx);
	mb->idx = NULL;
	mb->idx_gen++;
	mb->seen_index = st;
	if (!st.valid || (uint64_t)st.size > INDEX_MAX_BYTES)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	data = xmalloc((size_t)st.size + 1);
	got = read(fd, data, (size_t)st.size + 1);
	close(fd);
	if (got == (ssize_t)st.size && mailbox_index_parse(data, (size_t)got, &idx) == 0)
		mb->idx = idx;
	else
		log_warn("store", NULL, "%s: index damaged, rebuilding", mb->dir);
	free(data);
}

int
mbx_write_index(struct mailbox *mb, const char **error_r)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct buf b;
	int fd, rc = -1;

	if (sub_path(mb, MBX_INDEX_FILE, path, sizeof(path)) < 0 ||
	    sub_path(mb, MBX_INDEX_FILE ".tmp", tmp, sizeof(tmp)) < 0)
		return mbx_fail(error_r, "path too long", ENAMETOOLONG);
	buf_init(&b, 0);
	(void)mbx_index_format(mb->idx, &b);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0 && write(fd, b.data, b.len) == (ssize_t)b.len &&
	    close(fd) == 0) {
		fd = -1;
		rc = rename(tmp, path);
	}
	if (fd >= 0)
		close(fd);
	buf_deinit(&b);
	if (rc < 0) {
		(void)unlink(tmp);
		return mbx_fail(error_r, "cannot write the folder index", errno);
	}
	stat_take(path, &mb->seen_index);
	return 0;
}

int
mbx_file_vsize(int fd, uint64_t size, uint64_t *vsize_r)
{
	char buf[65536];
	uint64_t extra = 0;
	char prev = '\0';
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				extra++;
			prev = buf[i];
		}
	}
	if (n < 0)
		return -1;
	*vsize_r = size + extra;
	return 0;
}

/*
 * Scanning.
 */

struct entry {
	char *name;     /* "cur/..." or "new/..." */
	size_t base;    /* length of the base, after the dir prefix */
	bool used;
	uint32_t uid;   /* assigned while merging */
	int64_t arrival;
	struct stat st;
};

struct scan {
	struct entry *e;
	size_t n;
	size_t cap;
};

static void
scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].name);
	free(s->e);
	memset(s, 0, sizeof(*s));
}

static int
read_dir(struct mailbox *mb, const char *sub, struct scan *s)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (sub_path(mb, sub, path, sizeof(path)) < 0 || (d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char file[MBX_FILE_MAX + 8];

		if (de->d_name[0] == '.' ||
		    str_format(file, sizeof(file), "%s/%s", sub, de->d_name) < 0 ||
		    !mbx_file_valid(file))
			continue;
		s->e = xgrow(s->e, &s->cap, s->n + 1, sizeof(*s->e));
		memset(&s->e[s->n], 0, sizeof(s->e[0]));
		s->e[s->n].name = xstrdup(file);
		s->e[s->n].base = mbx_base_len(file + 4);
		s->n++;
	}
	closedir(d);
	return 0;
}

static int
base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, MIN(alen, blen));

	return c != 0 ? c : (alen < blen ? -1 : alen > blen);
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return base_cmp(x->name + 4, x->base, y->name + 4, y->base);
}

static struct entry *
scan_find(struct scan *s, const char *name)
{
	size_t lo = 0, hi = s->n, base = mbx_base_len(name);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = base_cmp(name, base, s->e[mid].name + 4, s->e[mid].base);

		if (c == 0)
			return &s->e[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Matches index records to directory entries; returns how many records
 * have no file. Records whose name changed get the new name and, when
 * the flags in it differ, a new MODSEQ. */
static size_t
match_records(struct mailbox_index *idx, struct scan *s, bool *dirty)
{
	size_t i, missing = 0;

	for (i = 0; i < idx->n; i++) {
		struct mbx_rec *r = &idx->recs[i];
		struct entry *e = scan_find(s, r->file + 4);
		unsigned flags;

		if (e == NULL || e->used) {
			missing++;
			continue;
		}
		e->used = true;
		if (strcmp(e->name, r->file) == 0)
			continue;
		free(r->file);
		r->file = xstrdup(e->name);
		*dirty = true;
		flags = e->name[0] == 'c' ? mbx_flags_from_name(e->name + 4) : r->flags;
		if (flags != r->flags) {
			r->flags = flags;
			r->modseq = ++idx->highestmodseq;
		}
	}
	return missing;
}

static void
drop_missing(struct mailbox_index *idx, struct scan *s, bool *dirty)
{
	size_t i = idx->n;

	while (i-- > 0) {
		struct entry *e = scan_find(s, idx->recs[i].file + 4);

		if (e == NULL || strcmp(e->name, idx->recs[i].file) != 0) {
			mbx_index_remove(idx, i);
			idx->highestmodseq++;
			*dirty = true;
		}
	}
}

/* Arrival time: "<sec>.M<usec>..." names when present, else the mtime. */
static int64_t
arrival_of(const struct entry *e)
{
	const char *p = e->name + 4;
	int64_t sec = 0, usec = 0;

	if (*p < '0' || *p > '9')
		goto use_mtime;
	for (; *p >= '0' && *p <= '9' && sec < INT64_MAX / 100; p++)
		sec = sec * 10 + (*p - '0');
	if (p[0] != '.')
		goto use_mtime;
	if (p[1] == 'M')
		for (p += 2; *p >= '0' && *p <= '9' && usec < 1000000; p++)
			usec = usec * 10 + (*p - '0');
	return sec * 1000000 + (usec % 1000000);
use_mtime:
	return (int64_t)e->st.st_mtim.tv_sec * 1000000 + e->st.st_mtim.tv_nsec / 1000;
}

static int
arrival_cmp(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;

	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
uid_cmp(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return arrival_cmp(a, b);
}

static uint64_t
name_field(const char *name, const char *tag)
{
	size_t base = mbx_base_len(name);
	const char *p = strstr(name, tag);
	uint64_t v = 0;

	if (p == NULL || (size_t)(p - name) >= base)
		return 0;
	for (p += strlen(tag); *p >= '0' && *p <= '9' && v < UINT64_MAX / 10; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

/* Adds the record for a new file (UID already chosen). */
static void
add_new(struct mailbox *mb, struct mailbox_index *idx, struct entry *e)
{
	char path[PATH_MAX];
	struct mbx_rec r;
	int fd;

	memset(&r, 0, sizeof(r));
	r.uid = e->uid;
	r.file = e->name;
	r.size = (uint64_t)e->st.st_size;
	r.vsize = name_field(e->name + 4, ",W=");
	r.idate = (int64_t)e->st.st_mtim.tv_sec;
	r.flags = e->name[0] == 'c' ? mbx_flags_from_name(e->name + 4) : 0;
	r.modseq = ++idx->highestmodseq;
	if (r.vsize < r.size && sub_path(mb, e->name, path, sizeof(path)) == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (mbx_file_vsize(fd, r.size, &r.vsize) < 0)
			r.vsize = r.size;
		close(fd);
	}
	if (r.vsize < r.size)
		r.vsize = r.size;
	mbx_index_add(idx, &r);
}

/*
 * UIDs for files the index does not know: a ",U=" in the name is kept
 * when it cannot clash with a UID given before (at or above UIDNEXT, or
 * anything unique after a rebuild); the rest get UIDNEXT, UIDNEXT+1, ...
 * in arrival order.
 */
static void
assign_new(struct mailbox *mb, struct mailbox_index *idx, struct scan *s,
    bool rebuilt, bool *dirty)
{
	struct entry **news = xcalloc(s->n + 1, sizeof(*news));
	size_t i, m = 0, k;
	char path[PATH_MAX];

	for (i = 0; i < s->n; i++) {
		struct entry *e = &s->e[i];
		uint32_t u;

		if (e->used || sub_path(mb, e->name, path, sizeof(path)) < 0 ||
		    stat(path, &e->st) < 0 || !S_ISREG(e->st.st_mode))
			continue;
		u = mbx_uid_from_name(e->name + 4);
		e->uid = u != 0 && (rebuilt || u >= idx->uidnext) && u < UINT32_MAX ? u : 0;
		e->arrival = arrival_of(e);
		news[m++] = e;
	}
	qsort(news, m, sizeof(*news), uid_cmp);
	for (i = 0; i < m; i++) {
		if (news[i]->uid != 0 && i > 0 && news[i - 1]->uid == news[i]->uid)
			news[i]->uid = 0;
		else if (news[i]->uid >= idx->uidnext)
			idx->uidnext = news[i]->uid + 1;
	}
	qsort(news, m, sizeof(*news), arrival_cmp);
	for (k = 0; k < m; k++) {
		if (news[k]->uid == 0)
			news[k]->uid = idx->uidnext++;
		add_new(mb, idx, news[k]);
		*dirty = true;
	}
	free(news);
	mbx_index_sort(idx);
}

static int
scan_dirs(struct mailbox *mb, bool rebuilt, bool *dirty)
{
	struct mailbox_index *idx = mb->idx;
	struct scan s = { NULL, 0, 0 };
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		scan_free(&s);
		if (read_dir(mb, "cur", &s) < 0 || read_dir(mb, "new", &s) < 0) {
			scan_free(&s);
			return -1;
		}
		if (s.n > 1)
			qsort(s.e, s.n, sizeof(*s.e), entry_cmp);
		/* A file renamed by another program while we read the
		 * directory can be missed once; look again before calling
		 * it expunged. */
		if (match_records(idx, &s, dirty) == 0)
			break;
	}
	drop_missing(idx, &s, dirty);
	assign_new(mb, idx, &s, rebuilt, dirty);
	scan_free(&s);
	return 0;
}

/* Read-write: new/ files go to cur/, and every cur/ name gets its UID. */
static void
rename_pending(struct mailbox *mb, bool *dirty)
{
	struct mailbox_index *idx = mb->idx;
	char from[PATH_MAX], to[PATH_MAX], name[MBX_FILE_MAX + 8];

	for (size_t i = 0; i < idx->n; i++) {
		struct mbx_rec *r = &idx->recs[i];

		if (r->file[0] == 'c' && mbx_uid_from_name(r->file + 4) == r->uid)
			continue;
		if (mbx_name_build(r->file + 4, r->flags, r->uid, name, sizeof(name)) < 0 ||
		    sub_path(mb, r->file, from, sizeof(from)) < 0 ||
		    sub_path(mb, name, to, sizeof(to)) < 0 || rename(from, to) < 0)
			continue; /* gone meanwhile: the next scan sees it */
		free(r->file);
		r->file = xstrdup(name);
		*dirty = true;
	}
}

int
mbx_refresh(struct mailbox *mb, bool force, const char **error_r)
{
	char path[PATH_MAX];
	struct mbx_stat pre_new, pre_cur;
	bool rebuilt = false, dirty = false, scanned = false;

	load_index(mb);
	if (mb->idx == NULL) {
		mb->idx = mbx_index_new(mbx_new_uidvalidity());
		rebuilt = true;
	}
	if (sub_path(mb, "new", path, sizeof(path)) < 0)
		return mbx_fail(error_r, "path too long", ENAMETOOLONG);
	stat_take(path, &pre_new);
	if (sub_path(mb, "cur", path, sizeof(path)) < 0)
		return mbx_fail(error_r, "path too long", ENAMETOOLONG);
	stat_take(path, &pre_cur);
	if (!pre_new.valid || !pre_cur.valid)
		return mbx_fail(error_r, "folder does not exist", ENOENT);
	mb->untrusted = false;
	if (force || rebuilt || !ts_eq(pre_new.mtime, mb->idx->new_mtime) ||
	    !ts_eq(pre_cur.mtime, mb->idx->cur_mtime)) {
		if (scan_dirs(mb, rebuilt, &dirty) < 0)
			return mbx_fail(error_r, "cannot read the folder", errno);
		mb->idx->new_mtime = trusted_mtime(mb, pre_new.mtime);
		scanned = dirty = true;
	}
	if ((mb->flags & MAILBOX_RDONLY) == 0)
		rename_pending(mb, &dirty);
	stat_take(path, &mb->seen_cur);
	if (scanned || dirty)
		mb->idx->cur_mtime = trusted_mtime(mb, mb->seen_cur.mtime);
	mb->seen_new = pre_new;
	if (mb->idx->new_mtime.tv_sec == 0 || mb->idx->cur_mtime.tv_sec == 0)
		mb->untrusted = true;
	if (dirty || rebuilt) {
		mb->idx_gen++;
		if (mbx_write_index(mb, error_r) < 0 &&
		    (mb->flags & MAILBOX_RDONLY) == 0)
			return -1;
	}
	return 0;
}
