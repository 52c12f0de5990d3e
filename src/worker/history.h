/*
 * history.h - the last N scans of every worker, for the controller's
 * /history (spec/controller.md section 3.4, version 2 rows).
 *
 * Rows live in <dbdir>/history, a file every process maps MAP_SHARED and
 * locks with flock() around each access: the mapping is the shared ring
 * (no supervisor set-up needed, workers of every generation attach on
 * their first scan), and the file is its persistence, so the history
 * survives worker crashes and daemon restarts. N is options.history_rows
 * (default 200, at most HISTORY_MAX_ROWS).
 */
#ifndef WORKER_HISTORY_H
#define WORKER_HISTORY_H

#include <stddef.h>

struct buf;
struct config;
struct scan_task;

#define HISTORY_DEFAULT_ROWS 200
#define HISTORY_MAX_ROWS 10000

/*
 * Attaches this process to the history of `cfg` (its dbdir) and makes
 * the ring hold options.history_rows rows, keeping the newest ones when
 * that number changed (the controller calls it at start). 0, or -1
 * (logged) when there is no dbdir or the file cannot be used.
 */
int history_open(const struct config *cfg);

/* Records a finished scan (called next to shared_stats_count_scan).
 * Never fails visibly: a history that cannot be written is logged once. */
void history_add(const struct scan_task *task);

/*
 * Appends {"version":2,"rows":[...]} to `out`: newest first, rows with
 * index from..to inclusive (to < 0: all). 0, or -1 when the history
 * cannot be read (still a valid document with no rows).
 */
int history_export(const struct config *cfg, long from, long to, struct buf *out);

/* Forgets every row. 0 or -1. */
int history_reset(const struct config *cfg);

/* Builds the JSON text of one row (heap, caller frees; tests). */
char *history_row_json(const struct scan_task *task, size_t max, size_t *len_r);

/* Detaches (tests; processes simply exit). */
void history_close(void);

#endif
