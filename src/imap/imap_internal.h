/*
 * imap_internal.h - what the files of the IMAP session share:
 * imap_session.c (connection, command loop, replies, mailbox updates)
 * and the command handlers in imap_cmd_*.c.
 */
#ifndef IMAP_IMAP_INTERNAL_H
#define IMAP_IMAP_INTERNAL_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/common.h"
#include "imap/imap_args.h"
#include "imap/imap_session.h"
#include "store/quota.h"

struct conn;
struct imap_fetch_job;
struct mailbox;
struct pool;

enum imap_state {
	IMAP_STATE_NOTAUTH = 1 << 0,
	IMAP_STATE_AUTH = 1 << 1,
	IMAP_STATE_SELECTED = 1 << 2,
	IMAP_STATE_LOGOUT = 1 << 3,
};

/* What the input is currently read as. */
enum imap_mode {
	IMAP_MODE_COMMAND,
	IMAP_MODE_IDLE,       /* waiting for DONE */
	IMAP_MODE_SASL,       /* waiting for the AUTHENTICATE response line */
	IMAP_MODE_HOOK,       /* the auth hook runs: input waits */
	IMAP_MODE_TLS,        /* STARTTLS handshake: input waits */
};

struct imap_session {
	struct ev_loop *loop;
	struct conn *conn;
	const struct imap_settings *set;
	const struct imap_hooks *hooks;
	void *ud;
	struct imap_reader *reader;
	struct pool *pool;           /* one command's allocations */
	enum imap_state state;
	enum imap_mode mode;
	char id[32];
	char peer[64];
	bool loopback;
	bool tls;
	bool closing;                /* BYE sent or peer gone */
	bool peer_gone;
	bool stopping;               /* worker shutdown requested */
	bool in_hook;
	bool processing;
	unsigned bad_commands, preauth_commands;
	char *pending_tag;           /* AUTHENTICATE, IDLE, LOGIN in progress */
	char *user;
	char *root;                  /* the user's mailbox; set at login */
	struct buf out;              /* this round's replies, one write */
	struct imap_fetch_job *fetch; /* a FETCH waiting for the output */
	bool has_quota;
	struct quota_limit quota;
	struct mailbox *mb;
	ev_timer poll;
};

/* A command handler; `uid` for the UID forms. */
typedef void imap_cmd_fn(struct imap_session *s, const char *tag,
    const struct imap_arg *args, size_t n, bool uid);

/* ----- imap_session.c ----- */

/* Queue raw bytes / a formatted line (the caller adds CRLF) for the
 * client. Replies collect in s->out and go out in one write with
 * imap_flush() (end of an input round, a timer, a hook's answer): one
 * segment per round, no Nagle/delayed-ACK stalls, fewer syscalls. */
void imap_send(struct imap_session *s, const void *data, size_t len);
void imap_flush(struct imap_session *s);
/* A constant string (length from sizeof, so it cannot go stale). */
#define imap_send_cstr(s, lit) imap_send((s), (lit), sizeof(lit) - 1)
void imap_sendf(struct imap_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* "tag OK text\r\n" and friends. */
void imap_tagged(struct imap_session *s, const char *tag, const char *status,
    const char *fmt, ...) PRINTF_LIKE(4, 5);
/* Counts a bad command (BYE past the limit) and answers BAD. */
void imap_bad(struct imap_session *s, const char *tag, const char *text);
/* NO with the store's errno mapped to a response code. */
void imap_no_errno(struct imap_session *s, const char *tag, int err, const char *what);
/* Sends BYE and closes after the output drained. */
void imap_bye(struct imap_session *s, const char *text);
/* Reports what other sessions and deliveries changed in the selected
 * folder (EXPUNGE, EXISTS, RECENT, FETCH FLAGS); false when the session
 * had to end (UIDVALIDITY changed). */
bool imap_report_changes(struct imap_session *s);
/* Appends the message's flags as "\\Seen \\Recent $kw" to b (no parens). */
void imap_flags_append(struct imap_session *s, struct buf *b, unsigned flags,
    uint32_t keywords);
/* Closes the selected folder (state back to AUTH). */
void imap_unselect(struct imap_session *s);
/* Capability list for the current state, without "CAPABILITY". */
void imap_capabilities(struct imap_session *s, struct buf *b);
/* Decodes a mailbox argument (modified UTF-7) into UTF-8 in the command
 * pool; NULL with *error_r when it is not a valid name. */
const char *imap_mailbox_arg(struct imap_session *s, const struct imap_arg *a,
    const char **error_r);
/* Writes a UTF-8 mailbox name as a modified UTF-7 IMAP string. */
void imap_mailbox_write(struct buf *b, const char *utf8);
/* A flag name: its MAIL_* bit, 0 for a keyword (atom), -1 when not
 * storable (\\Recent, unknown system flags, bad atoms). */
int imap_flag_bit(const struct imap_arg *a);
/* Whether the peer may log in on this connection. */
bool imap_login_allowed(const struct imap_session *s);
/* Starts the auth hook for LOGIN/AUTHENTICATE. */
void imap_start_auth(struct imap_session *s, const char *tag, const char *user,
    const char *password);
/* Starts/stops IDLE. */
void imap_idle_start(struct imap_session *s, const char *tag);

/* imap_cmd_msg.c: renders more of a FETCH paused while its output
 * drains; true when it completed (tagged reply queued, s->fetch NULL). */
bool imap_fetch_resume(struct imap_session *s);

/* ----- handlers ----- */

/* imap_cmd_auth.c: any state */
imap_cmd_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_id;
/* not authenticated */
imap_cmd_fn imap_cmd_starttls, imap_cmd_login, imap_cmd_authenticate;
/* authenticated */
imap_cmd_fn imap_cmd_namespace, imap_cmd_enable, imap_cmd_idle;
/* SASL PLAIN response (base64) for AUTHENTICATE */
void imap_sasl_response(struct imap_session *s, const char *line);

/* imap_cmd_folder.c */
imap_cmd_fn imap_cmd_select, imap_cmd_examine, imap_cmd_create, imap_cmd_delete,
    imap_cmd_rename, imap_cmd_subscribe, imap_cmd_unsubscribe, imap_cmd_list,
    imap_cmd_lsub, imap_cmd_status, imap_cmd_append, imap_cmd_getquotaroot,
    imap_cmd_getquota;

/* imap_cmd_msg.c: selected */
imap_cmd_fn imap_cmd_check, imap_cmd_close, imap_cmd_unselect, imap_cmd_expunge,
    imap_cmd_search, imap_cmd_fetch, imap_cmd_store, imap_cmd_copy, imap_cmd_move;

#endif
