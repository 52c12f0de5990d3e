/*
 * worker_pop3.c - the "pop3" (STLS on 110) and "pop3s" (implicit TLS on
 * 995) workers: POP3 access to the users' INBOX, as Dovecot's pop3
 * service does it.
 *
 * The protocol and the maildrop are pop3/pop3_session.c's; this file
 * makes the decisions it asks for:
 *   - connection limits per client IP (anvil, the smtpd_client_* limits;
 *     mynetworks exempt), answered "-ERR [SYS/TEMP]" instead of the
 *     greeting;
 *   - passwords checked against the users table; failures logged and
 *     counted per client, and past POP3_AUTH_FAIL_LIMIT in one anvil
 *     window the client is refused and disconnected;
 *   - plaintext logins only over TLS, or from loopback when
 *     smtpd_tls_auth_loopback is set;
 *   - the mailbox root from mail_location.
 * Graceful stop: sessions end after their current command, without
 * expunging (only QUIT does).
 */
#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_mta.h"
#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "event/tls.h"
#include "log/log.h"
#include "pop3/pop3_session.h"
#include "store/maildir.h"
#include "users/users.h"
#include "worker/anvil.h"
#include "worker/mail_server.h"
#include "worker/mail_tls.h"
#include "worker/worker.h"

/* Failed logins per client and anvil window before we refuse. */
#define POP3_AUTH_FAIL_LIMIT 10

struct pop3_worker;

struct pop3_client {
	struct pop3_worker *w;
	struct pop3_session *s;
	struct mail_peer peer; /* address, mynetworks, anvil slot */
	struct users_req *req;
	char *user;          /* the login being checked */
};

struct pop3_worker {
	struct worker_ctx *ctx;
	const struct mta_settings *mta;
	struct pop3_settings set;
	struct ssl_ctx_st *tls;
	struct users *users;
	struct anvil *anvil;
	struct mail_server *server;  /* accept loop, client list, graceful stop */
};

static void
auth_answer(int result, void *ud)
{
	struct pop3_client *c = ud;
	const struct mta_settings *m = c->w->mta;
	char root[4096];
	const char *err;

	c->req = NULL;
	if (result == 1) {
		if (maildir_path_expand(m->mail_location, c->user, root, sizeof(root), &err) < 0) {
			log_error("pop3", pop3_session_id(c->s), "no mailbox path for %s: %s",
			    c->user, err);
			pop3_session_auth_done(c->s, POP3_AUTH_TEMPFAIL, NULL, NULL);
			return;
		}
		pop3_session_auth_done(c->s, POP3_AUTH_OK, c->user, root);
		return;
	}
	if (result == 0) {
		anvil_auth_failed(c->w->anvil, c->peer.ip, ev_now(c->w->ctx->loop));
		log_info("pop3", pop3_session_id(c->s), "authentication failed for %s from %s",
		    c->user, c->peer.ip);
		pop3_session_auth_done(c->s, POP3_AUTH_FAILED, NULL, NULL);
		return;
	}
	pop3_session_auth_done(c->s, POP3_AUTH_TEMPFAIL, NULL, NULL);
}

static void
hook_auth(struct pop3_session *s, const char *user, const char *password,
    const char *client_ip, void *ud)
{
	struct pop3_client *c = ud;

	UNUSED(client_ip);
	if (anvil_auth_blocked(c->w->anvil, c->peer.ip, ev_now(c->w->ctx->loop))) {
		log_warn("pop3", pop3_session_id(s), "too many failed logins from %s", c->peer.ip);
		pop3_session_auth_done(s, POP3_AUTH_BLOCKED, NULL, NULL);
		return;
	}
	free(c->user);
	c->user = xstrdup(user);
	/* The answer may come before this returns (cache, SQLite). */
	c->req = users_authenticate(c->w->users, user, password, auth_answer, c);
}

static void
hook_closed(struct pop3_session *s, void *ud)
{
	struct pop3_client *c = ud;

	UNUSED(s);
	users_cancel(&c->req);
	mail_server_session_ended(c->w->server, c, &c->peer);
	free(c->user);
	free(c);
}

static const struct pop3_hooks pop3_hooks = { hook_auth, hook_closed };

static void *
start_session(int fd, const struct mail_peer *peer, bool over_limit, void *ud)
{
	struct pop3_worker *pw = ud;
	struct pop3_client *c = xcalloc(1, sizeof(*c));

	c->w = pw;
	c->peer = *peer;
	c->s = pop3_session_new(pw->ctx->loop, fd, &pw->set, &pop3_hooks, c,
	    over_limit ? "[SYS/TEMP] Too many connections from your address" : NULL);
	return c;
}

static void
shutdown_session(void *client, void *ud)
{
	struct pop3_client *c = client;

	UNUSED(ud);
	pop3_session_shutdown(c->s);
}

static const struct mail_server_ops pop3_server_ops = { start_session, shutdown_session };

int
worker_pop3_run(struct worker_ctx *ctx)
{
	struct pop3_worker pw;
	const struct mta_settings *m = ctx->cfg->mta;
	struct anvil_limits lim = { m->smtpd_client_connection_count_limit,
		m->smtpd_client_connection_rate_limit, 0, POP3_AUTH_FAIL_LIMIT,
		m->anvil_rate_time_unit };
	bool implicit = strcmp(ctx->wcfg->type, "pop3s") == 0;
	char *err = NULL;

	memset(&pw, 0, sizeof(pw));
	pw.ctx = ctx;
	pw.mta = m;
	pw.users = users_open(m->users, ctx->cfg->state_dir, ctx->loop, &err);
	if (pw.users == NULL) {
		log_error("pop3", NULL, "cannot start: %s", err != NULL ? err : "?");
		free(err);
		return 1;
	}
	pw.tls = mail_tls_server_ctx(ctx->cfg, m, "pop3");
	if (pw.tls == NULL && implicit) {
		users_close(&pw.users);
		return 1;
	}
	pw.set.tls_ctx = pw.tls;
	pw.set.implicit_tls = implicit;
	pw.set.auth_plaintext_loopback = m->smtpd_tls_auth_loopback;
	pw.anvil = anvil_new(&lim);
	pw.server = mail_server_new(ctx, m, pw.anvil, "pop3", &pop3_server_ops, &pw);
	log_info("pop3", NULL, "%s worker ready on %zu socket(s)", ctx->wcfg->type, ctx->n_fds);
	ev_run(ctx->loop, 0);
	mail_server_free(&pw.server);
	anvil_free(&pw.anvil);
	tls_ctx_free(&pw.tls);
	users_close(&pw.users);
	return 0;
}
