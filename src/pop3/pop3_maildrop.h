/*
 * pop3_maildrop.h - the POP3 view of a mailbox (internal to src/pop3/):
 * the INBOX as it was at login, numbered 1..n, with sizes, stable UIDL
 * strings and deletion marks, over store/mailbox.h.
 *
 * Opening takes the mailbox's POP3 lock (one POP3 session per maildrop,
 * RFC 1939 section 8); closing releases it. Only pop3_maildrop_commit()
 * removes messages.
 */
#ifndef POP3_POP3_MAILDROP_H
#define POP3_POP3_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pop3_maildrop;

enum pop3_open_result {
	POP3_OPEN_OK,
	POP3_OPEN_BUSY,  /* another POP3 session holds the lock */
	POP3_OPEN_ERROR, /* I/O or a broken mailbox: temporary */
};

/* Opens `root`'s INBOX (created when missing). *error_r is static. */
enum pop3_open_result pop3_maildrop_open(const char *root,
    struct pop3_maildrop **md_r, const char **error_r);
/* Releases the lock without removing anything; NULLs *md. NULL is fine. */
void pop3_maildrop_close(struct pop3_maildrop **md);

unsigned pop3_maildrop_count(const struct pop3_maildrop *md);
/* Size in octets as RETR sends it (CRLF line ends, before stuffing). */
uint64_t pop3_maildrop_size(const struct pop3_maildrop *md, unsigned i);
/* The UIDL string (1..70 printable bytes), borrowed. */
const char *pop3_maildrop_uidl(const struct pop3_maildrop *md, unsigned i);
/* i is 0-based throughout. */
bool pop3_maildrop_deleted(const struct pop3_maildrop *md, unsigned i);
void pop3_maildrop_set_deleted(struct pop3_maildrop *md, unsigned i, bool deleted);

/* A read-only fd on message i (caller closes), or -1 when it vanished.
 * `retrieve` (RETR, not TOP): \Seen is set at commit. */
int pop3_maildrop_open_msg(struct pop3_maildrop *md, unsigned i, bool retrieve);

/* Removes the marked messages (UPDATE state). 0, or -1 when some could
 * not be removed (*error_r static). */
int pop3_maildrop_commit(struct pop3_maildrop *md, const char **error_r);

#endif
