/*
 * mailbox.c - a session's view of one folder (IMAP SELECT/EXAMINE, POP3):
 * opening, syncing the view with the index and reporting what changed,
 * reading messages, the cache of computed strings, and the POP3 lock.
 *
 * The view is separate from the index on purpose: IMAP sequence numbers
 * may only change when the server reports EXPUNGE, so a session keeps its
 * own array and only mailbox_sync() folds in what other sessions and
 * deliveries did, returning the changes in the order IMAP sends them.
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
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_READ_MAX (256u * 1024 * 1024)

static void
view_msg_free(struct mbx_view_msg *v)
{
	struct mbx_cache_ent *c, *next;

	for (c = v->cache; c != NULL; c = next) {
		next = c->next;
		free(c->data);
		free(c);
	}
	free(v->file);
}

static void
view_set(struct mbx_view_msg *v, const struct mbx_rec *r)
{
	if (v->file == NULL || strcmp(v->file, r->file) != 0) {
		free(v->file);
		v->file = xstrdup(r->file);
	}
	v->m.uid = r->uid;
	v->m.flags = (v->m.flags & MAIL_RECENT) | r->flags;
	v->m.keywords = r->keywords;
	v->m.size = r->size;
	v->m.vsize = r->vsize;
	v->m.internal_date = r->idate;
	v->m.modseq = r->modseq;
	v->m.file = v->file;
}

static void
push_u32(uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
	*arr = xgrow(*arr, cap, *n + 1, sizeof(**arr));
	(*arr)[(*n)++] = v;
}

/* Removes view messages gone from the index, reporting highest first. */
static void
view_expunge(struct mailbox *mb, struct mailbox_changes *ch)
{
	size_t i, o = 0, cap = 0;
	bool *gone = xcalloc(mb->n + 1, sizeof(*gone));

	for (i = 0; i < mb->n; i++)
		gone[i] = mbx_index_find(mb->idx, mb->msgs[i].m.uid) < 0;
	for (i = mb->n; i-- > 0;) {
		if (gone[i] && ch != NULL)
			push_u32(&ch->expunged, &ch->n_expunged, &cap, (uint32_t)i + 1);
	}
	for (i = 0; i < mb->n; i++) {
		if (gone[i])
			view_msg_free(&mb->msgs[i]);
		else
			mb->msgs[o++] = mb->msgs[i];
	}
	mb->n = o;
	free(gone);
}

void
mbx_view_update(struct mailbox *mb, struct mailbox_changes *ch)
{
	struct mailbox_index *idx = mb->idx;
	size_t i, cap = 0, old_n;

	if (mb->uidvalidity != idx->uidvalidity) {
		if (mb->uidvalidity != 0 && ch != NULL)
			ch->uidvalidity_changed = true;
		for (i = 0; i < mb->n; i++)
			view_msg_free(&mb->msgs[i]);
		mb->n = 0;
		mb->uidvalidity = idx->uidvalidity;
	}
	view_expunge(mb, ch);
	for (i = 0; i < mb->n; i++) {
		struct mbx_view_msg *v = &mb->msgs[i];
		const struct mbx_rec *r = &idx->recs[mbx_index_find(idx, v->m.uid)];
		bool changed = r->modseq != v->m.modseq &&
		    (r->flags != (v->m.flags & MAIL_FLAGS_STORED) ||
		    r->keywords != v->m.keywords);

		view_set(v, r);
		if (changed && ch != NULL)
			push_u32(&ch->flags_changed, &ch->n_flags_changed, &cap,
			    (uint32_t)i + 1);
	}
	old_n = mb->n;
	for (i = 0; i < idx->n; i++) {
		struct mbx_view_msg *v;

		if (old_n > 0 && idx->recs[i].uid <= mb->msgs[old_n - 1].m.uid)
			continue;
		mb->msgs = xgrow(mb->msgs, &mb->cap, mb->n + 1, sizeof(*mb->msgs));
		v = &mb->msgs[mb->n++];
		memset(v, 0, sizeof(*v));
		view_set(v, &idx->recs[i]);
		if (idx->recs[i].uid >= mb->recent_from)
			v->m.flags |= MAIL_RECENT;
	}
	mb->view_gen = mb->idx_gen;
	if (ch != NULL) {
		ch->new_messages = mb->n > old_n;
		ch->exists = (uint32_t)mb->n;
		ch->recent = 0;
		for (i = 0; i < mb->n; i++)
			ch->recent += (mb->msgs[i].m.flags & MAIL_RECENT) != 0;
	}
}

/* The view is built but its index was dropped by mailbox_trim(). */
static bool
trimmed(const struct mailbox *mb)
{
	return mb->idx == NULL && mb->uidvalidity != 0;
}

/* Nothing changed on disk since we last looked (no lock, three stats). */
static bool
unchanged(struct mailbox *mb)
{
	char path[PATH_MAX];
	struct mbx_stat st;
	static const char *const subs[] = { MBX_INDEX_FILE, "new", "cur" };
	const struct mbx_stat *seen[] = { &mb->seen_index, &mb->seen_new, &mb->seen_cur };

	/* A trimmed view (no index, see mailbox_trim) still has its stats. */
	if ((mb->idx == NULL && !trimmed(mb)) || mb->untrusted ||
	    mb->view_gen != mb->idx_gen)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (str_format(path, sizeof(path), "%s/%s", mb->dir, subs[i]) < 0)
			return false;
		memset(&st, 0, sizeof(st));
		{
			struct stat s;

			if (stat(path, &s) == 0) {
				st.valid = true;
				st.dev = s.st_dev;
				st.ino = s.st_ino;
				st.size = s.st_size;
				st.mtime = s.st_mtim;
			}
		}
		if (st.valid != seen[i]->valid || st.ino != seen[i]->ino ||
		    st.dev != seen[i]->dev || st.size != seen[i]->size ||
		    st.mtime.tv_sec != seen[i]->mtime.tv_sec ||
		    st.mtime.tv_nsec != seen[i]->mtime.tv_nsec)
			return false;
	}
	return true;
}

int
mailbox_sync(struct mailbox *mb, struct mailbox_changes *ch_r,
    const char **error_r)
{
	if (ch_r != NULL)
		memset(ch_r, 0, sizeof(*ch_r));
	if (unchanged(mb)) {
		if (ch_r != NULL) {
			ch_r->exists = (uint32_t)mb->n;
			for (size_t i = 0; i < mb->n; i++)
				ch_r->recent += (mb->msgs[i].m.flags & MAIL_RECENT) != 0;
		}
		return 0;
	}
	if (mbx_lock(mb, error_r) < 0)
		return -1;
	if (mbx_refresh(mb, false, error_r) < 0) {
		mbx_unlock(mb);
		return -1;
	}
	mb->recent_from = mb->idx->first_recent;
	if ((mb->flags & MAILBOX_RDONLY) == 0 &&
	    mb->idx->first_recent != mb->idx->uidnext) {
		mb->idx->first_recent = mb->idx->uidnext;
		mb->idx_gen++;
		(void)mbx_write_index(mb, error_r);
	}
	mbx_unlock(mb);
	mbx_view_update(mb, ch_r);
	return 0;
}

void
mailbox_changes_free(struct mailbox_changes *ch)
{
	free(ch->expunged);
	free(ch->flags_changed);
	memset(ch, 0, sizeof(*ch));
}

void
mbx_view_remove(struct mailbox *mb, size_t pos)
{
	view_msg_free(&mb->msgs[pos]);
	memmove(&mb->msgs[pos], &mb->msgs[pos + 1],
	    (mb->n - pos - 1) * sizeof(*mb->msgs));
	mb->n--;
}

static int
open_common(const char *root, const char *name, unsigned flags,
    struct mailbox **mb_r, const char **error_r)
{
	char dir[PATH_MAX], norm[MAILBOX_NAME_MAX + 1], cur[PATH_MAX];
	struct mailbox *mb;
	struct stat st;

	if (mbx_name_normalize(name, norm, sizeof(norm)) < 0 ||
	    mbx_folder_path(root, name, dir, sizeof(dir)) < 0)
		return mbx_fail(error_r, "invalid mailbox name", EINVAL);
	if (str_format(cur, sizeof(cur), "%s/cur", dir) < 0)
		return mbx_fail(error_r, "path too long", ENAMETOOLONG);
	if (stat(cur, &st) < 0) {
		if (!mailbox_name_is_inbox(norm))
			return mbx_fail(error_r, "no such mailbox", ENOENT);
		if (maildir_create(root, error_r) < 0)
			return -1;
	}
	mb = xcalloc(1, sizeof(*mb));
	mb->root = xstrdup(root);
	mb->name = xstrdup(norm);
	mb->dir = xstrdup(dir);
	mb->flags = flags;
	mb->lock_fd = -1;
	*mb_r = mb;
	return 0;
}

int
mbx_open_light(const char *root, const char *name, struct mailbox **mb_r,
    const char **error_r)
{
	return open_common(root, name, 0, mb_r, error_r);
}

int
mailbox_open(const char *root, const char *name, unsigned flags,
    struct mailbox **mb_r, const char **error_r)
{
	struct mailbox *mb;

	if (open_common(root, name, flags, &mb, error_r) < 0)
		return -1;
	if (mailbox_sync(mb, NULL, error_r) < 0) {
		mailbox_close(mb);
		return -1;
	}
	*mb_r = mb;
	return 0;
}

/*
 * An idle session (IMAP IDLE) needs only what mailbox_sync() compares:
 * the stats of the index and the directories, and the view's UIDs and
 * flags. The index copy and the file names are most of a selected
 * folder's memory (two copies of every name), so they are dropped here
 * and read back by the next sync that finds a change, or by
 * mailbox_untrim() before the session works on messages again. Only a
 * view that matches the index on disk is trimmed (never one whose index
 * could not be written, e.g. a read-only rebuild: reading it back would
 * change UIDVALIDITY).
 */
void
mailbox_trim(struct mailbox *mb)
{
	if (mb->idx == NULL || mb->untrusted || !mb->seen_index.valid ||
	    mb->view_gen != mb->idx_gen || mb->uidvalidity != mb->idx->uidvalidity)
		return;
	for (size_t i = 0; i < mb->n; i++) {
		free(mb->msgs[i].file);
		mb->msgs[i].file = NULL;
		mb->msgs[i].m.file = NULL;
	}
	if (mb->cap > mb->n + 16) {
		mb->msgs = xrealloc(mb->msgs, (mb->n + 1) * sizeof(*mb->msgs));
		mb->cap = mb->n + 1;
	}
	mailbox_index_free(mb->idx);
	mb->idx = NULL;
}

/* Reads the index back after mailbox_trim() and restores the file names
 * of the view (a message expunged meanwhile keeps none: reading it fails
 * ENOENT until the next sync reports the EXPUNGE). */
int
mailbox_untrim(struct mailbox *mb, const char **error_r)
{
	int rc;

	if (!trimmed(mb))
		return 0;
	if (mbx_lock(mb, error_r) < 0)
		return -1;
	rc = mbx_refresh(mb, false, error_r);
	mbx_unlock(mb);
	if (rc < 0 || mb->idx == NULL)
		return -1;
	for (size_t i = 0; i < mb->n; i++) {
		struct mbx_view_msg *v = &mb->msgs[i];
		ptrdiff_t j;

		if (v->file != NULL || (j = mbx_index_find(mb->idx, v->m.uid)) < 0)
			continue;
		v->file = xstrdup(mb->idx->recs[j].file);
		v->m.file = v->file;
	}
	return 0;
}

void
mailbox_close(struct mailbox *mb)
{
	if (mb == NULL)
		return;
	for (size_t i = 0; i < mb->n; i++)
		view_msg_free(&mb->msgs[i]);
	free(mb->msgs);
	mailbox_index_free(mb->idx);
	if (mb->lock_fd >= 0)
		close(mb->lock_fd);
	free(mb->root);
	free(mb->name);
	free(mb->dir);
	free(mb);
}

bool
mailbox_is_readonly(const struct mailbox *mb)
{
	return (mb->flags & MAILBOX_RDONLY) != 0;
}

const char *
mailbox_name(const struct mailbox *mb)
{
	return mb->name;
}

const char *
mailbox_dir(const struct mailbox *mb)
{
	return mb->dir;
}

uint32_t
mailbox_count(const struct mailbox *mb)
{
	return (uint32_t)mb->n;
}

const struct mailbox_msg *
mailbox_msg(const struct mailbox *mb, uint32_t seq)
{
	return seq >= 1 && seq <= mb->n ? &mb->msgs[seq - 1].m : NULL;
}

/* First view position whose UID is >= uid. */
static size_t
lower_bound(const struct mailbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mb->msgs[mid].m.uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t
mailbox_seq_by_uid(const struct mailbox *mb, uint32_t uid)
{
	size_t i = lower_bound(mb, uid);

	return i < mb->n && mb->msgs[i].m.uid == uid ? (uint32_t)i + 1 : 0;
}

int
mailbox_seq_range_by_uid(const struct mailbox *mb, uint32_t uid_lo,
    uint32_t uid_hi, uint32_t *first_r, uint32_t *last_r)
{
	size_t a, b;

	if (uid_lo > uid_hi)
		return 0;
	a = lower_bound(mb, uid_lo);
	b = uid_hi == UINT32_MAX ? mb->n : lower_bound(mb, uid_hi + 1);
	if (a >= b)
		return 0;
	*first_r = (uint32_t)a + 1;
	*last_r = (uint32_t)b;
	return 1;
}

void
mailbox_get_status(const struct mailbox *mb, struct mailbox_status *st_r)
{
	memset(st_r, 0, sizeof(*st_r));
	st_r->messages = (uint32_t)mb->n;
	for (size_t i = 0; i < mb->n; i++) {
		unsigned f = mb->msgs[i].m.flags;

		st_r->recent += (f & MAIL_RECENT) != 0;
		if ((f & MAIL_SEEN) == 0 && st_r->unseen++ == 0)
			st_r->first_unseen = (uint32_t)i + 1;
	}
	st_r->uidvalidity = mb->idx != NULL ? mb->idx->uidvalidity : mb->uidvalidity;
	st_r->uidnext = mb->idx != NULL ? mb->idx->uidnext : 1;
	st_r->highestmodseq = mb->idx != NULL ? mb->idx->highestmodseq : 1;
}
