/*
 * smtp_internal.h - the session structure shared by smtp_session.c (I/O,
 * input loop, hook answers) and smtp_cmd.c (one handler per verb). Not
 * for use outside src/smtp/.
 */
#ifndef SMTP_SMTP_INTERNAL_H
#define SMTP_SMTP_INTERNAL_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "smtp/smtp_addr.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_proto.h"
#include "smtp/smtp_session.h"

#define SMTP_AUTH_LINE_MAX 12288   /* RFC 4954 4 */
#define SMTP_USER_MAX 256

enum smtp_state {
	SMTP_STATE_TLS_WAIT,    /* implicit TLS handshake before the banner */
	SMTP_STATE_CONNECTED,   /* banner sent; HELO/EHLO needed */
	SMTP_STATE_HELO,        /* greeted, no transaction */
	SMTP_STATE_MAIL,        /* MAIL accepted, no recipient yet */
	SMTP_STATE_RCPT,        /* at least one recipient */
	SMTP_STATE_DATA,        /* reading DATA content */
	SMTP_STATE_BDAT,        /* reading a BDAT chunk */
	SMTP_STATE_AUTH_PLAIN,  /* waiting for the PLAIN response */
	SMTP_STATE_AUTH_USER,   /* LOGIN: waiting for the user name */
	SMTP_STATE_AUTH_PASS,   /* LOGIN: waiting for the password */
	SMTP_STATE_STARTTLS,    /* STARTTLS handshake running */
	SMTP_STATE_QUIT,        /* closing: nothing more is read */
};

enum smtp_pending {
	SMTP_PENDING_NONE,
	SMTP_PENDING_AUTH,
	SMTP_PENDING_MAIL,
	SMTP_PENDING_RCPT,
	SMTP_PENDING_MESSAGE,
};

struct smtp_session {
	struct ev_loop *loop;
	struct conn *conn;
	struct smtp_settings set;     /* copy with defaults applied */
	const struct smtp_hooks *hooks;
	void *ud;
	char id[24];
	enum smtp_state state;
	enum smtp_pending pending;

	/* connection */
	char client_ip[64];
	int client_port;
	bool loopback;
	char *helo;
	bool esmtp;
	char *auth_user;
	bool tls;
	char tls_desc[128];
	unsigned errors;

	/* transaction */
	char mail_from[SMTP_ADDR_TEXT_MAX];
	struct smtp_mail_params params;
	char **rcpts;
	size_t n_rcpts, cap_rcpts;
	unsigned rcpt_attempts;
	bool used_bdat;
	char pending_rcpt[SMTP_ADDR_TEXT_MAX];
	struct smtp_transaction view;

	/* message content */
	struct smtp_data_decoder dec;
	struct buf msg;
	uint64_t bdat_left;
	bool bdat_last;
	bool bdat_discard;     /* chunk of a refused BDAT: read and drop */
	enum smtp_state bdat_return; /* state to go back to after it */

	/* AUTH LOGIN user name between the two challenges */
	char login_user[SMTP_USER_MAX];
	char auth_try_user[SMTP_USER_MAX];
	char *auth_secret;    /* decoded response, wiped after the answer */
	size_t auth_secret_len;

	/* output and control */
	struct buf out;
	ev_timer tarpit;
	bool tarpit_active;
	bool batch_error;     /* s->out holds an error reply */
	bool in_input;        /* inside session_process(): no re-entry */
	bool skip_line;       /* discarding the rest of an over-long line */
	bool closing;         /* final reply queued; close after drain */
	bool shutdown;        /* worker stopping */
	bool dead;            /* connection gone; waiting for a hook answer */
	bool end_requested;   /* end once back at the top of the loop */
};

/* Queue a reply; 4xx/5xx count as errors (see smtp_session.c). */
void smtp_reply(struct smtp_session *s, int code, const char *enhanced,
    const char *fmt, ...) PRINTF_LIKE(4, 5);
void smtp_reply_struct(struct smtp_session *s, const struct smtp_reply *r);
/* Queue the final reply and close after it is sent. */
void smtp_close_with(struct smtp_session *s, int code, const char *enhanced,
    const char *text);
void smtp_enter_state(struct smtp_session *s, enum smtp_state st);
void smtp_tx_reset(struct smtp_session *s);
/* Refresh s->view from the session (before each hook call). */
const struct smtp_transaction *smtp_tx_view(struct smtp_session *s);
void smtp_set_pending(struct smtp_session *s, enum smtp_pending p);
bool smtp_auth_allowed(const struct smtp_session *s);
void smtp_message_complete(struct smtp_session *s);
/* Common tail of every *_done(): continue with the pipelined input. */
void smtp_answered(struct smtp_session *s);

/* smtp_cmd.c */
void smtp_cmd_dispatch(struct smtp_session *s, const struct smtp_cmd *cmd);

/* smtp_auth.c */
void smtp_cmd_auth_response(struct smtp_session *s, struct str line);
void smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd);

#endif
