/*
 * mail_server.c - accept loop, client admission, session list and
 * graceful stop shared by the smtp, imap and pop3 workers.
 */
#include "worker/mail_server.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config_mta.h"
#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "log/log.h"
#include "worker/anvil.h"
#include "worker/worker.h"

struct mail_listener {
	ev_io w;
	struct mail_server *ms;
};

struct mail_server {
	struct worker_ctx *ctx;
	const struct mta_settings *mta;
	struct anvil *anvil;
	const char *component;
	const struct mail_server_ops *ops;
	void *ud;
	struct mail_listener *listeners;
	void **clients;
	size_t n_clients, cap_clients;
	bool stopping;
};

static void
admit(struct mail_server *ms, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct mail_peer peer;
	bool over = false;
	int one = 1;

	memset(&peer, 0, sizeof(peer));
	str_lcpy(peer.ip, "unknown", sizeof(peer.ip));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		conn_addr_to_text((const struct sockaddr *)&ss, peer.ip, sizeof(peer.ip));
	/* Replies go out whole; a small one must not wait behind the
	 * client's delayed ACK of the previous segment. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	peer.trusted = mta_in_mynetworks(ms->mta, peer.ip);
	if (!peer.trusted) {
		peer.counted = true;
		over = !anvil_connect(ms->anvil, peer.ip, ev_now(ms->ctx->loop));
		if (over)
			log_warn(ms->component, NULL, "connection limit for %s", peer.ip);
	}
	ms->clients = xgrow(ms->clients, &ms->cap_clients, ms->n_clients + 1,
	    sizeof(*ms->clients));
	/* The sessions report their end from the loop, never from inside
	 * their constructor, so the client is listed before it can end. */
	ms->clients[ms->n_clients++] = ms->ops->start(fd, &peer, over, ms->ud);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mail_listener *l = (struct mail_listener *)w;

	UNUSED(loop);
	UNUSED(revents);
	for (int i = 0; i < 16; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		admit(l->ms, fd);
	}
}

static void
begin_stop(struct worker_ctx *ctx, void *ud)
{
	struct mail_server *ms = ud;
	size_t n = ms->n_clients;
	void **copy;

	ms->stopping = true;
	for (size_t i = 0; i < ctx->n_fds; i++)
		ev_io_stop(ctx->loop, &ms->listeners[i].w);
	if (n == 0) {
		ev_break(ctx->loop, EVBREAK_ALL);
		return;
	}
	/* The list shrinks as sessions end: work on a copy. */
	copy = xmalloc(n * sizeof(*copy));
	memcpy(copy, ms->clients, n * sizeof(*copy));
	for (size_t i = 0; i < n; i++)
		ms->ops->shutdown(copy[i], ms->ud);
	free(copy);
}

struct mail_server *
mail_server_new(struct worker_ctx *ctx, const struct mta_settings *mta, struct anvil *anvil,
    const char *component, const struct mail_server_ops *ops, void *ud)
{
	struct mail_server *ms = xcalloc(1, sizeof(*ms));

	ms->ctx = ctx;
	ms->mta = mta;
	ms->anvil = anvil;
	ms->component = component;
	ms->ops = ops;
	ms->ud = ud;
	ms->listeners = xcalloc(ctx->n_fds + 1, sizeof(*ms->listeners));
	for (size_t i = 0; i < ctx->n_fds; i++) {
		ms->listeners[i].ms = ms;
		ev_io_init(&ms->listeners[i].w, on_accept, ctx->fds[i], EV_READ);
		ev_io_start(ctx->loop, &ms->listeners[i].w);
	}
	worker_install_signals(ctx, begin_stop, ms);
	return ms;
}

void
mail_server_free(struct mail_server **msp)
{
	struct mail_server *ms = *msp;

	if (ms == NULL)
		return;
	for (size_t i = 0; i < ms->ctx->n_fds; i++)
		ev_io_stop(ms->ctx->loop, &ms->listeners[i].w);
	free(ms->listeners);
	free(ms->clients);
	free(ms);
	*msp = NULL;
}

void
mail_server_session_ended(struct mail_server *ms, void *client, const struct mail_peer *peer)
{
	if (peer->counted)
		anvil_disconnect(ms->anvil, peer->ip);
	for (size_t i = 0; i < ms->n_clients; i++) {
		if (ms->clients[i] == client) {
			ms->clients[i] = ms->clients[--ms->n_clients];
			break;
		}
	}
	if (ms->stopping && ms->n_clients == 0)
		ev_break(ms->ctx->loop, EVBREAK_ALL);
}
