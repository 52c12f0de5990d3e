/*
 * pop3_session.h - one POP3 connection (RFC 1939) with CAPA (RFC 2449),
 * STLS (RFC 2595), AUTH PLAIN (RFC 5034), RESP-CODES, AUTH-RESP-CODE and
 * PIPELINING.
 *
 * The session speaks the protocol and works the maildrop (store/mailbox.h
 * through pop3_maildrop.h): snapshot at login, the deletion marks, RETR
 * and TOP streamed from the message files, expunge in the UPDATE state.
 * It knows nothing about users, passwords or rate limits: at PASS and
 * AUTH it calls the owner's `auth` hook and waits for
 * pop3_session_auth_done(), which may come from inside the hook or later
 * from the loop; reading is paused meanwhile. The owner answers with the
 * mailbox root of the user (from mail_location).
 *
 * A dropped connection, a timeout or a shutdown never deletes anything:
 * only QUIT in the TRANSACTION state does (RFC 1939 section 6).
 */
#ifndef POP3_POP3_SESSION_H
#define POP3_POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>

struct ev_loop;
struct ssl_ctx_st;
struct pop3_session;

struct pop3_settings {
	struct ssl_ctx_st *tls_ctx;    /* NULL: no STLS, no implicit TLS; borrowed */
	bool implicit_tls;             /* handshake before the greeting (995) */
	bool auth_plaintext_loopback;  /* USER/PASS and AUTH without TLS from loopback */
	bool auth_plaintext;           /* ... and from anywhere (tests only) */
	unsigned error_limit;          /* bad commands before disconnect; 0 = 10 */
	double timeout;                /* idle seconds; 0 = 600 (RFC 1939: >= 10 min) */
};

enum pop3_auth_result {
	POP3_AUTH_OK,
	POP3_AUTH_FAILED,   /* -ERR [AUTH] */
	POP3_AUTH_TEMPFAIL, /* -ERR [SYS/TEMP] */
	POP3_AUTH_BLOCKED,  /* too many failures: -ERR [AUTH] and close */
};

struct pop3_hooks {
	/* Credentials from USER/PASS or AUTH PLAIN (NUL-free, valid until
	 * pop3_session_auth_done(), then wiped). */
	void (*auth)(struct pop3_session *s, const char *user, const char *password,
	    const char *client_ip, void *ud);
	/* Called once when the session ended; it is freed right after. Never
	 * called while `auth` awaits its answer. May be NULL. */
	void (*closed)(struct pop3_session *s, void *ud);
};

/*
 * Takes ownership of `fd`; `set` and `hooks` are borrowed and must outlive
 * the session. With `reject` (e.g. "[SYS/TEMP] Too many connections") the
 * session answers "-ERR <reject>" instead of the greeting and closes.
 */
struct pop3_session *pop3_session_new(struct ev_loop *loop, int fd,
    const struct pop3_settings *set, const struct pop3_hooks *hooks, void *ud,
    const char *reject);

/*
 * The answer to `auth`. With POP3_AUTH_OK, `mailbox_root` (borrowed) is
 * the user's Maildir and `user` (borrowed, may be NULL = as given) the
 * canonical login for logs; the session locks and opens the maildrop
 * (busy: -ERR [IN-USE]).
 */
void pop3_session_auth_done(struct pop3_session *s, enum pop3_auth_result result,
    const char *user, const char *mailbox_root);

/* Worker stopping: "-ERR [SYS/TEMP] Server shutting down" after the
 * current command, then close, without expunging. */
void pop3_session_shutdown(struct pop3_session *s);

/* "pop3<pid>.<n>" for logs. Borrowed. */
const char *pop3_session_id(const struct pop3_session *s);

#endif
