/*
 * fuzz_spf.c - libFuzzer target for the SPF record parser, the macro
 * expander and the DNS reply parser underneath them.
 *
 * The first input byte picks the target so one corpus covers all three.
 * Invariants: a parsed record's terms have their text and sane CIDR
 * lengths; a macro-string the validator accepts expands without error
 * (only the output cap may stop it) and one it rejects fails to expand;
 * a parsed DNS reply lists only records of the asked type with string
 * lengths that match.
 */
#include "auth/dns_internal.h"
#include "auth/spf_record.h"
#include "core/buf.h"
#include "core/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_record(const char *t, size_t n)
{
	struct pool *pool = pool_new(1 << 20);
	struct spf_record rec;
	const char *err;

	if (spf_record_parse(t, n, pool, &rec, &err) == 0) {
		for (size_t i = 0; i < rec.n_terms; i++) {
			const struct spf_term *term = &rec.terms[i];

			if (term->text == NULL || term->cidr4 > 32 || term->cidr6 > 128 ||
			    strchr("+-~?", term->qual) == NULL)
				abort();
		}
	} else if (err == NULL) {
		abort();
	}
	pool_free(&pool);
}

static void
fuzz_macro(const char *t, size_t n)
{
	static const struct spf_macro_env env = {
		.sender = "a.b-c@d.example", .local = "a.b-c", .sender_domain = "d.example",
		.domain = "x.y.example", .ip = "192.0.2.1", .helo = "h.example",
		.client_ip = "192.0.2.1", .timestamp = 1,
	};
	char *s = malloc(n + 1);
	struct buf b;
	bool valid;
	int rc;

	memcpy(s, t, n);
	s[n] = '\0';
	valid = strlen(s) == n && spf_macro_valid(s, n, true);
	buf_init(&b, 1 << 16);
	rc = spf_macro_expand(s, &env, true, &b);
	if (valid && rc < 0 && b.len < (1 << 15))
		abort();
	if (!valid && strlen(s) == n && rc == 0 && strchr(s, '%') != NULL) {
		/* the expander accepted a macro the validator refused */
		bool printable = true;

		for (size_t i = 0; i < n; i++)
			printable &= (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f;
		if (printable)
			abort();
	}
	spf_domain_truncate(&b);
	buf_deinit(&b);
	free(s);
}

static void
fuzz_dns(const uint8_t *d, size_t n)
{
	static const int types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_TXT, DNS_T_PTR, DNS_T_CNAME };

	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		struct dns_answer *a = dns_answer_parse(d, n, types[k]);

		if (a == NULL)
			continue;
		for (size_t i = 0; i < a->n_rr; i++) {
			const struct dns_rr *rr = &a->rr[i];

			if (rr->type != types[k])
				abort();
			if (rr->type == DNS_T_TXT && rr->v.txt.len > n)
				abort();
			if ((rr->type == DNS_T_PTR || rr->type == DNS_T_CNAME) && rr->v.name == NULL)
				abort();
			if (rr->type == DNS_T_MX && rr->v.mx.name == NULL)
				abort();
		}
		dns_answer_unref(&a);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_record((const char *)data + 1, size - 1);
		break;
	case 1:
		fuzz_macro((const char *)data + 1, size - 1);
		break;
	default:
		fuzz_dns(data + 1, size - 1);
		break;
	}
	return 0;
}
