/*
 * qmgr.h - the queue manager's pieces: worker_qmgr.c schedules (watches
 * incoming/, retries deferred/), qmgr_deliver.c delivers one queue file.
 */
#ifndef WORKER_QMGR_H
#define WORKER_QMGR_H

#include <stdbool.h>
#include <sys/socket.h>

#include "queue/spool.h"

struct dns_resolver;
struct ev_loop;
struct mta_settings;
struct pool;
struct qmgr_outbound;
struct spool;
struct users;

struct qmgr {
	const struct mta_settings *mta;
	struct spool *spool;
	struct users *users;   /* blocking lookups (no loop) */
	const char *hostname;
	struct qmgr_outbound *ob; /* remote delivery; NULL: remote mail is deferred */
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
	QMGR_OUTBOUND,  /* remote recipients handed to q->ob (stays in active/) */
};

/*
 * Takes incoming/<id> through active/ to its end: local recipients into
 * their Maildir (Junk for messages flagged so), quota checked, warnings at
 * 80% and 95%; progress recorded in the envelope after each recipient so a
 * crash redelivers at most the one in flight.
 */
enum qmgr_outcome qmgr_deliver(struct qmgr *q, const char *id, struct qmgr_batch *b);

/*
 * The end of one attempt at a message in active/ (local part done, remote
 * results recorded in msg->env): bounces failed recipients not bounced
 * before (never for the null sender), expires deferred ones past
 * maximal_queue_lifetime, sends a delay warning once past
 * delay_warning_time, then queues the file for removal in `b` or moves it
 * to deferred/ with the next attempt time.
 */
enum qmgr_outcome qmgr_settle(struct qmgr *q, struct spool_message *msg,
    struct pool *pool, struct qmgr_batch *b);

/*
 * Routing (qmgr_route.c).
 */
struct qmgr_nexthop {
	char host[256];        /* domain, host name or address literal */
	unsigned port;         /* 25 unless given */
	bool mx;               /* false for "[host]": no MX lookup */
};

/* Lookup tables from "key value" files (transport_maps, TLS policy). */
struct qmgr_map;
int qmgr_map_load(const char *path, struct qmgr_map **map_r, char **error_r);
void qmgr_map_free(struct qmgr_map **map);
/* Value for `domain`: exact key, then ".parent" keys, then "*"; or NULL. */
const char *qmgr_map_match(const struct qmgr_map *m, const char *domain);

int qmgr_nexthop_parse(const char *text, struct qmgr_nexthop *hop_r);
void qmgr_nexthop_key(const struct qmgr_nexthop *hop, char *out, size_t size);
/* transport_maps entry, else relayhost, else the domain itself. 0 or -1. */
int qmgr_route(const struct qmgr_map *transports, const char *relayhost,
    const char *domain, struct qmgr_nexthop *hop_r);

#define QMGR_MAX_ADDRS 8         /* per host */
#define QMGR_MAX_ROUTE_ADDRS 32  /* per destination, all hosts */

struct qmgr_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	char host[256];            /* the name it came from (SNI, logs) */
};

enum {
	QMGR_RESOLVE_OK,
	QMGR_RESOLVE_TEMP,         /* defer: DNS failed for now */
	QMGR_RESOLVE_PERM,         /* bounce: no such domain, null MX */
};

/* `addrs` (in the order to try) and `reply` are valid during the call;
 * the lookup is freed after it returns. */
typedef void qmgr_resolve_cb(int status, const char *reply,
    const struct qmgr_addr *addrs, size_t n_addrs, void *ud);
struct qmgr_lookup;
/* The callback always comes from the loop, never from inside this call. */
struct qmgr_lookup *qmgr_resolve(struct dns_resolver *dns, struct ev_loop *loop,
    const struct qmgr_nexthop *hop, qmgr_resolve_cb *cb, void *ud);
void qmgr_lookup_cancel(struct qmgr_lookup **lk);

/*
 * Outbound delivery (qmgr_outbound.c): remote recipients grouped per
 * next hop, sent with the SMTP client on the loop.
 */
typedef void qmgr_outbound_kick_fn(void *ud);
/* -1 with a heap *error_r (bad map file, TLS context). */
int qmgr_outbound_new(struct qmgr *q, struct ev_loop *loop, struct dns_resolver *dns,
    qmgr_outbound_kick_fn *kick, void *kick_ud, struct qmgr_outbound **ob_r,
    char **error_r);
void qmgr_outbound_free(struct qmgr_outbound **ob);
/* No room for another message (qmgr_message_active_limit). */
bool qmgr_outbound_full(const struct qmgr_outbound *ob);
/* Messages in flight. */
size_t qmgr_outbound_count(const struct qmgr_outbound *ob);
/*
 * Takes over an open message in active/ (and `pool`, which holds its
 * envelope): the recipients with remote[i] set are sent; when all are
 * done the message is settled (qmgr_settle) and `kick` is called.
 */
void qmgr_outbound_take(struct qmgr_outbound *ob, struct spool_message *msg,
    struct pool *pool, const bool *remote);

/* Bounce or delay notice for the recipients with which[i] (qmgr_bounce.c).
 * 0 queued, 1 nothing to do (null sender: logged), -1 error. */
int qmgr_bounce(struct qmgr *q, struct spool_message *msg, bool delayed,
    const bool *which);

/* Received: header count of the stored message, -1 when unreadable. */
int qmgr_count_hops(const struct spool_message *msg);

#endif
