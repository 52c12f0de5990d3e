/*
 * smtp_worker.h - state shared by the files of the smtp/submission/smtps
 * worker: worker_smtp.c (process, connections, AUTH/MAIL/RCPT policy) and
 * smtp_accept.c (end of DATA: trace headers, scan, verdict, queue).
 */
#ifndef WORKER_SMTP_WORKER_H
#define WORKER_SMTP_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp/smtp_session.h"
#include "worker/mail_server.h"

struct anvil;
struct mta_settings;
struct scan_task;
struct spool;
struct users;
struct users_req;
struct worker_ctx;

struct smtp_worker {
	struct worker_ctx *ctx;
	const struct mta_settings *mta;
	struct smtp_settings set;
	struct ssl_ctx_st *tls;
	struct users *users;
	struct spool *spool;
	struct anvil *anvil;
	struct mail_server *server;  /* accept loop, client list, graceful stop */
};

/* One accepted RCPT: where its copies go. */
struct smtp_rcpt {
	char *orig;          /* as accepted in RCPT TO */
	char **dest;         /* local mailboxes and remote addresses */
	size_t n_dest;
};

/* One connection and its current transaction. */
struct smtp_client {
	struct smtp_worker *w;
	struct smtp_session *s;
	struct mail_peer peer; /* address, mynetworks, anvil slot */
	bool authed;         /* the transaction's client authenticated */
	size_t declared_size; /* MAIL SIZE=, 0 when not given */
	struct users_req *req;
	char *auth_user;     /* the login being checked, for the log */
	char *pending_rcpt;  /* the RCPT a lookup is running for */
	struct smtp_rcpt *rcpts;
	size_t n_rcpts;
	/* end of DATA: the session's strings, valid until message_done */
	struct {
		const char *mail_from, *helo, *auth_user, *session_id;
	} tx;
	struct scan_task *task;
	char *message;       /* trace header + the client's message */
	size_t message_len;
	size_t trace_len;    /* bytes of our Received: at the start */
};

/* smtp_accept.c: the `message` hook. */
void smtp_accept_message(struct smtp_session *s, const struct smtp_transaction *t,
    const char *data, size_t len, void *ud);
/* Frees the transaction's recipients (after a message, RSET or close). */
void smtp_client_reset_rcpts(struct smtp_client *c);

#endif
