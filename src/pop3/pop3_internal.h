/*
 * pop3_internal.h - the session state shared by pop3_session.c (I/O,
 * state machine, RETR streaming) and pop3_cmd.c (one handler per verb).
 * Nothing outside src/pop3/ includes it.
 */
#ifndef POP3_POP3_INTERNAL_H
#define POP3_POP3_INTERNAL_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "pop3/pop3_maildrop.h"
#include "pop3/pop3_proto.h"
#include "pop3/pop3_session.h"

#define POP3_LOG "pop3"

enum pop3_state {
	POP3_STATE_TLS_WAIT,    /* implicit TLS handshake before the greeting */
	POP3_STATE_STLS,        /* STLS accepted, handshake running */
	POP3_STATE_AUTH,        /* AUTHORIZATION */
	POP3_STATE_SASL,        /* AUTH PLAIN sent "+ ", waiting for the response */
	POP3_STATE_TRANSACTION,
	POP3_STATE_QUIT,        /* answered QUIT or gave up: closing */
};

struct pop3_session {
	struct ev_loop *loop;
	struct conn *conn;
	struct pop3_settings set;
	const struct pop3_hooks *hooks;
	void *ud;
	char id[48];
	char client_ip[64];
	bool loopback;
	bool tls;
	enum pop3_state state;

	char *user;             /* USER argument, then the logged-in user */
	char *secret;           /* credentials awaiting auth_done (wiped) */
	size_t secret_len;
	bool auth_pending;
	struct pop3_maildrop *md;

	/* RETR / TOP in progress */
	bool sending;
	int msg_fd;
	struct pop3_enc enc;

	unsigned errors;
	struct buf out;         /* replies not yet handed to conn */
	bool in_input, closing, end_requested, dead, shutdown, skip_line;
};

void pop3_enter_state(struct pop3_session *s, enum pop3_state st);
void pop3_reply(struct pop3_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* "-ERR ..." that counts towards error_limit. */
void pop3_error(struct pop3_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
void pop3_close(struct pop3_session *s);
bool pop3_auth_allowed(const struct pop3_session *s);
/* Starts streaming message i (0-based); TOP when `top`. */
void pop3_send_message(struct pop3_session *s, unsigned i, bool top, uint64_t lines);
/* STLS accepted: +OK, then the handshake (pipelined input is dropped). */
void pop3_begin_tls(struct pop3_session *s);
/* Hands the credentials to the owner (takes `user` and `pass` copies). */
void pop3_start_auth(struct pop3_session *s, const char *user, const char *pass);

void pop3_cmd_dispatch(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_sasl_response(struct pop3_session *s, struct str line);

#endif
