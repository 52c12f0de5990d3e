/*
 * mail_server.h - what the SMTP, IMAP and POP3 workers share around their
 * sessions: the accept loop on the worker's listening sockets, admission
 * of each client (its address, whether it is in mynetworks, Postfix-style
 * anvil connection limits), the list of live sessions, and the graceful
 * stop that asks every session to finish and ends the loop when the last
 * one has.
 *
 * The protocol worker supplies two callbacks: start a session for an
 * accepted connection (told when the client is over its limits, so the
 * session can answer with its protocol's refusal) and ask a session to
 * finish. It reports the end of each session with
 * mail_server_session_ended().
 */
#ifndef WORKER_MAIL_SERVER_H
#define WORKER_MAIL_SERVER_H

#include <stdbool.h>

struct anvil;
struct mail_server;
struct mta_settings;
struct worker_ctx;

/* A connected client as the server admitted it. */
struct mail_peer {
	char ip[64];         /* "192.0.2.1", "::1", "unknown" */
	bool trusted;        /* in mynetworks: exempt from anvil limits */
	bool counted;        /* holds an anvil connection slot */
};

struct mail_server_ops {
	/* A new connection (fd non-blocking, now the callee's). over_limit:
	 * refuse it in the protocol's words. Returns the client, the key the
	 * server keeps for shutdown() and session_ended(). */
	void *(*start)(int fd, const struct mail_peer *peer, bool over_limit, void *ud);
	/* The worker is stopping: finish the session soon. */
	void (*shutdown)(void *client, void *ud);
};

/*
 * Starts accepting on ctx's sockets and takes over the worker's signals
 * (SIGTERM: stop accepting, shut sessions down, end the loop once none
 * is left). `component` names the log lines ("smtp", "imap", "pop3").
 */
struct mail_server *mail_server_new(struct worker_ctx *ctx, const struct mta_settings *mta,
    struct anvil *anvil, const char *component, const struct mail_server_ops *ops, void *ud);
void mail_server_free(struct mail_server **ms);

/* The session of `client` is over: forget it and release its slot. */
void mail_server_session_ended(struct mail_server *ms, void *client,
    const struct mail_peer *peer);

#endif
