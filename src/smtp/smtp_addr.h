/*
 * smtp_addr.h - RFC 5321 envelope paths (MAIL FROM / RCPT TO), parsed and
 * normalized, and the classic open-relay tricks classified.
 *
 * Pure: bytes in, a fixed-size struct out; no allocation, no I/O.
 */
#ifndef SMTP_SMTP_ADDR_H
#define SMTP_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_ADDR_LOCAL_MAX 64    /* octets, RFC 5321 4.5.3.1.1 */
#define SMTP_ADDR_DOMAIN_MAX 255  /* 4.5.3.1.2 */
#define SMTP_ADDR_PATH_MAX 256    /* 4.5.3.1.3, including the brackets */
/* Room for smtp_addr_format(): local "@" domain NUL. */
#define SMTP_ADDR_TEXT_MAX (SMTP_ADDR_LOCAL_MAX + 1 + SMTP_ADDR_DOMAIN_MAX + 1)

enum smtp_addr_flag {
	SMTP_ADDR_ALLOW_NULL = 1 << 0,        /* "<>" (reverse path) */
	SMTP_ADDR_ALLOW_UTF8 = 1 << 1,        /* SMTPUTF8 was given (RFC 6531) */
	SMTP_ADDR_ALLOW_POSTMASTER = 1 << 2,  /* "<Postmaster>" without a domain */
	SMTP_ADDR_ALLOW_UNBRACKETED = 1 << 3, /* "user@dom" without <> (Postfix
	                                        * strict_rfc821_envelopes=no) */
};

enum smtp_addr_error {
	SMTP_ADDR_OK,
	SMTP_ADDR_ERR_SYNTAX,
	SMTP_ADDR_ERR_TOO_LONG,
	SMTP_ADDR_ERR_UTF8,     /* non-ASCII without SMTPUTF8 (553 5.6.7) */
};

struct smtp_addr {
	char local[SMTP_ADDR_LOCAL_MAX + 1];   /* unquoted when it is a dot-atom,
	                                        * else kept quoted ("a b") */
	char domain[SMTP_ADDR_DOMAIN_MAX + 1]; /* ASCII lowercased, no trailing
	                                        * dot; "[1.2.3.4]" for literals;
	                                        * "" for <> and <postmaster> */
	bool null_path;       /* "<>" */
	bool quoted;          /* the local part was a quoted string */
	bool source_route;    /* "<@a,@b:user@dom>" (the route is dropped) */
	bool literal;         /* domain is an address literal */
	bool trailing_dot;    /* "user@dom." (the dot is dropped) */
	bool utf8;            /* contains non-ASCII */
};

/*
 * Parses the path at the start of `in` (spaces before it are skipped).
 * On success returns 0 with *addr_r filled and *used_r = bytes consumed
 * (the parameters, if any, follow). On failure returns -1 with *error_r.
 */
int smtp_addr_parse(const char *in, size_t len, unsigned flags,
    struct smtp_addr *addr_r, size_t *used_r, enum smtp_addr_error *error_r);

/* "local@domain" (or "local" / "" when there is no domain) into `out`
 * (SMTP_ADDR_TEXT_MAX bytes suffice). Returns the length, -1 if too small. */
int smtp_addr_format(const struct smtp_addr *a, char *out, size_t size);

/*
 * Relay tricks, refused for RCPT before the owner's relay policy runs:
 * a local part that still routes somewhere else ('@' inside a quoted local
 * part, '%' or '!'), a source route, an address literal and a trailing dot.
 * (An unquoted second '@', "user@ext@local", is already a syntax error.)
 */
enum smtp_relay_trick {
	SMTP_TRICK_NONE,
	SMTP_TRICK_SOURCE_ROUTE,
	SMTP_TRICK_LOCAL_AT,
	SMTP_TRICK_LOCAL_PERCENT,
	SMTP_TRICK_LOCAL_BANG,
	SMTP_TRICK_ADDR_LITERAL,
	SMTP_TRICK_TRAILING_DOT,
};

enum smtp_relay_trick smtp_addr_relay_trick(const struct smtp_addr *a);
/* "source route", "'@' in local part", ...; static. */
const char *smtp_relay_trick_name(enum smtp_relay_trick t);

#endif
