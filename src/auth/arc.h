/*
 * arc.h - ARC (RFC 8617): chain verification and sealing.
 *
 * Pure like dkim.h (no DNS, no task): arc_verify_init() collects the ARC
 * sets of a message and checks their structure; the caller then looks up
 * the keys arc_verify_key_name() lists and hands each record (or the DNS
 * failure) back; arc_verify_finish() settles the chain validation status.
 * The ARC-Message-Signature is a DKIM signature in all but name, so it is
 * verified with the DKIM helper's code (dkim_verify_key); the ARC-Seal
 * hashes the ARC header sets with relaxed canonicalization (5.1.1).
 *
 * arc_seal_message() (arc_seal.c) builds the next ARC set for relayed mail.
 *
 * The scan rules (arc_check.c) add the lookups and the symbols ARC_ALLOW,
 * ARC_REJECT, ARC_INVALID, ARC_DNSFAIL, ARC_NA, and the sealing (ARC_SIGNED).
 */
#ifndef AUTH_ARC_H
#define AUTH_ARC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth/dkim.h"

#define ARC_MAX_INSTANCES 50

enum arc_cv {
	ARC_CV_NONE,
	ARC_CV_PASS,
	ARC_CV_FAIL,
};

const char *arc_cv_name(enum arc_cv cv);

enum arc_result {
	ARC_RESULT_NONE,      /* no ARC headers */
	ARC_RESULT_PASS,
	ARC_RESULT_FAIL,      /* a signature or seal does not verify, cv=fail */
	ARC_RESULT_INVALID,   /* broken structure or unparsable header */
	ARC_RESULT_TEMPERROR, /* a key could not be fetched for now */
	ARC_RESULT_PENDING,   /* keys still needed */
};

struct arc_set {
	unsigned instance;
	size_t aar, ams, as;          /* header indexes in the message */
	struct dkim_check ams_check;  /* the AMS as a DKIM signature */
	/* the seal */
	enum dkim_alg as_alg;
	enum arc_cv cv;
	char *as_domain, *as_selector;
	unsigned char *as_b;
	size_t as_b_len;
	enum dkim_result as_result;
	const char *as_reason;
};

struct arc_verify {
	struct dkim_verify dv;        /* message split and body hash cache */
	struct arc_set *sets;         /* sets[i] is instance i + 1 */
	unsigned n_sets;
	enum arc_result result;
	const char *reason;           /* static text when not PASS/NONE */
};

/*
 * Splits the message and checks the ARC sets' structure. Afterwards
 * av->result is NONE (no ARC headers), INVALID or FAIL (settled without
 * keys), or PENDING: look up the keys. -1 only at the pool cap.
 */
int arc_verify_init(struct arc_verify *av, struct pool *pool, const char *data,
    size_t len);

/*
 * Keys needed while PENDING: key 0 is the newest AMS's, key k (1..n_sets)
 * the seal of instance k. Names are "selector._domainkey.domain" in the pool.
 */
size_t arc_verify_n_keys(const struct arc_verify *av);
char *arc_verify_key_name(struct arc_verify *av, size_t k);
/* Settles key k from its TXT record text. */
void arc_verify_key_record(struct arc_verify *av, size_t k, struct str record);
/* Key k could not be fetched: temporary (SERVFAIL, timeout) or not found. */
void arc_verify_key_missing(struct arc_verify *av, size_t k, bool temporary);
/* Settles av->result once every key was handed over. */
void arc_verify_finish(struct arc_verify *av);

/* The domain of the newest seal (for symbol options), or NULL. */
const char *arc_verify_last_domain(const struct arc_verify *av);

/*
 * Sealing (5.1): a new set i=N+1 on top of the message's chain. `cv` is
 * the verifier's verdict on that chain: NONE when the message has no ARC
 * headers, PASS when it verified, FAIL otherwise (the new seal then signs
 * only its own set, 5.1.2). Values are the header values without the
 * name, folded with "\n\t", pool strings; the caller prepends them.
 */
struct arc_seal_params {
	const char *domain;
	const char *selector;
	const char *authserv_id;
	const char *results;      /* RFC 8601 resinfo list, "; "-separated;
	                           * NULL or "": "none" */
	const char *sign_headers; /* NULL: DKIM_DEFAULT_SIGN_HEADERS */
	time_t now;               /* t= */
};

struct arc_seal {
	unsigned instance;        /* i= of the new set */
	enum arc_cv cv;
	char *aar, *ams, *as;     /* ARC-Authentication-Results, -Message-
	                           * Signature, -Seal values */
};

/*
 * Builds the set. -1 with a static *error_r when the message must not be
 * sealed: cv=none but ARC headers exist, cv=pass on a broken chain, the
 * newest seal already says cv=fail (5.1 step 1), or 50 instances exist.
 */
int arc_seal_message(struct pool *pool, const char *data, size_t len, enum arc_cv cv,
    const struct arc_seal_params *p, const struct dkim_privkey *key,
    struct arc_seal *seal_r, const char **error_r);

#endif
