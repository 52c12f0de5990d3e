/*
 * mailbox_read.c - reading message files, the per-folder cache of strings
 * the IMAP code computes (rsm-cache), keywords, and the POP3 maildrop
 * lock and UIDLs.
 *
 * The cache file is append-only: a record is one write(2) with O_APPEND,
 * so concurrent sessions never interleave records and need no lock; a
 * reader takes complete records and comes back for the rest later.
 */
#include "store/mailbox_private.h"

#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_READ_MAX (64u * 1024 * 1024)

static int
open_file(struct mailbox *mb, const char *file)
{
	char path[PATH_MAX];

	if (str_format(path, sizeof(path), "%s/%s", mb->dir, file) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_RDONLY | O_CLOEXEC);
}

int
mailbox_open_msg(struct mailbox *mb, uint32_t seq, int *fd_r,
    uint64_t *size_r, const char **error_r)
{
	struct mbx_view_msg *v;
	struct stat st;
	ptrdiff_t i;
	int fd;

	if (seq < 1 || seq > mb->n)
		return mbx_fail(error_r, "no such message", EINVAL);
	v = &mb->msgs[seq - 1];
	if (v->file != NULL) {
		fd = open_file(mb, v->file);
	} else {
		fd = -1;     /* trimmed and gone from the index */
		errno = ENOENT;
	}
	if (fd < 0 && errno == ENOENT) {
		/* Renamed by another session (flags) or expunged. */
		if (mbx_lock(mb, error_r) < 0)
			return -1;
		if (mbx_refresh(mb, true, error_r) < 0) {
			mbx_unlock(mb);
			return -1;
		}
		mbx_unlock(mb);
		i = mbx_index_find(mb->idx, v->m.uid);
		if (i < 0)
			return mbx_fail(error_r, "message expunged", ENOENT);
		free(v->file);
		v->file = xstrdup(mb->idx->recs[i].file);
		v->m.file = v->file;
		fd = open_file(mb, v->file);
	}
	if (fd < 0)
		return mbx_fail(error_r, "cannot open the message", errno);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return mbx_fail(error_r, "cannot stat the message", errno);
	}
	*fd_r = fd;
	*size_r = (uint64_t)st.st_size;
	return 0;
}

int
mailbox_read(struct mailbox *mb, uint32_t seq, char **data_r, size_t *len_r,
    const char **error_r)
{
	uint64_t size;
	size_t got = 0;
	char *data;
	int fd;

	if (mailbox_open_msg(mb, seq, &fd, &size, error_r) < 0)
		return -1;
	if (size > SIZE_MAX - 1) {
		close(fd);
		return mbx_fail(error_r, "message too big", EFBIG);
	}
	data = xmalloc((size_t)size + 1);
	while (got < size) {
		ssize_t n = read(fd, data + got, (size_t)size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	data[got] = '\0';
	*data_r = data;
	*len_r = got;
	return 0;
}

/*
 * Cache.
 */

static struct mbx_cache_ent *
cache_find(struct mbx_view_msg *v, const char *key, size_t key_len)
{
	for (struct mbx_cache_ent *c = v->cache; c != NULL; c = c->next) {
		if (strlen(c->key) == key_len && memcmp(c->key, key, key_len) == 0)
			return c;
	}
	return NULL;
}

static void
cache_attach(struct mbx_view_msg *v, const char *key, size_t key_len,
    const char *val, size_t val_len)
{
	struct mbx_cache_ent *c;

	if (cache_find(v, key, key_len) != NULL)
		return;
	c = xcalloc(1, sizeof(*c));
	memcpy(c->key, key, key_len);
	c->data = xmemdup(val, val_len + 1);
	c->data[val_len] = '\0';
	c->len = val_len;
	c->next = v->cache;
	v->cache = c;
}

static void
cache_record_cb(uint32_t uid, const char *key, size_t key_len, const char *val,
    size_t val_len, void *ctx)
{
	struct mailbox *mb = ctx;
	uint32_t seq = mailbox_seq_by_uid(mb, uid);

	if (seq != 0)
		cache_attach(&mb->msgs[seq - 1], key, key_len, val, val_len);
}

/* Reads cache records written since we last looked. */
static void
cache_load(struct mailbox *mb)
{
	char path[PATH_MAX];
	struct stat st;
	size_t want, consumed;
	char *data;
	ssize_t got;
	int fd;

	if (str_format(path, sizeof(path), "%s/%s", mb->dir, MBX_CACHE_FILE) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_size <= mb->cache_off) {
		close(fd);
		return;
	}
	want = (size_t)MIN((uint64_t)(st.st_size - mb->cache_off), CACHE_READ_MAX);
	data = xmalloc(want + 1);
	got = pread(fd, data, want, mb->cache_off);
	close(fd);
	if (got > 0) {
		(void)mbx_cache_parse(data, (size_t)got, cache_record_cb, mb, &consumed);
		mb->cache_off += (off_t)consumed;
	}
	free(data);
}

int
mailbox_cache_get(struct mailbox *mb, uint32_t seq, const char *key,
    const char **data_r, size_t *len_r)
{
	struct mbx_cache_ent *c;
	size_t key_len = strlen(key);

	if (seq < 1 || seq > mb->n || !mbx_cache_key_valid(key, key_len))
		return 0;
	c = cache_find(&mb->msgs[seq - 1], key, key_len);
	if (c == NULL) {
		cache_load(mb);
		c = cache_find(&mb->msgs[seq - 1], key, key_len);
	}
	if (c == NULL)
		return 0;
	*data_r = c->data;
	*len_r = c->len;
	return 1;
}

int
mailbox_cache_put(struct mailbox *mb, uint32_t seq, const char *key,
    const void *data, size_t len)
{
	char path[PATH_MAX];
	struct buf b;
	size_t key_len = strlen(key);
	int fd, rc = -1;

	if (seq < 1 || seq > mb->n || !mbx_cache_key_valid(key, key_len) ||
	    len > MAILBOX_CACHE_VALUE_MAX)
		return -1;
	cache_attach(&mb->msgs[seq - 1], key, key_len, data, len);
	if (str_format(path, sizeof(path), "%s/%s", mb->dir, MBX_CACHE_FILE) < 0)
		return -1;
	buf_init(&b, 0);
	if (buf_printf(&b, "C %u %s %zu\n", mb->msgs[seq - 1].m.uid, key, len) == 0 &&
	    buf_append(&b, data, len) == 0 && buf_putc(&b, '\n') == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			rc = write(fd, b.data, b.len) == (ssize_t)b.len ? 0 : -1;
			close(fd);
		}
	}
	buf_deinit(&b);
	return rc;
}

/*
 * Keywords.
 */

int
mailbox_keyword_index(struct mailbox *mb, const char *name, bool create)
{
	struct mailbox_index *idx = mb->idx;
	const char *err;
	unsigned i;
	int rc = -1;

	for (i = 0; i < idx->n_keywords; i++) {
		if (strcasecmp(idx->keywords[i], name) == 0)
			return (int)i;
	}
	if (!create || !mbx_keyword_valid(name) || mailbox_is_readonly(mb) ||
	    mbx_lock(mb, &err) < 0)
		return -1;
	if (mbx_refresh(mb, false, &err) == 0) {
		idx = mb->idx;
		for (i = 0; i < idx->n_keywords; i++) {
			if (strcasecmp(idx->keywords[i], name) == 0)
				break;
		}
		if (i == idx->n_keywords && i < MAILBOX_KEYWORDS_MAX) {
			idx->keywords[idx->n_keywords++] = xstrdup(name);
			mb->idx_gen++;
			if (mbx_write_index(mb, &err) < 0)
				idx->n_keywords--, free(idx->keywords[i]);
		}
		rc = i < idx->n_keywords ? (int)i : -1;
	}
	mbx_unlock(mb);
	return rc;
}

const char *
mailbox_keyword_name(const struct mailbox *mb, unsigned i)
{
	return mb->idx != NULL && i < mb->idx->n_keywords ? mb->idx->keywords[i] : NULL;
}

unsigned
mailbox_keyword_count(const struct mailbox *mb)
{
	return mb->idx != NULL ? mb->idx->n_keywords : 0;
}

/*
 * POP3.
 */

int
mailbox_pop3_lock(const char *root, int *fd_r, const char **error_r)
{
	char path[PATH_MAX];
	int fd;

	if (str_format(path, sizeof(path), "%s/rsm-pop3-lock", root) < 0)
		return mbx_fail(error_r, "path too long", ENAMETOOLONG);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mbx_fail(error_r, "cannot open the POP3 lock", errno);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		close(fd);
		if (err == EWOULDBLOCK)
			return 1;
		return mbx_fail(error_r, "cannot lock the maildrop", err);
	}
	*fd_r = fd;
	return 0;
}

void
mailbox_pop3_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int
mailbox_pop3_uidl(const struct mailbox *mb, uint32_t seq, char *out,
    size_t out_size)
{
	if (seq < 1 || seq > mb->n)
		return -1;
	return str_format(out, out_size, "%08X%08X", mb->uidvalidity,
	    mb->msgs[seq - 1].m.uid) < 0 ? -1 : 0;
}
