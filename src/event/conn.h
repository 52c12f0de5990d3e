/*
 * conn.h - a buffered, non-blocking stream connection on a caller-supplied
 * libev loop (never EV_DEFAULT).
 *
 * The connection reads into an input buffer with a hard maximum, writes
 * from an output buffer with a hard maximum, and enforces an idle read
 * timeout (while reading is enabled) and a write-progress timeout (while
 * output is pending). Everything is reported through one callback with an
 * event code; the callback is never called from inside conn_* functions
 * the owner calls (events are delivered from the loop), so the owner never
 * sees re-entrant callbacks. The owner may conn_free() from within the
 * callback.
 *
 * TLS (OpenSSL) sits between the socket and the buffers once started with
 * conn_tls_accept() (server: STARTTLS, or at once for implicit TLS) or
 * conn_tls_connect() (client). The owner keeps using the same buffers and
 * events; CONN_EV_TLS_READY reports a finished handshake, a failed one is
 * CONN_EV_ERROR.
 */
#ifndef EVENT_CONN_H
#define EVENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "core/buf.h"

struct ev_loop;
struct conn;
struct conn_tls; /* reserved for TLS */

enum conn_event {
	CONN_EV_DATA_IN,  /* new bytes appended to conn_input() */
	CONN_EV_DRAINED,  /* output buffer became empty after a write */
	CONN_EV_TIMEOUT,  /* read idle or write stall timeout */
	CONN_EV_CLOSED,   /* peer sent EOF; writing may still work (half-close) */
	CONN_EV_ERROR,    /* socket error, or input buffer full while reading */
	CONN_EV_TLS_READY, /* TLS handshake completed */
};

typedef void conn_callback_fn(struct conn *c, enum conn_event ev, void *ud);

struct conn_settings {
	size_t max_input;     /* 0 = 1 MiB; reading pauses itself when full */
	size_t max_output;    /* 0 = unlimited */
	double read_timeout;  /* seconds; 0 = none */
	double write_timeout; /* seconds; 0 = none */
};

/*
 * Takes ownership of `fd` (made non-blocking here; closed by conn_free()).
 * Reading starts enabled. `peer` may be NULL (then getpeername() is used).
 */
struct conn *conn_new(struct ev_loop *loop, int fd,
    const struct sockaddr *peer, socklen_t peer_len,
    const struct conn_settings *settings, conn_callback_fn *cb, void *ud);
/* Stops watchers, closes the fd, frees buffers; NULLs *c. Accepts NULL.
 * Safe from inside the connection's own callback. */
void conn_free(struct conn **c);

void conn_set_callback(struct conn *c, conn_callback_fn *cb, void *ud);
void conn_set_timeouts(struct conn *c, double read_timeout, double write_timeout);

/*
 * Received bytes not yet consumed. The owner removes what it used with
 * buf_consume(). When the buffer reaches max_input, reading stops until the
 * owner consumes something and calls conn_resume_read(); if the owner
 * consumed nothing, the connection reports CONN_EV_ERROR.
 */
struct buf *conn_input(struct conn *c);

/*
 * Queue bytes for sending (sent as soon as the socket allows; maybe right
 * away). Returns 0, or -1 when max_output would be exceeded or the
 * connection already failed. CONN_EV_DRAINED follows once all is sent.
 */
int conn_write(struct conn *c, const void *data, size_t len);
/* As conn_write for several pieces, sent together (one reply = one
 * segment where possible: avoids Nagle/delayed-ACK stalls). */
int conn_writev(struct conn *c, const struct iovec *iov, int n);
size_t conn_output_pending(const struct conn *c);
/* Stop reading; once output is drained, shut down and report
 * CONN_EV_CLOSED (the owner then frees the connection). */
void conn_close_after_drain(struct conn *c);

void conn_pause_read(struct conn *c);
void conn_resume_read(struct conn *c);
bool conn_read_paused(const struct conn *c);
/* The peer sent EOF (CONN_EV_CLOSED was or will be reported). */
bool conn_eof(const struct conn *c);

int conn_fd(const struct conn *c);
const struct sockaddr_storage *conn_peer(const struct conn *c, socklen_t *len_r);
/* "1.2.3.4", "::1", or "unix:" for unix-socket peers. Borrowed. */
const char *conn_peer_text(const struct conn *c);
int conn_peer_port(const struct conn *c);
bool conn_peer_is_unix(const struct conn *c);
/*
 * Start TLS on this connection with `ctx` (an SSL_CTX *, see event/tls.h).
 * Output already queued is sent in plaintext first (the "220 Ready to
 * start TLS" reply), then the handshake runs; input still buffered is
 * discarded (bytes pipelined after STARTTLS must never be taken as if
 * they came over TLS). CONN_EV_TLS_READY follows, or CONN_EV_ERROR.
 * `sni` (client side) may be NULL. Returns -1 if TLS is already active
 * or SSL could not be set up.
 *
 * As implemented:
 * - Callable from inside the callback (e.g. on the STARTTLS line); the
 *   handshake starts from the loop. The plaintext prefix gets no
 *   CONN_EV_DRAINED of its own; TLS_READY implies it went out.
 * - conn_write() during the handshake queues; the bytes go out encrypted
 *   after TLS_READY (then DRAINED as usual). No DATA_IN before TLS_READY.
 * - The read timeout bounds the handshake even while reading is paused;
 *   an expiry is CONN_EV_TIMEOUT as usual.
 * - Handshake failure (garbage, protocol or certificate mismatch, EOF):
 *   CONN_EV_ERROR, the reason logged at info under component "tls".
 * - After TLS_READY: the peer's close_notify, and also a plain EOF without
 *   one, is CONN_EV_CLOSED; a bad record is CONN_EV_ERROR.
 * - conn_close_after_drain() sends the queued output, then close_notify,
 *   then half-closes and reports CONN_EV_CLOSED when the peer's
 *   close_notify/EOF arrives (or after the usual linger). Called before
 *   the handshake finished, it drops TLS: the plaintext prefix still goes
 *   out, output queued for after the handshake is discarded.
 * - conn_free() is abrupt: no close_notify.
 * - The client side checks the certificate against `sni` (host name or
 *   address literal) when the context verifies; SNI itself is only sent
 *   for host names.
 */
struct ssl_ctx_st;
int conn_tls_accept(struct conn *c, struct ssl_ctx_st *ctx);
int conn_tls_connect(struct conn *c, struct ssl_ctx_st *ctx, const char *sni);
/* TLS handshake completed and active. */
bool conn_tls_active(const struct conn *c);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" style text
 * for Received: headers and logs; "" when TLS is not active. */
void conn_tls_describe(const struct conn *c, char *out, size_t size);
/* The TLS state, NULL while plaintext. */
struct conn_tls *conn_tls(const struct conn *c);

/* Fill `out` (>= 64 bytes) with the text form of `sa` (no port). */
void conn_addr_to_text(const struct sockaddr *sa, char *out, size_t size);

#endif
