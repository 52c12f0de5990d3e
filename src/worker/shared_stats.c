/*
 * shared_stats.c - the counters of shared_stats.h in one MAP_SHARED page.
 *
 * Every field is an independent atomic; a snapshot is therefore not one
 * consistent instant (a scan may be counted in `scanned` but not yet in
 * its action), which is fine for statistics and avoids any lock between
 * processes. The scan time ring takes a slot with fetch_add on its cursor,
 * so concurrent workers never write the same slot in the same lap.
 */
#include "worker/shared_stats.h"
#include "core/common.h"
#include "log/log.h"
#include "scan/actions.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

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
