/*
 * bayes.h - the statistics module seen from outside: learning a message
 * (the controller's /learnspam and /learnham, autolearn), class totals for
 * /stat, and whether a classifier is configured at all.
 *
 * The classifier rule itself (BAYES_SPAM / BAYES_HAM) is registered by
 * bayes_engine_init() (declared in scan/engine.h) and needs nothing here.
 */
#ifndef SCAN_BAYES_H
#define SCAN_BAYES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/bayes/bayes_backend.h"

struct ev_loop;
struct scan_engine;
struct scan_task;

/* status: BAYES_LEARN_* (200, 204, 208, 500). */
typedef void bayes_learn_cb(struct scan_task *task, int status, const char *message,
    void *ud);

/*
 * Learns the task's message as spam or ham in one backend transaction.
 * Parses the message (scan_task_parse) if that was not done yet. `message`
 * explains a non-200 status in Rspamd's words, e.g. "<mid> has been already
 * learned as spam, ignore it" (208) or "too few tokens" (204); it lives in
 * the task pool. `done` is called exactly once, possibly before this
 * returns (always so for LMDB; task->loop may be NULL then). Redis needs
 * task->loop.
 */
void bayes_learn(struct scan_task *task, bool spam, bayes_learn_cb *done, void *ud);

struct bayes_stat {
	struct {
		const char *symbol;  /* "BAYES_SPAM" */
		const char *type;    /* backend name: "lmdb", "redis" */
		bool spam;
		uint64_t learned;
		uint64_t tokens;
		uint64_t users;
	} files[2];
	size_t n_files;
	uint64_t total_learns;
};

/* rc 0 or -1; `st` is valid during the call only. */
typedef void bayes_stat_cb(int rc, const struct bayes_stat *st, void *ud);

/* Class totals for /stat; `loop` may be NULL for LMDB. */
void bayes_get_stat(const struct scan_engine *eng, struct ev_loop *loop,
    bayes_stat_cb *done, void *ud);

/* True when a classifier "bayes" section is configured and enabled. */
bool bayes_enabled(const struct scan_engine *eng);

#endif
