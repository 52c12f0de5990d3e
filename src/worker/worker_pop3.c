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
#include "worker/mail_tls.h"
#include "worker/worker.h"

/* Failed logins per client and anvil window before we refuse. */
#define POP3_AUTH_FAIL_LIMIT 10

struct pop3_worker;

struct pop3_listener {
	ev_io w;
	struct pop3_worker *pw;
};

struct pop3_client {
	struct pop3_worker *w;
	struct pop3_session *s;
	char ip[64];
	bool counted;
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
	struct pop3_listener *listeners;
	struct pop3_client **clients;
	size_t n_clients, cap_clients;
	bool stopping;
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
		anvil_auth_failed(c->w->anvil, c->ip, ev_now(c->w->ctx->loop));
		log_info("pop3", pop3_session_id(c->s), "authentication failed for %s from %s",
		    c->user, c->ip);
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
	if (anvil_auth_blocked(c->w->anvil, c->ip, ev_now(c->w->ctx->loop))) {
		log_warn("pop3", pop3_session_id(s), "too many failed logins from %s", c->ip);
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
	struct pop3_worker *pw = c->w;

	UNUSED(s);
	users_cancel(&c->req);
	if (c->counted)
		anvil_disconnect(pw->anvil, c->ip);
	for (size_t i = 0; i < pw->n_clients; i++) {
		if (pw->clients[i] == c) {
			pw->clients[i] = pw->clients[--pw->n_clients];
			break;
		}
	}
	free(c->user);
	free(c);
	if (pw->stopping && pw->n_clients == 0)
		ev_break(pw->ctx->loop, EVBREAK_ALL);
}

static const struct pop3_hooks pop3_hooks = { hook_auth, hook_closed };

static void
new_client(struct pop3_worker *pw, int fd)
{
	struct pop3_client *c = xcalloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *reject = NULL;

	c->w = pw;
	str_lcpy(c->ip, "unknown", sizeof(c->ip));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		conn_addr_to_text((const struct sockaddr *)&ss, c->ip, sizeof(c->ip));
	if (!mta_in_mynetworks(pw->mta, c->ip)) {
		c->counted = true;
		if (!anvil_connect(pw->anvil, c->ip, ev_now(pw->ctx->loop))) {
			reject = "[SYS/TEMP] Too many connections from your address";
			log_warn("pop3", NULL, "connection limit for %s", c->ip);
		}
	}
	if (pw->n_clients == pw->cap_clients) {
		pw->cap_clients = pw->cap_clients * 2 + 16;
		pw->clients = xrealloc(pw->clients, pw->cap_clients * sizeof(*pw->clients));
	}
	pw->clients[pw->n_clients++] = c;
	c->s = pop3_session_new(pw->ctx->loop, fd, &pw->set, &pop3_hooks, c, reject);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pop3_listener *l = (struct pop3_listener *)w;

	UNUSED(loop);
	UNUSED(revents);
	for (int i = 0; i < 16; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		new_client(l->pw, fd);
	}
}

static void
begin_stop(struct worker_ctx *ctx, void *ud)
{
	struct pop3_worker *pw = ud;
	struct pop3_client **copy;
	size_t n = pw->n_clients;

	pw->stopping = true;
	for (size_t i = 0; i < ctx->n_fds; i++)
		ev_io_stop(ctx->loop, &pw->listeners[i].w);
	if (n == 0) {
		ev_break(ctx->loop, EVBREAK_ALL);
		return;
	}
	/* The array shrinks as sessions end: work on a copy. */
	copy = xmalloc(n * sizeof(*copy));
	memcpy(copy, pw->clients, n * sizeof(*copy));
	for (size_t i = 0; i < n; i++)
		pop3_session_shutdown(copy[i]->s);
	free(copy);
}

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
	pw.listeners = xcalloc(ctx->n_fds + 1, sizeof(*pw.listeners));
	for (size_t i = 0; i < ctx->n_fds; i++) {
		pw.listeners[i].pw = &pw;
		ev_io_init(&pw.listeners[i].w, on_accept, ctx->fds[i], EV_READ);
		ev_io_start(ctx->loop, &pw.listeners[i].w);
	}
	worker_install_signals(ctx, begin_stop, &pw);
	log_info("pop3", NULL, "%s worker ready on %zu socket(s)", ctx->wcfg->type, ctx->n_fds);
	ev_run(ctx->loop, 0);
	free(pw.listeners);
	free(pw.clients);
	anvil_free(&pw.anvil);
	tls_ctx_free(&pw.tls);
	users_close(&pw.users);
	return 0;
}
