/*
 * bayes_backend.h - where Bayes token counts live: the contract every
 * statistics store (LMDB, Redis) implements.
 *
 * A backend instance is opened lazily in each worker process (never in the
 * main process before fork: connections and LMDB environments do not
 * survive fork), with that worker's libev loop. Every operation completes
 * by calling its callback exactly once: immediately for a local store
 * (LMDB), later from the loop for a remote one (Redis). An operation may be
 * cancelled (the task's time budget ran out); after cancel() its callback
 * is never called.
 *
 * Counts are per class: spam and ham. `user` is NULL unless per-user
 * statistics are on (users_enabled); a user's counts are separate.
 */
#ifndef SCAN_BAYES_BACKEND_H
#define SCAN_BAYES_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct ev_loop;
struct obj;

struct bayes_token {
	uint64_t hash;
	uint32_t spam; /* filled by lookup */
	uint32_t ham;
};

/* Result codes of learn (HTTP-like, as the controller answers them). */
#define BAYES_LEARN_OK       200
#define BAYES_LEARN_ALREADY  208 /* same message already learnt into this class */
#define BAYES_LEARN_SKIPPED  204 /* too few tokens, or learn conditions denied it */
#define BAYES_LEARN_ERROR    500

struct bayes_totals {
	uint64_t learned_spam;   /* messages learnt */
	uint64_t learned_ham;
	uint64_t tokens;         /* distinct tokens stored (0 if unknown) */
	uint64_t users;
};

typedef void bayes_lookup_cb(int rc, const struct bayes_totals *totals, void *ud);
typedef void bayes_learn_done_cb(int status, void *ud);
typedef void bayes_stat_done_cb(int rc, const struct bayes_totals *totals, void *ud);

struct bayes_op; /* a started operation, for cancel */

struct bayes_backend_ops {
	const char *name; /* "lmdb", "redis" (reported by /stat as the statfile type) */
	/*
	 * `classifier` is the classifier "bayes" {} section (backend options:
	 * servers, password, db, timeout, path...); `cfg` gives dbdir.
	 * Returns the instance or NULL with a heap *error_r.
	 */
	void *(*open)(const struct obj *classifier, const struct config *cfg,
	    struct ev_loop *loop, char **error_r);
	void (*close)(void *be);
	/* Fills spam/ham of each token and the class totals. rc 0 or -1. */
	struct bayes_op *(*lookup)(void *be, const char *user, struct bayes_token *tokens,
	    size_t n, bayes_lookup_cb *done, void *ud);
	/*
	 * One atomic transaction: if `digest` is already learnt into the same
	 * class, BAYES_LEARN_ALREADY and nothing changes; if it is learnt into
	 * the other class, that learn is undone (its tokens decremented, its
	 * class total decremented) before this one is applied; then every
	 * token's count in the class is incremented, the class total bumped
	 * and the digest recorded with its class.
	 */
	struct bayes_op *(*learn)(void *be, const char *user, const uint8_t digest[16], bool spam,
	    const uint64_t *hashes, size_t n, bayes_learn_done_cb *done, void *ud);
	struct bayes_op *(*stat)(void *be, bayes_stat_done_cb *done, void *ud);
	/* Stops a pending operation; its callback will not be called. */
	void (*cancel)(void *be, struct bayes_op *op);
};

extern const struct bayes_backend_ops bayes_backend_lmdb;
extern const struct bayes_backend_ops bayes_backend_redis;

#endif
