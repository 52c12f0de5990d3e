/*
 * worker_smtp.c - the "smtp", "submission" and "smtps" workers: one ESMTP
 * server in three roles (MX on 25, submission with AUTH on 587, implicit
 * TLS on 465), like Postfix's master.cf services.
 *
 * The protocol is smtp/smtp_session.c's; this file makes the decisions it
 * asks for, as Postfix's `permit_mynetworks, permit_sasl_authenticated,
 * reject_unauth_destination` would:
 *   - connection limits (anvil) before the banner;
 *   - AUTH against the users table, failures counted per client;
 *   - on submission, the sender must be one of the user's addresses;
 *   - RCPT: a local domain needs an existing user or alias (550 5.1.1);
 *     other domains only for mynetworks and authenticated clients
 *     (554 5.7.1 Relay access denied), never otherwise.
 * The end of DATA (scan, queue) is in smtp_accept.c.
 */
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_mta.h"
#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/tls.h"
#include "log/log.h"
#include "queue/spool.h"
#include "smtp/smtp_session.h"
#include "store/maildir.h"
#include "store/quota.h"
#include "users/users.h"
#include "worker/anvil.h"
#include "worker/mailbox_quota.h"
#include "worker/mail_server.h"
#include "worker/mail_tls.h"
#include "worker/smtp_worker.h"
#include "worker/worker.h"

/* Failed AUTH attempts per client and anvil window before AUTH answers
 * 454 for the rest of the window (brute force). */
#define SMTP_AUTH_FAIL_LIMIT 10

static double
now_wall(struct smtp_worker *sw)
{
	return ev_now(sw->ctx->loop);
}

void
smtp_client_reset_rcpts(struct smtp_client *c)
{
	for (size_t i = 0; i < c->n_rcpts; i++) {
		free(c->rcpts[i].orig);
		for (size_t k = 0; k < c->rcpts[i].n_dest; k++)
			free(c->rcpts[i].dest[k]);
		free(c->rcpts[i].dest);
	}
	free(c->rcpts);
	c->rcpts = NULL;
	c->n_rcpts = 0;
}

/* ----- AUTH ----- */

static void
auth_answer(int result, void *ud)
{
	struct smtp_client *c = ud;

	c->req = NULL;
	if (result == 0) {
		anvil_auth_failed(c->w->anvil, c->peer.ip, now_wall(c->w));
		log_info("smtp", smtp_session_id(c->s), "AUTH failed for %s from %s",
		    c->auth_user, c->peer.ip);
	}
	free(c->auth_user);
	c->auth_user = NULL;
	smtp_session_auth_done(c->s, result, NULL);
}

static void
hook_auth(struct smtp_session *s, const char *user, const char *password, void *ud)
{
	struct smtp_client *c = ud;

	UNUSED(s);
	if (anvil_auth_blocked(c->w->anvil, c->peer.ip, now_wall(c->w))) {
		log_warn("smtp", smtp_session_id(c->s), "too many failed AUTH from %s", c->peer.ip);
		smtp_session_auth_done(c->s, -1, NULL);
		return;
	}
	free(c->auth_user);
	c->auth_user = xstrdup(user);
	c->req = users_authenticate(c->w->users, user, password, auth_answer, c);
}

/* ----- MAIL ----- */

static void
sender_answer(int result, void *ud)
{
	struct smtp_client *c = ud;
	struct smtp_reply r;

	c->req = NULL;
	if (result == 1) {
		smtp_session_mail_done(c->s, NULL);
		return;
	}
	if (result < 0) {
		r = (struct smtp_reply){ 451, "4.3.0", "Temporary lookup failure" };
	} else {
		r = (struct smtp_reply){ 553, "5.7.1",
		    "Sender address rejected: not owned by the authenticated user" };
	}
	smtp_session_mail_done(c->s, &r);
}

static void
hook_mail(struct smtp_session *s, const struct smtp_transaction *t, void *ud)
{
	struct smtp_client *c = ud;

	UNUSED(s);
	smtp_client_reset_rcpts(c);
	if (c->w->set.role != SMTP_ROLE_MX && t->auth_user != NULL) {
		c->req = users_sender_allowed(c->w->users, t->auth_user, t->mail_from,
		    sender_answer, c);
		return;
	}
	smtp_session_mail_done(c->s, NULL);
}

/* ----- RCPT ----- */

static void
add_rcpt(struct smtp_client *c, const char *orig, const struct users_resolution *r)
{
	struct smtp_rcpt *rc;

	c->rcpts = xrealloc(c->rcpts, (c->n_rcpts + 1) * sizeof(*c->rcpts));
	rc = &c->rcpts[c->n_rcpts++];
	rc->orig = xstrdup(orig);
	rc->n_dest = 0;
	rc->dest = xcalloc(r != NULL ? r->n_mailboxes + r->n_remote + 1 : 1, sizeof(char *));
	if (r == NULL) {
		rc->dest[rc->n_dest++] = xstrdup(orig);
		return;
	}
	for (size_t i = 0; i < r->n_mailboxes; i++)
		rc->dest[rc->n_dest++] = xstrdup(r->mailboxes[i].email);
	for (size_t i = 0; i < r->n_remote; i++)
		rc->dest[rc->n_dest++] = xstrdup(r->remote[i]);
}

/* 552 5.2.2 when the only mailbox behind the address is over its quota. */
static bool
mailbox_full(struct smtp_client *c, const struct users_resolution *r)
{
	char root[4096];
	const char *err;
	struct quota_usage usage;
	struct quota_limit limit;

	if (r->n_mailboxes != 1 || r->n_remote != 0 ||
	    !mailbox_quota_limit(c->w->mta, r->mailboxes[0].quota_bytes, &limit))
		return false;
	if (maildir_path_expand(c->w->mta->mail_location, r->mailboxes[0].email, root,
		sizeof(root), &err) < 0 || quota_usage_compute(root, &usage) < 0)
		return false;
	/* With MAIL SIZE= the client said how much is coming. */
	return quota_check(&usage, &limit, c->declared_size) != QUOTA_OK;
}

static void
rcpt_answer(const struct users_resolution *r, void *ud)
{
	struct smtp_client *c = ud;
	char text[512];
	struct smtp_reply rep = { 0, NULL, text };
	bool relay_ok = c->peer.trusted || c->authed;

	c->req = NULL;
	switch (r->status) {
	case USERS_FOUND:
		if (mailbox_full(c, r)) {
			rep.code = 552;
			rep.enhanced = "5.2.2";
			(void)str_format(text, sizeof(text), "<%s>: Mailbox full", c->pending_rcpt);
			break;
		}
		add_rcpt(c, c->pending_rcpt, r);
		break;
	case USERS_NOT_LOCAL:
		if (relay_ok) {
			add_rcpt(c, c->pending_rcpt, NULL);
			break;
		}
		rep.code = 554;
		rep.enhanced = "5.7.1";
		(void)str_format(text, sizeof(text), "<%s>: Relay access denied", c->pending_rcpt);
		break;
	case USERS_UNKNOWN:
		rep.code = 550;
		rep.enhanced = "5.1.1";
		(void)str_format(text, sizeof(text),
		    "<%s>: Recipient address rejected: User unknown in virtual mailbox table",
		    c->pending_rcpt);
		break;
	case USERS_INVALID:
		rep = (struct smtp_reply){ 501, "5.1.3", "Bad recipient address syntax" };
		break;
	case USERS_TEMPFAIL:
		rep = (struct smtp_reply){ 451, "4.3.0",
		    "Recipient address rejected: temporary lookup failure" };
		break;
	}
	free(c->pending_rcpt);
	c->pending_rcpt = NULL;
	smtp_session_rcpt_done(c->s, rep.code == 0 ? NULL : &rep);
}

static void
hook_rcpt(struct smtp_session *s, const struct smtp_transaction *t, const char *rcpt,
    void *ud)
{
	struct smtp_client *c = ud;

	UNUSED(s);
	c->authed = t->auth_user != NULL;
	c->declared_size = t->declared_size;
	if (!c->peer.trusted && !anvil_rcpt(c->w->anvil, c->peer.ip, now_wall(c->w))) {
		char text[160];
		struct smtp_reply r = { 450, "4.7.1", text };

		(void)str_format(text, sizeof(text), "Error: too many recipients from %s", c->peer.ip);
		log_warn("smtp", smtp_session_id(c->s), "recipient rate limit for %s", c->peer.ip);
		smtp_session_rcpt_done(c->s, &r);
		return;
	}
	free(c->pending_rcpt);
	c->pending_rcpt = xstrdup(rcpt);
	c->req = users_resolve(c->w->users, rcpt, rcpt_answer, c);
}

/* ----- connections ----- */

static void
hook_closed(struct smtp_session *s, void *ud)
{
	struct smtp_client *c = ud;

	UNUSED(s);
	users_cancel(&c->req);
	smtp_client_reset_rcpts(c);
	free(c->auth_user);
	free(c->pending_rcpt);
	mail_server_session_ended(c->w->server, c, &c->peer);
	free(c);
}

static const struct smtp_hooks smtp_hooks = {
	hook_auth, hook_mail, hook_rcpt, smtp_accept_message, hook_closed,
};

static void *
start_session(int fd, const struct mail_peer *peer, bool over_limit, void *ud)
{
	struct smtp_worker *sw = ud;
	struct smtp_client *c = xcalloc(1, sizeof(*c));
	struct smtp_reply limit = { 421, "4.7.0", NULL };
	char text[160];

	c->w = sw;
	c->peer = *peer;
	if (over_limit) {
		(void)str_format(text, sizeof(text), "%s Error: too many connections from %s",
		    sw->mta->myhostname, peer->ip);
		limit.text = text;
	}
	c->s = smtp_session_new(sw->ctx->loop, fd, &sw->set, &smtp_hooks, c,
	    over_limit ? &limit : NULL);
	return c;
}

static void
shutdown_session(void *client, void *ud)
{
	struct smtp_client *c = client;

	UNUSED(ud);
	smtp_session_shutdown(c->s);
}

static const struct mail_server_ops smtp_server_ops = { start_session, shutdown_session };

/* ----- setup ----- */

static enum smtp_role
role_of(const char *type)
{
	if (strcmp(type, "submission") == 0)
		return SMTP_ROLE_SUBMISSION;
	if (strcmp(type, "smtps") == 0)
		return SMTP_ROLE_SMTPS;
	return SMTP_ROLE_MX;
}

static void
fill_settings(struct smtp_worker *sw)
{
	const struct mta_settings *m = sw->mta;
	struct smtp_settings *s = &sw->set;

	s->role = role_of(sw->ctx->wcfg->type);
	s->hostname = m->myhostname;
	s->message_size_limit = m->message_size_limit;
	s->tls_ctx = sw->tls;
	s->implicit_tls = s->role == SMTP_ROLE_SMTPS;
	s->auth_enabled = s->role != SMTP_ROLE_MX;
	s->auth_plaintext_loopback = m->smtpd_tls_auth_loopback || !m->smtpd_tls_auth_only;
	s->soft_error_limit = m->smtpd_soft_error_limit;
	s->hard_error_limit = m->smtpd_hard_error_limit;
	s->recipient_limit = m->smtpd_recipient_limit;
	s->timeout = m->smtpd_timeout;
}

static int
open_stores(struct smtp_worker *sw)
{
	const struct config *cfg = sw->ctx->cfg;
	char *err = NULL, *root = xasprintf("%s/spool", cfg->state_dir);
	int rc = 0;

	sw->users = users_open(sw->mta->users, cfg->state_dir, sw->ctx->loop, &err);
	if (sw->users == NULL || spool_open(root, &sw->spool, &err) < 0) {
		log_error("smtp", NULL, "cannot start: %s", err != NULL ? err : "?");
		rc = -1;
	}
	free(err);
	free(root);
	return rc;
}

int
worker_smtp_run(struct worker_ctx *ctx)
{
	struct smtp_worker sw;
	const struct mta_settings *m = ctx->cfg->mta;
	struct anvil_limits lim = { m->smtpd_client_connection_count_limit,
		m->smtpd_client_connection_rate_limit, m->smtpd_client_recipient_rate_limit,
		SMTP_AUTH_FAIL_LIMIT, m->anvil_rate_time_unit };

	memset(&sw, 0, sizeof(sw));
	sw.ctx = ctx;
	sw.mta = m;
	if (open_stores(&sw) < 0)
		return 1;
	sw.tls = mail_tls_server_ctx(ctx->cfg, m, "smtp");
	if (sw.tls == NULL && role_of(ctx->wcfg->type) == SMTP_ROLE_SMTPS)
		return 1;
	sw.anvil = anvil_new(&lim);
	fill_settings(&sw);
	sw.server = mail_server_new(ctx, m, sw.anvil, "smtp", &smtp_server_ops, &sw);
	log_info("smtp", NULL, "%s worker ready on %zu socket(s) as %s", ctx->wcfg->type,
	    ctx->n_fds, m->myhostname);
	ev_run(ctx->loop, 0);
	mail_server_free(&sw.server);
	anvil_free(&sw.anvil);
	tls_ctx_free(&sw.tls);
	spool_close(&sw.spool);
	users_close(&sw.users);
	return 0;
}
