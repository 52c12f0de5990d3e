/*
 * spool_ops.c - what the queue manager does with committed queue files:
 * open and parse them, list a queue, move between queues, rewrite the
 * envelope, remove, quarantine, and recover after a crash.
 *
 * A file that fails to parse is evidence to keep, not garbage: it goes to
 * corrupt/ with a log line naming the reason, and stays there until an
 * operator acts. Envelope rewrites copy the message into a new temp file
 * (copy_file_range, so the kernel may share extents) because rewriting in
 * place could leave a half-written envelope after a crash; the rename
 * makes the switch atomic.
 *
 * Runs in the queue manager (and in rspamadm for the queue commands).
 */
#include "queue/spool_internal.h"

#include "core/buf.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "log/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
set_err(enum spool_err *err_r, enum spool_err err)
{
	if (err_r != NULL)
		*err_r = err;
}

static bool
queue_valid(enum spool_queue queue)
{
	return (size_t)queue < SPOOL_QUEUE_COUNT;
}

static bool
args_valid(enum spool_queue queue, const char *id, enum spool_err *err_r)
{
	if (!spool_id_valid(id) || !queue_valid(queue)) {
		set_err(err_r, SPOOL_ERR_INVALID_ID);
		return false;
	}
	return true;
}

static enum spool_err
errno_err(void)
{
	return errno == ENOENT ? SPOOL_ERR_NOT_FOUND : SPOOL_ERR_IO;
}

bool
spool_exists(struct spool *spool, enum spool_queue queue, const char *id)
{
	struct stat st;

	if (!args_valid(queue, id, NULL))
		return false;
	return fstatat(spool->dirfd[queue], id, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int
spool_find(struct spool *spool, const char *id, enum spool_queue *queue_r)
{
	size_t i;

	for (i = 0; i < SPOOL_QUEUE_COUNT; i++) {
		if (spool_exists(spool, (enum spool_queue)i, id)) {
			*queue_r = (enum spool_queue)i;
			return 0;
		}
	}
	return -1;
}

static int
rename_fsync(struct spool *spool, const char *id, enum spool_queue from,
    enum spool_queue to)
{
	if (renameat(spool->dirfd[from], id, spool->dirfd[to], id) < 0)
		return -1;
	/* The new name first: losing it is what would lose mail. */
	if (spool_fsync_dir(spool->dirfd[to]) < 0 ||
	    spool_fsync_dir(spool->dirfd[from]) < 0)
		return -1;
	return 0;
}

int
spool_move(struct spool *spool, const char *id, enum spool_queue from,
    enum spool_queue to, enum spool_err *err_r)
{
	if (!args_valid(from, id, err_r) || !queue_valid(to)) {
		set_err(err_r, SPOOL_ERR_INVALID_ID);
		return -1;
	}
	if (from == to) {
		set_err(err_r, SPOOL_ERR_NONE);
		return 0;
	}
	if (rename_fsync(spool, id, from, to) < 0) {
		set_err(err_r, errno_err());
		if (errno != ENOENT)
			log_error("queue", id, "move %s -> %s: %s",
			    spool_queue_name(from), spool_queue_name(to),
			    strerror(errno));
		return -1;
	}
	log_debug("queue", id, "moved %s -> %s", spool_queue_name(from),
	    spool_queue_name(to));
	set_err(err_r, SPOOL_ERR_NONE);
	return 0;
}

int
spool_quarantine(struct spool *spool, enum spool_queue queue, const char *id,
    const char *reason)
{
	if (!args_valid(queue, id, NULL))
		return -1;
	if (queue != SPOOL_CORRUPT &&
	    rename_fsync(spool, id, queue, SPOOL_CORRUPT) < 0) {
		log_error("queue", id, "cannot move damaged file from %s/ to "
		    "corrupt/ (%s): %s", spool_queue_name(queue), reason,
		    strerror(errno));
		return -1;
	}
	log_error("queue", id, "damaged queue file moved from %s/ to corrupt/: %s",
	    spool_queue_name(queue), reason);
	return 0;
}

int
spool_claim(struct spool *spool, const char *id, enum spool_err *err_r)
{
	if (!args_valid(SPOOL_INCOMING, id, err_r))
		return -1;
	if (renameat(spool->dirfd[SPOOL_INCOMING], id, spool->dirfd[SPOOL_ACTIVE], id) < 0) {
		set_err(err_r, errno_err());
		if (errno != ENOENT)
			log_error("queue", id, "claim: %s", strerror(errno));
		return -1;
	}
	set_err(err_r, SPOOL_ERR_NONE);
	return 0;
}

int
spool_remove_nosync(struct spool *spool, enum spool_queue queue, const char *id,
    enum spool_err *err_r)
{
	if (!args_valid(queue, id, err_r))
		return -1;
	if (unlinkat(spool->dirfd[queue], id, 0) < 0) {
		set_err(err_r, errno_err());
		if (errno != ENOENT)
			log_error("queue", id, "remove: %s", strerror(errno));
		return -1;
	}
	set_err(err_r, SPOOL_ERR_NONE);
	return 0;
}

int
spool_sync_queue(struct spool *spool, enum spool_queue queue)
{
	if (!queue_valid(queue))
		return -1;
	return spool_fsync_dir(spool->dirfd[queue]);
}

int
spool_remove(struct spool *spool, enum spool_queue queue, const char *id,
    enum spool_err *err_r)
{
	if (!args_valid(queue, id, err_r))
		return -1;
	if (unlinkat(spool->dirfd[queue], id, 0) < 0 ||
	    spool_fsync_dir(spool->dirfd[queue]) < 0) {
		set_err(err_r, errno_err());
		if (errno != ENOENT)
			log_error("queue", id, "remove: %s", strerror(errno));
		return -1;
	}
	log_debug("queue", id, "removed from %s", spool_queue_name(queue));
	set_err(err_r, SPOOL_ERR_NONE);
	return 0;
}

/*
 * Reading.
 */

/* Checks the layout of an open file; returns a reason or NULL if fine. */
static const char *
file_layout(int fd, uint64_t *body_len_r, size_t *env_len_r)
{
	char pre[SPOOL_PREAMBLE_LEN];
	struct stat st;
	uint64_t body_len, rest;

	if (fstat(fd, &st) < 0)
		return "fstat failed";
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if ((uint64_t)st.st_size < SPOOL_PREAMBLE_LEN ||
	    spool_pread_all(fd, pre, sizeof(pre), 0) < 0)
		return "truncated preamble";
	if (spool_preamble_parse(pre, &body_len) < 0)
		return "bad preamble";
	rest = (uint64_t)st.st_size - SPOOL_PREAMBLE_LEN;
	if (body_len > rest)
		return "message shorter than its preamble says";
	rest -= body_len;
	if (rest == 0 || rest > SPOOL_ENVELOPE_MAX)
		return "envelope missing or too long";
	*body_len_r = body_len;
	*env_len_r = (size_t)rest;
	return NULL;
}

static const char *
read_envelope(int fd, struct pool *pool, uint64_t *body_len_r,
    struct spool_envelope *env_r)
{
	const char *reason;
	uint64_t body_len;
	size_t env_len;
	char *data;

	reason = file_layout(fd, &body_len, &env_len);
	if (reason != NULL)
		return reason;
	data = xmalloc(env_len);
	if (spool_pread_all(fd, data, env_len,
	    (off_t)(SPOOL_PREAMBLE_LEN + body_len)) < 0)
		reason = "short read of the envelope";
	else if (spool_envelope_parse(data, env_len, pool, env_r, &reason) == 0 &&
	    env_r->size != body_len)
		reason = "size record disagrees with the message length";
	free(data);
	*body_len_r = body_len;
	return reason;
}

int
spool_open_message(struct spool *spool, enum spool_queue queue,
    const char *id, struct pool *pool, struct spool_message *msg_r,
    enum spool_err *err_r)
{
	const char *reason;
	int fd;

	memset(msg_r, 0, sizeof(*msg_r));
	msg_r->fd = -1;
	if (!args_valid(queue, id, err_r))
		return -1;
	fd = openat(spool->dirfd[queue], id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		set_err(err_r, errno_err());
		if (errno != ENOENT)
			log_error("queue", id, "open: %s", strerror(errno));
		return -1;
	}
	reason = read_envelope(fd, pool, &msg_r->body_len, &msg_r->env);
	if (reason != NULL) {
		close(fd);
		(void)spool_quarantine(spool, queue, id, reason);
		set_err(err_r, SPOOL_ERR_CORRUPT);
		return -1;
	}
	str_lcpy(msg_r->id, id, sizeof(msg_r->id));
	msg_r->queue = queue;
	msg_r->fd = fd;
	msg_r->body_offset = SPOOL_PREAMBLE_LEN;
	set_err(err_r, SPOOL_ERR_NONE);
	return 0;
}

void
spool_message_close(struct spool_message *msg)
{
	if (msg->fd >= 0)
		close(msg->fd);
	msg->fd = -1;
}

/*
 * Listing.
 */

/* A DIR* of its own for a directory we hold an fd for. */
static DIR *
open_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir;

	if (fd < 0)
		return NULL;
	dir = fdopendir(fd);
	if (dir == NULL)
		close(fd);
	return dir;
}

int
spool_list(struct spool *spool, enum spool_queue queue, spool_list_cb *cb,
    void *ctx)
{
	struct dirent *de;
	DIR *dir;
	int count = 0;

	if (!queue_valid(queue) || (dir = open_dir(spool->dirfd[queue])) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!spool_id_valid(de->d_name)) {
			log_warn("queue", NULL, "ignoring stray name in %s/",
			    spool_queue_name(queue));
			continue;
		}
		count++;
		if (cb(de->d_name, ctx) != 0)
			break;
	}
	closedir(dir);
	return count;
}

/*
 * Envelope rewrite.
 */

static int
copy_range(int in, int out, off_t off, uint64_t len)
{
	char buf[65536];
	loff_t ioff = off;

	while (len > 0) {
		ssize_t n = copy_file_range(in, &ioff, out, NULL,
		    (size_t)MIN(len, (uint64_t)1 << 30), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len -= (uint64_t)n;
	}
	/* Fallback for file systems or kernels without copy_file_range. */
	while (len > 0) {
		size_t chunk = (size_t)MIN(len, sizeof(buf));

		if (spool_pread_all(in, buf, chunk, ioff) < 0 ||
		    spool_write_all(out, buf, chunk) < 0)
			return -1;
		ioff += (off_t)chunk;
		len -= chunk;
	}
	return 0;
}

/* Writes preamble + message of `in` + new envelope into the temp fd. */
static int
rewrite_into(int in, int out, uint64_t body_len,
    const struct spool_envelope *env)
{
	char pre[SPOOL_PREAMBLE_LEN + 1];
	struct buf eb;
	int rc = -1;

	buf_init(&eb, SPOOL_ENVELOPE_MAX);
	if (spool_envelope_format(env, body_len, &eb) < 0) {
		errno = EINVAL;
		goto out;
	}
	spool_preamble_format(pre, body_len);
	if (spool_write_all(out, pre, SPOOL_PREAMBLE_LEN) < 0 ||
	    copy_range(in, out, SPOOL_PREAMBLE_LEN, body_len) < 0 ||
	    spool_write_all(out, eb.data, eb.len) < 0 || fsync(out) < 0)
		goto out;
	rc = 0;
out:
	buf_deinit(&eb);
	return rc;
}

static int
update_file(struct spool *spool, enum spool_queue queue, const char *id,
    int in, const struct spool_envelope *env)
{
	char tmpname[SPOOL_TEMP_NAME_SIZE];
	const char *reason;
	uint64_t body_len;
	size_t env_len;
	int out, rc;

	reason = file_layout(in, &body_len, &env_len);
	if (reason != NULL) {
		(void)spool_quarantine(spool, queue, id, reason);
		errno = EINVAL;
		return -1;
	}
	out = spool_temp_create(spool, 'U', tmpname);
	if (out < 0)
		return -1;
	rc = rewrite_into(in, out, body_len, env);
	close(out);
	if (rc == 0 && renameat(spool->tmpfd, tmpname, spool->dirfd[queue], id) == 0)
		return spool_fsync_dir(spool->dirfd[queue]);
	(void)unlinkat(spool->tmpfd, tmpname, 0);
	return -1;
}

int
spool_update_envelope(struct spool *spool, enum spool_queue queue,
    const char *id, const struct spool_envelope *env, enum spool_err *err_r)
{
	int in, rc;

	if (!args_valid(queue, id, err_r))
		return -1;
	in = openat(spool->dirfd[queue], id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0) {
		set_err(err_r, errno_err());
		return -1;
	}
	rc = update_file(spool, queue, id, in, env);
	close(in);
	if (rc < 0) {
		log_error("queue", id, "envelope update: %s", strerror(errno));
		set_err(err_r, SPOOL_ERR_IO);
		return -1;
	}
	set_err(err_r, SPOOL_ERR_NONE);
	return 0;
}

/*
 * Recovery.
 */

struct requeue_ctx {
	struct spool *spool;
	unsigned count;
};

static int
requeue_one(const char *id, void *ctx)
{
	struct requeue_ctx *rc = ctx;

	if (spool_move(rc->spool, id, SPOOL_ACTIVE, SPOOL_INCOMING, NULL) == 0)
		rc->count++;
	return 0;
}

/* Is the writer named in a temp file name ("T1234.ABC...") gone? */
static bool
temp_writer_dead(const char *name)
{
	char *end;
	long pid;

	if (name[0] != 'T' && name[0] != 'U')
		return true;
	errno = 0;
	pid = strtol(name + 1, &end, 10);
	if (errno != 0 || end == name + 1 || *end != '.' || pid <= 0)
		return true;
	if (pid == (long)getpid())
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static unsigned
remove_stale_temps(struct spool *spool)
{
	struct dirent *de;
	unsigned removed = 0;
	DIR *dir = open_dir(spool->tmpfd);

	if (dir == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (temp_writer_dead(de->d_name) &&
		    unlinkat(spool->tmpfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(dir);
	return removed;
}

int
spool_recover(struct spool *spool, unsigned *requeued_r,
    unsigned *temp_removed_r)
{
	struct requeue_ctx rc = { spool, 0 };
	unsigned removed;

	if (spool_list(spool, SPOOL_ACTIVE, requeue_one, &rc) < 0)
		return -1;
	removed = remove_stale_temps(spool);
	if (rc.count > 0 || removed > 0)
		log_notice("queue", NULL, "recovery: %u message(s) back to "
		    "incoming/, %u stale temp file(s) removed", rc.count, removed);
	if (requeued_r != NULL)
		*requeued_r = rc.count;
	if (temp_removed_r != NULL)
		*temp_removed_r = removed;
	return 0;
}
