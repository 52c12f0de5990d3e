/*
 * qmgr_deliver.c - one queue file from incoming/ to its recipients.
 *
 * Local recipients (users of our domains; aliases were expanded when the
 * message was accepted) get a copy in their Maildir: INBOX, or the Junk
 * folder when the scan flagged the message. A mailbox over its quota
 * fails that recipient (552 5.2.2); crossing 80% and 95% of it leaves a
 * warning message in the user's INBOX. Recipients outside our domains
 * are handed to the outbound side (qmgr_outbound.c) with the message,
 * which comes back here (qmgr_settle) once they all have a result.
 * Settling bounces what failed, expires what waited too long and
 * computes the next attempt of what is deferred.
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

/*
 * Delivers or defers one recipient; true when the envelope changed. A
 * remote one is only marked in `remote` for the outbound side.
 */
static bool
deliver_rcpt(struct qmgr *q, struct spool_message *msg, struct pool *pool,
    struct spool_rcpt *r, struct qmgr_batch *b, bool *remote)
{
	struct local_box box = { -1, 0 };

	if (r->status != SPOOL_RCPT_PENDING && r->status != SPOOL_RCPT_DEFERRED)
		return false;
	(void)users_resolve(q->users, r->addr.ptr, resolved, &box);
	if (box.status < 0) {
		set_reply(pool, r, SPOOL_RCPT_DEFERRED, "451 4.3.0 %s: temporary lookup failure",
		    r->addr.ptr);
	} else if (box.status == 0 && q->ob != NULL) {
		*remote = true;
		return false;
	} else if (box.status == 0) {
		set_reply(pool, r, SPOOL_RCPT_DEFERRED,
		    "451 4.4.1 %s: remote delivery is not available", r->addr.ptr);
	} else {
		deliver_local(q, msg, pool, r, box.quota, b);
	}
	return true;
}

static void
log_failures(const struct spool_message *msg, const bool *which)
{
	for (size_t i = 0; i < msg->env.rcpt_count; i++) {
		const struct spool_rcpt *r = &msg->env.rcpts[i];

		if (which[i])
			log_warn("qmgr", msg->id, "to=<%.*s> status=bounced (%.*s)",
			    (int)r->addr.len, r->addr.ptr, (int)r->reply.len, r->reply.ptr);
	}
}

/* Deferred recipients past the queue lifetime fail ("message expired"). */
static void
expire_deferred(struct qmgr *q, struct spool_message *msg, struct pool *pool, time_t now)
{
	double lifetime = msg->env.sender.len == 0 ? q->mta->bounce_queue_lifetime :
	    q->mta->maximal_queue_lifetime;

	if ((double)(now - (time_t)msg->env.arrival) < lifetime)
		return;
	for (size_t i = 0; i < msg->env.rcpt_count; i++) {
		struct spool_rcpt *r = &msg->env.rcpts[i];

		if (r->status != SPOOL_RCPT_DEFERRED)
			continue;
		log_info("qmgr", msg->id, "to=<%s> status=expired (%.*s)", r->addr.ptr,
		    (int)r->reply.len, r->reply.ptr);
		set_reply(pool, r, SPOOL_RCPT_FAILED, "554 5.4.7 message expired after %.0f s "
		    "in the queue; last error: %.*s", lifetime, (int)r->reply.len, r->reply.ptr);
	}
}

/*
 * Bounces the failed recipients not bounced before ("bounced" attribute:
 * one '0'/'1' per recipient). false when the bounce could not be queued
 * (the message must then stay queued).
 */
static bool
notify_failed(struct qmgr *q, struct spool_message *msg, struct pool *pool)
{
	const struct str *done = spool_envelope_get_attr(&msg->env, "bounced");
	size_t n = msg->env.rcpt_count, count = 0;
	bool *which = xcalloc(n, sizeof(*which));
	char *mark = pool_alloc(pool, n + 1);
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		bool before = done != NULL && i < done->len && done->ptr[i] == '1';

		which[i] = msg->env.rcpts[i].status == SPOOL_RCPT_FAILED && !before;
		count += which[i];
		mark[i] = before || which[i] ? '1' : '0';
	}
	mark[n] = '\0';
	if (count > 0) {
		log_failures(msg, which);
		ok = qmgr_bounce(q, msg, false, which) >= 0;
		if (ok)
			(void)spool_envelope_set_attr(pool, &msg->env, "bounced",
			    str_make(mark, n));
	}
	free(which);
	return ok;
}

/* One delay warning per message, once past delay_warning_time. */
static void
warn_delay(struct qmgr *q, struct spool_message *msg, struct pool *pool, time_t now)
{
	size_t n = msg->env.rcpt_count;
	bool *which;

	if (q->mta->delay_warning_time <= 0 ||
	    (double)(now - (time_t)msg->env.arrival) < q->mta->delay_warning_time ||
	    spool_envelope_get_attr(&msg->env, "warned") != NULL)
		return;
	which = xcalloc(n, sizeof(*which));
	for (size_t i = 0; i < n; i++)
		which[i] = msg->env.rcpts[i].status == SPOOL_RCPT_DEFERRED;
	if (qmgr_bounce(q, msg, true, which) >= 0)
		(void)spool_envelope_set_attr_u64(pool, &msg->env, "warned", 1);
	free(which);
}

enum qmgr_outcome
qmgr_settle(struct qmgr *q, struct spool_message *msg, struct pool *pool,
    struct qmgr_batch *b)
{
	size_t deferred = 0;
	uint64_t attempts = 0;
	double backoff;
	time_t now = time(NULL);
	bool bounced;

	expire_deferred(q, msg, pool, now);
	bounced = notify_failed(q, msg, pool);
	for (size_t i = 0; i < msg->env.rcpt_count; i++)
		deferred += msg->env.rcpts[i].status == SPOOL_RCPT_DEFERRED;
	if (deferred == 0 && bounced) {
		b->done = xgrow(b->done, &b->cap_done, b->n_done + 1, sizeof(*b->done));
		str_lcpy(b->done[b->n_done++], msg->id, SPOOL_ID_SIZE);
		return QMGR_DONE;
	}
	warn_delay(q, msg, pool, now);
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
	    (uint64_t)now + (uint64_t)backoff);
	if (spool_update_envelope(q->spool, SPOOL_ACTIVE, msg->id, &msg->env, NULL) < 0 ||
	    spool_move(q->spool, msg->id, SPOOL_ACTIVE, SPOOL_DEFERRED, NULL) < 0)
		return QMGR_ERROR;
	log_info("qmgr", msg->id, "%zu recipient(s) deferred, next attempt in %.0f s", deferred,
	    backoff);
	return QMGR_DEFERRED;
}

/* More Received: headers than hopcount_limit: every open recipient fails. */
static bool
check_loop(struct qmgr *q, struct spool_message *msg, struct pool *pool)
{
	int hops = qmgr_count_hops(msg);

	if (q->mta->hopcount_limit == 0 || hops <= (int)q->mta->hopcount_limit)
		return false;
	for (size_t i = 0; i < msg->env.rcpt_count; i++) {
		struct spool_rcpt *r = &msg->env.rcpts[i];

		if (r->status == SPOOL_RCPT_PENDING || r->status == SPOOL_RCPT_DEFERRED)
			set_reply(pool, r, SPOOL_RCPT_FAILED, "554 5.4.6 mail forwarding loop "
			    "for %s (%d Received: headers)", r->addr.ptr, hops);
	}
	return true;
}

/* Local part finished, remote recipients remain: hand over to outbound. */
static enum qmgr_outcome
hand_over(struct qmgr *q, struct spool_message *msg, struct pool *pool,
    struct qmgr_batch *b, const bool *remote, bool changed)
{
	/* What the local part did must be on disk before anything remote
	 * happens: a crash now must not deliver those copies again. */
	if (changed) {
		qmgr_batch_sync_dirs(b);
		(void)spool_update_envelope(q->spool, SPOOL_ACTIVE, msg->id, &msg->env, NULL);
	}
	qmgr_outbound_take(q->ob, msg, pool, remote);
	return QMGR_OUTBOUND;
}

enum qmgr_outcome
qmgr_deliver(struct qmgr *q, const char *id, struct qmgr_batch *b)
{
	struct pool *pool = pool_new(0);
	struct spool_message msg;
	enum qmgr_outcome out = QMGR_ERROR;
	size_t left, n_remote = 0;
	bool *remote, any_change = false;

	if (spool_claim(q->spool, id, NULL) < 0 ||
	    spool_open_message(q->spool, SPOOL_ACTIVE, id, pool, &msg, NULL) < 0) {
		pool_free(&pool);
		return QMGR_ERROR;
	}
	remote = pool_calloc(pool, msg.env.rcpt_count + 1, sizeof(*remote));
	left = check_loop(q, &msg, pool) ? 0 : msg.env.rcpt_count;
	for (size_t i = 0; i < left; i++) {
		bool changed = deliver_rcpt(q, &msg, pool, &msg.env.rcpts[i], b, &remote[i]);

		n_remote += remote[i];
		any_change |= changed;
		/* Record progress while other recipients still wait; what the
		 * envelope calls delivered must be on disk first. */
		if (changed && i + 1 < left && msg.env.rcpts[i].status == SPOOL_RCPT_DELIVERED) {
			qmgr_batch_sync_dirs(b);
			(void)spool_update_envelope(q->spool, SPOOL_ACTIVE, id, &msg.env, NULL);
		}
	}
	if (n_remote > 0)
		return hand_over(q, &msg, pool, b, remote, any_change);
	out = qmgr_settle(q, &msg, pool, b);
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
