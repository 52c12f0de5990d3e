/*
 * pop3_maildrop.c - the POP3 maildrop over store/mailbox.h.
 *
 * At login we take the POP3 lock, open INBOX read-write (which moves new
 * mail to cur/) and copy what POP3 needs of each message: UID, size as
 * sent (vsize: bare LF counted as CRLF, the same octets RETR produces
 * before stuffing) and the UIDL string. From then on the view never
 * changes (RFC 1939: numbers are fixed for the session); messages are
 * reached again through their UIDs, so an IMAP session expunging
 * meanwhile cannot make us read or delete the wrong one.
 *
 * QUIT: retrieved messages get \Seen (so IMAP clients of the same
 * mailbox do not show them as new, as Dovecot does by default), marked
 * ones get \Deleted and are expunged by UID. Nothing else is touched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/xmalloc.h"
#include "pop3/pop3_maildrop.h"
#include "store/mailbox.h"
#include "store/maildir.h"

/* RFC 1939 section 7: 1..70 characters. */
#define UIDL_SIZE 72

struct pop3_msginfo {
	uint32_t uid;
	uint64_t size;
	bool deleted;
	bool retrieved;
	char uidl[UIDL_SIZE];
};

struct pop3_maildrop {
	struct mailbox *mb;
	int lock_fd;
	struct pop3_msginfo *msgs;
	unsigned n;
};

static int
snapshot(struct pop3_maildrop *md)
{
	uint32_t n = mailbox_count(md->mb);

	md->msgs = xcalloc(n + 1, sizeof(*md->msgs));
	for (uint32_t seq = 1; seq <= n; seq++) {
		const struct mailbox_msg *m = mailbox_msg(md->mb, seq);
		struct pop3_msginfo *pm = &md->msgs[md->n];

		if (m == NULL)
			break;
		pm->uid = m->uid;
		pm->size = m->vsize;
		if (mailbox_pop3_uidl(md->mb, seq, pm->uidl, sizeof(pm->uidl)) < 0)
			return -1;
		md->n++;
	}
	return 0;
}

enum pop3_open_result
pop3_maildrop_open(const char *root, struct pop3_maildrop **md_r, const char **error_r)
{
	struct pop3_maildrop *md;
	int fd, r;

	*md_r = NULL;
	*error_r = NULL;
	/* The lock file lives in the root: make sure there is one. */
	if (maildir_create(root, error_r) < 0)
		return POP3_OPEN_ERROR;
	r = mailbox_pop3_lock(root, &fd, error_r);
	if (r != 0)
		return r > 0 ? POP3_OPEN_BUSY : POP3_OPEN_ERROR;
	md = xcalloc(1, sizeof(*md));
	md->lock_fd = fd;
	if (mailbox_open(root, "INBOX", 0, &md->mb, error_r) < 0 || snapshot(md) < 0) {
		if (*error_r == NULL)
			*error_r = "cannot compute UIDL";
		pop3_maildrop_close(&md);
		return POP3_OPEN_ERROR;
	}
	*md_r = md;
	return POP3_OPEN_OK;
}

void
pop3_maildrop_close(struct pop3_maildrop **mdp)
{
	struct pop3_maildrop *md = *mdp;

	if (md == NULL)
		return;
	if (md->mb != NULL)
		mailbox_close(md->mb);
	mailbox_pop3_unlock(md->lock_fd);
	free(md->msgs);
	free(md);
	*mdp = NULL;
}

unsigned
pop3_maildrop_count(const struct pop3_maildrop *md)
{
	return md->n;
}

uint64_t
pop3_maildrop_size(const struct pop3_maildrop *md, unsigned i)
{
	ASSERT(i < md->n);
	return md->msgs[i].size;
}

const char *
pop3_maildrop_uidl(const struct pop3_maildrop *md, unsigned i)
{
	ASSERT(i < md->n);
	return md->msgs[i].uidl;
}

bool
pop3_maildrop_deleted(const struct pop3_maildrop *md, unsigned i)
{
	ASSERT(i < md->n);
	return md->msgs[i].deleted;
}

void
pop3_maildrop_set_deleted(struct pop3_maildrop *md, unsigned i, bool deleted)
{
	ASSERT(i < md->n);
	md->msgs[i].deleted = deleted;
}

int
pop3_maildrop_open_msg(struct pop3_maildrop *md, unsigned i, bool retrieve)
{
	uint32_t seq;
	uint64_t size;
	const char *err;
	int fd;

	ASSERT(i < md->n);
	seq = mailbox_seq_by_uid(md->mb, md->msgs[i].uid);
	if (seq == 0 || mailbox_open_msg(md->mb, seq, &fd, &size, &err) < 0)
		return -1;
	if (retrieve)
		md->msgs[i].retrieved = true;
	return fd;
}

/* Seqs of the messages whose `retrieved`/`deleted` mark is set. */
static size_t
collect(struct pop3_maildrop *md, bool deleted, uint32_t *seqs, uint32_t *uids)
{
	size_t k = 0;

	for (unsigned i = 0; i < md->n; i++) {
		struct pop3_msginfo *pm = &md->msgs[i];
		uint32_t seq;

		if (deleted ? !pm->deleted : (!pm->retrieved || pm->deleted))
			continue;
		seq = mailbox_seq_by_uid(md->mb, pm->uid);
		if (seq == 0)
			continue;
		seqs[k] = seq;
		if (uids != NULL)
			uids[k] = pm->uid;
		k++;
	}
	return k;
}

int
pop3_maildrop_commit(struct pop3_maildrop *md, const char **error_r)
{
	uint32_t *seqs = xcalloc(md->n + 1, sizeof(*seqs));
	uint32_t *uids = xcalloc(md->n + 1, sizeof(*uids));
	size_t n;
	int rc = 0;

	n = collect(md, false, seqs, NULL);
	if (n > 0 && mailbox_set_flags(md->mb, seqs, n, MAILBOX_FLAGS_ADD, MAIL_SEEN, 0, 0,
		NULL, NULL, NULL, error_r) < 0)
		rc = -1;
	n = collect(md, true, seqs, uids);
	if (n > 0 && (mailbox_set_flags(md->mb, seqs, n, MAILBOX_FLAGS_ADD, MAIL_DELETED, 0,
		0, NULL, NULL, NULL, error_r) < 0 ||
		mailbox_expunge(md->mb, uids, n, NULL, NULL, error_r) < 0))
		rc = -1;
	free(seqs);
	free(uids);
	return rc;
}
