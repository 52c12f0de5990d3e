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
 *
 * The same region holds the /graph round-robin buckets and the /errors
 * ring. A graph bucket is claimed for its time slot by a compare-and-swap
 * on its start time, whose winner zeroes the counts: a scan counted by
 * another process in between may be lost, one message in a statistic.
 * An error slot is written between two stores of its sequence number and
 * a reader keeps it only when both loads agree, so a torn line is skipped
 * rather than shown.
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

#define STATS_FILE_MAX (1024 * 1024)

struct graph_def {
	const char *name;
	int64_t step;      /* seconds per bucket */
	unsigned n;        /* buckets */
	unsigned offset;   /* first bucket in the flat array */
};

static const struct graph_def graph_defs[] = {
	{ "day", 300, 288, 0 },
	{ "week", 1800, 336, 288 },
	{ "month", 7200, 372, 288 + 336 },
	{ "year", 86400, 366, 288 + 336 + 372 },
};

#define GRAPH_BUCKETS (288 + 336 + 372 + 366)

struct graph_bucket {
	_Atomic int64_t start;
	_Atomic uint64_t counts[STATS_ACTION_COUNT];
};

struct error_slot {
	_Atomic uint64_t seq;   /* 0 while being written */
	double ts;
	int pid;
	char type[24];
	char module[32];
	char id[24];
	char message[400];
};

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
	_Atomic int64_t graph_since;   /* first data ever (persisted) */
	struct graph_bucket graph[GRAPH_BUCKETS];
	_Atomic uint64_t errors_cursor;
	struct error_slot errors[STATS_ERRORS_MAX];
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
	if (atomic_load_explicit(&s->graph_since, memory_order_relaxed) == 0)
		atomic_store(&s->graph_since, (int64_t)time(NULL));
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
	atomic_store(&stats_shared->graph_since, (int64_t)time(NULL));
	log_set_hook(shared_stats_log_hook);
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

/* The bucket of graph `g` for time slot `start`, claimed if stale. */
static struct graph_bucket *
graph_bucket(struct shared_stats *s, const struct graph_def *g, int64_t start)
{
	struct graph_bucket *b = &s->graph[g->offset + (uint64_t)(start / g->step) % g->n];
	int64_t old = atomic_load(&b->start);

	if (old != start && old < start &&
	    atomic_compare_exchange_strong(&b->start, &old, start)) {
		for (int i = 0; i < STATS_ACTION_COUNT; i++)
			atomic_store(&b->counts[i], 0);
	}
	return atomic_load(&b->start) == start ? b : NULL;
}

static void
graph_count(struct shared_stats *s, int a, int64_t now)
{
	for (size_t i = 0; i < ARRAY_SIZE(graph_defs); i++) {
		const struct graph_def *g = &graph_defs[i];
		struct graph_bucket *b = graph_bucket(s, g, now - now % g->step);

		if (b != NULL)
			atomic_fetch_add_explicit(&b->counts[a], 1, memory_order_relaxed);
	}
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
	if (a >= 0)
		graph_count(s, a, (int64_t)time(NULL));
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

/* {"since": ts, "day": [[start, c0..c5], ...], ...}: used buckets only. */
static struct obj *
graph_to_obj(struct shared_stats *s)
{
	struct obj *o = obj_new_object();

	obj_object_set(o, "since", obj_new_int(atomic_load(&s->graph_since)));
	for (size_t i = 0; i < ARRAY_SIZE(graph_defs); i++) {
		const struct graph_def *g = &graph_defs[i];
		struct obj *a = obj_new_array();

		for (unsigned k = 0; k < g->n; k++) {
			struct graph_bucket *b = &s->graph[g->offset + k];
			struct obj *row;
			int64_t start = atomic_load(&b->start);

			if (start == 0)
				continue;
			row = obj_new_array();
			obj_array_append(row, obj_new_int(start));
			for (int c = 0; c < STATS_ACTION_COUNT; c++)
				obj_array_append(row, obj_new_int((int64_t)atomic_load(&b->counts[c])));
			obj_array_append(a, row);
		}
		obj_object_set(o, g->name, a);
	}
	return o;
}

/* Saved buckets into the region: a bucket still on its slot adds up. */
static void
graph_add_obj(struct shared_stats *s, const struct obj *o)
{
	int64_t since, start, v;

	if (o == NULL)
		return;
	if (obj_get_int(obj_lookup(o, "since"), &since) == 0 && since > 0 &&
	    since < atomic_load(&s->graph_since))
		atomic_store(&s->graph_since, since);
	for (size_t i = 0; i < ARRAY_SIZE(graph_defs); i++) {
		const struct graph_def *g = &graph_defs[i];
		const struct obj *it = NULL, *row;

		while ((row = obj_iter_values(obj_lookup(o, g->name), &it)) != NULL) {
			struct graph_bucket *b;

			if (obj_get_int(obj_array_at(row, 0), &start) < 0 || start <= 0 ||
			    start % g->step != 0)
				continue;
			b = graph_bucket(s, g, start);
			for (int c = 0; b != NULL && c < STATS_ACTION_COUNT; c++) {
				if (obj_get_int(obj_array_at(row, (size_t)c + 1), &v) == 0 && v > 0)
					atomic_fetch_add(&b->counts[c], (uint64_t)v);
			}
		}
	}
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
	obj_object_set(o, "graph", graph_to_obj(stats()));
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
	graph_add_obj(s, obj_lookup(o, "graph"));
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

static const struct graph_def *
graph_find(const char *type)
{
	for (size_t i = 0; type != NULL && i < ARRAY_SIZE(graph_defs); i++) {
		if (strcmp(type, graph_defs[i].name) == 0)
			return &graph_defs[i];
	}
	return NULL;
}

/* Messages per minute in one bucket; the current one by its elapsed part. */
static struct obj *
graph_point(struct shared_stats *s, const struct graph_def *g, int64_t start,
    int64_t now, int action)
{
	struct graph_bucket *b = &s->graph[g->offset + (uint64_t)(start / g->step) % g->n];
	int64_t span = g->step;
	uint64_t n = 0;

	if (start + g->step <= atomic_load(&s->graph_since))
		return obj_new_null();
	if (atomic_load(&b->start) == start)
		n = atomic_load(&b->counts[action]);
	if (now >= start && now < start + g->step)
		span = MAX(now - start, 60);
	return obj_new_float((double)n * 60.0 / (double)span);
}

struct obj *
shared_stats_graph(const char *type, int64_t now)
{
	const struct graph_def *g = graph_find(type);
	struct shared_stats *s = stats();
	struct obj *all;
	int64_t last;

	if (g == NULL)
		return NULL;
	all = obj_new_array();
	last = now - now % g->step;
	for (int a = 0; a < STATS_ACTION_COUNT; a++) {
		struct obj *series = obj_new_array();

		for (int64_t k = (int64_t)g->n - 1; k >= 0; k--) {
			int64_t start = last - k * g->step;
			struct obj *pt = obj_new_object();

			obj_object_set(pt, "x", obj_new_int(start));
			obj_object_set(pt, "y", graph_point(s, g, start, now, a));
			obj_array_append(series, pt);
		}
		obj_array_append(all, series);
	}
	return all;
}

void
shared_stats_log_hook(enum log_level level, const char *process, const char *component,
    const char *id, const char *msg)
{
	struct shared_stats *s = stats();
	uint64_t seq = atomic_fetch_add(&s->errors_cursor, 1) + 1;
	struct error_slot *e = &s->errors[(seq - 1) % STATS_ERRORS_MAX];
	struct timespec ts;

	UNUSED(level);
	atomic_store(&e->seq, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	e->ts = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	e->pid = (int)getpid();
	str_lcpy(e->type, process != NULL ? process : "", sizeof(e->type));
	str_lcpy(e->module, component != NULL ? component : "", sizeof(e->module));
	str_lcpy(e->id, id != NULL ? id : "", sizeof(e->id));
	str_lcpy(e->message, msg != NULL ? msg : "", sizeof(e->message));
	atomic_store(&e->seq, seq);
}

struct obj *
shared_stats_errors(void)
{
	struct shared_stats *s = stats();
	uint64_t cursor = atomic_load(&s->errors_cursor);
	uint64_t first = cursor > STATS_ERRORS_MAX ? cursor - STATS_ERRORS_MAX + 1 : 1;
	struct obj *a = obj_new_array();

	for (uint64_t seq = first; seq <= cursor; seq++) {
		struct error_slot *e = &s->errors[(seq - 1) % STATS_ERRORS_MAX];
		struct error_slot copy;
		struct obj *o;

		if (atomic_load(&e->seq) != seq)
			continue;
		memcpy(&copy, e, sizeof(copy));
		if (atomic_load(&e->seq) != seq)
			continue;
		copy.type[sizeof(copy.type) - 1] = '\0';
		copy.module[sizeof(copy.module) - 1] = '\0';
		copy.id[sizeof(copy.id) - 1] = '\0';
		copy.message[sizeof(copy.message) - 1] = '\0';
		o = obj_new_object();
		obj_object_set(o, "ts", obj_new_float(copy.ts));
		obj_object_set(o, "pid", obj_new_int(copy.pid));
		obj_object_set(o, "type", obj_new_string(copy.type));
		obj_object_set(o, "id", obj_new_string(copy.id));
		obj_object_set(o, "module", obj_new_string(copy.module));
		obj_object_set(o, "message", obj_new_string(copy.message));
		obj_array_append(a, o);
	}
	return a;
}
