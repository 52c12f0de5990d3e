/*
 * worker_imap.c - the "imap" (STARTTLS, 143) and "imaps" (implicit TLS,
 * 993) workers: accept loop, the session list, graceful stop, and the
 * decisions the IMAP session (imap/imap_session.c) leaves to its owner:
 *   - connection limits per client (anvil) before the greeting;
 *   - LOGIN/AUTHENTICATE against the users table, failures counted per
 *     client and refused for the rest of the anvil window past the
 *     limit; the user's quota from the table (else mta.conf quota_rule);
 *   - junk learning: a message moved or copied into Junk is learnt as
 *     spam, one moved out of Junk as ham, in-process with the same Bayes
 *     code as the controller's /learnspam and /learnham, counted in the
 *     shared statistics /stat reports.
 *
 * Plaintext LOGIN from loopback follows the SMTP setting: allowed when
 * mta.conf has smtpd_tls_auth_loopback = yes (or smtpd_tls_auth_only =
 * no), so one switch governs every mail protocol.
 *
 * Worker options (worker "imap" { ... }):
 *   learn_junk = true;            # learning on COPY/MOVE (default on)
 *   learn_ham_into_trash = false; # Junk -> Trash learns ham (default off)
 */
#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "config/config.h"
#include "config/config_mta.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "event/tls.h"
#include "imap/imap_session.h"
#include "log/log.h"
#include "scan/bayes/bayes.h"
#include "scan/task.h"
#include "users/users.h"
#include "worker/anvil.h"
#include "worker/mail_server.h"
#include "worker/mail_tls.h"
#include "worker/mailbox_quota.h"
#include "worker/shared_stats.h"
#include "worker/worker.h"

#define IMAP_AUTH_FAIL_LIMIT 10

struct imap_worker;

struct imap_client {
	struct imap_worker *w;
	struct imap_session *s;
	struct users_req *req;
	struct mail_peer peer; /* address, mynetworks, anvil slot */
	char *user;          /* while its quota is looked up */
};

struct imap_worker {
	struct worker_ctx *ctx;
	const struct mta_settings *mta;
	struct imap_settings set;
	struct ssl_ctx_st *tls;
	struct users *users;
	struct anvil *anvil;
	struct mail_server *server;  /* accept loop, client list, graceful stop */
};

/* The learn hook has no user data: one worker per process. */
static struct imap_worker *imap_worker_self;

/* ----- junk learning ----- */

struct learn_job {
	char *data;          /* the task borrows it: lives as long as the job */
	bool in_call, done;
};

static void
learn_job_free(struct learn_job *job, struct scan_task *task)
{
	scan_task_free(&task);
	free(job->data);
	free(job);
}

/*
 * Learning may complete inside bayes_learn() (LMDB) or later from the
 * loop (Redis); the job and its task are freed by whichever comes last.
 */
static void
learn_done(struct scan_task *task, int status, const char *message, void *ud)
{
	struct learn_job *job = ud;

	job->done = true;
	if (status == BAYES_LEARN_OK)
		shared_stats_count_learn();
	log_info("imap", task->id, "learn %s: status %d%s%s", task->env.user != NULL ?
	    task->env.user : "-", status, message != NULL ? " " : "", message != NULL ? message : "");
	if (!job->in_call)
		learn_job_free(job, task);
}

static void
imap_learn(const char *data, size_t len, bool spam, const char *user)
{
	struct imap_worker *iw = imap_worker_self;
	struct learn_job *job;
	struct scan_task *task;

	if (iw == NULL || !bayes_enabled(iw->ctx->engine) || len > iw->ctx->cfg->max_message)
		return;
	job = xcalloc(1, sizeof(*job));
	job->data = xmalloc(len + 1);
	memcpy(job->data, data, len);
	job->data[len] = '\0';
	task = scan_task_new(iw->ctx->engine, job->data, len);
	task->env.user = user != NULL ? pool_strdup(task->pool, user) : NULL;
	task->loop = iw->ctx->loop;
	job->in_call = true;
	bayes_learn(task, spam, learn_done, job);
	job->in_call = false;
	if (job->done)
		learn_job_free(job, task);
}

/* ----- authentication ----- */

static void
quota_answer(const struct users_resolution *r, void *ud)
{
	struct imap_client *c = ud;
	struct quota_limit limit;
	uint64_t user_quota = r->status == USERS_FOUND && r->n_mailboxes == 1 ?
	    r->mailboxes[0].quota_bytes : 0;
	bool has = mailbox_quota_limit(c->w->mta, user_quota, &limit);
	char *user = c->user;

	c->req = NULL;
	c->user = NULL;
	imap_session_auth_done(c->s, 1, user, has ? &limit : NULL);
	free(user);
}

static void
auth_answer(int result, void *ud)
{
	struct imap_client *c = ud;
	double now = ev_now(c->w->ctx->loop);

	c->req = NULL;
	if (result == 1) {
		c->req = users_resolve(c->w->users, c->user, quota_answer, c);
		return;
	}
	if (result == 0) {
		anvil_auth_failed(c->w->anvil, c->peer.ip, now);
		log_info("imap", imap_session_id(c->s), "authentication failed for %s from %s",
		    c->user, c->peer.ip);
	}
	free(c->user);
	c->user = NULL;
	imap_session_auth_done(c->s, result, NULL, NULL);
}

static void
hook_auth(struct imap_session *s, const char *user, const char *password, void *ud)
{
	struct imap_client *c = ud;

	UNUSED(s);
	if (anvil_auth_blocked(c->w->anvil, c->peer.ip, ev_now(c->w->ctx->loop))) {
		log_warn("imap", imap_session_id(c->s), "too many failed logins from %s", c->peer.ip);
		imap_session_auth_done(c->s, 0, NULL, NULL);
		return;
	}
	free(c->user);
	c->user = xstrdup(user);
	c->req = users_authenticate(c->w->users, user, password, auth_answer, c);
}

/* ----- connections ----- */

static void
hook_closed(struct imap_session *s, void *ud)
{
	struct imap_client *c = ud;

	UNUSED(s);
	users_cancel(&c->req);
	mail_server_session_ended(c->w->server, c, &c->peer);
	free(c->user);
	free(c);
}

static const struct imap_hooks imap_hooks = { hook_auth, hook_closed };

static void *
start_session(int fd, const struct mail_peer *peer, bool over_limit, void *ud)
{
	struct imap_worker *iw = ud;
	struct imap_client *c = xcalloc(1, sizeof(*c));

	c->w = iw;
	c->peer = *peer;
	c->s = imap_session_new(iw->ctx->loop, fd, &iw->set, &imap_hooks, c,
	    over_limit ? "Too many connections from your address" : NULL);
	return c;
}

static void
shutdown_session(void *client, void *ud)
{
	struct imap_client *c = client;

	UNUSED(ud);
	imap_session_shutdown(c->s);
}

static const struct mail_server_ops imap_server_ops = { start_session, shutdown_session };

/* ----- setup ----- */

static bool
option_bool(const struct worker_ctx *ctx, const char *key, bool dflt)
{
	const struct obj *o = obj_lookup(ctx->wcfg->obj, key);
	bool b;

	if (o == NULL || obj_get_bool(o, &b) < 0)
		return dflt;
	return b;
}

static void
fill_settings(struct imap_worker *iw)
{
	const struct mta_settings *m = iw->mta;
	struct imap_settings *s = &iw->set;

	s->hostname = m->myhostname;
	s->mail_location = m->mail_location;
	s->tls_ctx = iw->tls;
	s->implicit_tls = strcmp(iw->ctx->wcfg->type, "imaps") == 0;
	s->auth_plaintext_loopback = m->smtpd_tls_auth_loopback || !m->smtpd_tls_auth_only;
	s->append_max = m->message_size_limit != 0 ? m->message_size_limit : 0;
	s->learn = option_bool(iw->ctx, "learn_junk", true) ? imap_learn : NULL;
	s->learn_ham_into_trash = option_bool(iw->ctx, "learn_ham_into_trash", false);
}

int
worker_imap_run(struct worker_ctx *ctx)
{
	struct imap_worker iw;
	const struct mta_settings *m = ctx->cfg->mta;
	struct anvil_limits lim = { m->smtpd_client_connection_count_limit,
		m->smtpd_client_connection_rate_limit, 0, IMAP_AUTH_FAIL_LIMIT,
		m->anvil_rate_time_unit };
	char *err = NULL;

	memset(&iw, 0, sizeof(iw));
	iw.ctx = ctx;
	iw.mta = m;
	iw.users = users_open(m->users, ctx->cfg->state_dir, ctx->loop, &err);
	if (iw.users == NULL) {
		log_error("imap", NULL, "cannot start: %s", err != NULL ? err : "?");
		free(err);
		return 1;
	}
	iw.tls = mail_tls_server_ctx(ctx->cfg, m, "imap");
	if (iw.tls == NULL && strcmp(ctx->wcfg->type, "imaps") == 0)
		return 1;
	iw.anvil = anvil_new(&lim);
	imap_worker_self = &iw;
	fill_settings(&iw);
	iw.server = mail_server_new(ctx, m, iw.anvil, "imap", &imap_server_ops, &iw);
	log_info("imap", NULL, "%s worker ready on %zu socket(s)", ctx->wcfg->type, ctx->n_fds);
	ev_run(ctx->loop, 0);
	imap_worker_self = NULL;
	mail_server_free(&iw.server);
	anvil_free(&iw.anvil);
	tls_ctx_free(&iw.tls);
	users_close(&iw.users);
	return 0;
}
