/*
 * fuzz_dns_reply.c - libFuzzer target for the DNS reply parser
 * (dns_answer_parse in src/auth/dns_parse.c) on its own.
 *
 * The first byte picks the query type (A, AAAA, MX, TXT, PTR, CNAME: the
 * ones the SPF, DKIM, DMARC and RBL code asks for); the rest is the reply.
 * Every string of every record is read byte by byte so ASan sees a
 * pointer that strays outside the answer block. Invariants: only records
 * of the asked type are listed, names are non-NULL and within a bound
 * quadratic in the reply size (c-ares 1.18 does not hold names to the
 * 255-octet limit, and a compression pointer may land inside an earlier
 * label, so a reply byte can be read more than once, each as up to four
 * characters "\DDD"; a name past that bound would mean a runaway
 * expansion), TXT data is
 * NUL-terminated at its length and no longer than the reply, and a
 * reference taken and dropped leaves the answer usable.
 */
#include "auth/dns_internal.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int fuzz_types[] = {
	DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_TXT, DNS_T_PTR, DNS_T_CNAME,
};

/* Reads every byte of a name; traps on NULL or an impossible length. */
static unsigned
touch_name(const char *s, size_t alen)
{
	unsigned sum = 0;
	size_t n = 0;

	if (s == NULL)
		__builtin_trap();
	for (; s[n] != '\0'; n++)
		sum += (unsigned char)s[n];
	if (n > 4 * alen * (alen + 1))
		__builtin_trap();
	return sum;
}

static unsigned
touch_rr(const struct dns_rr *rr, size_t alen)
{
	unsigned sum = rr->ttl;

	switch (rr->type) {
	case DNS_T_A:
		sum += rr->v.a.s_addr;
		break;
	case DNS_T_AAAA:
		for (size_t i = 0; i < 16; i++)
			sum += rr->v.aaaa.s6_addr[i];
		break;
	case DNS_T_MX:
		sum += rr->v.mx.pref + touch_name(rr->v.mx.name, alen);
		break;
	case DNS_T_TXT:
		if (rr->v.txt.data == NULL || rr->v.txt.len > alen ||
		    rr->v.txt.data[rr->v.txt.len] != '\0')
			__builtin_trap();
		for (size_t i = 0; i < rr->v.txt.len; i++)
			sum += (unsigned char)rr->v.txt.data[i];
		break;
	default:
		sum += touch_name(rr->v.name, alen);
		break;
	}
	return sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_answer *a, *b;
	volatile unsigned sink = 0;
	int qtype;

	if (size < 1)
		return 0;
	qtype = fuzz_types[data[0] % (sizeof(fuzz_types) / sizeof(fuzz_types[0]))];
	a = dns_answer_parse(data + 1, size - 1, qtype);
	if (a == NULL)
		return 0;
	if (a->refcount != 1 || (a->n_rr > 0 && !a->has_ttl) ||
	    (a->n_rr > 0 && a->rr == NULL))
		__builtin_trap();
	b = dns_answer_ref(a);
	dns_answer_unref(&b);
	if (b != NULL || a->refcount != 1)
		__builtin_trap();
	for (size_t i = 0; i < a->n_rr; i++) {
		if (a->rr[i].type != qtype || a->rr[i].ttl > 0x7fffffffu ||
		    a->rr[i].ttl < a->ttl)
			__builtin_trap();
		sink += touch_rr(&a->rr[i], size);
	}
	(void)sink;
	dns_answer_unref(&a);
	return 0;
}
