/*
 * smtp_client.h - one outbound ESMTP connection (RFC 5321 with PIPELINING,
 * SIZE, 8BITMIME, SMTPUTF8, STARTTLS), driven by the queue manager.
 *
 * Like the server side (smtp_session.h) the client speaks the protocol
 * only: it knows nothing of the queue, routing, MX lookups or retries. The
 * owner resolves the next hop, hands an address to smtp_client_connect(),
 * and gets callbacks from the loop:
 *
 *   connect -> banner -> EHLO (HELO when EHLO gets 5xx) -> [STARTTLS ->
 *   handshake -> EHLO] -> ready()
 *   smtp_client_send() -> [RSET] MAIL, RCPT..., DATA, body, "." -> done()
 *   smtp_client_send() again (connection reuse) ... or smtp_client_quit()
 *   -> QUIT -> closed()
 *
 * Callback rules:
 * - Callbacks come from the loop, never from inside an smtp_client_*()
 *   call the owner makes.
 * - `closed` is called exactly once for every client the owner did not
 *   smtp_client_free() first; the client is freed right after it returns.
 *   It is also how a failure before `ready` (connect refused, banner 554,
 *   TLS required but absent, timeout, ...) is reported.
 * - When the connection fails while a message is in flight, `done` comes
 *   first (every recipient gets the 4xx "lost connection" result), then
 *   `closed`.
 * - smtp_client_free() may be called from inside any callback (then no
 *   further callback comes).
 *
 * 8-bit downgrade: when the body is 8-bit and the peer lacks 8BITMIME the
 * message is sent as is, without BODY=, and this is logged (no conversion
 * to quoted-printable: most servers take 8-bit anyway, and converting
 * would break DKIM signatures); result->sent_8bit_unannounced tells the
 * owner.
 * A message that needs SMTPUTF8 when the peer lacks it fails locally with
 * 550 5.6.7 for every recipient (no MAIL is sent; the connection stays
 * usable). A message larger than the peer's SIZE limit fails locally with
 * 552 5.3.4.
 */
#ifndef SMTP_SMTP_CLIENT_H
#define SMTP_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ev_loop;
struct ssl_ctx_st;
struct smtp_client;

/* Room for a reply's text (lines joined with one space, truncated). */
#define SMTP_CLIENT_TEXT_MAX 512

enum smtp_client_tls {
	SMTP_TLS_NONE,     /* never STARTTLS */
	SMTP_TLS_MAY,      /* STARTTLS when offered (opportunistic) */
	SMTP_TLS_ENCRYPT,  /* STARTTLS required; fail (4.7.4) without it */
};

/* The command (or phase) a reply answered or a failure happened in. */
enum smtp_client_stage {
	SMTP_CLIENT_STAGE_CONNECT,
	SMTP_CLIENT_STAGE_BANNER,
	SMTP_CLIENT_STAGE_HELO,      /* EHLO or HELO */
	SMTP_CLIENT_STAGE_STARTTLS,  /* the STARTTLS command */
	SMTP_CLIENT_STAGE_TLS,       /* the handshake */
	SMTP_CLIENT_STAGE_RSET,
	SMTP_CLIENT_STAGE_MAIL,
	SMTP_CLIENT_STAGE_RCPT,
	SMTP_CLIENT_STAGE_DATA,      /* the DATA command (354 expected) */
	SMTP_CLIENT_STAGE_BODY,      /* sending the message content */
	SMTP_CLIENT_STAGE_DATA_END,  /* the reply to the final "." */
	SMTP_CLIENT_STAGE_QUIT,
	SMTP_CLIENT_STAGE_LOCAL,     /* refused before sending (SIZE, SMTPUTF8) */
};

struct smtp_client_settings {
	const char *helo_name;          /* EHLO/HELO argument (myhostname); borrowed */
	struct ssl_ctx_st *tls_ctx;     /* from tls_client_ctx_new(); NULL = no TLS
	                                 * (with SMTP_TLS_ENCRYPT: every connection
	                                 * fails with 4.7.5); borrowed */
	enum smtp_client_tls tls;
	/* Seconds per stage (Postfix smtp_*_timeout); 0 = the Postfix default
	 * (30, 300, 300, 300, 120, 180, 600, 300). helo_timeout also covers
	 * the banner, STARTTLS and the handshake; data_xfer_timeout is a write
	 * progress timeout while the body goes out. */
	double connect_timeout, helo_timeout, mail_timeout, rcpt_timeout,
	    data_init_timeout, data_xfer_timeout, data_done_timeout, quit_timeout;
	const char *bind_address;       /* local source address or NULL; borrowed */
};

/*
 * One SMTP reply as the owner sees it, or a failure generated locally
 * (then `local` is set: connection lost, timeout, TLS failure, protocol
 * error, SIZE/SMTPUTF8 refusal).
 */
struct smtp_client_reply {
	int code;                       /* 250, 450, 550, ...; 4xx for local
	                                 * temporary failures */
	char enhanced[16];              /* "5.1.1"; "X.0.0" from the code's class
	                                 * when the server gave none */
	char text[SMTP_CLIENT_TEXT_MAX]; /* without code and enhanced code;
	                                 * multi-line replies joined with ' ' */
	enum smtp_client_stage stage;   /* what it answered / where it failed */
	bool local;
};

/* The peer's EHLO capabilities and the connection's TLS state. */
struct smtp_client_caps {
	bool esmtp;                     /* false: fell back to HELO */
	bool pipelining, size, eightbitmime, smtputf8, starttls, chunking,
	    enhancedstatuscodes, dsn;
	uint64_t size_max;              /* SIZE n; 0 = no limit given */
	bool tls;                       /* STARTTLS completed */
	char tls_desc[128];             /* conn_tls_describe(); "" plaintext */
};

/*
 * The message to send. All pointers are borrowed until `done`. The content
 * is `prefix` (e.g. a Received: header the owner adds; may be NULL) then
 * either `data`/`data_len` or, when `data` is NULL, `fd_len` bytes of `fd`
 * from `fd_offset` (read with pread() in chunks while the socket drains:
 * a big message is never loaded whole). The client dot-stuffs, turns bare
 * LF into CRLF, and ends the content with CRLF "." CRLF.
 */
struct smtp_client_msg {
	const char *mail_from;          /* "" for the null sender; no brackets */
	const char *const *rcpts;       /* no brackets */
	size_t n_rcpts;                 /* >= 1 */
	const char *prefix;
	size_t prefix_len;
	const char *data;
	size_t data_len;
	int fd;
	off_t fd_offset;
	size_t fd_len;
	uint64_t size;                  /* for SIZE=; 0 = prefix + data/fd length */
	bool body_8bit;                 /* BODY=8BITMIME wanted */
	bool smtputf8;                  /* needs SMTPUTF8 (UTF-8 addresses/headers) */
	const char *envid;              /* reserved (DSN); ignored for now */
};

/*
 * Outcome of one smtp_client_send(). rcpts[i] is the effective result for
 * msg->rcpts[i], what the owner acts on (2xx delivered, 4xx defer, 5xx
 * bounce): the RCPT reply when it refused the recipient, else the
 * message-level reply (DATA end reply, or the MAIL/DATA/connection
 * failure that ended the transaction). Valid during the callback only.
 */
struct smtp_client_result {
	struct smtp_client_reply reply; /* message level: the final "." reply on
	                                 * success, else what ended it */
	const struct smtp_client_reply *rcpts;
	size_t n_rcpts;
	size_t n_accepted;              /* recipients that got 2xx in the end */
	bool sent_8bit_unannounced;     /* 8-bit body, peer without 8BITMIME */
	bool reusable;                  /* smtp_client_send() may follow; false:
	                                 * `closed` follows */
};

/* Why a connection ended. */
struct smtp_client_end {
	struct smtp_client_reply reply; /* 221 for a clean QUIT; else the banner
	                                 * / EHLO refusal or local failure */
	bool clean;                     /* QUIT answered (or the owner's quit
	                                 * while idle) */
	bool ready_seen;                /* `ready` was called before */
	bool tls_failed;                /* SMTP_TLS_MAY and STARTTLS or the
	                                 * handshake failed: retry this host with
	                                 * SMTP_TLS_NONE */
};

struct smtp_client_callbacks {
	/* Greeting done (after STARTTLS when it happened); send a message. */
	void (*ready)(struct smtp_client *c, const struct smtp_client_caps *caps,
	    void *ud);
	/* The transaction ended (see struct smtp_client_result). */
	void (*done)(struct smtp_client *c, const struct smtp_client_result *r,
	    void *ud);
	/* The connection ended; the client is freed after this returns. */
	void (*closed)(struct smtp_client *c, const struct smtp_client_end *e,
	    void *ud);
};

/*
 * Starts connecting to `addr` (non-blocking). `peer_name` is the host
 * name for SNI/certificate checks and log text (e.g. "mx.example.com");
 * may be NULL (the address text is used). `set`, `cb` and their strings
 * are borrowed and must outlive the client. Returns NULL only when no
 * socket could be created at all (then *end_r, when not NULL, says why);
 * every later failure goes through `closed`.
 */
struct smtp_client *smtp_client_connect(struct ev_loop *loop,
    const struct sockaddr *addr, socklen_t addr_len, const char *peer_name,
    const struct smtp_client_settings *set,
    const struct smtp_client_callbacks *cb, void *ud,
    struct smtp_client_end *end_r);

/*
 * Sends one message. Only after `ready` or a `done` with r->reusable, and
 * one at a time. Returns 0 (done follows from the loop), or -1 when the
 * client is not idle or `m` is unusable (no recipient).
 */
int smtp_client_send(struct smtp_client *c, const struct smtp_client_msg *m);

/* QUIT when idle (closed follows, clean); while busy it aborts like a
 * lost connection (done with 4xx, then closed). */
void smtp_client_quit(struct smtp_client *c);

/* Aborts at once, no further callbacks; NULLs *c. Accepts NULL. Safe from
 * inside the client's callbacks. */
void smtp_client_free(struct smtp_client **c);

/* "mx.example.com[192.0.2.1]:25" for logs and diagnostics. Borrowed. */
const char *smtp_client_peer(const struct smtp_client *c);
/* Capabilities (valid after `ready`). */
const struct smtp_client_caps *smtp_client_caps(const struct smtp_client *c);

/*
 * Postfix-style diagnostic for DSNs and logs into `out`:
 * "host mx.example.com[192.0.2.1] said: 550 5.1.1 No such user (in reply
 * to RCPT TO command)", or the local text as is ("lost connection with
 * host mx.example.com[192.0.2.1] while sending RCPT TO"). Returns the
 * length or -1 when truncated (still NUL-terminated).
 */
int smtp_client_diag(const struct smtp_client *c,
    const struct smtp_client_reply *r, char *out, size_t size);

/* "RCPT TO", "end of DATA", ...; static. */
const char *smtp_client_stage_name(enum smtp_client_stage s);

/* ---- pure parts (smtp_client_proto.c; no I/O, fuzzed) ---- */

#define SMTP_CLIENT_REPLY_LINE_MAX 2048  /* longer reply lines: protocol error */
#define SMTP_CLIENT_REPLY_LINES_MAX 200  /* more lines in one reply: error */

/* Accumulates the lines of one (maybe multi-line) reply. */
struct smtp_reply_parser {
	int code;                       /* 0 until the first line */
	size_t lines;
	char enhanced[16];              /* from the first line, "" when none */
	char text[4096];                /* lines without code/enhanced, '\n'
	                                 * separated, truncated at the end */
	size_t text_len;
};

void smtp_reply_parser_init(struct smtp_reply_parser *p);
/*
 * Feeds one reply line without its CRLF (a trailing CR is tolerated).
 * Returns 1 when the reply is complete (code/enhanced/text final; call
 * init before the next), 0 when more lines follow, -1 on garbage (no
 * 3-digit code in 200..599, a code that changes within the reply, bad
 * separator, NUL, too many lines).
 */
int smtp_reply_parser_line(struct smtp_reply_parser *p, const char *line,
    size_t len);
/* Copy a complete reply into an owner-facing one (text lines joined with
 * spaces, control characters turned into spaces, X.0.0 defaulted). */
void smtp_reply_parser_export(const struct smtp_reply_parser *p,
    enum smtp_client_stage stage, struct smtp_client_reply *r);
/* EHLO keywords from a complete 250 reply's text lines. */
void smtp_client_parse_caps(const struct smtp_reply_parser *p,
    struct smtp_client_caps *caps);

/*
 * Dot-stuffing and CRLF normalization, streamed: feed any chunking of the
 * content, get the same output. smtp_dot_encode() appends at most
 * 2 * len bytes (bare LF and lone CR -> CRLF, '.' at a line start
 * doubled), so "\r.\r" can never end the data at the next hop.
 * smtp_dot_finish() appends the end: CRLF if the content did not end
 * with one, then ".\r\n". Both return 0, or -1 when `out` is full.
 */
struct smtp_dot_state {
	bool line_start;                /* init: true */
	bool prev_cr;
};
struct buf;
void smtp_dot_init(struct smtp_dot_state *st);
int smtp_dot_encode(struct smtp_dot_state *st, const char *in, size_t len,
    struct buf *out);
int smtp_dot_finish(struct smtp_dot_state *st, struct buf *out);

#endif
