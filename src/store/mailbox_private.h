/*
 * mailbox_private.h - what mailbox.c, mailbox_index.c, mailbox_copy.c and
 * folders.c share: the in-memory index and helpers over message file
 * names. Not for callers outside src/store/.
 */
#ifndef STORE_MAILBOX_PRIVATE_H
#define STORE_MAILBOX_PRIVATE_H

#include "core/buf.h"
#include "store/mailbox.h"

#include <sys/types.h>
#include <time.h>

#define MBX_INDEX_FILE "rsm-index"
#define MBX_CACHE_FILE "rsm-cache"
#define MBX_LOCK_FILE "rsm-lock"
/* Upper bound on messages in one folder's index (parser limit). */
#define MBX_MAX_MESSAGES 10000000u
#define MBX_FILE_MAX 255

/* One message as the index records it. */
struct mbx_rec {
	uint32_t uid;
	unsigned flags;   /* MAIL_FLAGS_STORED bits */
	uint32_t keywords;
	uint64_t size;
	uint64_t vsize;
	int64_t idate;
	uint64_t modseq;
	char *file;       /* "cur/<name>" or "new/<name>" */
};

struct mailbox_index {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t first_recent; /* lowest UID not yet claimed as \Recent */
	uint64_t highestmodseq;
	struct timespec new_mtime; /* of new/ and cur/ at the last scan; */
	struct timespec cur_mtime; /* 0 = not trusted, rescan */
	char *keywords[MAILBOX_KEYWORDS_MAX];
	unsigned n_keywords;
	struct mbx_rec *recs;      /* ascending UIDs */
	size_t n;
	size_t cap;
};

struct mailbox_index *mbx_index_new(uint32_t uidvalidity);
/* Appends a copy of rec (file duplicated); UIDs must stay ascending
 * unless the caller sorts afterwards with mbx_index_sort(). */
struct mbx_rec *mbx_index_add(struct mailbox_index *idx,
    const struct mbx_rec *rec);
void mbx_index_sort(struct mailbox_index *idx);
/* Removes recs[i]. */
void mbx_index_remove(struct mailbox_index *idx, size_t i);
/* Position of uid in recs, or -1. */
ptrdiff_t mbx_index_find(const struct mailbox_index *idx, uint32_t uid);
int mbx_index_format(const struct mailbox_index *idx, struct buf *out);

/*
 * Cache file records: "C <uid> <key> <len>\n<len bytes>\n". Calls cb for
 * each complete, well-formed record; stops at the first bad or partial
 * one. Returns the record count; *consumed_r the bytes they span.
 */
size_t mbx_cache_parse(const char *data, size_t len,
    void (*cb)(uint32_t uid, const char *key, size_t key_len,
    const char *val, size_t val_len, void *ctx), void *ctx,
    size_t *consumed_r);
bool mbx_cache_key_valid(const char *key, size_t len);
bool mbx_keyword_valid(const char *name);

/* A "cur/<name>" or "new/<name>" we are willing to open. */
bool mbx_file_valid(const char *file);
/* Length of the base of a file name (no dir prefix): up to the first ':'. */
size_t mbx_base_len(const char *name);
/* Flags from the ":2," info of a name (no dir prefix). */
unsigned mbx_flags_from_name(const char *name);
/* UID from ",U=<n>" in the base of name, 0 when absent. */
uint32_t mbx_uid_from_name(const char *name);
/*
 * The cur/ name for a message now called `name` (no dir prefix) with
 * flags and uid: base (",U=<uid>" added when missing) + ":2," + the
 * managed letters of flags + the letters of the old info we do not manage
 * (P, keywords of other programs), sorted. Writes "cur/..." to out.
 */
int mbx_name_build(const char *name, unsigned flags, uint32_t uid, char *out,
    size_t out_size);

/* <root> or <root>/.<dir> for a UTF-8 name; -1 (EINVAL, ENAMETOOLONG). */
int mbx_folder_path(const char *root, const char *name, char *out,
    size_t out_size);
/* The normalized form of a valid name ("inbox/x" -> "INBOX/x"). */
int mbx_name_normalize(const char *name, char *out, size_t out_size);

/* A cached string of one message. */
struct mbx_cache_ent {
	struct mbx_cache_ent *next;
	char key[MAILBOX_CACHE_KEY_MAX + 1];
	char *data;
	size_t len;
};

/* One message of a session's view. */
struct mbx_view_msg {
	struct mailbox_msg m;
	char *file;
	struct mbx_cache_ent *cache;
};

/* What we saw of a file or directory, to notice changes cheaply. */
struct mbx_stat {
	bool valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct mailbox {
	char *root;
	char *name;        /* normalized UTF-8 name */
	char *dir;         /* folder directory */
	unsigned flags;    /* MAILBOX_RDONLY */
	int lock_fd;
	struct mailbox_index *idx;  /* latest index read or written */
	uint64_t idx_gen;  /* bumped on every change of idx */
	uint64_t view_gen; /* idx_gen the view was built from */
	bool untrusted;    /* a directory mtime was too young to trust */
	struct mbx_stat seen_index, seen_new, seen_cur;
	uint32_t recent_from; /* UIDs >= this are \Recent for this view */
	uint32_t uidvalidity; /* of the view; 0 before the first sync */
	struct mbx_view_msg *msgs;
	size_t n;
	size_t cap;
	off_t cache_off;   /* rsm-cache bytes already read */
};

int mbx_lock(struct mailbox *mb, const char **error_r);
void mbx_unlock(struct mailbox *mb);
/* Under the lock: reads the index if it changed, rescans the directory if
 * it changed (or force), moves new/ files to cur/ in read-write mode,
 * writes the index when anything changed. */
int mbx_refresh(struct mailbox *mb, bool force, const char **error_r);
int mbx_write_index(struct mailbox *mb, const char **error_r);
/* Rebuilds the view from mb->idx; ch may be NULL. */
void mbx_view_update(struct mailbox *mb, struct mailbox_changes *ch);
/* Drops view position pos (0-based). */
void mbx_view_remove(struct mailbox *mb, size_t pos);
/* A struct mailbox without a view, for APPEND and COPY targets. */
int mbx_open_light(const char *root, const char *name, struct mailbox **mb_r,
    const char **error_r);
/* A fresh UIDVALIDITY, increasing within the process. */
uint32_t mbx_new_uidvalidity(void);
/* vsize of an open file of size bytes (bare LFs counted twice). */
int mbx_file_vsize(int fd, uint64_t size, uint64_t *vsize_r);
int mbx_fail(const char **error_r, const char *reason, int err);

#endif
