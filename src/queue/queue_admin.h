/*
 * queue_admin.h - operator actions on the spool, shared by
 * `rspamadm queue` and the controller's /queue endpoints so both see and
 * do exactly the same thing: list (postqueue -p / -j), show one message
 * (postcat -q), flush (postqueue -f), delete (postsuper -d), hold and
 * release (postsuper -h / -H).
 *
 * Ownership rule: active/ belongs to the running queue manager (it has
 * the file open and will move or remove it when the delivery attempt
 * ends), so delete and hold refuse a message in active/ with
 * QUEUE_ADMIN_BUSY; the operator retries once the attempt is over (it
 * then sits in deferred/ or is gone). Every id is checked with
 * spool_id_valid() before any path is built (the spool checks again).
 *
 * Flush moves deferred/ to incoming/: the queue manager watches
 * incoming/ with inotify and retries at once. Release moves hold/ to
 * incoming/ for the same reason (Postfix releases to deferred/ and needs
 * a flush; here one step does both).
 */
#ifndef QUEUE_QUEUE_ADMIN_H
#define QUEUE_QUEUE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/spool.h"

struct obj;
struct buf;

enum queue_admin_err {
	QUEUE_ADMIN_OK,
	QUEUE_ADMIN_INVALID_ID, /* not [0-9A-F]{12,20} */
	QUEUE_ADMIN_NOT_FOUND,  /* in no queue (or not in the expected one) */
	QUEUE_ADMIN_BUSY,       /* in active/: owned by the queue manager */
	QUEUE_ADMIN_CORRUPT,    /* unparsable: moved to corrupt/ by the spool */
	QUEUE_ADMIN_IO,         /* rename/unlink failed (errno kept) */
};

/* Short English text for an error ("invalid queue id", ...). */
const char *queue_admin_strerror(enum queue_admin_err err);

/*
 * Builds the queue listing as an array of objects, one per message in
 * incoming/, active/, deferred/ and hold/ (corrupt/ is not listed),
 * oldest arrival first. Fields follow `postqueue -j`:
 *   queue_name ("incoming"|"active"|"deferred"|"hold"), queue_id,
 *   arrival_time (int), message_size (int), sender, attempts (int),
 *   next_attempt (int, 0 = none), junk (bool),
 *   recipients: [{address, orig_address, status
 *                 ("pending"|"delivered"|"failed"|"deferred"),
 *                 delay_reason (the last reply, "" if none)}]
 * Messages that vanish while listing (delivered meanwhile) are skipped.
 * Returns a new array (caller frees with obj_free), never NULL.
 */
struct obj *queue_admin_list(struct spool *spool);

/*
 * One message as an object: the fields above plus client_ip, helo,
 * auth_user, attrs {key: value}, and "headers" (the header section as a
 * string) or, with whole = true, "message" (all message bytes, up to
 * max_bytes when max_bytes != 0; "truncated": true then). The message is
 * looked up in every queue (active/ included: reading is harmless).
 * NULL with *err_r on failure.
 */
struct obj *queue_admin_show(struct spool *spool, const char *id, bool whole,
    uint64_t max_bytes, enum queue_admin_err *err_r);

/*
 * Appends `postcat -q`-style text to out: "*** ENVELOPE RECORDS id ***"
 * with one "name: value" line per fact, then "*** MESSAGE CONTENTS id ***"
 * and the message bytes, then "*** END OF MESSAGE ***". 0 or -1 (*err_r).
 */
int queue_admin_cat(struct spool *spool, const char *id, struct buf *out,
    enum queue_admin_err *err_r);

/* deferred/ -> incoming/ for every message; *moved_r counts them. */
int queue_admin_flush(struct spool *spool, unsigned *moved_r);

/*
 * Deletes id from incoming/, deferred/ or hold/ (BUSY in active/).
 * 0 or -1 with *err_r.
 */
int queue_admin_delete(struct spool *spool, const char *id,
    enum queue_admin_err *err_r);

/*
 * Deletes every message of `queue` (SPOOL_INCOMING, SPOOL_DEFERRED or
 * SPOOL_HOLD), or of all three when queue == SPOOL_QUEUE_COUNT. Never
 * touches active/. *deleted_r counts the files removed. 0 or -1.
 */
int queue_admin_delete_all(struct spool *spool, enum spool_queue queue,
    unsigned *deleted_r);

/* incoming/ or deferred/ -> hold/ (a message already on hold is OK). */
int queue_admin_hold(struct spool *spool, const char *id,
    enum queue_admin_err *err_r);

/* hold/ -> incoming/ (NOT_FOUND unless it is on hold). */
int queue_admin_release(struct spool *spool, const char *id,
    enum queue_admin_err *err_r);

#endif
