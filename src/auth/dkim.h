/*
 * dkim.h - DKIM (RFC 6376, RFC 8463): message splitting, header and body
 * canonicalization, tag lists, signature and key record parsing,
 * verification against a key record and signing with a private key.
 *
 * Everything here is pure: bytes in, results out, no DNS and no task. The
 * scan rules (dkim_check.c, dkim_signing.c) add the key lookups and the
 * config on top. Messages may use CRLF or bare LF line ends; both are
 * canonicalized to CRLF as the RFC requires.
 *
 * Ownership: parsed structures and strings are allocated from the pool the
 * caller passes and borrow the message bytes (views). Keys are heap
 * objects freed with their _free() function.
 */
#ifndef AUTH_DKIM_H
#define AUTH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/str.h"

struct buf;
struct pool;

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_RSA_SHA1,
	DKIM_ALG_ED25519_SHA256,
};

enum dkim_key_type {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

enum dkim_result {
	DKIM_RESULT_NONE,       /* not checked yet */
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,       /* bad signature or body hash mismatch */
	DKIM_RESULT_TEMPERROR,  /* key lookup failed for now */
	DKIM_RESULT_PERMERROR,  /* bad syntax, bad or missing key, expired */
};

const char *dkim_result_name(enum dkim_result r);

/* Limits against hostile input. */
#define DKIM_MAX_HEADERS 1024     /* header fields looked at per message */
#define DKIM_MAX_TAGS 64          /* tags in one tag list */
#define DKIM_MAX_SIGNED_HEADERS 256 /* entries of h= */

/* One header field as it appears in the message. */
struct dkim_header {
	struct str name;   /* without trailing whitespace */
	struct str field;  /* name through the end of its last line, no final line end */
};

struct dkim_message {
	struct dkim_header *headers; /* in order, at most DKIM_MAX_HEADERS */
	size_t n_headers;
	struct str body;             /* everything after the empty line */
};

/*
 * Splits raw message bytes into header fields and body (a leading mbox
 * "From " line is skipped; lines without a colon are ignored). Views
 * borrow `data`. Returns -1 only at the pool cap.
 */
int dkim_message_split(struct pool *pool, const char *data, size_t len,
    struct dkim_message *msg_r);

/*
 * Appends the canonical form of one header field to `out`, followed by
 * CRLF when `crlf` (the DKIM-Signature field itself is hashed without it).
 * Returns -1 when `out` reaches its maximum.
 */
int dkim_canon_header(enum dkim_canon c, struct str field, bool crlf, struct buf *out);

/*
 * Feeds the canonical body to `sink` in pieces (no buffering of the whole
 * body), and returns the canonical length.
 */
typedef void dkim_sink_fn(void *ud, const char *p, size_t n);
uint64_t dkim_canon_body(enum dkim_canon c, struct str body, dkim_sink_fn *sink, void *ud);

/*
 * Body hash of the canonical body, of its first `limit` bytes when limit
 * >= 0. *canon_len_r gets the full canonical length (for l= checks).
 * Returns the digest length, or -1 on an OpenSSL failure.
 */
int dkim_body_hash(enum dkim_canon c, enum dkim_alg alg, struct str body, int64_t limit,
    unsigned char out[64], uint64_t *canon_len_r);

/* A tag=value pair of a tag list; views into the text, value trimmed. */
struct dkim_tag {
	struct str name;
	struct str value;
};

/*
 * Parses "a=b; c=d" (RFC 6376 3.2): FWS around names, '=' and values,
 * an optional final ';'. Returns the number of tags, -1 on a syntax
 * error, more than `max` tags, or a repeated tag name.
 */
int dkim_tags_parse(struct str text, struct dkim_tag *tags, size_t max);

/* A parsed DKIM-Signature. Strings are pool-owned and NUL-terminated. */
struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	char *domain;          /* d=, lowercased */
	char *selector;        /* s= */
	char *auid;            /* i=, default "@" d= */
	struct str *headers;   /* h= names, trimmed */
	size_t n_headers;
	unsigned char bh[64];
	size_t bh_len;
	unsigned char *b;
	size_t b_len;
	int64_t length;        /* l=, -1 when absent */
	int64_t timestamp;     /* t=, -1 when absent */
	int64_t expire;        /* x=, -1 when absent */
};

/*
 * Parses a DKIM-Signature value. On error returns -1 with a static
 * *error_r; *sig_r may then still hold the d= and s= seen (for reports).
 */
int dkim_sig_parse(struct pool *pool, struct str value, struct dkim_sig *sig_r,
    const char **error_r);

/* A public key record (selector._domainkey.domain TXT). */
struct dkim_key {
	enum dkim_key_type type;
	void *pkey;            /* EVP_PKEY */
	unsigned bits;
	bool strict;           /* t=s: i= domain must equal d= */
	bool testing;          /* t=y */
	bool allow_sha1, allow_sha256; /* h= */
};

/*
 * Parses a key record. Returns 0 with a heap key, or -1 with a static
 * *error_r; *revoked_r is set when the record is well-formed but its p= is
 * empty (a revoked key).
 */
int dkim_key_parse(struct str record, struct dkim_key **key_r, bool *revoked_r,
    const char **error_r);
void dkim_key_free(struct dkim_key **key);

/* Checking the signatures of one message. */
struct dkim_check {
	struct dkim_sig sig;       /* valid unless result was set while parsing */
	size_t hdr_index;          /* its DKIM-Signature header */
	enum dkim_result result;
	const char *reason;        /* static or pool text, NULL on pass */
};

struct dkim_verify {
	struct pool *pool;
	struct dkim_message msg;
	struct dkim_check *checks;
	size_t n_checks;
	/* body hashes already computed, by (canon, alg hash, length) */
	struct dkim_bh_cache {
		enum dkim_canon canon;
		bool sha1;
		int64_t limit;
		unsigned char hash[64];
		int len;
		uint64_t canon_len;
	} bh_cache[8];
	size_t n_bh_cache;
	unsigned bh_computed;      /* hashes computed (tests check the caching) */
};

/*
 * Finds up to `max_sigs` DKIM-Signature headers and parses them; those
 * that do not parse, expired (x= before `now`) or are dated more than
 * `jitter` seconds in the future get PERMERROR at once, the others stay
 * NONE until dkim_verify_record()/dkim_verify_key(). Returns -1 at the
 * pool cap.
 */
int dkim_verify_init(struct dkim_verify *v, struct pool *pool, const char *data,
    size_t len, size_t max_sigs, time_t now, unsigned jitter);

/* "selector._domainkey.domain" for the check's key (pool string). */
char *dkim_check_key_name(struct dkim_verify *v, const struct dkim_check *c);

/* Settles a check from its TXT record text. */
void dkim_verify_record(struct dkim_verify *v, struct dkim_check *c, struct str record);
/* Settles a check with an already parsed key. */
void dkim_verify_key(struct dkim_verify *v, struct dkim_check *c, const struct dkim_key *key);

/* Private keys for signing. */
struct dkim_privkey {
	enum dkim_key_type type;
	void *pkey;            /* EVP_PKEY */
	unsigned bits;
};

/*
 * PEM (PKCS#1 RSA, PKCS#8 RSA or Ed25519), or a base64 32-byte Ed25519
 * seed as python3-dkim writes them. -1 with a static *error_r.
 */
int dkim_privkey_parse(const char *text, size_t len, struct dkim_privkey **key_r,
    const char **error_r);
/* Reads `path`; -1 with a heap "path: reason" in *error_r. */
int dkim_privkey_load(const char *path, struct dkim_privkey **key_r, char **error_r);
void dkim_privkey_free(struct dkim_privkey **key);
/* The record's p= value (base64 SubjectPublicKeyInfo, or raw Ed25519 key):
 * heap string. */
char *dkim_privkey_public_b64(const struct dkim_privkey *key);

/*
 * Signed header list "(o)from:(x)sender:to:list-*" (Rspamd's syntax):
 * (o) oversign (listed once more than present, at least once), (x) the
 * same but only when present, plain names as many times as present, and
 * a trailing '*' matches any header with that prefix.
 */
#define DKIM_DEFAULT_SIGN_HEADERS \
	"(o)from:(x)sender:(o)reply-to:(o)subject:(x)date:(x)message-id:" \
	"(o)to:(o)cc:(x)mime-version:(x)content-type:" \
	"(x)content-transfer-encoding:resent-*:(x)in-reply-to:(x)references:" \
	"list-*:(x)openpgp:(x)autocrypt"

struct dkim_sign_params {
	const char *domain;
	const char *selector;
	const char *sign_headers;  /* NULL: DKIM_DEFAULT_SIGN_HEADERS */
	enum dkim_canon hcanon, bcanon; /* relaxed/relaxed is the usual */
	time_t now;                /* t= */
	int64_t expire;            /* x= seconds after now; <= 0: none */
	bool length_tag;           /* add l= (the canonical body length) */
};

/*
 * Signs the message; returns the DKIM-Signature value (no "DKIM-Signature:"
 * prefix), folded with "\n\t", pool-owned. NULL with a static *error_r.
 */
char *dkim_sign(struct pool *pool, const char *data, size_t len,
    const struct dkim_sign_params *p, const struct dkim_privkey *key,
    const char **error_r);

/* What the DKIM rule leaves for DMARC in auth_task->dkim. */
struct dkim_task_sig {
	const char *domain;    /* d= */
	const char *selector;  /* s= */
	const char *auid;      /* i= */
	enum dkim_result result;
	bool sha1;             /* verified with rsa-sha1 */
};

struct dkim_task_result {
	const struct dkim_task_sig *sigs;
	size_t n_sigs;
};

#endif
