/*
 * spf_record.h - SPF records (RFC 7208) as data: the parser of a record's
 * text into terms, and the macro expander. Pure functions, no DNS; the
 * evaluator (spf.c) walks what the parser produced.
 */
#ifndef AUTH_SPF_RECORD_H
#define AUTH_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct pool;

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	char qual;               /* '+', '-', '~', '?' */
	const char *domain;      /* domain-spec (unexpanded macro string) or NULL */
	uint8_t addr[16];        /* ip4 (first 4 bytes) / ip6 network */
	int cidr4, cidr6;        /* prefix lengths; -1 when not given */
	const char *text;        /* as written, with the qualifier: "+ip4:192.0.2.0/24" */
};

struct spf_record {
	struct spf_term *terms;
	size_t n_terms;
	const char *redirect;    /* domain-spec or NULL */
	const char *exp;         /* domain-spec or NULL */
	bool has_all;
};

/* True when the TXT string is an SPF version 1 record ("v=spf1" then SP or end). */
bool spf_record_is_v1(const char *txt, size_t len);

/*
 * Parses a record (the whole TXT string, "v=spf1 ..."). Strings live in
 * `pool`. Returns 0, or -1 with a static reason in *error_r (a syntax
 * error is a permerror). -1 too when the pool is at its cap.
 */
int spf_record_parse(const char *txt, size_t len, struct pool *pool,
    struct spf_record *rec_r, const char **error_r);

/* Values the macro letters stand for (RFC 7208 section 7.3). */
struct spf_macro_env {
	const char *sender;      /* s: local-part@domain */
	const char *local;       /* l */
	const char *sender_domain; /* o */
	const char *domain;      /* d: current domain */
	const char *ip;          /* i: dotted (v4) or nibble (v6) form, precomputed */
	bool ipv6;               /* v: "ip6" or "in-addr" */
	const char *validated;   /* p: validated name, "unknown" when none */
	const char *helo;        /* h */
	const char *client_ip;   /* c: the address as text (exp only) */
	const char *receiver;    /* r (exp only) */
	long long timestamp;     /* t (exp only) */
};

/*
 * Expands a macro-string into `out` (appended). `exp` allows c, r, t (the
 * explanation string). Returns 0, or -1 for a malformed macro or an output
 * over `out`'s maximum.
 */
int spf_macro_expand(const char *spec, const struct spf_macro_env *env, bool exp,
    struct buf *out);
/* Syntax check of a macro-string without expanding it. */
bool spf_macro_valid(const char *spec, size_t len, bool exp);
/* Does the macro-string use %{p} (which needs DNS before expansion)? */
bool spf_macro_uses_p(const char *spec);

/* Drops leading labels until the name fits in 253 bytes (RFC 7208 4.8). */
void spf_domain_truncate(struct buf *name);

#endif
