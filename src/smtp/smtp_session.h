/*
 * smtp_session.h - one inbound ESMTP connection (RFC 5321 with PIPELINING,
 * SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS, AUTH PLAIN/LOGIN,
 * CHUNKING).
 *
 * The session speaks the protocol only. It knows nothing about users, the
 * relay policy, the queue or the scanner: at AUTH, MAIL, RCPT and at the
 * end of a message it calls an owner hook and waits for the owner's answer
 * (smtp_session_*_done()), which may come later from the loop or right
 * away from inside the hook. Reading is paused while a hook is pending, so
 * the owner sees one request at a time, in command order.
 *
 * Every hook that is called MUST eventually be answered with its *_done()
 * function, even when the client has gone away meanwhile: the session is
 * kept alive until then and only afterwards reports `closed`.
 *
 * What the session refuses on its own, before any hook runs: syntax errors,
 * bad sequences, SIZE over the limit, UTF-8 without SMTPUTF8, AUTH without
 * TLS (unless allowed on loopback), MAIL without AUTH on submission roles,
 * MAIL without TLS when require_tls_for_mail, more than recipient_limit
 * recipients, and the classic relay tricks in RCPT (see smtp_addr.h:
 * smtp_addr_relay_trick()).
 */
#ifndef SMTP_SMTP_SESSION_H
#define SMTP_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>

struct ev_loop;
struct ssl_ctx_st;
struct smtp_session;

enum smtp_role {
	SMTP_ROLE_MX,          /* port 25 */
	SMTP_ROLE_SUBMISSION,  /* port 587: MAIL requires AUTH */
	SMTP_ROLE_SMTPS,       /* port 465: submission over implicit TLS */
};

struct smtp_settings {
	enum smtp_role role;
	const char *hostname;          /* myhostname: banner, EHLO reply; borrowed */
	size_t message_size_limit;     /* SIZE; 0 = unlimited */
	struct ssl_ctx_st *tls_ctx;    /* NULL: no STARTTLS / no implicit TLS; borrowed */
	bool implicit_tls;             /* handshake before the banner (465) */
	bool auth_enabled;             /* offer AUTH PLAIN LOGIN (the owner sets it
	                                * for submission roles; honoured on any role) */
	bool auth_plaintext_loopback;  /* allow AUTH without TLS from 127/8, ::1 */
	bool require_tls_for_mail;     /* smtpd_tls_security_level=encrypt */
	unsigned soft_error_limit;     /* 0 = 10; past it replies are delayed 1 s */
	unsigned hard_error_limit;     /* 0 = 20; at it: 421 4.7.0 and close */
	unsigned recipient_limit;      /* 0 = 1000 (smtpd_recipient_limit) */
	double timeout;                /* 0 = 300 s (smtpd_timeout) */
	size_t line_limit;             /* command line incl. CRLF; 0 = 2048.
	                                * AUTH lines may be up to 12288 (RFC 4954).
	                                * Text lines in DATA have no limit. */
};

enum smtp_body {
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

/*
 * What the hooks see. Owned by the session; valid for the duration of the
 * hook call and, for the strings, until the matching *_done() (copy what
 * you keep longer). Transaction fields (mail_from .. rcpts) are reset by
 * RSET, by STARTTLS, by a new HELO/EHLO and after each message.
 */
struct smtp_transaction {
	const char *helo;              /* last HELO/EHLO argument */
	bool esmtp;                    /* EHLO rather than HELO */
	const char *client_ip;         /* "1.2.3.4", "::1", "unix:" */
	int client_port;
	const char *auth_user;         /* NULL unless authenticated */
	bool tls;
	char tls_desc[128];            /* conn_tls_describe(); "" when plaintext */
	const char *mail_from;         /* normalized; "" for <> */
	bool smtputf8;
	enum smtp_body body;
	size_t declared_size;          /* MAIL SIZE=, 0 when absent */
	const char **rcpts;            /* accepted recipients, normalized */
	size_t n_rcpts;
	const char *session_id;        /* for logs */
};

/*
 * A reply. `enhanced` is "x.y.z" or NULL; `text` may contain '\n' for a
 * multi-line reply (each line gets the code and the enhanced code). The
 * session copies it: borrowed.
 */
struct smtp_reply {
	int code;
	const char *enhanced;
	const char *text;
};

struct smtp_hooks {
	/* AUTH PLAIN / LOGIN credentials (authcid, password; both NUL-free,
	 * valid until smtp_session_auth_done(), then wiped). A PLAIN authzid that differs from the authcid is refused by the
	 * session (535) before this hook. Answer: smtp_session_auth_done(). */
	void (*auth)(struct smtp_session *s, const char *user,
	    const char *password, void *ud);
	/* MAIL FROM accepted syntactically; t->mail_from is set, no rcpts yet.
	 * Answer: smtp_session_mail_done(s, reply or NULL = 250 2.1.0 Ok). */
	void (*mail)(struct smtp_session *s, const struct smtp_transaction *t,
	    void *ud);
	/* RCPT TO passed the session's checks; `rcpt` (normalized, not yet in
	 * t->rcpts) is the relay decision the owner makes. Answer:
	 * smtp_session_rcpt_done(s, reply or NULL = 250 2.1.5 Ok); only a 2xx
	 * adds it to the transaction. */
	void (*rcpt)(struct smtp_session *s, const struct smtp_transaction *t,
	    const char *rcpt, void *ud);
	/* The complete message, after dot-unstuffing (bare LF turned into
	 * CRLF) or after BDAT LAST; no Received: header is added. `data` is
	 * valid until smtp_session_message_done(). Answer with the final
	 * reply, e.g. 250 2.0.0 "Ok: queued as ID" (only after the queue file
	 * is durable), 451/550 from the scan, ... NULL = 451 4.3.0. */
	void (*message)(struct smtp_session *s, const struct smtp_transaction *t,
	    const char *data, size_t len, void *ud);
	/* Called once when the session ended (QUIT, error, timeout, peer gone,
	 * shutdown); the session is freed right after it returns. Never called
	 * while a hook awaits its answer. May be NULL. */
	void (*closed)(struct smtp_session *s, void *ud);
};

/*
 * Takes ownership of `fd`. `set`, `hooks` and their strings are borrowed
 * and must outlive the session (they are normally the worker's config).
 * With `reject_greeting` (e.g. 421 4.7.0 for a connection limit) that
 * reply is sent instead of the banner and the session closes. Always
 * returns a session (the end is reported through hooks->closed, not
 * synchronously from here).
 */
struct smtp_session *smtp_session_new(struct ev_loop *loop, int fd,
    const struct smtp_settings *set, const struct smtp_hooks *hooks,
    void *ud, const struct smtp_reply *reject_greeting);

/* result: 1 = authenticated (235 2.7.0), 0 = bad credentials (535 5.7.8),
 * -1 = temporary failure (454 4.7.0). `canonical_user` (borrowed, may be
 * NULL = the name the client gave) becomes t->auth_user. */
void smtp_session_auth_done(struct smtp_session *s, int result,
    const char *canonical_user);
void smtp_session_mail_done(struct smtp_session *s, const struct smtp_reply *reply);
void smtp_session_rcpt_done(struct smtp_session *s, const struct smtp_reply *reply);
void smtp_session_message_done(struct smtp_session *s, const struct smtp_reply *reply);

/* Worker stopping: 421 4.3.2 after the current command (or after the
 * pending hook is answered), then close. */
void smtp_session_shutdown(struct smtp_session *s);

/* The session's id ("smtp<pid>.<n>", unique per host at a time), for the
 * owner's logs. Borrowed. */
const char *smtp_session_id(const struct smtp_session *s);

#endif
