/*
 * worker_qmgr.c - the "qmgr" worker: the queue manager (one process per
 * spool).
 *
 * It learns of new mail through inotify on incoming/ (an SMTP worker's
 * commit is a link into incoming/), with a periodic rescan as a safety
 * net, and hands each file to qmgr_deliver(), which delivers local
 * recipients at once and passes remote ones to the outbound side
 * (qmgr_outbound.c, SMTP on this loop). Deferred mail is moved
 * back to incoming/ once its next attempt time has come
 * (queue_run_delay is how often deferred/ is looked at). At start,
 * spool_recover() puts back what a crash left in active/, so the spool
 * alone is the state: nothing is kept only in memory.
 */
#include <errno.h>
#include <ev.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "auth/dns.h"
#include "config/config.h"
#include "config/config_mta.h"
#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "queue/spool.h"
#include "users/users.h"
#include "worker/qmgr.h"
#include "worker/worker.h"

/* incoming/ is rescanned this often even without inotify events. */
#define QMGR_RESCAN_SECONDS 5.0
/* Messages taken per loop iteration, so signals and timers stay live. */
#define QMGR_BATCH 64

struct qmgr_worker {
	struct worker_ctx *ctx;
	struct qmgr q;
	int inotify_fd;
	ev_io inotify_w;
	ev_timer rescan;
	ev_timer deferred;
	ev_timer more;         /* incoming/ had more than one batch: next loop turn.
	                        * Not an ev_idle: outbound traffic would starve it */
	struct dns_resolver *dns;
	bool stopping;
};

struct collect {
	char (*ids)[SPOOL_ID_SIZE];
	size_t n, cap;
};

static int
collect_id(const char *id, void *ud)
{
	struct collect *c = ud;

	if (c->n == c->cap) {
		c->cap = c->cap * 2 + 16;
		c->ids = xrealloc(c->ids, c->cap * sizeof(*c->ids));
	}
	str_lcpy(c->ids[c->n++], id, SPOOL_ID_SIZE);
	return c->n >= QMGR_BATCH ? 1 : 0;
}

/* Delivers one batch from incoming/; true when more may be waiting. */
static bool
run_incoming(struct qmgr_worker *qw)
{
	struct collect c = { NULL, 0, 0 };
	struct qmgr_batch b;
	bool more;

	memset(&b, 0, sizeof(b));
	(void)spool_list(qw->q.spool, SPOOL_INCOMING, collect_id, &c);
	more = c.n >= QMGR_BATCH;
	for (size_t i = 0; i < c.n && !qw->stopping; i++) {
		/* A full active queue: the rest waits in incoming/ until
		 * outbound messages finish (they kick us again). */
		if (qw->q.ob != NULL && qmgr_outbound_full(qw->q.ob)) {
			more = false;
			break;
		}
		(void)qmgr_deliver(&qw->q, c.ids[i], &b);
	}
	qmgr_batch_commit(&qw->q, &b);
	qmgr_batch_free(&b);
	free(c.ids);
	return more;
}

static void
kick(struct qmgr_worker *qw)
{
	if (!qw->stopping && run_incoming(qw))
		ev_timer_start(qw->ctx->loop, &qw->more);
}

static void
on_outbound_kick(void *ud)
{
	kick(ud);
}

static void
on_more(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct qmgr_worker *qw = w->data;

	UNUSED(loop);
	UNUSED(revents);
	kick(qw);
}

static void
on_inotify(struct ev_loop *loop, ev_io *w, int revents)
{
	struct qmgr_worker *qw = w->data;
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	UNUSED(loop);
	UNUSED(revents);
	/* Only "something arrived" matters: drain and scan the directory. */
	while (read(qw->inotify_fd, events, sizeof(events)) > 0)
		;
	kick(qw);
}

static void
on_rescan(struct ev_loop *loop, ev_timer *w, int revents)
{
	UNUSED(loop);
	UNUSED(revents);
	kick(w->data);
}

/* deferred/ -> incoming/ for messages whose next attempt time has come. */
static int
release_due(const char *id, void *ud)
{
	struct qmgr_worker *qw = ud;
	struct pool *pool = pool_new(0);
	struct spool_message msg;
	uint64_t next = 0;

	if (spool_open_message(qw->q.spool, SPOOL_DEFERRED, id, pool, &msg, NULL) == 0) {
		bool due = spool_envelope_get_attr_u64(&msg.env, "next_attempt", &next) != 1 ||
		    next <= (uint64_t)time(NULL);

		spool_message_close(&msg);
		if (due)
			(void)spool_move(qw->q.spool, id, SPOOL_DEFERRED, SPOOL_INCOMING, NULL);
	}
	pool_free(&pool);
	return 0;
}

static void
on_deferred(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct qmgr_worker *qw = w->data;

	UNUSED(loop);
	UNUSED(revents);
	(void)spool_list(qw->q.spool, SPOOL_DEFERRED, release_due, qw);
	kick(qw);
}

static void
begin_stop(struct worker_ctx *ctx, void *ud)
{
	struct qmgr_worker *qw = ud;

	/* Local deliveries are synchronous; remote ones in flight stay in
	 * active/ and are recovered at the next start (sent again at worst). */
	qw->stopping = true;
	ev_break(ctx->loop, EVBREAK_ALL);
}

/* The resolver and the outbound side; without a resolver remote mail
 * only waits in deferred/ (logged). */
static int
start_outbound(struct qmgr_worker *qw, char **error_r)
{
	struct dns_settings ds;
	char *err = NULL;

	memset(&ds, 0, sizeof(ds));
	if (dns_settings_from_config(qw->ctx->cfg, &ds, &err) == 0)
		qw->dns = dns_resolver_new(qw->ctx->loop, &ds, &err);
	dns_settings_deinit(&ds);
	if (qw->dns == NULL) {
		log_error("qmgr", NULL, "no DNS resolver, remote mail stays queued: %s",
		    err != NULL ? err : "?");
		free(err);
		return 0;
	}
	return qmgr_outbound_new(&qw->q, qw->ctx->loop, qw->dns, on_outbound_kick, qw,
	    &qw->q.ob, error_r);
}

static int
open_spool_and_users(struct qmgr_worker *qw)
{
	const struct config *cfg = qw->ctx->cfg;
	char *err = NULL, *root = xasprintf("%s/spool", cfg->state_dir);
	unsigned requeued = 0, removed = 0;
	int rc = -1;

	if (spool_open(root, &qw->q.spool, &err) < 0)
		goto out;
	qw->q.users = users_open(qw->q.mta->users, cfg->state_dir, NULL, &err);
	if (qw->q.users == NULL)
		goto out;
	if (start_outbound(qw, &err) < 0)
		goto out;
	if (spool_recover(qw->q.spool, &requeued, &removed) == 0 && (requeued | removed) != 0)
		log_info("qmgr", NULL, "recovered: %u message(s) back to incoming, %u stale "
		    "temp file(s) removed", requeued, removed);
	rc = 0;
out:
	if (rc < 0)
		log_error("qmgr", NULL, "cannot start: %s", err != NULL ? err : "?");
	free(err);
	free(root);
	return rc;
}

static void
watch_incoming(struct qmgr_worker *qw)
{
	char *dir = xasprintf("%s/incoming", spool_root(qw->q.spool));

	qw->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (qw->inotify_fd >= 0 &&
	    inotify_add_watch(qw->inotify_fd, dir, IN_CREATE | IN_MOVED_TO) < 0) {
		log_warn("qmgr", NULL, "inotify on %s: %s; rescanning every %.0f s", dir,
		    strerror(errno), QMGR_RESCAN_SECONDS);
		close(qw->inotify_fd);
		qw->inotify_fd = -1;
	}
	if (qw->inotify_fd >= 0) {
		ev_io_init(&qw->inotify_w, on_inotify, qw->inotify_fd, EV_READ);
		qw->inotify_w.data = qw;
		ev_io_start(qw->ctx->loop, &qw->inotify_w);
	}
	free(dir);
}

int
worker_qmgr_run(struct worker_ctx *ctx)
{
	struct qmgr_worker qw;
	double deferred_every;

	memset(&qw, 0, sizeof(qw));
	qw.ctx = ctx;
	qw.q.mta = ctx->cfg->mta;
	qw.q.hostname = qw.q.mta->myhostname;
	qw.inotify_fd = -1;
	if (open_spool_and_users(&qw) < 0)
		return 1;
	watch_incoming(&qw);
	ev_timer_init(&qw.more, on_more, 0.0, 0.0);
	qw.more.data = &qw;
	ev_timer_init(&qw.rescan, on_rescan, 0.0, QMGR_RESCAN_SECONDS);
	qw.rescan.data = &qw;
	ev_timer_start(ctx->loop, &qw.rescan);
	deferred_every = MAX(1.0, MIN(qw.q.mta->queue_run_delay, qw.q.mta->minimal_backoff_time));
	ev_timer_init(&qw.deferred, on_deferred, deferred_every, deferred_every);
	qw.deferred.data = &qw;
	ev_timer_start(ctx->loop, &qw.deferred);
	worker_install_signals(ctx, begin_stop, &qw);
	log_info("qmgr", NULL, "queue manager ready on %s", spool_root(qw.q.spool));
	ev_run(ctx->loop, 0);
	if (qw.inotify_fd >= 0)
		close(qw.inotify_fd);
	qmgr_outbound_free(&qw.q.ob);
	dns_resolver_free(&qw.dns);
	users_close(&qw.q.users);
	spool_close(&qw.q.spool);
	return 0;
}
