/*
 * shared_stats.h - scan and learn counters shared by every worker process
 * (what the controller's /stat and /auth report).
 *
 * The supervisor creates one anonymous shared mapping before it forks the
 * first worker, so every worker of every generation (reloads fork new
 * ones from the same supervisor) increments the same counters. Counters
 * are C11 atomics: lock-free on the platforms we build for, so they work
 * across processes without a lock that a crashed worker could leave held.
 * A process that never got the mapping (unit tests, a tool) counts into a
 * private copy instead, so callers never check for NULL.
 */
#ifndef WORKER_SHARED_STATS_H
#define WORKER_SHARED_STATS_H

#include <stdbool.h>
#include <stdint.h>

/* In the order rspamd's /graph and /stat list them. */
enum stats_action {
	STATS_ACTION_REJECT,
	STATS_ACTION_SOFT_REJECT,
	STATS_ACTION_REWRITE_SUBJECT,
	STATS_ACTION_ADD_HEADER,
	STATS_ACTION_GREYLIST,
	STATS_ACTION_NO_ACTION,
	STATS_ACTION_COUNT
};

/* Ring of recent scan times in /stat ("scan_times", null = unused slot). */
#define STATS_SCAN_TIMES 31

/* A plain copy of the counters at one moment. */
struct stats_snapshot {
	uint64_t scanned;
	uint64_t actions[STATS_ACTION_COUNT];
	uint64_t spam_count;
	uint64_t ham_count;
	uint64_t learned;
	uint64_t connections;
	uint64_t control_connections;
	uint64_t scan_time_us;       /* sum over all scans */
	/* microseconds + 1, 0 = slot unused; oldest first */
	uint64_t scan_times[STATS_SCAN_TIMES];
	int64_t start_time;          /* unix seconds when the counters began */
};

/*
 * Maps the shared region (supervisor, before the first fork). Idempotent:
 * a second call keeps the existing region. Returns 0, or -1 when mmap
 * failed (the process then counts privately, and logs why).
 */
int shared_stats_create(void);

/* "reject", "soft reject", "add_header", ...: index, or -1 if unknown. */
int shared_stats_action_index(const char *action);
/* The spaced name /stat uses as a key ("soft reject"). */
const char *shared_stats_action_name(enum stats_action a);

/* One finished scan: its action (NULL = no action), spam verdict, time. */
void shared_stats_count_scan(const char *action, bool spam, double seconds);
void shared_stats_count_connection(void);
void shared_stats_count_control_connection(void);
void shared_stats_count_learn(void);

void shared_stats_snapshot(struct stats_snapshot *r);
/* Zeroes every counter and the scan time ring; start_time is kept. */
void shared_stats_reset(void);

/*
 * Persistence across daemon restarts (the controller keeps
 * <dbdir>/stats.ucl). save writes the counters (not the scan time ring)
 * as JSON, which is valid UCL, through a temporary file and rename.
 * restore adds the saved counters once per shared region: a controller
 * restarted by the supervisor or a reload does not add them again.
 * Both return 0, or -1 (logged; a missing file is not an error).
 */
int shared_stats_save(const char *path);
int shared_stats_restore(const char *path);

/*
 * Throughput over time for /graph: per action, round-robin buckets of
 * fixed width ("day": 288 x 5 min, "week": 336 x 30 min, "month":
 * 372 x 2 h, "year": 366 x 1 day), filled by shared_stats_count_scan and
 * persisted with the counters. Returns the spec's array of 6 series (in
 * enum stats_action order), each an array of {"x": unix_ts, "y": messages
 * per minute or null before the first data}, oldest first; NULL for an
 * unknown type. Caller frees.
 */
struct obj;
struct obj *shared_stats_graph(const char *type, int64_t now);

/*
 * Recent warnings and errors of every process (a ring of
 * STATS_ERRORS_MAX log lines, fed by a log hook the supervisor installs
 * with shared_stats_create), for /errors: an array of {"ts", "pid",
 * "type", "id", "module", "message"}, oldest first. Not persisted.
 */
#define STATS_ERRORS_MAX 64
struct obj *shared_stats_errors(void);
/* The log hook itself (exposed for tests). */
#include "log/log.h"
void shared_stats_log_hook(enum log_level level, const char *process,
    const char *component, const char *id, const char *msg);

#endif
