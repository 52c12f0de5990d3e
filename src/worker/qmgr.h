/*
 * qmgr.h - the queue manager's pieces: worker_qmgr.c schedules (watches
 * incoming/, retries deferred/), qmgr_deliver.c delivers one queue file.
 */
#ifndef WORKER_QMGR_H
#define WORKER_QMGR_H

#include <stdbool.h>

#include "queue/spool.h"

struct mta_settings;
struct spool;
struct users;

struct qmgr {
	const struct mta_settings *mta;
	struct spool *spool;
	struct users *users;   /* blocking lookups (no loop) */
	const char *hostname;
};

/*
 * Group commit over a batch of messages: deliveries leave new/ unsynced
 * and finished queue files are only unlinked once every new/ they wrote
 * to has been fsync'ed (qmgr_batch_commit), then active/ is fsync'ed
 * once. One directory fsync per mailbox and batch instead of several per
 * message.
 */
struct qmgr_batch_dir {
	char *root;
	char *folder;         /* NULL: INBOX */
};

struct qmgr_batch {
	struct qmgr_batch_dir *dirs; /* mailbox folders written to */
	size_t n_dirs, cap_dirs;
	char (*done)[SPOOL_ID_SIZE]; /* finished queue files, removed after the sync */
	size_t n_done, cap_done;
};

void qmgr_batch_commit(struct qmgr *q, struct qmgr_batch *b);
/* fsync the new/ of every folder written since the last sync. */
void qmgr_batch_sync_dirs(struct qmgr_batch *b);
void qmgr_batch_free(struct qmgr_batch *b);

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
enum qmgr_outcome qmgr_deliver(struct qmgr *q, const char *id, struct qmgr_batch *b);

#endif
