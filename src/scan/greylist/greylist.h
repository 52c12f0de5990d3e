/*
 * greylist.h - the greylisting module (Rspamd's greylist plugin, read from
 * the greylist {} section that local.d/greylist.conf fills).
 *
 * A message whose score reaches the greylist threshold (or
 * greylist_min_score) without being rejected is answered "soft reject"
 * with "Try again later" the first time its sender shows up; the MTA of a
 * real sender retries, and a retry after `timeout` passes. Two records
 * stand for "seen before": the "data" key (a hash of the body) and the
 * "meta" key (a hash of the client network, the envelope sender and the
 * recipients). Any of them older than `timeout` lets the message pass; a
 * record lives `expire` after its last pass.
 *
 * The records are in an LMDB file (<dbdir>/greylist.mdb) or, when Redis
 * servers are configured (greylist { servers } or redis { servers }), in
 * Redis as "<key_prefix>b<hash>" / "<key_prefix>m<hash>" = first-sight unix
 * time, with the key's TTL as expiry.
 *
 * This header is for the module's files and its tests only.
 */
#ifndef SCAN_GREYLIST_GREYLIST_H
#define SCAN_GREYLIST_GREYLIST_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct ev_loop;
struct map;
struct obj;
struct scan_engine;
struct scan_task;

/* Seconds since the epoch; tests replace it to move time forward. */
typedef double greylist_clock_fn(void);
void greylist_set_clock(greylist_clock_fn *fn); /* NULL: the wall clock */
double greylist_now(void);

/* What one stored key says. */
struct greylist_rec {
	bool found;          /* present and not expired */
	double first;        /* first sight */
	double expire_at;    /* LMDB only: dropped after this */
};

enum greylist_verdict {
	GREYLIST_SKIP,       /* nothing to do */
	GREYLIST_NEW,        /* first sight: record, greylist */
	GREYLIST_WAIT,       /* seen, timeout not over: greylist again */
	GREYLIST_PASS,       /* seen long enough ago: accept, extend expiry */
};

#define GREYLIST_KEY_MAX 64  /* "<prefix>b" + 32 hex digits, prefix capped */
#define GREYLIST_DATA 0
#define GREYLIST_META 1

/*
 * The decision from the two records: PASS when any record is `timeout`
 * old, WAIT when both exist and neither is, else NEW when the message is
 * `eligible` (its score calls for greylisting), else SKIP. *until_r gets
 * the time from which a retry passes.
 */
enum greylist_verdict greylist_decide(const struct greylist_rec recs[2], bool eligible,
    double timeout, double now, double *until_r);

/*
 * The client network of `ip` as text ("192.0.2.0/19"); IPv4-mapped IPv6
 * counts as IPv4. Returns -1 when `ip` is not an address.
 */
int greylist_mask_ip(const char *ip, unsigned v4_bits, unsigned v6_bits, char *out,
    size_t outlen);

typedef void greylist_lookup_cb(int rc, const struct greylist_rec recs[2], void *ud);
struct greylist_op;

/* A record store; instances are per process (opened after fork). */
struct greylist_store_ops {
	const char *name;
	/* `sec` is the greylist {} section, `cfg` gives dbdir and redis {}. */
	void *(*open)(const struct obj *sec, const struct config *cfg, struct ev_loop *loop,
	    char **error_r);
	void (*close)(void *st);
	/* Calls `cb` once, at once (LMDB) or from the loop (Redis). */
	struct greylist_op *(*lookup)(void *st, const char *const keys[2], double now,
	    greylist_lookup_cb *cb, void *ud);
	/*
	 * After a verdict: NEW records the keys not found (first sight = now),
	 * PASS extends the found ones to now + expire. Fire and forget.
	 */
	void (*update)(void *st, const char *const keys[2], const struct greylist_rec recs[2],
	    enum greylist_verdict v, double now, double expire);
	/* The lookup's callback will not be called. */
	void (*cancel)(void *st, struct greylist_op *op);
};

extern const struct greylist_store_ops greylist_store_lmdb;
extern const struct greylist_store_ops greylist_store_redis;

/* The LMDB file of this config (greylist { path } or <dbdir>/greylist.mdb). */
char *greylist_lmdb_path(const struct obj *sec, const struct config *cfg);


#endif
