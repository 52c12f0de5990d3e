/*
 * spf.h - SPF (RFC 7208) evaluation on the asynchronous resolver, and the
 * scan rule that inserts Rspamd's R_SPF_* symbols.
 *
 * spf_check() runs check_host() for one (ip, sender, helo): a state
 * machine that walks the record and re-enters on each DNS answer. DNS goes
 * through a caller-supplied function so the same evaluator serves the
 * scan (dns_task_resolve: per-task limit, pending work) and tools/tests
 * (dns_resolve on a private resolver).
 */
#ifndef AUTH_SPF_H
#define AUTH_SPF_H

#include "auth/dns.h"

struct pool;
struct scan_task;

enum spf_res {
	SPF_RES_NONE,
	SPF_RES_NEUTRAL,
	SPF_RES_PASS,
	SPF_RES_FAIL,
	SPF_RES_SOFTFAIL,
	SPF_RES_TEMPERROR,
	SPF_RES_PERMERROR,
};

struct spf_result {
	enum spf_res result;
	const char *domain;      /* domain checked: MAIL FROM's, or HELO for the null sender */
	const char *sender;      /* the <sender> used: "postmaster@helo" for the null sender */
	const char *mechanism;   /* matched term with qualifier ("+ip4:192.0.2.0/24"), or NULL */
	const char *explanation; /* for fail: the exp= text, or NULL */
	const char *reason;      /* for errors and none: why, or NULL */
	unsigned lookups;        /* DNS-querying terms evaluated (the 10 limit) */
	unsigned void_lookups;
};

struct spf_query {
	const char *ip;          /* client address text */
	const char *sender;      /* MAIL FROM; "" or NULL for the null sender */
	const char *helo;
	const char *receiver;    /* %{r}; NULL: "unknown" */
};

/* Like dns_task_resolve: 0 when started (cb may have run), -1 without cb. */
typedef int spf_resolve_fn(void *rctx, const char *name, int qtype, dns_cb *cb, void *ud);
typedef void spf_done_fn(const struct spf_result *res, void *ud);

/*
 * Starts check_host(). Everything lives in `pool`, which must outlive the
 * evaluation. `done` is called exactly once (possibly before this returns)
 * unless the DNS requests are cancelled underneath; `res` stays valid in
 * the pool. Returns -1 (done not called) only when the pool is at its cap.
 */
int spf_check(struct pool *pool, const struct spf_query *q, spf_resolve_fn *resolve,
    void *rctx, spf_done_fn *done, void *ud);

/* "pass", "fail", ... as RFC 7208 and Received-SPF write them. */
const char *spf_result_name(enum spf_res r);

/*
 * The task's SPF result (for DMARC): NULL while the check is in flight (or
 * when its DNS was cancelled by the time budget); when the rule did not
 * check (disabled, no IP, synchronous scan, authenticated user, local
 * address), a SPF_RES_NONE result whose reason starts "not checked".
 */
const struct spf_result *spf_task_result(const struct scan_task *task);

#endif
