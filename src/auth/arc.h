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
 * The scan rule (arc_check.c) adds the lookups and the symbols ARC_ALLOW,
 * ARC_REJECT, ARC_INVALID, ARC_DNSFAIL, ARC_NA.
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
 * XXX: sealing (a new AAR/AMS/AS set for relayed mail) is not written
 * yet; arc.conf documents it as not applied.
 */

#endif
