/*
 * spool.h - the durable mail queue: one file per message under
 * <state>/spool/{incoming,active,deferred,hold,corrupt}, plus tmp/ for
 * files being written (DESIGN.md sections 5 and 6).
 *
 * Life of a message: an SMTP worker opens a writer (a temp file in tmp/),
 * streams the message bytes into it and commits it with its envelope; the
 * commit fsyncs the file, links it into incoming/<id> and fsyncs incoming/,
 * and only then may SMTP answer 250. The queue manager lists incoming/,
 * moves files to active/, opens them, delivers, records per-recipient
 * progress with spool_update_envelope() and finally removes the file or
 * moves it to deferred/ or hold/. Every state change is a rename or a
 * rewrite-then-rename followed by a directory fsync, so a crash at any
 * instant leaves each message in exactly one queue with an envelope that
 * is either the old or the new one.
 *
 * File layout (version 1): a fixed 32-byte preamble
 *     "RSMQ1 " <16 hex digits: message length> <9 spaces> "\n"
 * then the raw message bytes, then the envelope records, the last one
 * being "E:\n" at end of file. The envelope comes last because the
 * facts it records (size, junk flag from the end-of-DATA scan) are only
 * known once the message has been streamed; putting it last keeps the
 * message written once. A truncated file lacks the E record and is
 * detected. Records are "X:value\n"; every value is %XX-escaped for
 * bytes outside 0x21..0x7e and for '%', so CR, LF, NUL, ':' or spaces in
 * addresses can never forge records.
 *
 * Queue IDs are 19 upper-case hex digits (seconds, microseconds, random);
 * spool_id_valid() accepts [0-9A-F]{12,20}. Every function that takes an
 * id validates it and refuses to build a path otherwise.
 *
 * Strings in an envelope are `struct str` views. For writing, they borrow
 * the caller's memory. Envelopes returned by the reader are allocated in
 * the caller's pool and every view is also NUL-terminated after its
 * length (addresses may still contain NULs: check len if it matters).
 *
 * Thread/process model: any number of writers (SMTP workers) and one queue
 * manager per spool. Writers only create files in tmp/ and incoming/.
 */
#ifndef QUEUE_SPOOL_H
#define QUEUE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/str.h"

struct pool;
struct buf;
struct spool;
struct spool_writer;

enum spool_queue {
	SPOOL_INCOMING,
	SPOOL_ACTIVE,
	SPOOL_DEFERRED,
	SPOOL_HOLD,
	SPOOL_CORRUPT,
	SPOOL_QUEUE_COUNT,
};

/* "incoming", ...; spool_queue_parse() is the inverse (-1 if unknown). */
const char *spool_queue_name(enum spool_queue queue);
int spool_queue_parse(const char *name, enum spool_queue *queue_r);

/* Why a call failed, for callers that must answer differently. */
enum spool_err {
	SPOOL_ERR_NONE,
	SPOOL_ERR_INVALID_ID, /* id failed spool_id_valid() */
	SPOOL_ERR_NOT_FOUND,  /* no such file in that queue */
	SPOOL_ERR_CORRUPT,    /* unparsable: moved to corrupt/ and logged */
	SPOOL_ERR_TOO_BIG,    /* writer: more than max_size bytes written */
	SPOOL_ERR_IO,         /* open/write/fsync/rename failed (errno kept) */
};

#define SPOOL_ID_MIN_LEN 12
#define SPOOL_ID_MAX_LEN 20
#define SPOOL_ID_SIZE (SPOOL_ID_MAX_LEN + 1)

/* Limits the parser enforces (the writer refuses to write beyond them). */
#define SPOOL_ENVELOPE_MAX (4u * 1024 * 1024)
#define SPOOL_RCPT_MAX 10000
#define SPOOL_ATTR_MAX 256
#define SPOOL_ATTR_KEY_MAX 64

/* True for [0-9A-F]{12,20}, NUL-terminated; NULL is invalid. */
bool spool_id_valid(const char *id);

/*
 * Envelope.
 */
enum spool_rcpt_status {
	SPOOL_RCPT_PENDING,
	SPOOL_RCPT_DELIVERED,
	SPOOL_RCPT_FAILED,   /* permanent failure: bounce it */
	SPOOL_RCPT_DEFERRED, /* temporary failure: retry later */
};

/* "pending", "delivered", "failed", "deferred". */
const char *spool_rcpt_status_name(enum spool_rcpt_status status);

struct spool_rcpt {
	struct str orig;   /* the address as given in RCPT TO */
	struct str addr;   /* final delivery address (after aliases) */
	enum spool_rcpt_status status;
	struct str reply;  /* last reply text for this recipient, may be empty */
};

/* Extensible key=value facts (retry count, next attempt, DSN data...).
 * Keys are [a-z0-9_.-]{1,64}; values are any bytes. */
struct spool_attr {
	struct str key;
	struct str value;
};

#define SPOOL_FLAG_JUNK 0x1u /* deliver into the Junk folder */
#define SPOOL_FLAGS_KNOWN SPOOL_FLAG_JUNK

struct spool_envelope {
	struct str sender;     /* "" = null sender (bounces) */
	struct spool_rcpt *rcpts;
	size_t rcpt_count;
	size_t rcpt_cap;
	int64_t arrival;       /* time(2) of acceptance */
	struct str client_ip;  /* for logs and Received: context */
	struct str helo;
	struct str auth_user;  /* empty when not authenticated */
	unsigned flags;        /* SPOOL_FLAG_* */
	uint64_t size;         /* message bytes (set by the spool on write) */
	struct spool_attr *attrs;
	size_t attr_count;
	size_t attr_cap;
};

/* Zeroes *env (no allocation). */
void spool_envelope_init(struct spool_envelope *env);

/*
 * Appends a recipient with status pending and an empty reply. The views
 * are borrowed (not copied); the rcpt array grows in `pool`. Returns the
 * new entry, or NULL at SPOOL_RCPT_MAX or the pool's cap.
 */
struct spool_rcpt *spool_envelope_add_rcpt(struct pool *pool,
    struct spool_envelope *env, struct str orig, struct str addr);

/*
 * Sets (or replaces) an attribute. The key must be valid (see above); both
 * views are copied into `pool`. -1 on a bad key, SPOOL_ATTR_MAX or cap.
 */
int spool_envelope_set_attr(struct pool *pool, struct spool_envelope *env,
    const char *key, struct str value);
int spool_envelope_set_attr_u64(struct pool *pool, struct spool_envelope *env,
    const char *key, uint64_t value);
/* The value view, or NULL when absent. Borrowed from env. */
const struct str *spool_envelope_get_attr(const struct spool_envelope *env,
    const char *key);
/* 1 found and parsed, 0 absent, -1 present but not a decimal number. */
int spool_envelope_get_attr_u64(const struct spool_envelope *env,
    const char *key, uint64_t *value_r);

/*
 * Serializes env (with `size` as the size field; env->size is ignored)
 * into `out` as the records described above, "E:\n" last. -1 when out's
 * maximum is reached or env breaks a limit.
 */
int spool_envelope_format(const struct spool_envelope *env, uint64_t size,
    struct buf *out);

/*
 * Pure parser for the records (exactly the bytes spool_envelope_format()
 * produced: from the first record through the final "E:\n", nothing after).
 * Never reads outside data[0..len). Results are allocated in `pool`.
 * Returns 0, or -1 with a static reason in *error_r.
 */
int spool_envelope_parse(const char *data, size_t len, struct pool *pool,
    struct spool_envelope *env_r, const char **error_r);

/*
 * The spool.
 */

/*
 * Opens the spool rooted at `root` (normally <state>/spool), creating the
 * queue directories and tmp/ (mode 0750) where missing. -1 with a heap
 * *error_r (caller frees).
 */
int spool_open(const char *root, struct spool **spool_r, char **error_r);
void spool_close(struct spool **spool);
/* Borrowed from the spool. */
const char *spool_root(const struct spool *spool);

/*
 * Writer. begin: creates a temp file in tmp/ (invisible to readers).
 * write: appends message bytes; -1 on I/O error or once more than
 * max_size bytes (0 = unlimited) have been written (SPOOL_ERR_TOO_BIG;
 * keep draining the client, then abort). commit: appends the envelope,
 * fsyncs, links the file into incoming/<id> under a fresh unique id,
 * fsyncs incoming/; on success id_r holds the NUL-terminated id and the
 * message is durable. commit and abort both free the writer.
 */
int spool_writer_begin(struct spool *spool, uint64_t max_size,
    struct spool_writer **w_r);
int spool_writer_write(struct spool_writer *w, const void *data, size_t len);
uint64_t spool_writer_size(const struct spool_writer *w);
enum spool_err spool_writer_error(const struct spool_writer *w);
int spool_writer_commit(struct spool_writer **w, const struct spool_envelope *env,
    char id_r[SPOOL_ID_SIZE], enum spool_err *err_r);
void spool_writer_abort(struct spool_writer **w);

/*
 * Reader. The message bytes are body_len bytes at body_offset in fd
 * (pread or mmap them; maildir_deliver_fd() takes them as they are).
 * env->size == body_len. The envelope is allocated in the caller's pool.
 */
struct spool_message {
	char id[SPOOL_ID_SIZE];
	enum spool_queue queue;
	int fd;
	off_t body_offset;
	uint64_t body_len;
	struct spool_envelope env;
};

/*
 * Opens queue/id. A file that does not parse is moved to corrupt/ with a
 * log line (SPOOL_ERR_CORRUPT); it is never deleted. Returns 0 or -1 with
 * *err_r (may be NULL). On success close with spool_message_close().
 */
int spool_open_message(struct spool *spool, enum spool_queue queue,
    const char *id, struct pool *pool, struct spool_message *msg_r,
    enum spool_err *err_r);
void spool_message_close(struct spool_message *msg);

/*
 * Calls cb(id, ctx) for every valid id in `queue` (order unspecified);
 * names that are not valid ids are skipped with a warning. A non-zero
 * return from cb stops the walk. Returns the number of ids visited, or -1.
 */
typedef int spool_list_cb(const char *id, void *ctx);
int spool_list(struct spool *spool, enum spool_queue queue, spool_list_cb *cb,
    void *ctx);

/* Does queue/id exist? (id validated; invalid ids are never present.) */
bool spool_exists(struct spool *spool, enum spool_queue queue, const char *id);
/* Which queue holds id: 0 and *queue_r, or -1 (not found / invalid). */
int spool_find(struct spool *spool, const char *id, enum spool_queue *queue_r);

/* rename from/id -> to/id, then fsync both directories. 0 or -1 (*err_r). */
int spool_move(struct spool *spool, const char *id, enum spool_queue from,
    enum spool_queue to, enum spool_err *err_r);

/*
 * Group commit for the queue manager, which handles messages in batches:
 * spool_claim() renames incoming/id -> active/id without fsync (a crash
 * may put the message back in incoming/: delivered again at worst, which
 * DESIGN.md allows); spool_remove_nosync() unlinks without fsync, and one
 * spool_sync_queue() afterwards makes a whole batch of removals durable.
 * A queue file must only be removed after its deliveries are durable.
 */
int spool_claim(struct spool *spool, const char *id, enum spool_err *err_r);
int spool_remove_nosync(struct spool *spool, enum spool_queue queue,
    const char *id, enum spool_err *err_r);
int spool_sync_queue(struct spool *spool, enum spool_queue queue);

/*
 * Durably replaces the envelope of queue/id (message bytes unchanged):
 * copies the message into a temp file, appends the new envelope, fsyncs,
 * renames over the old file, fsyncs the directory. Used to record
 * per-recipient progress, so a crash after delivering to some recipients
 * redelivers at most to the one in flight. 0 or -1 (*err_r).
 */
int spool_update_envelope(struct spool *spool, enum spool_queue queue,
    const char *id, const struct spool_envelope *env, enum spool_err *err_r);

/* unlink queue/id and fsync the directory. 0 or -1 (*err_r). */
int spool_remove(struct spool *spool, enum spool_queue queue, const char *id,
    enum spool_err *err_r);

/* Moves queue/id to corrupt/ and logs `reason` (never deletes). 0 or -1. */
int spool_quarantine(struct spool *spool, enum spool_queue queue,
    const char *id, const char *reason);

/*
 * Queue manager start-up: everything in active/ goes back to incoming/
 * (it was being delivered when we died; per-recipient status in the
 * envelope prevents redelivery), and temp files in tmp/ whose writer
 * process is gone are removed. Stray non-id names in queues are left
 * alone. Counts are returned when the pointers are non-NULL.
 */
int spool_recover(struct spool *spool, unsigned *requeued_r,
    unsigned *temp_removed_r);

#endif
