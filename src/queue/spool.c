/*
 * spool.c - the queue's files and directories: writer, reader, moves,
 * envelope rewrites and crash recovery.
 *
 * Every path is relative to a directory fd opened once by spool_open()
 * (openat/renameat/linkat), and the only names ever used are queue ids
 * that passed spool_id_valid() and temp names we generated, so nothing
 * from outside can steer a path. Durability follows one rule: a name
 * becomes visible in a queue directory only for a file that is already
 * fsynced, and every rename/link/unlink that changes what a queue holds
 * is followed by an fsync of the directories involved before the call
 * returns success.
 *
 * Temp files live in tmp/ and are named "<T|U><pid>.<16 hex>", so
 * recovery can tell whether their writer is still alive. The file layout
 * (preamble, message, envelope records) is described in spool.h.
 *
 * Runs in the SMTP workers (writer) and the queue manager (everything).
 */
#include "queue/spool_internal.h"

#include "core/buf.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PREAMBLE_LEN SPOOL_PREAMBLE_LEN
#define WRITE_BUF_SIZE (64 * 1024)
#define TEMP_NAME_SIZE SPOOL_TEMP_NAME_SIZE
#define COMMIT_ATTEMPTS 16

static const char *const queue_names[SPOOL_QUEUE_COUNT] = {
	[SPOOL_INCOMING] = "incoming",
	[SPOOL_ACTIVE] = "active",
	[SPOOL_DEFERRED] = "deferred",
	[SPOOL_HOLD] = "hold",
	[SPOOL_CORRUPT] = "corrupt",
};

struct spool_writer {
	struct spool *spool;
	int fd;
	char tmpname[TEMP_NAME_SIZE];
	uint64_t size;
	uint64_t max_size;
	enum spool_err err;
	size_t buffered;
	unsigned char buf[WRITE_BUF_SIZE];
};

const char *
spool_queue_name(enum spool_queue queue)
{
	if ((size_t)queue >= SPOOL_QUEUE_COUNT)
		return "unknown";
	return queue_names[queue];
}

int
spool_queue_parse(const char *name, enum spool_queue *queue_r)
{
	size_t i;

	for (i = 0; i < SPOOL_QUEUE_COUNT; i++) {
		if (strcmp(name, queue_names[i]) == 0) {
			*queue_r = (enum spool_queue)i;
			return 0;
		}
	}
	return -1;
}

bool
spool_id_valid(const char *id)
{
	size_t i;

	if (id == NULL)
		return false;
	for (i = 0; id[i] != '\0'; i++) {
		if (i >= SPOOL_ID_MAX_LEN)
			return false;
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F')))
			return false;
	}
	return i >= SPOOL_ID_MIN_LEN;
}

static void
set_err(enum spool_err *err_r, enum spool_err err)
{
	if (err_r != NULL)
		*err_r = err;
}

/* fsync a directory; EINVAL means the file system cannot (tmpfs): fine. */
int
spool_fsync_dir(int dirfd)
{
	if (fsync(dirfd) < 0 && errno != EINVAL)
		return -1;
	return 0;
}

int
spool_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
spool_pread_all(int fd, void *data, size_t len, off_t off)
{
	char *p = data;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static void
random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			panic("getrandom: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Opening.
 */

static int
open_subdir(int parent, const char *name, bool *created_r)
{
	if (mkdirat(parent, name, 0750) == 0)
		*created_r = true;
	else if (errno != EEXIST)
		return -1;
	return openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int
spool_open_dirs(struct spool *spool, char **error_r)
{
	bool created = false;
	size_t i;

	for (i = 0; i <= SPOOL_QUEUE_COUNT; i++) {
		const char *name = i < SPOOL_QUEUE_COUNT ? queue_names[i] : "tmp";
		int fd = open_subdir(spool->rootfd, name, &created);

		if (fd < 0) {
			*error_r = xasprintf("spool %s/%s: %s", spool->root, name,
			    strerror(errno));
			return -1;
		}
		if (i < SPOOL_QUEUE_COUNT)
			spool->dirfd[i] = fd;
		else
			spool->tmpfd = fd;
	}
	if (created && spool_fsync_dir(spool->rootfd) < 0) {
		*error_r = xasprintf("fsync %s: %s", spool->root, strerror(errno));
		return -1;
	}
	return 0;
}

int
spool_open(const char *root, struct spool **spool_r, char **error_r)
{
	struct spool *spool = xcalloc(1, sizeof(*spool));
	size_t i;

	spool->root = xstrdup(root);
	spool->tmpfd = -1;
	for (i = 0; i < SPOOL_QUEUE_COUNT; i++)
		spool->dirfd[i] = -1;
	if (mkdir(root, 0750) < 0 && errno != EEXIST) {
		*error_r = xasprintf("spool %s: %s", root, strerror(errno));
		goto fail;
	}
	spool->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (spool->rootfd < 0) {
		*error_r = xasprintf("spool %s: %s", root, strerror(errno));
		goto fail;
	}
	if (spool_open_dirs(spool, error_r) < 0)
		goto fail;
	*spool_r = spool;
	return 0;
fail:
	spool_close(&spool);
	return -1;
}

void
spool_close(struct spool **spoolp)
{
	struct spool *spool = *spoolp;
	size_t i;

	if (spool == NULL)
		return;
	*spoolp = NULL;
	for (i = 0; i < SPOOL_QUEUE_COUNT; i++) {
		if (spool->dirfd[i] >= 0)
			close(spool->dirfd[i]);
	}
	if (spool->tmpfd >= 0)
		close(spool->tmpfd);
	if (spool->rootfd >= 0)
		close(spool->rootfd);
	free(spool->root);
	free(spool);
}

const char *
spool_root(const struct spool *spool)
{
	return spool->root;
}

/*
 * Temp files and the preamble.
 */

/* Creates tmp/<kind><pid>.<random>; returns the fd or -1. */
int
spool_temp_create(struct spool *spool, char kind, char name_r[TEMP_NAME_SIZE])
{
	int attempt;

	for (attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
		uint64_t r;
		int fd;

		random_bytes(&r, sizeof(r));
		if (str_format(name_r, TEMP_NAME_SIZE, "%c%ld.%016llX", kind,
		    (long)getpid(), (unsigned long long)r) < 0)
			return -1;
		fd = openat(spool->tmpfd, name_r,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

void
spool_preamble_format(char out[PREAMBLE_LEN + 1], uint64_t body_len)
{
	/* Fixed width, so the writer can fill it in after the fact. */
	if (str_format(out, PREAMBLE_LEN + 1, "RSMQ1 %016llX         \n",
	    (unsigned long long)body_len) != PREAMBLE_LEN)
		panic("spool preamble width");
}

int
spool_preamble_parse(const char *p, uint64_t *body_len_r)
{
	uint64_t v = 0;
	size_t i;

	if (memcmp(p, "RSMQ1 ", 6) != 0 ||
	    memcmp(p + 22, "         \n", 10) != 0)
		return -1;
	for (i = 6; i < 22; i++) {
		int d = ascii_hex_value(p[i]);

		if (d < 0 || (p[i] >= 'a' && p[i] <= 'f'))
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*body_len_r = v;
	return 0;
}

/*
 * Writer.
 */

int
spool_writer_begin(struct spool *spool, uint64_t max_size,
    struct spool_writer **w_r)
{
	struct spool_writer *w = xcalloc(1, sizeof(*w));
	char pre[PREAMBLE_LEN + 1];

	w->spool = spool;
	w->max_size = max_size;
	w->fd = spool_temp_create(spool, 'T', w->tmpname);
	if (w->fd < 0) {
		log_error("queue", NULL, "spool temp file: %s", strerror(errno));
		free(w);
		return -1;
	}
	spool_preamble_format(pre, 0);
	if (spool_write_all(w->fd, pre, PREAMBLE_LEN) < 0) {
		log_error("queue", NULL, "spool temp file: %s", strerror(errno));
		spool_writer_abort(&w);
		return -1;
	}
	*w_r = w;
	return 0;
}

static int
writer_flush(struct spool_writer *w)
{
	if (w->buffered > 0 && spool_write_all(w->fd, w->buf, w->buffered) < 0) {
		log_error("queue", NULL, "spool write: %s", strerror(errno));
		w->err = SPOOL_ERR_IO;
		return -1;
	}
	w->buffered = 0;
	return 0;
}

int
spool_writer_write(struct spool_writer *w, const void *data, size_t len)
{
	if (w->err != SPOOL_ERR_NONE)
		return -1;
	if (len == 0)
		return 0;
	if (w->max_size != 0 && (len > w->max_size || w->size > w->max_size - len)) {
		w->err = SPOOL_ERR_TOO_BIG;
		return -1;
	}
	w->size += len;
	if (w->buffered + len > sizeof(w->buf) && writer_flush(w) < 0)
		return -1;
	if (len >= sizeof(w->buf)) {
		if (spool_write_all(w->fd, data, len) < 0) {
			log_error("queue", NULL, "spool write: %s", strerror(errno));
			w->err = SPOOL_ERR_IO;
			return -1;
		}
		return 0;
	}
	memcpy(w->buf + w->buffered, data, len);
	w->buffered += len;
	return 0;
}

uint64_t
spool_writer_size(const struct spool_writer *w)
{
	return w->size;
}

enum spool_err
spool_writer_error(const struct spool_writer *w)
{
	return w->err;
}

void
spool_writer_abort(struct spool_writer **wp)
{
	struct spool_writer *w = *wp;

	if (w == NULL)
		return;
	*wp = NULL;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmpname[0] != '\0')
		(void)unlinkat(w->spool->tmpfd, w->tmpname, 0);
	free(w);
}

/* 19 hex digits: seconds (8), microseconds (5), random (6). */
static void
id_generate(char id_r[SPOOL_ID_SIZE])
{
	struct timespec ts;
	uint32_t r;

	clock_gettime(CLOCK_REALTIME, &ts);
	random_bytes(&r, sizeof(r));
	if (str_format(id_r, SPOOL_ID_SIZE, "%08llX%05lX%06lX",
	    (unsigned long long)ts.tv_sec & 0xffffffffULL,
	    (unsigned long)(ts.tv_nsec / 1000), (unsigned long)(r & 0xffffff)) != 19)
		panic("queue id width");
}

/* Links the finished temp file into incoming/ under a fresh id. */
static int
writer_link(struct spool_writer *w, char id_r[SPOOL_ID_SIZE])
{
	struct spool *spool = w->spool;
	enum spool_queue q;
	int attempt;

	for (attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
		id_generate(id_r);
		if (spool_find(spool, id_r, &q) == 0)
			continue;
		/* link, unlike rename, refuses to replace an existing name. */
		if (linkat(spool->tmpfd, w->tmpname, spool->dirfd[SPOOL_INCOMING],
		    id_r, 0) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

static int
writer_finish_file(struct spool_writer *w, const struct spool_envelope *env)
{
	char pre[PREAMBLE_LEN + 1];
	struct buf eb;
	int rc = -1;

	buf_init(&eb, SPOOL_ENVELOPE_MAX);
	if (spool_envelope_format(env, w->size, &eb) < 0) {
		log_error("queue", NULL, "envelope exceeds the spool's limits");
		errno = EINVAL;
		goto out;
	}
	if (writer_flush(w) < 0 || spool_write_all(w->fd, eb.data, eb.len) < 0)
		goto out;
	spool_preamble_format(pre, w->size);
	if (pwrite(w->fd, pre, PREAMBLE_LEN, 0) != PREAMBLE_LEN ||
	    fsync(w->fd) < 0)
		goto out;
	rc = 0;
out:
	buf_deinit(&eb);
	return rc;
}

int
spool_writer_commit(struct spool_writer **wp, const struct spool_envelope *env,
    char id_r[SPOOL_ID_SIZE], enum spool_err *err_r)
{
	struct spool_writer *w = *wp;
	struct spool *spool = w->spool;

	if (w->err != SPOOL_ERR_NONE) {
		set_err(err_r, w->err);
		spool_writer_abort(wp);
		return -1;
	}
	if (writer_finish_file(w, env) < 0 || writer_link(w, id_r) < 0) {
		log_error("queue", NULL, "spool commit: %s", strerror(errno));
		goto fail;
	}
	(void)unlinkat(spool->tmpfd, w->tmpname, 0);
	w->tmpname[0] = '\0';
	if (spool_fsync_dir(spool->dirfd[SPOOL_INCOMING]) < 0) {
		/* The name may not survive a crash: do not let SMTP say 250. */
		log_error("queue", id_r, "fsync incoming/: %s", strerror(errno));
		(void)unlinkat(spool->dirfd[SPOOL_INCOMING], id_r, 0);
		goto fail;
	}
	log_info("queue", id_r, "queued: nrcpt=%zu size=%llu",
	    env->rcpt_count, (unsigned long long)w->size);
	spool_writer_abort(wp);
	set_err(err_r, SPOOL_ERR_NONE);
	return 0;
fail:
	set_err(err_r, SPOOL_ERR_IO);
	spool_writer_abort(wp);
	return -1;
}
