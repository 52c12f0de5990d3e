/*
 * dns_parse.c - turns a raw DNS reply into a struct dns_answer.
 *
 * We parse the wire format ourselves rather than with c-ares' per-type
 * helpers because we need the header (rcode, AD bit), per-record TTLs for
 * every type, TXT record boundaries and the authority SOA for negative
 * caching, all in one pass. Names are expanded with ares_expand_name(),
 * which handles compression pointers and rejects loops.
 *
 * The answer is built in two steps: records and strings are collected in
 * temporary arrays, then copied into a single block so the cache can hold
 * and free it as one object.
 */
#include "auth/dns_internal.h"

#include <ares.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/xmalloc.h"

#define DNS_HDR_LEN 12

struct parse_state {
	const unsigned char *abuf;
	size_t alen;
	size_t off;
	struct dns_rr *rr;       /* string pointers hold offsets into `str` + 1 */
	size_t n_rr, cap_rr;
	char *str;
	size_t str_len, str_cap;
	uint32_t neg_ttl;
	bool has_neg;
};

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends bytes plus a NUL to the string area; returns offset + 1 (0 is "none"). */
static uintptr_t
str_add(struct parse_state *ps, const void *p, size_t n)
{
	size_t at = ps->str_len;

	ps->str = xgrow(ps->str, &ps->str_cap, ps->str_len + n + 1, 1);
	memcpy(ps->str + at, p, n);
	ps->str[at + n] = '\0';
	ps->str_len += n + 1;
	return at + 1;
}

/* Expands the name at `p` into the string area; -1 when malformed. */
static int
name_add(struct parse_state *ps, const unsigned char *p, uintptr_t *off_r, long *len_r)
{
	char *name = NULL;
	long enclen = 0;

	if (ares_expand_name(p, ps->abuf, (int)ps->alen, &name, &enclen) != ARES_SUCCESS)
		return -1;
	if (off_r != NULL)
		*off_r = str_add(ps, name, strlen(name));
	ares_free_string(name);
	if (len_r != NULL)
		*len_r = enclen;
	return 0;
}

/* Concatenates the character-strings of a TXT rdata. */
static int
txt_add(struct parse_state *ps, const unsigned char *p, size_t len, struct dns_rr *rr)
{
	struct buf b;
	int ret = 0;

	buf_init(&b, 0);
	for (size_t i = 0; i < len;) {
		size_t n = p[i];

		if (i + 1 + n > len) {
			ret = -1;
			break;
		}
		buf_append(&b, p + i + 1, n);
		i += 1 + n;
	}
	if (ret == 0) {
		rr->v.txt.data = (const char *)str_add(ps, b.len ? b.data : "", b.len);
		rr->v.txt.len = b.len;
	}
	buf_deinit(&b);
	return ret;
}

static int
rdata_add(struct parse_state *ps, int type, const unsigned char *rd, size_t rdlen,
    struct dns_rr *rr)
{
	uintptr_t off;

	switch (type) {
	case DNS_T_A:
		if (rdlen != 4)
			return -1;
		memcpy(&rr->v.a, rd, 4);
		return 0;
	case DNS_T_AAAA:
		if (rdlen != 16)
			return -1;
		memcpy(&rr->v.aaaa, rd, 16);
		return 0;
	case DNS_T_MX:
		if (rdlen < 3)
			return -1;
		rr->v.mx.pref = get16(rd);
		if (name_add(ps, rd + 2, &off, NULL) < 0)
			return -1;
		rr->v.mx.name = (const char *)off;
		return 0;
	case DNS_T_TXT:
		return txt_add(ps, rd, rdlen, rr);
	case DNS_T_PTR:
	case DNS_T_CNAME:
	case DNS_T_NS:
		if (name_add(ps, rd, &off, NULL) < 0)
			return -1;
		rr->v.name = (const char *)off;
		return 0;
	default:
		return -1;
	}
}

/* The SOA of a negative answer: TTL is min(record TTL, MINIMUM) (RFC 2308). */
static void
soa_note(struct parse_state *ps, const unsigned char *rd, size_t rdlen, uint32_t ttl)
{
	const unsigned char *end = rd + rdlen;
	long n;
	char *name;

	for (int i = 0; i < 2; i++) {
		if (ares_expand_name(rd, ps->abuf, (int)ps->alen, &name, &n) != ARES_SUCCESS)
			return;
		ares_free_string(name);
		rd += n;
	}
	if (rd + 20 > end)
		return;
	ps->neg_ttl = MIN(ttl, get32(rd + 16));
	ps->has_neg = true;
}

/* One resource record at ps->off; section 0 = answer, 1 = authority. */
static int
rr_parse(struct parse_state *ps, int qtype, int section)
{
	long n;
	const unsigned char *p;
	uint16_t type, rdlen;
	uint32_t ttl;
	struct dns_rr rr;

	if (name_add(ps, ps->abuf + ps->off, NULL, &n) < 0)
		return -1;
	if (ps->off + (size_t)n + 10 > ps->alen)
		return -1;
	p = ps->abuf + ps->off + n;
	type = get16(p);
	ttl = get32(p + 4) & 0x7fffffffu;
	rdlen = get16(p + 8);
	if (ps->off + (size_t)n + 10 + rdlen > ps->alen)
		return -1;
	ps->off += (size_t)n + 10 + rdlen;
	if (section == 1 && type == DNS_T_SOA)
		soa_note(ps, p + 10, rdlen, ttl);
	if (section != 0 || type != qtype)
		return 0;
	memset(&rr, 0, sizeof(rr));
	rr.type = type;
	rr.ttl = ttl;
	if (rdata_add(ps, type, p + 10, rdlen, &rr) < 0)
		return -1;
	ps->rr = xgrow(ps->rr, &ps->cap_rr, ps->n_rr + 1, sizeof(rr));
	ps->rr[ps->n_rr++] = rr;
	return 0;
}

static enum dns_rcode
rcode_map(int rc)
{
	switch (rc) {
	case 0:
		return DNS_RC_NOERROR;
	case 2:
		return DNS_RC_SERVFAIL;
	case 3:
		return DNS_RC_NXDOMAIN;
	case 5:
		return DNS_RC_REFUSED;
	default:
		return DNS_RC_ERROR;
	}
}

static const char *
rebase(const char *off, char *base)
{
	return off == NULL ? NULL : base + ((uintptr_t)off - 1);
}

/* Copies the collected records and strings into one block. */
static struct dns_answer *
answer_pack(struct parse_state *ps)
{
	size_t rr_bytes = ps->n_rr * sizeof(struct dns_rr);
	struct dns_answer *a = xcalloc(1, sizeof(*a) + rr_bytes + ps->str_len);
	char *base = (char *)(a + 1) + rr_bytes;

	a->refcount = 1;
	a->rr = (struct dns_rr *)(a + 1);
	a->n_rr = ps->n_rr;
	if (ps->str_len > 0)
		memcpy(base, ps->str, ps->str_len);
	for (size_t i = 0; i < ps->n_rr; i++) {
		struct dns_rr *rr = &a->rr[i];

		*rr = ps->rr[i];
		if (rr->type == DNS_T_MX)
			rr->v.mx.name = rebase(rr->v.mx.name, base);
		else if (rr->type == DNS_T_TXT)
			rr->v.txt.data = rebase(rr->v.txt.data, base);
		else if (rr->type == DNS_T_PTR || rr->type == DNS_T_CNAME || rr->type == DNS_T_NS)
			rr->v.name = rebase(rr->v.name, base);
	}
	return a;
}

static int
sections_parse(struct parse_state *ps, int qtype)
{
	unsigned qd = get16(ps->abuf + 4), an = get16(ps->abuf + 6), ns = get16(ps->abuf + 8);
	long n;

	ps->off = DNS_HDR_LEN;
	for (unsigned i = 0; i < qd; i++) {
		if (name_add(ps, ps->abuf + ps->off, NULL, &n) < 0 ||
		    ps->off + (size_t)n + 4 > ps->alen)
			return -1;
		ps->off += (size_t)n + 4;
	}
	for (unsigned i = 0; i < an + ns; i++) {
		if (rr_parse(ps, qtype, i < an ? 0 : 1) < 0)
			return -1;
	}
	return 0;
}

struct dns_answer *
dns_answer_parse(const unsigned char *abuf, size_t alen, int qtype)
{
	struct parse_state ps;
	struct dns_answer *a = NULL;

	if (alen < DNS_HDR_LEN)
		return NULL;
	memset(&ps, 0, sizeof(ps));
	ps.abuf = abuf;
	ps.alen = alen;
	if (sections_parse(&ps, qtype) == 0) {
		a = answer_pack(&ps);
		a->rcode = rcode_map(abuf[3] & 0x0f);
		a->ad = (abuf[3] & 0x20) != 0;
		if (ps.n_rr > 0) {
			a->ttl = UINT32_MAX;
			for (size_t i = 0; i < ps.n_rr; i++)
				a->ttl = MIN(a->ttl, ps.rr[i].ttl);
			a->has_ttl = true;
		} else {
			a->ttl = ps.neg_ttl;
			a->has_ttl = ps.has_neg;
		}
	}
	free(ps.rr);
	free(ps.str);
	return a;
}

struct dns_answer *
dns_answer_new_empty(enum dns_rcode rcode)
{
	struct dns_answer *a = xcalloc(1, sizeof(*a));

	a->refcount = 1;
	a->rcode = rcode;
	return a;
}

struct dns_answer *
dns_answer_ref(struct dns_answer *a)
{
	a->refcount++;
	return a;
}

void
dns_answer_unref(struct dns_answer **a)
{
	if (*a != NULL && --(*a)->refcount == 0)
		free(*a);
	*a = NULL;
}
