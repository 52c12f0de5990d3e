/*
 * test_psl.c - public suffix list: plain, wildcard and exception rules,
 * IDN rules in A-label form, malformed names, and the Debian list itself.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/psl.h"
#include "test.h"

static const char sample[] =
    "// comment line\n"
    "com\n"
    "uk\n"
    "co.uk\n"
    "  jp  \n"
    "*.kawasaki.jp\n"
    "!city.kawasaki.jp\n"
    "*.ck\n"
    "!www.ck\n"
    "\n"
    "\xe5\x85\xac\xe5\x8f\xb8.cn\n" /* 公司.cn */
    "cn\n"
    "// ===END===\n";

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
test_plain(const struct psl *psl)
{
	test_begin("psl plain rules");
	test_assert(streq(psl_registrable_domain(psl, "www.example.com"),
	    "example.com"));
	test_assert(streq(psl_registrable_domain(psl, "example.com"),
	    "example.com"));
	test_assert(psl_registrable_domain(psl, "com") == NULL);
	test_assert(streq(psl_registrable_domain(psl, "a.b.example.co.uk"),
	    "example.co.uk"));
	test_assert(psl_registrable_domain(psl, "co.uk") == NULL);
	test_assert(streq(psl_public_suffix(psl, "a.example.co.uk"), "co.uk"));
	/* Case-insensitive, and the trailing dot is kept. */
	test_assert(streq(psl_registrable_domain(psl, "Mail.EXAMPLE.Com"),
	    "EXAMPLE.Com"));
	test_assert(streq(psl_registrable_domain(psl, "mail.example.com."),
	    "example.com."));
	/* Unknown TLD: the "*" default rule. */
	test_assert(streq(psl_registrable_domain(psl, "x.y.example.zz"),
	    "example.zz"));
	test_assert(streq(psl_public_suffix(psl, "x.y.example.zz"), "zz"));
	test_end();
}

static void
test_wildcard(const struct psl *psl)
{
	test_begin("psl wildcard and exception rules");
	test_assert(psl_registrable_domain(psl, "foo.kawasaki.jp") == NULL);
	test_assert(streq(psl_registrable_domain(psl, "a.b.foo.kawasaki.jp"),
	    "b.foo.kawasaki.jp"));
	test_assert(streq(psl_registrable_domain(psl, "city.kawasaki.jp"),
	    "city.kawasaki.jp"));
	test_assert(streq(psl_registrable_domain(psl, "www.city.kawasaki.jp"),
	    "city.kawasaki.jp"));
	test_assert(streq(psl_registrable_domain(psl, "kawasaki.jp"),
	    "kawasaki.jp"));
	test_assert(psl_registrable_domain(psl, "test.ck") == NULL);
	test_assert(streq(psl_registrable_domain(psl, "b.test.ck"),
	    "b.test.ck"));
	test_assert(streq(psl_registrable_domain(psl, "www.ck"), "www.ck"));
	test_assert(streq(psl_registrable_domain(psl, "x.www.ck"), "www.ck"));
	test_end();
}

static void
test_idn_and_invalid(const struct psl *psl)
{
	test_begin("psl IDN rules and malformed names");
	/* 公司.cn is xn--55qx5d.cn */
	test_assert(psl_registrable_domain(psl, "xn--55qx5d.cn") == NULL);
	test_assert(streq(psl_registrable_domain(psl, "a.b.xn--55qx5d.cn"),
	    "b.xn--55qx5d.cn"));
	test_assert(streq(psl_registrable_domain(psl,
	    "a.\xe5\x85\xac\xe5\x8f\xb8.cn"), "a.\xe5\x85\xac\xe5\x8f\xb8.cn"));
	test_assert(psl_registrable_domain(psl, "") == NULL);
	test_assert(psl_registrable_domain(psl, ".") == NULL);
	test_assert(psl_registrable_domain(psl, "a..example.com") == NULL);
	test_assert(psl_registrable_domain(psl, ".example.com") == NULL);
	test_assert(psl_registrable_domain(psl, NULL) == NULL);
	test_assert(streq(psl_org_domain(psl, "com"), "com"));
	test_assert(streq(psl_org_domain(psl, "localhost"), "localhost"));
	test_assert(streq(psl_org_domain(psl, "a.b.example.com"),
	    "example.com"));
	test_assert(streq(psl_org_domain(NULL, "a.b.example.co.uk"),
	    "co.uk"));
	test_end();
}

static void
test_debian_list(void)
{
	char *error = NULL;
	const struct psl *psl;

	test_begin("psl Debian list");
	test_assert(psl_default_load(&error) == 0);
	free(error);
	psl = psl_default();
	test_assert(psl != NULL && psl_rule_count(psl) > 5000);
	test_assert(streq(psl_org_domain(psl, "mail.example.co.uk"),
	    "example.co.uk"));
	test_assert(streq(psl_org_domain(psl, "foo.bar.github.io"),
	    "bar.github.io"));
	test_assert(streq(psl_org_domain(psl, "www.city.kawasaki.jp"),
	    "city.kawasaki.jp"));
	test_assert(psl_registrable_domain(psl, "foo.kawasaki.jp") == NULL);
	test_assert(streq(psl_org_domain(psl, "a.b.xn--55qx5d.cn"),
	    "b.xn--55qx5d.cn"));
	/* Idempotent. */
	test_assert(psl_default_load(&error) == 0);
	test_assert(psl_default() == psl);
	test_end();
}

int
main(void)
{
	struct psl *psl = psl_parse(sample, sizeof(sample) - 1);
	char *error = NULL;

	test_begin("psl parse");
	test_assert(psl_rule_count(psl) == 11);
	test_assert(psl_load("/nonexistent/psl.dat", &error) == NULL);
	test_assert(error != NULL);
	free(error);
	test_end();
	test_plain(psl);
	test_wildcard(psl);
	test_idn_and_invalid(psl);
	psl_free(&psl);
	test_assert(psl == NULL);
	test_debian_list();
	return test_exit();
}
