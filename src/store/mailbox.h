/*
 * mailbox.h - the mailbox store IMAP and POP3 work on: Maildir++ folders
 * (maildir.h) plus a per-folder index giving stable UIDs, UIDVALIDITY,
 * UIDNEXT, flags, keywords, internal dates, sizes, MODSEQs, and a cache of
 * strings the IMAP code computes (envelope, bodystructure) so FETCH does
 * not re-parse messages. Also folder names, folder listing/creation/
 * renaming/deletion, subscriptions, STATUS, and the POP3 maildrop lock.
 *
 * Names. Callers pass UTF-8 mailbox names with '/' as the hierarchy
 * separator (the IMAP code converts modified UTF-7). "INBOX" (any case)
 * is the Maildir root; "A/B" is the directory <root>/.A.B. Inside one
 * component, '.', '%', '/' and bytes < 0x20 or 0x7f are stored as %XX
 * (so "a.b" is <root>/.a%2Eb); everything else, UTF-8 included, is kept
 * as it is. Refused: "", empty components ("a//b", "/a", "a/"), "." and
 * ".." components, control bytes, invalid UTF-8, names over
 * MAILBOX_NAME_MAX. A first component equal to "INBOX" in any case is
 * normalized to "INBOX" ("inbox/x" and "INBOX/x" are the same folder).
 *
 * Files in each folder directory (INBOX: the root):
 *   rsm-index   the index (text, format in mailbox_index.c), replaced
 *               atomically (write temp, rename). Not fsynced: it can be
 *               rebuilt from the message file names (below).
 *   rsm-cache   append-only cache records (uid, key, bytes); a cache.
 *   rsm-lock    the lock file (flock).
 * Message files in cur/ are named "<base>,U=<uid>:2,<flags>", so the UID
 * survives the loss of the index. Flag letters are Maildir's, sorted:
 * D draft, F flagged, R answered, S seen, T deleted (P is kept when
 * another program sets it). The file name is the truth for flags; the
 * index copy exists to detect changes (MODSEQ, untagged FETCH).
 *
 * Concurrency (several IMAP sessions, POP3, delivery, other programs):
 * - Delivery (maildir_deliver) takes no lock: it links a complete file
 *   into new/. The next sync of any session picks it up.
 * - Every index read-modify-write, every rename/unlink of a message file
 *   we do, happens under flock(LOCK_EX) on rsm-lock, held only for one
 *   call (a few ms); the index is replaced by rename, so a reader never
 *   sees half of it.
 * - mailbox_sync() is cheap when nothing changed: it compares the stat of
 *   rsm-index, new/ and cur/ with what it saw last and returns without
 *   locking or reading. Directory mtimes younger than 2 s are not trusted
 *   (file systems with coarse timestamps), so the next sync rescans.
 * - New messages get UIDs in arrival order (delivery time in the name,
 *   then mtime, then name). A read-write open or sync moves them from
 *   new/ to cur/; a read-only one (EXAMINE) assigns UIDs but leaves the
 *   files where they are.
 * - \Recent: a message is recent for the first read-write session that
 *   syncs after it arrived (the index keeps the first UID not yet
 *   claimed); read-only sessions and STATUS see it as recent without
 *   claiming it.
 * Lost or damaged index: rebuilt from the directory under the lock.
 * UIDVALIDITY then changes (we cannot prove UIDs were never reused), but
 * messages keep the UIDs in their names (",U="); new files get higher
 * ones. An index older than the files (crash after a rename, before the
 * index write landed) is reconciled: U= values at or above its UIDNEXT
 * are accepted, missing files are expunged, flags come from the names.
 *
 * Errors: functions returning int give 0 on success, -1 with errno and a
 * static reason in *error_r. errno ENOENT: no such folder (or message);
 * EINVAL: bad name or argument; EEXIST: folder exists; EPERM: operation
 * not allowed on that name (deleting INBOX); EROFS: the mailbox was
 * opened read-only; anything else: I/O, to be answered as a temporary
 * failure. Nothing here logs at error level for client mistakes.
 *
 * Threads: none. A struct mailbox belongs to one session; calls are
 * synchronous and short (libev workers call them directly).
 */
#ifndef STORE_MAILBOX_H
#define STORE_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest UTF-8 mailbox name (bytes, NUL excluded). */
#define MAILBOX_NAME_MAX 512
#define MAILBOX_SEP '/'

/* System flags (stored), as bits of mailbox_msg.flags. */
#define MAIL_SEEN     0x01u
#define MAIL_ANSWERED 0x02u
#define MAIL_FLAGGED  0x04u
#define MAIL_DELETED  0x08u
#define MAIL_DRAFT    0x10u
#define MAIL_RECENT   0x20u /* per session; ignored in set_flags/append */
#define MAIL_FLAGS_STORED 0x1fu

/* Keywords per folder ("$Junk", "$Forwarded", ...): bit i of
 * mailbox_msg.keywords is mailbox_keyword_name(mb, i). */
#define MAILBOX_KEYWORDS_MAX 32

/* Longest cache key, and the largest cached value. */
#define MAILBOX_CACHE_KEY_MAX 32
#define MAILBOX_CACHE_VALUE_MAX (1024 * 1024)

struct mailbox;

struct mailbox_msg {
	uint32_t uid;
	unsigned flags;          /* MAIL_* bits (MAIL_RECENT for this session) */
	uint32_t keywords;       /* bitset, see MAILBOX_KEYWORDS_MAX */
	uint64_t size;           /* bytes of the file as stored */
	uint64_t vsize;          /* size with every bare LF counted as CRLF:
	                          * RFC822.SIZE and the POP3 octet count */
	int64_t internal_date;   /* seconds since the epoch (file mtime;
	                          * APPEND sets it) */
	uint64_t modseq;         /* CONDSTORE MODSEQ, >= 1 */
	const char *file;        /* relative to the folder dir: "cur/<name>"
	                          * or "new/<name>"; valid until the next
	                          * call on mb */
};

struct mailbox_status {
	uint32_t messages;
	uint32_t recent;
	uint32_t unseen;         /* messages without \Seen */
	uint32_t first_unseen;   /* seq of the first one, 0 if none */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};

/*
 * Names
 */

/* true when name is INBOX in any case. */
bool mailbox_name_is_inbox(const char *name);

/*
 * Maps a UTF-8 name to the Maildir++ folder name (without the leading
 * '.'; "" for INBOX), the form maildir.h's `folder` takes. -1 (EINVAL)
 * when the name is refused (see the top comment), ENAMETOOLONG when out
 * is too small.
 */
int mailbox_name_to_dir(const char *name, char *out, size_t out_size);

/* The reverse: a Maildir++ folder name ("A.a%2Eb") to "A/a.b". -1 when
 * dir is not a name mailbox_name_to_dir() could have produced (foreign
 * directories are skipped by folders_list()). */
int mailbox_dir_to_name(const char *dir, char *out, size_t out_size);

/*
 * Opening and syncing
 */

#define MAILBOX_RDONLY 0x01u /* EXAMINE, STATUS: no flag changes, no
                              * expunges, no new/ -> cur/ moves, no
                              * \Recent claimed */

/*
 * Opens folder `name` of the mailbox at root and syncs it (IMAP SELECT /
 * EXAMINE, POP3 login). INBOX is created when the mailbox does not exist
 * yet; other folders must exist (ENOENT). Free with mailbox_close().
 */
int mailbox_open(const char *root, const char *name, unsigned flags,
    struct mailbox **mb_r, const char **error_r);
void mailbox_close(struct mailbox *mb);

bool mailbox_is_readonly(const struct mailbox *mb);
/* The UTF-8 name as normalized ("INBOX", "A/B"). */
const char *mailbox_name(const struct mailbox *mb);

/* Number of messages in this session's view; seqs are 1..count. */
uint32_t mailbox_count(const struct mailbox *mb);
/* Message at seq (1-based), NULL when out of range. */
const struct mailbox_msg *mailbox_msg(const struct mailbox *mb, uint32_t seq);
/* seq of uid, 0 when not in the view. */
uint32_t mailbox_seq_by_uid(const struct mailbox *mb, uint32_t uid);
/* Seqs of the UIDs in [uid_lo, uid_hi]: 1 with *first_r..*last_r set,
 * 0 when none is in the view. */
int mailbox_seq_range_by_uid(const struct mailbox *mb, uint32_t uid_lo,
    uint32_t uid_hi, uint32_t *first_r, uint32_t *last_r);

void mailbox_get_status(const struct mailbox *mb, struct mailbox_status *st_r);

/*
 * What changed since this session's view was last synced, in the order
 * IMAP reports it: EXPUNGE for each of expunged[] (seqs, highest first,
 * so each number is valid when sent and none shifts the next), then
 * EXISTS/RECENT if new_messages, then FETCH FLAGS for flags_changed[]
 * (seqs in the new numbering; changes made by this session through
 * mailbox_set_flags() are not repeated). Free with mailbox_changes_free.
 */
struct mailbox_changes {
	uint32_t *expunged;
	size_t n_expunged;
	uint32_t *flags_changed;
	size_t n_flags_changed;
	bool new_messages;       /* count grew: send EXISTS and RECENT */
	uint32_t exists;         /* mailbox_count() after the sync */
	uint32_t recent;
	bool uidvalidity_changed; /* index rebuilt: an IMAP session must
	                           * end (BYE); POP3 need not care */
};

/*
 * Memory of idle sessions: mailbox_trim() drops the view's index copy and
 * file names (a session in IDLE keeps only its counters); the next
 * mailbox_sync() or mailbox_untrim() reads them back before messages are
 * touched again. mailbox_untrim: 0, or -1 with *error_r.
 */
void mailbox_trim(struct mailbox *mb);
int mailbox_untrim(struct mailbox *mb, const char **error_r);

/*
 * Brings the view up to date with the directory and the index (IMAP
 * NOOP, IDLE polling, after each command). ch_r may be NULL when the
 * caller does not report changes. Cheap when nothing changed.
 */
int mailbox_sync(struct mailbox *mb, struct mailbox_changes *ch_r,
    const char **error_r);
void mailbox_changes_free(struct mailbox_changes *ch);

/*
 * Paths an IDLE implementation can watch (inotify) instead of polling:
 * the folder's new/, cur/ and rsm-index. Valid until mailbox_close.
 */
const char *mailbox_dir(const struct mailbox *mb);

/*
 * Reading messages
 */

/* Opens the message file read-only (O_CLOEXEC); *size_r its size. The
 * caller closes the fd. ENOENT: expunged by another session meanwhile. */
int mailbox_open_msg(struct mailbox *mb, uint32_t seq, int *fd_r,
    uint64_t *size_r, const char **error_r);
/* The whole message in a malloc'd buffer (NUL-terminated after *len_r). */
int mailbox_read(struct mailbox *mb, uint32_t seq, char **data_r,
    size_t *len_r, const char **error_r);

/*
 * Flags and keywords
 */

/* Keyword number of name (atom, <= 64 bytes), adding it to the folder
 * when create is true and there is room; -1 when absent or full. */
int mailbox_keyword_index(struct mailbox *mb, const char *name, bool create);
/* Name of keyword i, NULL when unused. */
const char *mailbox_keyword_name(const struct mailbox *mb, unsigned i);
unsigned mailbox_keyword_count(const struct mailbox *mb);

enum mailbox_flag_op {
	MAILBOX_FLAGS_SET,    /* FLAGS */
	MAILBOX_FLAGS_ADD,    /* +FLAGS */
	MAILBOX_FLAGS_REMOVE, /* -FLAGS */
};

/*
 * STORE on the messages at seqs[0..n): renames each file's ":2," info,
 * updates the index and gives changed messages a new MODSEQ, all under
 * one lock and one index write. With unchangedsince != 0 (CONDSTORE),
 * messages whose MODSEQ is higher are left alone and their seqs are
 * written to failed_r (caller's array of n entries; *n_failed_r count);
 * pass NULL/0 otherwise. Messages expunged meanwhile by another session
 * are skipped silently. changed_r (array of n bools, may be NULL) tells
 * which messages really changed, for untagged FETCH.
 */
int mailbox_set_flags(struct mailbox *mb, const uint32_t *seqs, size_t n,
    enum mailbox_flag_op op, unsigned flags, uint32_t keywords,
    uint64_t unchangedsince, uint32_t *failed_r, size_t *n_failed_r,
    bool *changed_r, const char **error_r);

/*
 * EXPUNGE / UID EXPUNGE / POP3 QUIT: removes the messages that have
 * \Deleted (in the index, so a concurrent -FLAGS \Deleted wins) and whose
 * UID is in uids[0..n_uids) (sorted or not), or all \Deleted ones when
 * uids is NULL. cb(seq) is called for each, highest seq first, after the
 * file is gone and before the view shrinks by one.
 */
int mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n_uids,
    void (*cb)(uint32_t seq, void *ctx), void *ctx, const char **error_r);

/*
 * Appending, copying, moving
 */

/*
 * APPEND: stores len bytes as a new message of folder `name` (which must
 * exist; INBOX is created) with flags (MAIL_FLAGS_STORED bits), keywords
 * (names, created in the folder as needed; may be NULL) and internal_date
 * (0: now). Durable (fsync) before it returns. *uid_r and *uidvalidity_r
 * (may be NULL) for APPENDUID.
 */
int mailbox_append(const char *root, const char *name, const void *data,
    size_t len, unsigned flags, const char *const *keywords,
    size_t n_keywords, int64_t internal_date, uint32_t *uid_r,
    uint32_t *uidvalidity_r, const char **error_r);

/*
 * COPY of seqs[0..n) to folder dest (hard links where possible, else
 * copies; flags, keywords and internal dates kept; dest may be the same
 * folder). uids_r (n entries, may be NULL) receives the new UIDs in
 * order, *uidvalidity_r the destination's, for COPYUID. A message
 * expunged meanwhile gets uid 0 and is skipped.
 */
int mailbox_copy(struct mailbox *mb, const uint32_t *seqs, size_t n,
    const char *dest, uint32_t *uids_r, uint32_t *uidvalidity_r,
    const char **error_r);

/* MOVE: copy, then expunge the sources (whatever their \Deleted flag),
 * cb(seq) as in mailbox_expunge. Needs a read-write mailbox. */
int mailbox_move(struct mailbox *mb, const uint32_t *seqs, size_t n,
    const char *dest, uint32_t *uids_r, uint32_t *uidvalidity_r,
    void (*cb)(uint32_t seq, void *ctx), void *ctx, const char **error_r);

/*
 * Cache of computed strings (messages never change, so entries are never
 * invalidated; expunged ones are dropped when the file is compacted).
 * key: [a-z0-9_.]{1,32}, e.g. "envelope", "bodystructure", "body".
 * get: 1 and *data_r, *len_r (valid until the next call on mb) when
 * present, 0 when not. put: 0, or -1 (value too big, I/O): the caller
 * just recomputes next time.
 */
int mailbox_cache_get(struct mailbox *mb, uint32_t seq, const char *key,
    const char **data_r, size_t *len_r);
int mailbox_cache_put(struct mailbox *mb, uint32_t seq, const char *key,
    const void *data, size_t len);

/*
 * POP3
 */

/*
 * The RFC 1939 maildrop lock: exclusive among POP3 sessions of the
 * mailbox at root (flock on <root>/rsm-pop3-lock, so it dies with the
 * process). Non-blocking: 0 with *fd_r, 1 when another POP3 session holds
 * it ("-ERR [IN-USE]"), -1 on errors. IMAP sessions do not take it; a
 * message they expunge while POP3 runs makes mailbox_read() fail ENOENT.
 */
int mailbox_pop3_lock(const char *root, int *fd_r, const char **error_r);
void mailbox_pop3_unlock(int fd);

/* UIDL for seq: "<uidvalidity><uid>" as 16 hex digits (1..70 chars of
 * 0x21..0x7e as RFC 1939 wants), stable while the index lives. */
int mailbox_pop3_uidl(const struct mailbox *mb, uint32_t seq, char *out,
    size_t out_size);

/*
 * Folders (folders.c)
 */

/* LIST attributes. */
#define FOLDER_NOSELECT      0x001u /* exists only as a parent of others */
#define FOLDER_HASCHILDREN   0x002u
#define FOLDER_HASNOCHILDREN 0x004u
#define FOLDER_SUBSCRIBED    0x008u
#define FOLDER_SENT          0x010u /* RFC 6154 special use */
#define FOLDER_DRAFTS        0x020u
#define FOLDER_JUNK          0x040u
#define FOLDER_TRASH         0x080u
#define FOLDER_ARCHIVE       0x100u
#define FOLDER_NONEXISTENT   0x200u /* subscribed, but no such folder */

/*
 * Every folder of the mailbox at root: INBOX first, then the others in
 * byte order of their UTF-8 names, parents before children. A parent
 * without its own directory ("A" when only "A/B" exists) is reported with
 * FOLDER_NOSELECT. Directories whose names do not decode are skipped.
 * The caller matches LIST patterns. cb returns 0 to go on, else stops.
 */
int folders_list(const char *root,
    int (*cb)(const char *name, unsigned attrs, void *ctx), void *ctx,
    const char **error_r);

/* CREATE (missing parents too; EEXIST when it exists, INBOX included). */
int folders_create(const char *root, const char *name, const char **error_r);

/*
 * DELETE: removes the folder and its messages. INBOX: EPERM. A folder
 * with children loses its messages and directory, the children stay and
 * the name lists as \Noselect (RFC 3501 6.3.4); deleting such a \Noselect
 * name is ENOENT, as is a missing folder. The directory is first renamed
 * out of the way (atomic for other sessions), then removed.
 */
int folders_delete(const char *root, const char *name, const char **error_r);

/*
 * RENAME old to new, children included ("A" -> "B" moves "A/x" to
 * "B/x"); EEXIST when new or a child target exists, ENOENT when old does
 * not. Renaming INBOX moves its messages into the new folder and leaves
 * INBOX empty (RFC 3501 6.3.5). Subscriptions are not changed.
 */
int folders_rename(const char *root, const char *oldname,
    const char *newname, const char **error_r);

/* STATUS without selecting (does not claim \Recent). */
int folders_status(const char *root, const char *name,
    struct mailbox_status *st_r, const char **error_r);

/* Subscriptions (<root>/subscriptions, one UTF-8 name per line, rewritten
 * atomically). subscribe: idempotent; the folder need not exist. */
int folders_subscriptions(const char *root,
    int (*cb)(const char *name, void *ctx), void *ctx, const char **error_r);
int folders_subscribe(const char *root, const char *name, bool subscribe,
    const char **error_r);

/* Special-use attribute (FOLDER_SENT...) of a folder name, 0 if none:
 * "Sent", "Drafts", "Junk", "Trash", "Archive" at the top level. */
unsigned folders_special_use(const char *name);

/*
 * Index parsing, exposed for the fuzz target and tests: parses an index
 * file's bytes. 0 when valid, -1 otherwise. Never reads past len.
 */
struct mailbox_index;
int mailbox_index_parse(const char *data, size_t len,
    struct mailbox_index **index_r);
void mailbox_index_free(struct mailbox_index *index);
/* Parses a cache file's bytes (fuzz target): number of records read,
 * stopping at the first malformed one. */
size_t mailbox_cache_parse_count(const char *data, size_t len);

#endif
