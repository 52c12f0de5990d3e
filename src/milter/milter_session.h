/*
 * milter_session.h - one milter connection from an MTA: negotiation,
 * envelope and macros, the message assembled from headers and body
 * chunks, and the verdict packets after end-of-message.
 *
 * The session does not scan: at end-of-message it hands the message and
 * its envelope (as scan protocol request headers: IP, Helo, From, Rcpt,
 * Queue-Id, User, ...) to the owner's scan hook, which answers later with
 * milter_session_scan_done() and the /checkv2 reply object. Reading is
 * paused meanwhile (the MTA waits for the verdict anyway).
 */
#ifndef MILTER_MILTER_SESSION_H
#define MILTER_MILTER_SESSION_H

#include <stddef.h>

#include "milter/milter_map.h"

struct ev_loop;
struct http_header;
struct milter_session;
struct obj;

struct milter_settings {
	struct milter_map_opts map;
	size_t max_message;  /* larger messages are accepted unscanned */
	double timeout;      /* idle read / write stall, seconds; 0 = 120 */
};

struct milter_scan_request {
	const char *data;    /* the message; valid until scan_done */
	size_t len;
	const struct http_header *headers; /* envelope, scan protocol names */
	size_t n_headers;
	const char *log_id;  /* queue id or session id, for logs */
};

typedef void milter_scan_fn(struct milter_session *s,
    const struct milter_scan_request *req, void *ud);
typedef void milter_closed_fn(struct milter_session *s, void *ud);

/*
 * Takes ownership of `fd`. `closed` is called once when the session has
 * ended (the session is freed right after it returns).
 */
struct milter_session *milter_session_new(struct ev_loop *loop, int fd,
    const struct milter_settings *set, milter_scan_fn *scan,
    milter_closed_fn *closed, void *ud);

/* The scan hook's answer: `reply` (borrowed) is the /checkv2 reply object,
 * NULL when the scan failed (-> TEMPFAIL). */
void milter_session_scan_done(struct milter_session *s, const struct obj *reply);

/* Ends the session unless a scan is running (then it ends once the verdict
 * has been sent). Used by a stopping worker. */
void milter_session_shutdown(struct milter_session *s);

#endif
