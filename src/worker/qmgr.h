/*
 * qmgr.h - the queue manager's pieces: worker_qmgr.c schedules (watches
 * incoming/, retries deferred/), qmgr_deliver.c delivers one queue file.
 */
#ifndef WORKER_QMGR_H
#define WORKER_QMGR_H

#include <stdbool.h>

struct mta_settings;
struct spool;
struct users;

struct qmgr {
	const struct mta_settings *mta;
	struct spool *spool;
	struct users *users;   /* blocking lookups (no loop) */
	const char *hostname;
};

/* What became of one message. */
enum qmgr_outcome {
	QMGR_DONE,      /* every recipient delivered or failed for good: removed */
	QMGR_DEFERRED,  /* some recipients must be retried: in deferred/ */
	QMGR_ERROR,     /* could not process (left where it was, logged) */
};

/*
 * Takes incoming/<id> through active/ to its end: local recipients into
 * their Maildir (Junk for messages flagged so), quota checked, warnings at
 * 80% and 95%; progress recorded in the envelope after each recipient so a
 * crash redelivers at most the one in flight.
 */
enum qmgr_outcome qmgr_deliver(struct qmgr *q, const char *id);

#endif
