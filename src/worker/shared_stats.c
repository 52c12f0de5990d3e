/*
 * shared_stats.c - the counters of shared_stats.h in one MAP_SHARED page.
 *
 * Every field is an independent atomic; a snapshot is therefore not one
 * consistent instant (a scan may be counted in `scanned` but not yet in
 * its action), which is fine for statistics and avoids any lock between
 * processes. The scan time ring takes a slot with fetch_add on its cursor,
 * so concurrent workers never write the same slot in the same lap.
 *
 * The counters survive restarts through a small JSON file the controller
 * saves and restores (shared_stats_save/restore); the `restored` flag in
 * the region makes the restore happen once per supervisor lifetime.
 */
#include "worker/shared_stats.h"
#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/actions.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define STATS_FILE_MAX (64 * 1024)

struct shared_stats {
	_Atomic uint64_t scanned;
	_Atomic uint64_t actions[STATS_ACTION_COUNT];
	_Atomic uint64_t spam_count;
	_Atomic uint64_t ham_count;
	_Atomic uint64_t learned;
	_Atomic uint64_t connections;
	_Atomic uint64_t control_connections;
	_Atomic uint64_t scan_time_us;
	_Atomic uint64_t times_cursor;
	_Atomic uint64_t scan_times[STATS_SCAN_TIMES];
	_Atomic int64_t start_time;
	atomic_int restored;
};

static const char *const stats_action_names[STATS_ACTION_COUNT] = {
	"reject", "soft reject", "rewrite subject", "add header", "greylist", "no action",
};

static struct shared_stats stats_private;
static struct shared_stats *stats_shared;

static struct shared_stats *
stats(void)
{
	struct shared_stats *s = stats_shared != NULL ? stats_shared : &stats_private;

	if (atomic_load_explicit(&s->start_time, memory_order_relaxed) == 0)
		atomic_store(&s->start_time, (int64_t)time(NULL));
	return s;
}

int
shared_stats_create(void)
{
	void *p;

	if (stats_shared != NULL)
		return 0;
	p = mmap(NULL, sizeof(struct shared_stats), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_error("main", NULL, "cannot map shared statistics: %s", strerror(errno));
		return -1;
	}
	/* The mapping is zero-filled, which is every counter's initial value. */
	stats_shared = p;
	atomic_store(&stats_shared->start_time, (int64_t)time(NULL));
	return 0;
}

int
shared_stats_action_index(const char *action)
{
	const char *canon;

	if (action == NULL)
		return STATS_ACTION_NO_ACTION;
	canon = action_canonical_name(action);
	if (canon == NULL)
		canon = action;
	for (int i = 0; i < STATS_ACTION_COUNT; i++) {
		if (strcmp(canon, stats_action_names[i]) == 0)
			return i;
	}
	return -1;
}

const char *
shared_stats_action_name(enum stats_action a)
{
	return (unsigned)a < STATS_ACTION_COUNT ? stats_action_names[a] : "no action";
}

void
shared_stats_count_scan(const char *action, bool spam, double seconds)
{
	struct shared_stats *s = stats();
	int a = shared_stats_action_index(action);
	uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6) : 0;
	uint64_t slot;

	atomic_fetch_add_explicit(&s->scanned, 1, memory_order_relaxed);
	if (a >= 0)
		atomic_fetch_add_explicit(&s->actions[a], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(spam ? &s->spam_count : &s->ham_count, 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&s->scan_time_us, us, memory_order_relaxed);
	slot = atomic_fetch_add_explicit(&s->times_cursor, 1, memory_order_relaxed);
	atomic_store_explicit(&s->scan_times[slot % STATS_SCAN_TIMES], us + 1,
	    memory_order_relaxed);
}

void
shared_stats_count_connection(void)
{
	atomic_fetch_add_explicit(&stats()->connections, 1, memory_order_relaxed);
}

void
shared_stats_count_control_connection(void)
{
	atomic_fetch_add_explicit(&stats()->control_connections, 1, memory_order_relaxed);
}

void
shared_stats_count_learn(void)
{
	atomic_fetch_add_explicit(&stats()->learned, 1, memory_order_relaxed);
}

void
shared_stats_snapshot(struct stats_snapshot *r)
{
	struct shared_stats *s = stats();
	uint64_t cursor;

	memset(r, 0, sizeof(*r));
	r->scanned = atomic_load(&s->scanned);
	for (int i = 0; i < STATS_ACTION_COUNT; i++)
		r->actions[i] = atomic_load(&s->actions[i]);
	r->spam_count = atomic_load(&s->spam_count);
	r->ham_count = atomic_load(&s->ham_count);
	r->learned = atomic_load(&s->learned);
	r->connections = atomic_load(&s->connections);
	r->control_connections = atomic_load(&s->control_connections);
	r->scan_time_us = atomic_load(&s->scan_time_us);
	r->start_time = atomic_load(&s->start_time);
	/* Oldest first: the slot the cursor points at is the next to go. */
	cursor = atomic_load(&s->times_cursor);
	for (unsigned i = 0; i < STATS_SCAN_TIMES; i++)
		r->scan_times[i] = atomic_load(&s->scan_times[(cursor + i) % STATS_SCAN_TIMES]);
}

void
shared_stats_reset(void)
{
	struct shared_stats *s = stats();

	atomic_store(&s->scanned, 0);
	for (int i = 0; i < STATS_ACTION_COUNT; i++)
		atomic_store(&s->actions[i], 0);
	atomic_store(&s->spam_count, 0);
	atomic_store(&s->ham_count, 0);
	atomic_store(&s->learned, 0);
	atomic_store(&s->connections, 0);
	atomic_store(&s->control_connections, 0);
	atomic_store(&s->scan_time_us, 0);
	atomic_store(&s->times_cursor, 0);
	for (unsigned i = 0; i < STATS_SCAN_TIMES; i++)
		atomic_store(&s->scan_times[i], 0);
}

/* The persisted counters, by their /stat names. */
static struct obj *
stats_to_obj(const struct stats_snapshot *s)
{
	struct obj *o = obj_new_object(), *a = obj_new_object();

	obj_object_set(o, "scanned", obj_new_int((int64_t)s->scanned));
	for (int i = 0; i < STATS_ACTION_COUNT; i++)
		obj_object_set(a, stats_action_names[i], obj_new_int((int64_t)s->actions[i]));
	obj_object_set(o, "actions", a);
	obj_object_set(o, "spam_count", obj_new_int((int64_t)s->spam_count));
	obj_object_set(o, "ham_count", obj_new_int((int64_t)s->ham_count));
	obj_object_set(o, "learned", obj_new_int((int64_t)s->learned));
	obj_object_set(o, "connections", obj_new_int((int64_t)s->connections));
	obj_object_set(o, "control_connections", obj_new_int((int64_t)s->control_connections));
	obj_object_set(o, "scan_time_us", obj_new_int((int64_t)s->scan_time_us));
	return o;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
shared_stats_save(const char *path)
{
	struct stats_snapshot s;
	struct obj *o;
	struct buf b;
	char tmp[PATH_MAX];
	int fd, rc = -1;

	if (str_format(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) < 0)
		return -1;
	shared_stats_snapshot(&s);
	o = stats_to_obj(&s);
	buf_init(&b, 0);
	obj_emit_json(o, &b, true);
	obj_free(&o);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0) {
		rc = write_all(fd, b.data, b.len) == 0 && write_all(fd, "\n", 1) == 0 ? 0 : -1;
		if (close(fd) < 0)
			rc = -1;
		if (rc == 0 && rename(tmp, path) < 0)
			rc = -1;
		if (rc < 0)
			unlink(tmp);
	}
	if (rc < 0)
		log_warn("controller", NULL, "cannot save statistics to %s: %s", path, strerror(errno));
	buf_deinit(&b);
	return rc;
}

static void
add_counter(_Atomic uint64_t *c, const struct obj *o, const char *key)
{
	int64_t v;

	if (obj_get_int(obj_lookup(o, key), &v) == 0 && v > 0)
		atomic_fetch_add(c, (uint64_t)v);
}

static void
stats_add_obj(struct shared_stats *s, const struct obj *o)
{
	const struct obj *a = obj_lookup(o, "actions");

	add_counter(&s->scanned, o, "scanned");
	for (int i = 0; i < STATS_ACTION_COUNT; i++)
		add_counter(&s->actions[i], a, stats_action_names[i]);
	add_counter(&s->spam_count, o, "spam_count");
	add_counter(&s->ham_count, o, "ham_count");
	add_counter(&s->learned, o, "learned");
	add_counter(&s->connections, o, "connections");
	add_counter(&s->control_connections, o, "control_connections");
	add_counter(&s->scan_time_us, o, "scan_time_us");
}

/* The file into a heap buffer; NULL when missing, unreadable or too big. */
static char *
read_small_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *data;
	size_t n;

	if (f == NULL)
		return NULL;
	data = xmalloc(STATS_FILE_MAX + 1);
	n = fread(data, 1, STATS_FILE_MAX + 1, f);
	fclose(f);
	if (n > STATS_FILE_MAX) {
		free(data);
		errno = EFBIG;
		return NULL;
	}
	*len_r = n;
	return data;
}

int
shared_stats_restore(const char *path)
{
	struct shared_stats *s = stats();
	int expected = 0;
	char *data, *err = NULL;
	struct obj *o;
	size_t len = 0;

	if (!atomic_compare_exchange_strong(&s->restored, &expected, 1))
		return 0;
	data = read_small_file(path, &len);
	if (data == NULL)
		return errno == ENOENT ? 0 : -1;
	o = ucl_parse_json(data, len, &err);
	free(data);
	if (o == NULL || o->type != OBJ_OBJECT) {
		log_warn("controller", NULL, "ignoring unreadable statistics file %s: %s", path,
		    err != NULL ? err : "not an object");
		free(err);
		obj_free(&o);
		return -1;
	}
	stats_add_obj(s, o);
	obj_free(&o);
	log_info("controller", NULL, "statistics counters restored from %s", path);
	return 0;
}
