/*
 * qmgr_deliver.c - one queue file from incoming/ to its recipients.
 *
 * Local recipients (users of our domains; aliases were expanded when the
 * message was accepted) get a copy in their Maildir: INBOX, or the Junk
 * folder when the scan flagged the message. A mailbox over its quota
 * fails that recipient (552 5.2.2); crossing 80% and 95% of it leaves a
 * warning message in the user's INBOX. Recipients outside our domains
 * wait in deferred/ for the outbound SMTP client.
 *
 * Progress is written into the envelope after each delivered recipient
 * whenever others remain, so a crash between two deliveries redelivers at
 * most the copy in flight (DESIGN.md section 5: at worst twice, never
 * lost).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config_mta.h"
#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "queue/spool.h"
#include "store/maildir.h"
#include "store/quota.h"
#include "worker/mailbox_quota.h"
#include "users/users.h"
#include "worker/qmgr.h"

struct local_box {
	int status;          /* 1 local mailbox, 0 not ours, -1 temporary failure */
	uint64_t quota;
};

static void
resolved(const struct users_resolution *r, void *ud)
{
	struct local_box *b = ud;

	b->status = r->status == USERS_TEMPFAIL ? -1 : 0;
	if (r->status == USERS_FOUND && r->n_mailboxes == 1 && r->n_remote == 0) {
		b->status = 1;
		b->quota = r->mailboxes[0].quota_bytes;
	}
}

static void PRINTF_LIKE(4, 5)
set_reply(struct pool *pool, struct spool_rcpt *r, enum spool_rcpt_status st,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r->status = st;
	r->reply = str_from_cstr(pool_vprintf(pool, fmt, ap));
	va_end(ap);
}

/* A short note from the postmaster into the user's INBOX. */
static void
quota_warning(struct qmgr *q, const char *root, const char *email, int percent)
{
	char date[64], name[MAILDIR_NAME_SIZE];
	const char *err = NULL;
	time_t now = time(NULL);
	struct tm tm;
	char *text;
	struct maildir_target t = { .root = root };

	(void)localtime_r(&now, &tm);
	(void)strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	text = xasprintf("From: Mail System <postmaster@%s>\r\nTo: <%s>\r\n"
	    "Subject: Your mailbox is %d%% full\r\nDate: %s\r\n"
	    "Auto-Submitted: auto-generated\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "Your mailbox %s has reached %d%% of its quota.\r\n"
	    "Please delete old messages; mail will be refused once it is full.\r\n",
	    q->mta->mydomain, email, percent, date, email, percent);
	if (maildir_deliver(&t, text, strlen(text), name, sizeof(name), &err) < 0)
		log_warn("qmgr", NULL, "cannot leave the quota warning for %s", email);
	free(text);
}

static void
batch_add_dir(struct qmgr_batch *b, const char *root, const char *folder)
{
	for (size_t i = 0; i < b->n_dirs; i++) {
		if (strcmp(b->dirs[i].root, root) == 0 &&
		    (b->dirs[i].folder == NULL ? folder == NULL :
		    folder != NULL && strcmp(b->dirs[i].folder, folder) == 0))
			return;
	}
	b->dirs = xgrow(b->dirs, &b->cap_dirs, b->n_dirs + 1, sizeof(*b->dirs));
	b->dirs[b->n_dirs].root = xstrdup(root);
	b->dirs[b->n_dirs].folder = folder != NULL ? xstrdup(folder) : NULL;
	b->n_dirs++;
}

static void
deliver_local(struct qmgr *q, struct spool_message *msg, struct pool *pool,
    struct spool_rcpt *r, uint64_t user_quota, struct qmgr_batch *b)
{
	const char *email = r->addr.ptr;
	const char *folder = (msg->env.flags & SPOOL_FLAG_JUNK) != 0 ? q->mta->junk_folder : NULL;
	char root[4096], name[MAILDIR_NAME_SIZE];
	const char *err = NULL;
	struct quota_usage usage = { 0, 0 };
	struct quota_limit limit;
	bool limited = mailbox_quota_limit(q->mta, user_quota, &limit);
	struct maildir_target t = { root, folder, true };
	unsigned warn;

	if (maildir_path_expand(q->mta->mail_location, email, root, sizeof(root), &err) < 0) {
		set_reply(pool, r, SPOOL_RCPT_FAILED, "550 5.1.3 bad mailbox name: %s", err);
		return;
	}
	if (limited && quota_usage_compute(root, &usage) == 0 &&
	    quota_check(&usage, &limit, msg->body_len) != QUOTA_OK) {
		set_reply(pool, r, SPOOL_RCPT_FAILED, "552 5.2.2 %s: Mailbox full", email);
		return;
	}
	if (maildir_deliver_fd(&t, msg->fd, msg->body_offset, msg->body_len, name,
		sizeof(name), &err) < 0) {
		log_warn("qmgr", msg->id, "to=<%s> cannot write the mailbox: %s", email, err);
		set_reply(pool, r, SPOOL_RCPT_DEFERRED, "451 4.3.0 %s: cannot write the mailbox",
		    email);
		return;
	}
	batch_add_dir(b, root, folder);
	set_reply(pool, r, SPOOL_RCPT_DELIVERED, "250 2.0.0 delivered to %s", folder != NULL ?
	    folder : "INBOX");
	log_info("qmgr", msg->id, "to=<%s> orig_to=<%.*s> status=sent (delivered to maildir%s%s)",
	    email, (int)r->orig.len, r->orig.ptr, folder != NULL ? " folder " : "",
	    folder != NULL ? folder : "");
	if (limited && limit.storage != 0 && (warn = quota_warning_needed(usage.storage,
	    usage.storage + msg->body_len, limit.storage)) > 0)
		quota_warning(q, root, email, (int)warn);
}

/* Delivers or defers one recipient; true when the envelope changed. */
static bool
deliver_rcpt(struct qmgr *q, struct spool_message *msg, struct pool *pool,
    struct spool_rcpt *r, struct qmgr_batch *b)
{
	struct local_box box = { -1, 0 };

	if (r->status != SPOOL_RCPT_PENDING && r->status != SPOOL_RCPT_DEFERRED)
		return false;
	(void)users_resolve(q->users, r->addr.ptr, resolved, &box);
	if (box.status < 0) {
		set_reply(pool, r, SPOOL_RCPT_DEFERRED, "451 4.3.0 %s: temporary lookup failure",
		    r->addr.ptr);
	} else if (box.status == 0) {
		/* Outbound SMTP is the qmgr's next piece of work (issue 8). */
		set_reply(pool, r, SPOOL_RCPT_DEFERRED,
		    "451 4.4.1 %s: remote delivery is not available yet", r->addr.ptr);
	} else {
		deliver_local(q, msg, pool, r, box.quota, b);
	}
	return true;
}

static void
log_failures(const struct spool_message *msg)
{
	for (size_t i = 0; i < msg->env.rcpt_count; i++) {
		const struct spool_rcpt *r = &msg->env.rcpts[i];

		if (r->status == SPOOL_RCPT_FAILED)
			log_warn("qmgr", msg->id, "to=<%.*s> status=bounced (%.*s)",
			    (int)r->addr.len, r->addr.ptr, (int)r->reply.len, r->reply.ptr);
	}
}

/* Where the file goes once every recipient has been tried. */
static enum qmgr_outcome
settle(struct qmgr *q, struct spool_message *msg, struct pool *pool, struct qmgr_batch *b)
{
	size_t deferred = 0;
	uint64_t attempts = 0;
	double backoff;

	for (size_t i = 0; i < msg->env.rcpt_count; i++)
		deferred += msg->env.rcpts[i].status == SPOOL_RCPT_DEFERRED;
	log_failures(msg);
	if (deferred == 0) {
		b->done = xgrow(b->done, &b->cap_done, b->n_done + 1, sizeof(*b->done));
		str_lcpy(b->done[b->n_done++], msg->id, SPOOL_ID_SIZE);
		return QMGR_DONE;
	}
	/* The copies made so far must be durable before the envelope says so. */
	qmgr_batch_sync_dirs(b);
	/* Postfix's model: the wait doubles from minimal to maximal. */
	(void)spool_envelope_get_attr_u64(&msg->env, "attempts", &attempts);
	backoff = q->mta->minimal_backoff_time;
	for (uint64_t i = 0; i < attempts && backoff < q->mta->maximal_backoff_time; i++)
		backoff *= 2;
	if (backoff > q->mta->maximal_backoff_time)
		backoff = q->mta->maximal_backoff_time;
	(void)spool_envelope_set_attr_u64(pool, &msg->env, "attempts", attempts + 1);
	(void)spool_envelope_set_attr_u64(pool, &msg->env, "next_attempt",
	    (uint64_t)time(NULL) + (uint64_t)backoff);
	if (spool_update_envelope(q->spool, SPOOL_ACTIVE, msg->id, &msg->env, NULL) < 0 ||
	    spool_move(q->spool, msg->id, SPOOL_ACTIVE, SPOOL_DEFERRED, NULL) < 0)
		return QMGR_ERROR;
	log_info("qmgr", msg->id, "%zu recipient(s) deferred, next attempt in %.0f s", deferred,
	    backoff);
	return QMGR_DEFERRED;
}

enum qmgr_outcome
qmgr_deliver(struct qmgr *q, const char *id, struct qmgr_batch *b)
{
	struct pool *pool = pool_new(0);
	struct spool_message msg;
	enum qmgr_outcome out = QMGR_ERROR;
	size_t left;

	if (spool_claim(q->spool, id, NULL) < 0 ||
	    spool_open_message(q->spool, SPOOL_ACTIVE, id, pool, &msg, NULL) < 0) {
		pool_free(&pool);
		return QMGR_ERROR;
	}
	left = msg.env.rcpt_count;
	for (size_t i = 0; i < msg.env.rcpt_count; i++) {
		bool changed = deliver_rcpt(q, &msg, pool, &msg.env.rcpts[i], b);

		left--;
		/* Record progress while other recipients still wait; what the
		 * envelope calls delivered must be on disk first. */
		if (changed && left > 0 && msg.env.rcpts[i].status == SPOOL_RCPT_DELIVERED) {
			qmgr_batch_sync_dirs(b);
			(void)spool_update_envelope(q->spool, SPOOL_ACTIVE, id, &msg.env, NULL);
		}
	}
	out = settle(q, &msg, pool, b);
	spool_message_close(&msg);
	pool_free(&pool);
	return out;
}

void
qmgr_batch_sync_dirs(struct qmgr_batch *b)
{
	for (size_t i = 0; i < b->n_dirs; i++) {
		struct maildir_target t = { b->dirs[i].root, b->dirs[i].folder, false };
		const char *err = NULL;

		if (maildir_sync_new(&t, &err) < 0)
			log_error("qmgr", NULL, "fsync of %s new/: %s", b->dirs[i].root, err);
		free(b->dirs[i].root);
		free(b->dirs[i].folder);
	}
	b->n_dirs = 0;
}

void
qmgr_batch_commit(struct qmgr *q, struct qmgr_batch *b)
{
	qmgr_batch_sync_dirs(b);
	for (size_t i = 0; i < b->n_done; i++)
		(void)spool_remove_nosync(q->spool, SPOOL_ACTIVE, b->done[i], NULL);
	if (b->n_done > 0 && spool_sync_queue(q->spool, SPOOL_ACTIVE) < 0)
		log_error("qmgr", NULL, "fsync of active/ failed");
	b->n_done = 0;
}

void
qmgr_batch_free(struct qmgr_batch *b)
{
	qmgr_batch_sync_dirs(b);
	free(b->dirs);
	free(b->done);
	memset(b, 0, sizeof(*b));
}
