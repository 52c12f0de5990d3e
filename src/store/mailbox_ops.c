/*
 * mailbox_ops.c - the operations that change a folder: STORE (flags and
 * keywords), EXPUNGE, APPEND, COPY and MOVE.
 *
 * Each takes the folder lock once, refreshes the index (so it acts on
 * what other sessions did meanwhile), renames or links files, writes the
 * index once and unlocks. A message's flags are changed by renaming its
 * file (the name is the truth, mailbox.h); the new MODSEQ goes to the
 * index. COPY hard-links (messages are immutable; both folders live
 * under one root, so one file system) and falls back to copying.
 */
#include "store/mailbox_private.h"

#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "store/maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static unsigned long copy_counter;

static int
folder_file(const struct mailbox *mb, const char *file, char *out, size_t size)
{
	return str_format(out, size, "%s/%s", mb->dir, file) < 0 ? -1 : 0;
}

static void
fsync_dir(const struct mailbox *mb, const char *sub)
{
	char path[PATH_MAX];
	int fd;

	if (folder_file(mb, sub, path, sizeof(path)) < 0)
		return;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Renames r's file for new flags; -1 when the file is gone. */
static int
rename_for_flags(struct mailbox *mb, struct mbx_rec *r, unsigned flags)
{
	char name[MBX_FILE_MAX + 8], from[PATH_MAX], to[PATH_MAX];

	if (mbx_name_build(r->file + 4, flags, r->uid, name, sizeof(name)) < 0 ||
	    folder_file(mb, r->file, from, sizeof(from)) < 0 ||
	    folder_file(mb, name, to, sizeof(to)) < 0)
		return -1;
	if (strcmp(from, to) != 0 && rename(from, to) < 0)
		return -1;
	free(r->file);
	r->file = xstrdup(name);
	return 0;
}

static void
new_values(enum mailbox_flag_op op, const struct mbx_rec *r, unsigned flags,
    uint32_t kw, unsigned *nf_r, uint32_t *nk_r)
{
	flags &= MAIL_FLAGS_STORED;
	switch (op) {
	case MAILBOX_FLAGS_SET:
		*nf_r = flags, *nk_r = kw;
		break;
	case MAILBOX_FLAGS_ADD:
		*nf_r = r->flags | flags, *nk_r = r->keywords | kw;
		break;
	default:
		*nf_r = r->flags & ~flags, *nk_r = r->keywords & ~kw;
		break;
	}
}

static void
view_from_rec(struct mailbox *mb, uint32_t seq, const struct mbx_rec *r)
{
	struct mbx_view_msg *v = &mb->msgs[seq - 1];

	free(v->file);
	v->file = xstrdup(r->file);
	v->m.file = v->file;
	v->m.flags = (v->m.flags & MAIL_RECENT) | r->flags;
	v->m.keywords = r->keywords;
	v->m.modseq = r->modseq;
}

int
mailbox_set_flags(struct mailbox *mb, const uint32_t *seqs, size_t n,
    enum mailbox_flag_op op, unsigned flags, uint32_t keywords,
    uint64_t unchangedsince, uint32_t *failed_r, size_t *n_failed_r,
    bool *changed_r, const char **error_r)
{
	struct mailbox_index *idx;
	size_t k;

	if (n_failed_r != NULL)
		*n_failed_r = 0;
	if (mailbox_is_readonly(mb))
		return mbx_fail(error_r, "mailbox is read-only", EROFS);
	if (mbx_lock(mb, error_r) < 0)
		return -1;
	if (mbx_refresh(mb, false, error_r) < 0) {
		mbx_unlock(mb);
		return -1;
	}
	idx = mb->idx;
	for (k = 0; k < n; k++) {
		ptrdiff_t i = seqs[k] >= 1 && seqs[k] <= mb->n ?
		    mbx_index_find(idx, mb->msgs[seqs[k] - 1].m.uid) : -1;
		struct mbx_rec *r;
		unsigned nf;
		uint32_t nk;

		if (changed_r != NULL)
			changed_r[k] = false;
		if (i < 0)
			continue;
		r = &idx->recs[i];
		if (unchangedsince != 0 && r->modseq > unchangedsince) {
			if (failed_r != NULL && n_failed_r != NULL)
				failed_r[(*n_failed_r)++] = seqs[k];
			continue;
		}
		new_values(op, r, flags, keywords, &nf, &nk);
		nk &= idx->n_keywords >= 32 ? UINT32_MAX : ((1u << idx->n_keywords) - 1);
		if ((nf != r->flags || nk != r->keywords) &&
		    (nf == r->flags || rename_for_flags(mb, r, nf) == 0)) {
			r->flags = nf;
			r->keywords = nk;
			r->modseq = ++idx->highestmodseq;
			if (changed_r != NULL)
				changed_r[k] = true;
		}
		view_from_rec(mb, seqs[k], r);
	}
	mb->idx_gen++;
	k = (size_t)mbx_write_index(mb, error_r);
	mbx_unlock(mb);
	return (int)k;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
expunge_impl(struct mailbox *mb, const uint32_t *uids, size_t n_uids,
    bool force, void (*cb)(uint32_t seq, void *ctx), void *ctx,
    const char **error_r)
{
	uint32_t *set = NULL;
	char path[PATH_MAX];
	size_t pos;
	int rc;

	if (mailbox_is_readonly(mb))
		return mbx_fail(error_r, "mailbox is read-only", EROFS);
	if (mbx_lock(mb, error_r) < 0)
		return -1;
	if (mbx_refresh(mb, false, error_r) < 0) {
		mbx_unlock(mb);
		return -1;
	}
	if (uids != NULL) {
		set = xmemdup(uids, (n_uids + 1) * sizeof(*uids));
		if (n_uids > 1)
			qsort(set, n_uids, sizeof(*set), u32_cmp);
	}
	for (pos = mb->n; pos-- > 0;) {
		uint32_t uid = mb->msgs[pos].m.uid;
		ptrdiff_t i = mbx_index_find(mb->idx, uid);

		if (i < 0 || (set != NULL &&
		    bsearch(&uid, set, n_uids, sizeof(*set), u32_cmp) == NULL) ||
		    (!force && (mb->idx->recs[i].flags & MAIL_DELETED) == 0))
			continue;
		if (folder_file(mb, mb->idx->recs[i].file, path, sizeof(path)) < 0 ||
		    (unlink(path) < 0 && errno != ENOENT))
			continue;
		mbx_index_remove(mb->idx, (size_t)i);
		mb->idx->highestmodseq++;
		if (cb != NULL)
			cb((uint32_t)pos + 1, ctx);
		mbx_view_remove(mb, pos);
	}
	free(set);
	mb->idx_gen++;
	rc = mbx_write_index(mb, error_r);
	mbx_unlock(mb);
	return rc;
}

int
mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n_uids,
    void (*cb)(uint32_t seq, void *ctx), void *ctx, const char **error_r)
{
	return expunge_impl(mb, uids, n_uids, false, cb, ctx, error_r);
}

/* Keyword bit of name in idx, added when missing and there is room. */
static int
keyword_bit(struct mailbox_index *idx, const char *name)
{
	unsigned i;

	for (i = 0; i < idx->n_keywords; i++) {
		if (strcasecmp(idx->keywords[i], name) == 0)
			return (int)i;
	}
	if (i >= MAILBOX_KEYWORDS_MAX || !mbx_keyword_valid(name))
		return -1;
	idx->keywords[idx->n_keywords++] = xstrdup(name);
	return (int)i;
}

/* "<sec>.M<usec>P<pid>R<n>.<host>,S=<size>" (R: made by COPY). */
static int
unique_base(char *out, size_t size, uint64_t len)
{
	char host[64];
	struct timeval tv;

	if (gethostname(host, sizeof(host)) < 0)
		str_lcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++) {
		if (*p == '/' || *p == ':' || *p == ',')
			*p = '_';
	}
	gettimeofday(&tv, NULL);
	return str_format(out, size, "%lld.M%06ldP%ldR%lu.%s,S=%llu",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    ++copy_counter, host, (unsigned long long)len);
}

/* Sets flags, keywords and the internal date of the message just
 * delivered as new/<name> (picked up by the refresh before). */
static int
append_finish(struct mailbox *mb, const char *name, unsigned flags,
    const char *const *keywords, size_t n_keywords, int64_t idate,
    uint32_t *uid_r)
{
	struct mailbox_index *idx = mb->idx;
	size_t i, blen = mbx_base_len(name);

	for (i = idx->n; i-- > 0;) {
		struct mbx_rec *r = &idx->recs[i];
		char path[PATH_MAX];

		if (strncmp(r->file + 4, name, blen) != 0 ||
		    (r->file[4 + blen] != ',' && r->file[4 + blen] != ':' &&
		    r->file[4 + blen] != '\0'))
			continue;
		for (size_t k = 0; k < n_keywords; k++) {
			int bit = keyword_bit(idx, keywords[k]);

			if (bit >= 0)
				r->keywords |= 1u << bit;
		}
		flags &= MAIL_FLAGS_STORED;
		if (flags != r->flags && rename_for_flags(mb, r, flags) == 0)
			r->flags = flags;
		if (idate > 0 && folder_file(mb, r->file, path, sizeof(path)) == 0) {
			struct timespec ts[2] = { { (time_t)idate, 0 }, { (time_t)idate, 0 } };

			if (utimensat(AT_FDCWD, path, ts, 0) == 0)
				r->idate = idate;
		}
		r->modseq = ++idx->highestmodseq;
		*uid_r = r->uid;
		return 0;
	}
	return -1;
}

int
mailbox_append(const char *root, const char *name, const void *data,
    size_t len, unsigned flags, const char *const *keywords,
    size_t n_keywords, int64_t internal_date, uint32_t *uid_r,
    uint32_t *uidvalidity_r, const char **error_r)
{
	char dir[MAILBOX_NAME_MAX * 3 + 1], fname[MAILDIR_NAME_SIZE];
	struct maildir_target t = { root, NULL, false };
	struct mailbox *mb;
	uint32_t uid = 0;
	int rc = -1;

	if (mbx_open_light(root, name, &mb, error_r) < 0)
		return -1;
	if (mailbox_name_to_dir(name, dir, sizeof(dir)) < 0) {
		mailbox_close(mb);
		return mbx_fail(error_r, "invalid mailbox name", EINVAL);
	}
	t.folder = dir[0] != '\0' ? dir : NULL;
	if (maildir_deliver(&t, data, len, fname, sizeof(fname), error_r) < 0 ||
	    mbx_lock(mb, error_r) < 0) {
		mailbox_close(mb);
		return -1;
	}
	if (mbx_refresh(mb, true, error_r) == 0) {
		if (append_finish(mb, fname, flags, keywords, n_keywords,
		    internal_date, &uid) < 0)
			(void)mbx_fail(error_r, "appended message vanished", EIO);
		else
			rc = mbx_write_index(mb, error_r);
	}
	if (rc == 0) {
		fsync_dir(mb, "cur");
		if (uid_r != NULL)
			*uid_r = uid;
		if (uidvalidity_r != NULL)
			*uidvalidity_r = mb->idx->uidvalidity;
	}
	mbx_unlock(mb);
	mailbox_close(mb);
	return rc;
}

/* Copies src into dst_path (tmp name first, then rename), fsynced. */
static int
copy_file(const char *src, const char *tmp, const char *dst)
{
	char buf[65536];
	ssize_t n = 0;
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;

	if (in >= 0)
		out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	}
	if (in >= 0)
		close(in);
	if (out < 0)
		return -1;
	if (n < 0 || fsync(out) < 0 || close(out) < 0 || rename(tmp, dst) < 0) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* One message into dest (locked and refreshed); 0 and *uid_r. */
static int
copy_one(struct mailbox *mb, uint32_t seq, struct mailbox *dest,
    uint32_t *uid_r)
{
	struct mailbox_index *didx = dest->idx;
	struct mbx_view_msg *v = &mb->msgs[seq - 1];
	char base[MBX_FILE_MAX], file[MBX_FILE_MAX + 8], src[PATH_MAX],
	    dst[PATH_MAX], tmp[PATH_MAX];
	struct mbx_rec r = { 0 };
	uint32_t kw = 0;

	if (v->file == NULL) {
		errno = ENOENT; /* trimmed view, gone from the index */
		return -1;
	}
	if (unique_base(base, sizeof(base), v->m.size) < 0 ||
	    mbx_name_build(base, v->m.flags & MAIL_FLAGS_STORED, didx->uidnext,
	    file, sizeof(file)) < 0 || folder_file(mb, v->file, src, sizeof(src)) < 0 ||
	    folder_file(dest, file, dst, sizeof(dst)) < 0 ||
	    str_format(tmp, sizeof(tmp), "%s/tmp/%s", dest->dir, base) < 0)
		return -1;
	if (link(src, dst) < 0) {
		struct timespec ts[2] = { { (time_t)v->m.internal_date, 0 },
		    { (time_t)v->m.internal_date, 0 } };

		if (copy_file(src, tmp, dst) < 0)
			return -1;
		(void)utimensat(AT_FDCWD, dst, ts, 0);
	}
	for (unsigned i = 0; i < 32; i++) {
		const char *kname = (v->m.keywords >> i) & 1 ? mailbox_keyword_name(mb, i) : NULL;
		int bit = kname != NULL ? keyword_bit(didx, kname) : -1;

		if (bit >= 0)
			kw |= 1u << bit;
	}
	r.uid = didx->uidnext++;
	r.flags = v->m.flags & MAIL_FLAGS_STORED;
	r.keywords = kw;
	r.size = v->m.size;
	r.vsize = v->m.vsize;
	r.idate = v->m.internal_date;
	r.modseq = ++didx->highestmodseq;
	r.file = file;
	mbx_index_add(didx, &r);
	*uid_r = r.uid;
	return 0;
}

int
mailbox_copy(struct mailbox *mb, const uint32_t *seqs, size_t n,
    const char *dest, uint32_t *uids_r, uint32_t *uidvalidity_r,
    const char **error_r)
{
	struct mailbox *dmb;
	int rc = 0;

	if (mbx_open_light(mb->root, dest, &dmb, error_r) < 0)
		return -1;
	if (mbx_lock(dmb, error_r) < 0 || mbx_refresh(dmb, false, error_r) < 0) {
		mbx_unlock(dmb);
		mailbox_close(dmb);
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t uid = 0;

		if (seqs[k] >= 1 && seqs[k] <= mb->n &&
		    copy_one(mb, seqs[k], dmb, &uid) < 0 && errno != ENOENT) {
			rc = mbx_fail(error_r, "cannot copy the message", errno);
			break;
		}
		if (uids_r != NULL)
			uids_r[k] = uid;
	}
	dmb->idx_gen++;
	if (mbx_write_index(dmb, error_r) < 0)
		rc = -1;
	fsync_dir(dmb, "cur");
	if (uidvalidity_r != NULL)
		*uidvalidity_r = dmb->idx->uidvalidity;
	mbx_unlock(dmb);
	mailbox_close(dmb);
	return rc;
}

int
mailbox_move(struct mailbox *mb, const uint32_t *seqs, size_t n,
    const char *dest, uint32_t *uids_r, uint32_t *uidvalidity_r,
    void (*cb)(uint32_t seq, void *ctx), void *ctx, const char **error_r)
{
	uint32_t *uids;
	size_t k, m = 0;
	int rc;

	if (mailbox_is_readonly(mb))
		return mbx_fail(error_r, "mailbox is read-only", EROFS);
	if (mailbox_copy(mb, seqs, n, dest, uids_r, uidvalidity_r, error_r) < 0)
		return -1;
	uids = xcalloc(n + 1, sizeof(*uids));
	for (k = 0; k < n; k++) {
		if (seqs[k] >= 1 && seqs[k] <= mb->n)
			uids[m++] = mb->msgs[seqs[k] - 1].m.uid;
	}
	rc = expunge_impl(mb, uids, m, true, cb, ctx, error_r);
	free(uids);
	return rc;
}
