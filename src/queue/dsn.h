/*
 * dsn.h - delivery status notifications ("bounces", RFC 3464) built as
 * complete RFC 5322 messages, ready to be queued.
 *
 * The builder is pure: it takes the facts (queue id, host name, sender,
 * recipients with their last reply, the original message bytes and the
 * current time) and appends the notification to a `struct buf`. It does
 * no I/O, reads no clock and no config, so it can be unit tested and
 * fuzzed. dsn_load_original() is the one helper that reads a file: it
 * fetches the part of the original message a DSN can return.
 *
 * Produced message:
 *     From: "Mail Delivery System" <MAILER-DAEMON@myhostname>
 *     To: <original envelope sender>
 *     Subject: Undelivered Mail Returned to Sender         (DSN_FAILED)
 *              Delayed Mail (still being retried)          (DSN_DELAYED)
 *     Date, Message-ID, Auto-Submitted: auto-replied, MIME-Version
 *     Content-Type: multipart/report; report-type=delivery-status
 *       1. text/plain: human-readable explanation, one paragraph per
 *          recipient with the remote server's reply
 *       2. message/delivery-status: Reporting-MTA, X-Queue-ID,
 *          Arrival-Date; per recipient Final-Recipient, Original-Recipient
 *          (when it differs), Action, Status, Remote-MTA (when known),
 *          Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until (delays)
 *       3. the original message as message/rfc822 when it is at most
 *          return_max bytes (and headers_only is false), otherwise its
 *          header section as text/rfc822-headers.
 * Every line ends in CRLF. Reply texts are sanitized (CR, LF, NUL and
 * other control bytes become spaces; 8-bit bytes become '?', since the
 * delivery-status part is 7-bit) and long header fields are folded below
 * 78 columns where there is whitespace to fold at.
 *
 * ENVELOPE OF THE BOUNCE (caller's job): queue the result with the NULL
 * sender ("") and the original envelope sender as the only recipient.
 *
 * NEVER BOUNCE A BOUNCE: before building, the caller MUST check
 * dsn_should_bounce(env->sender). A message with the null sender is
 * itself a notification; a failure to deliver it is logged and the
 * message dropped (Postfix sends it to the postmaster at most), otherwise
 * two MTAs could bounce each other's bounces forever. dsn_build() also
 * refuses a null sender (returns -1) as a second line of defence.
 */
#ifndef QUEUE_DSN_H
#define QUEUE_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/str.h"

struct buf;

enum dsn_kind {
	DSN_FAILED,  /* permanent failure: "Undelivered Mail Returned..." */
	DSN_DELAYED, /* delay warning: the message is still queued */
};

/* Default cap for returning the whole original message (RFC 3464
 * leaves it to the MTA; above it only the headers are returned). */
#define DSN_RETURN_MAX_DEFAULT (100u * 1024)

/* "x.y.z" with each part up to 3 digits, plus NUL. */
#define DSN_STATUS_SIZE 12

struct dsn_rcpt {
	struct str orig;       /* address as given in RCPT TO (may be empty) */
	struct str addr;       /* final recipient address */
	struct str reply;      /* remote reply ("550 5.1.1 <x>: unknown") or
	                        * a local reason; may be empty */
	struct str remote_mta; /* host that gave the reply; empty if local or
	                        * unknown (no Remote-MTA field then) */
	struct str status;     /* explicit "x.y.z"; empty = derive it from
	                        * reply (see dsn_status_from_reply), falling
	                        * back to 5.0.0 (FAILED) / 4.0.0 (DELAYED) */
	int64_t last_attempt;  /* time(2) of the last attempt; 0 = `now` */
};

struct dsn_message {
	enum dsn_kind kind;
	const char *queue_id;     /* id of the ORIGINAL message (X-Queue-ID) */
	const char *myhostname;   /* Reporting-MTA, From: domain, Message-ID */
	struct str sender;        /* original envelope sender = To: */
	int64_t arrival;          /* time(2) the original was accepted */
	int64_t now;              /* time(2) for Date: and defaults */
	int64_t will_retry_until; /* DSN_DELAYED: arrival + maximal_queue_lifetime
	                           * (0 = field omitted) */
	const struct dsn_rcpt *rcpts; /* borrowed; rcpt_count >= 1 */
	size_t rcpt_count;
	/* Original message: `original` holds its first bytes (all of them, or
	 * at least return_max + 1 bytes, or enough to contain the header
	 * section); original_size is its full size. dsn_load_original()
	 * fills these from a spool file. */
	struct str original;
	uint64_t original_size;
	size_t return_max;        /* 0 = DSN_RETURN_MAX_DEFAULT */
	bool headers_only;        /* RET=HDRS: never return the body */
	/* Optional unique token for the Message-ID's local part (e.g. the
	 * bounce's own queue id); NULL = derived from now + queue_id + kind. */
	const char *message_id_token;
};

/*
 * True unless `sender` is the null reverse-path ("" or "<>"): only
 * messages with a real sender may be bounced (see NEVER BOUNCE A BOUNCE).
 */
bool dsn_should_bounce(struct str sender);

/*
 * Status code for an SMTP reply: the RFC 3463 enhanced code right after
 * the basic code ("550 5.1.1 ..." or "550-5.1.1 ...") when its class
 * agrees with the basic code's first digit; otherwise derived from the
 * basic code (2xx -> 2.0.0, 4xx -> 4.0.0, 5xx -> 5.0.0). Leading spaces
 * are skipped. Returns 1 (enhanced code found), 0 (derived from the
 * basic code) or -1 (no reply code: status_r is set to "").
 */
int dsn_status_from_reply(struct str reply, char status_r[DSN_STATUS_SIZE]);

/*
 * Appends the complete notification (headers and body, CRLF line ends)
 * to `out`. `m` and everything it points to is borrowed. Returns 0, or -1
 * with a static reason in *error_r (null sender, no recipients, missing
 * queue_id/myhostname, or out's maximum reached; out may then hold a
 * partial message: reset it).
 */
int dsn_build(const struct dsn_message *m, struct buf *out,
    const char **error_r);

/*
 * Reads what dsn_build() needs of an original message stored as `len`
 * bytes at `offset` in `fd` (a spool file: spool_message.fd, body_offset,
 * body_len) into `out` (reset first): the whole message when
 * len <= return_max (0 = default), else the first return_max + 1 bytes
 * (enough for the header section in all but pathological messages; the
 * builder returns the complete header lines it finds there). Uses
 * pread(2), so the fd's offset is untouched. 0 or -1 (errno set).
 * Then set m->original = (out->data, out->len), m->original_size = len.
 */
int dsn_load_original(int fd, off_t offset, uint64_t len, size_t return_max,
    struct buf *out);

#endif
