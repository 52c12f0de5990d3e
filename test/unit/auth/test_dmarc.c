/*
 * test_dmarc.c - DMARC record parser, alignment, policy outcomes with fake
 * SPF/DKIM results, pct sampling.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "auth/psl.h"
#include "core/common.h"
#include "test.h"

static int
parse(const char *txt, struct dmarc_record *rec)
{
	const char *error = NULL;

	return dmarc_record_parse(txt, strlen(txt), rec, &error);
}

static void
test_parse_valid(void)
{
	struct dmarc_record rec;

	test_begin("dmarc record: valid records");
	test_assert(parse("v=DMARC1; p=reject", &rec) == 1);
	test_assert(rec.p == DMARC_POLICY_REJECT && rec.sp == DMARC_POLICY_UNSET);
	test_assert(rec.pct == 100 && rec.adkim == DMARC_ALIGN_RELAXED);
	test_assert(rec.ri == 86400 && str_eq_cstr(rec.rf, "afrf"));
	test_assert(parse("v=DMARC1;p=quarantine;sp=none;pct=25;adkim=s;"
	    "aspf=s;rua=mailto:agg@example.com,mailto:b@example.net!10m;"
	    "ruf=mailto:f@example.com;fo=1:d;rf=afrf;ri=3600;", &rec) == 1);
	test_assert(rec.p == DMARC_POLICY_QUARANTINE && rec.sp == DMARC_POLICY_NONE);
	test_assert(rec.pct == 25 && rec.adkim == DMARC_ALIGN_STRICT &&
	    rec.aspf == DMARC_ALIGN_STRICT && rec.ri == 3600);
	test_assert(str_eq_cstr(rec.rua,
	    "mailto:agg@example.com,mailto:b@example.net!10m"));
	test_assert(str_eq_cstr(rec.fo, "1:d"));
	/* Case and spaces tolerated, unknown tags ignored, empty specs. */
	test_assert(parse("  V = dmarc1 ;  P = Reject ; ; X-foo=bar; pct = 0 ;",
	    &rec) == 1);
	test_assert(rec.p == DMARC_POLICY_REJECT && rec.pct == 0);
	/* No p= but a rua=: treated as p=none (6.6.3). */
	test_assert(parse("v=DMARC1; rua=mailto:r@example.com", &rec) == 1);
	test_assert(rec.p == DMARC_POLICY_NONE);
	test_end();
}

static void
test_parse_invalid(void)
{
	struct dmarc_record rec;
	const char *error = NULL;
	static const char *bad[] = {
		"v=DMARC1; p=rejct",
		"v=DMARC1",
		"v=DMARC1; sp=reject",
		"v=DMARC1; p=none; pct=101",
		"v=DMARC1; p=none; pct=-1",
		"v=DMARC1; p=none; pct=",
		"v=DMARC1; p=none; adkim=x",
		"v=DMARC1; p=none; aspf=relaxed",
		"v=DMARC1; p=none; p=reject",
		"v=DMARC1; p=none; rua=example.com",
		"v=DMARC1; p=none; rua=mailto:a@example.com,",
		"v=DMARC1; p=none; fo=2",
		"v=DMARC1; p=none; ri=99999999999",
		"v=DMARC1; p=none; junk",
	};

	test_begin("dmarc record: invalid records and non-DMARC text");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		test_assert(dmarc_record_parse(bad[i], strlen(bad[i]), &rec,
		    &error) == -1);
		test_assert(error != NULL);
	}
	test_assert(parse("v=spf1 -all", &rec) == 0);
	test_assert(parse("p=reject; v=DMARC1", &rec) == 0);
	test_assert(parse("v=DMARC2; p=reject", &rec) == 0);
	test_assert(parse("", &rec) == 0);
	test_assert(parse("hello world", &rec) == 0);
	test_end();
}

static void
test_alignment(const struct psl *psl)
{
	test_begin("dmarc alignment relaxed and strict");
	test_assert(dmarc_aligned(psl, "example.com", "example.com",
	    DMARC_ALIGN_STRICT));
	test_assert(dmarc_aligned(psl, "Example.COM", "example.com.",
	    DMARC_ALIGN_STRICT));
	test_assert(!dmarc_aligned(psl, "example.com", "mail.example.com",
	    DMARC_ALIGN_STRICT));
	test_assert(dmarc_aligned(psl, "example.com", "mail.example.com",
	    DMARC_ALIGN_RELAXED));
	test_assert(dmarc_aligned(psl, "a.example.co.uk", "b.example.co.uk",
	    DMARC_ALIGN_RELAXED));
	test_assert(!dmarc_aligned(psl, "a.example.co.uk", "other.co.uk",
	    DMARC_ALIGN_RELAXED));
	test_assert(!dmarc_aligned(psl, "example.co.uk", "co.uk",
	    DMARC_ALIGN_RELAXED));
	test_assert(!dmarc_aligned(psl, "foo.github.io", "bar.github.io",
	    DMARC_ALIGN_RELAXED));
	test_assert(!dmarc_aligned(psl, "example.com", NULL, DMARC_ALIGN_RELAXED));
	test_assert(!dmarc_aligned(psl, "example.com", "", DMARC_ALIGN_RELAXED));
	test_end();
}

static void
eval(const struct psl *psl, const char *txt, bool use_sp, const char *from,
    const struct dmarc_auth *auth, unsigned sample, struct dmarc_outcome *out)
{
	struct dmarc_record rec;

	ASSERT(parse(txt, &rec) == 1);
	dmarc_evaluate(psl, &rec, use_sp, from, auth, sample, out);
}

static void
test_outcomes(const struct psl *psl)
{
	struct dmarc_dkim_sig sigs[2] = {
		{ "mail.example.com", DMARC_AUTH_PASS },
		{ "other.org", DMARC_AUTH_PASS },
	};
	struct dmarc_auth auth = { "bounce.example.com", DMARC_AUTH_PASS, NULL, 0 };
	struct dmarc_outcome out;

	test_begin("dmarc outcomes with fake SPF and DKIM results");
	/* SPF relaxed pass. */
	eval(psl, "v=DMARC1; p=reject", false, "example.com", &auth, 0, &out);
	test_assert(out.pass && out.spf_aligned && !out.dkim_aligned);
	/* SPF strict: not aligned, no DKIM: reject. */
	eval(psl, "v=DMARC1; p=reject; aspf=s", false, "example.com", &auth, 0,
	    &out);
	test_assert(!out.pass && out.disposition == DMARC_DISP_REJECT);
	test_assert(strcmp(out.reason,
	    "SPF not aligned (strict), No valid DKIM") == 0);
	/* DKIM relaxed pass via the first signature. */
	auth.spf = DMARC_AUTH_FAIL;
	auth.dkim = sigs;
	auth.n_dkim = 2;
	eval(psl, "v=DMARC1; p=reject", false, "example.com", &auth, 0, &out);
	test_assert(out.pass && out.dkim_aligned &&
	    strcmp(out.dkim_domain, "mail.example.com") == 0);
	/* DKIM strict: neither signature aligned. */
	eval(psl, "v=DMARC1; p=quarantine; adkim=s", false, "example.com",
	    &auth, 0, &out);
	test_assert(!out.pass && out.disposition == DMARC_DISP_QUARANTINE);
	test_assert(strcmp(out.reason,
	    "No valid SPF, DKIM not aligned (strict)") == 0);
	/* A failing aligned signature does not count. */
	sigs[0].result = DMARC_AUTH_FAIL;
	eval(psl, "v=DMARC1; p=none", false, "example.com", &auth, 0, &out);
	test_assert(!out.pass && out.disposition == DMARC_DISP_NONE &&
	    out.policy == DMARC_POLICY_NONE);
	test_assert(strcmp(out.reason,
	    "No valid SPF, DKIM not aligned (relaxed)") == 0);
	/* sp for subdomains when the record came from the org domain. */
	eval(psl, "v=DMARC1; p=reject; sp=quarantine", true, "sub.example.com",
	    &auth, 0, &out);
	test_assert(out.policy == DMARC_POLICY_QUARANTINE &&
	    out.disposition == DMARC_DISP_QUARANTINE);
	eval(psl, "v=DMARC1; p=reject", true, "sub.example.com", &auth, 0, &out);
	test_assert(out.policy == DMARC_POLICY_REJECT);
	/* Temporary errors are flagged. */
	auth.n_dkim = 0;
	auth.spf = DMARC_AUTH_TEMPERROR;
	eval(psl, "v=DMARC1; p=reject", false, "bounce.example.com", &auth, 0,
	    &out);
	test_assert(!out.pass && out.temperror);
	test_end();
}

static void
test_pct(const struct psl *psl)
{
	struct dmarc_auth auth = { "evil.test", DMARC_AUTH_PASS, NULL, 0 };
	struct dmarc_outcome out;
	unsigned in = 0;
	char id[64];

	test_begin("dmarc pct sampling");
	test_assert(dmarc_sample(NULL) == 0 && dmarc_sample("") == 0);
	test_assert(dmarc_sample("abc@example.com") ==
	    dmarc_sample("abc@example.com"));
	for (unsigned i = 0; i < 1000; i++) {
		str_format(id, sizeof(id), "msg%u@example.com", i);
		test_assert(dmarc_sample(id) < 100);
		if (dmarc_sample(id) < 30)
			in++;
	}
	test_assert(in > 200 && in < 400);
	eval(psl, "v=DMARC1; p=reject; pct=30", false, "example.com", &auth, 29,
	    &out);
	test_assert(out.disposition == DMARC_DISP_REJECT && !out.sampled_out);
	eval(psl, "v=DMARC1; p=reject; pct=30", false, "example.com", &auth, 30,
	    &out);
	test_assert(out.disposition == DMARC_DISP_QUARANTINE && out.sampled_out);
	eval(psl, "v=DMARC1; p=quarantine; pct=0", false, "example.com", &auth,
	    0, &out);
	test_assert(out.disposition == DMARC_DISP_NONE && out.sampled_out);
	eval(psl, "v=DMARC1; p=quarantine; pct=100", false, "example.com",
	    &auth, 99, &out);
	test_assert(out.disposition == DMARC_DISP_QUARANTINE && !out.sampled_out);
	test_end();
}

int
main(void)
{
	char *error = NULL;
	const struct psl *psl;

	if (psl_default_load(&error) < 0) {
		free(error);
		return 1;
	}
	psl = psl_default();
	test_parse_valid();
	test_parse_invalid();
	test_alignment(psl);
	test_outcomes(psl);
	test_pct(psl);
	return test_exit();
}
