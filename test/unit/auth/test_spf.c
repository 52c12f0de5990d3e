/*
 * test_spf.c - SPF: the record parser (every mechanism, modifier and
 * syntax error), macro expansion (RFC 7208 section 7.4 examples), and
 * check_host() on the asynchronous resolver against zones served by
 * test/functional/dnszone.py: pass, fail, softfail, neutral, none,
 * permerror (include loop, more than 10 lookups, more than 2 void
 * lookups, two records, syntax), temperror (timeouts), redirect and exp.
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dns.h"
#include "auth/spf.h"
#include "auth/spf_record.h"
#include "core/buf.h"
#include "core/pool.h"
#include "test.h"

#include "dnszone_child.h"

static struct spf_record
parse_ok(struct pool *pool, const char *txt)
{
	struct spf_record rec;
	const char *err = NULL;

	if (spf_record_parse(txt, strlen(txt), pool, &rec, &err) < 0) {
		fprintf(stderr, "parse failed: %s: %s\n", txt, err);
		memset(&rec, 0, sizeof(rec));
	}
	return rec;
}

static bool
parse_fails(struct pool *pool, const char *txt)
{
	struct spf_record rec;
	const char *err = NULL;

	return spf_record_parse(txt, strlen(txt), pool, &rec, &err) < 0 && err != NULL;
}

static void
test_parser(void)
{
	struct pool *pool = pool_new(0);
	struct spf_record rec;

	test_begin("spf: record parser, every term");
	test_assert(spf_record_is_v1("v=spf1", 6) && spf_record_is_v1("V=SPF1 -all", 11));
	test_assert(!spf_record_is_v1("v=spf10", 7) && !spf_record_is_v1("v=spf", 5));
	rec = parse_ok(pool, "v=spf1 +all -include:a.example ~a ?a:b.example/24//64 "
	    "mx mx:c.example//48 ptr ptr:d.example ip4:192.0.2.0/24 ip6:2001:db8::/32 "
	    "exists:%{ir}.%{l1r+-}._spf.%{d} redirect=e.example exp=x.%{d} foo=bar  ");
	test_assert(rec.n_terms == 11);
	if (rec.n_terms == 11) {
		test_assert(rec.terms[0].mech == SPF_MECH_ALL && rec.terms[0].qual == '+');
		test_assert(rec.terms[1].mech == SPF_MECH_INCLUDE && rec.terms[1].qual == '-' &&
		    strcmp(rec.terms[1].domain, "a.example") == 0);
		test_assert(rec.terms[2].mech == SPF_MECH_A && rec.terms[2].qual == '~' &&
		    rec.terms[2].domain == NULL && rec.terms[2].cidr4 == -1);
		test_assert(rec.terms[3].cidr4 == 24 && rec.terms[3].cidr6 == 64 &&
		    strcmp(rec.terms[3].domain, "b.example") == 0);
		test_assert(rec.terms[5].mech == SPF_MECH_MX && rec.terms[5].cidr4 == -1 &&
		    rec.terms[5].cidr6 == 48);
		test_assert(rec.terms[6].mech == SPF_MECH_PTR && rec.terms[6].domain == NULL);
		test_assert(rec.terms[8].mech == SPF_MECH_IP4 && rec.terms[8].cidr4 == 24 &&
		    rec.terms[8].addr[0] == 192 && rec.terms[8].addr[3] == 0);
		test_assert(strcmp(rec.terms[8].text, "+ip4:192.0.2.0/24") == 0);
		test_assert(rec.terms[9].mech == SPF_MECH_IP6 && rec.terms[9].cidr6 == 32);
		test_assert(rec.terms[10].mech == SPF_MECH_EXISTS);
	}
	test_assert(rec.redirect != NULL && strcmp(rec.redirect, "e.example") == 0);
	test_assert(rec.exp != NULL && strcmp(rec.exp, "x.%{d}") == 0);
	test_assert(rec.has_all);
	test_end();

	test_begin("spf: record parser, syntax errors");
	test_assert(parse_fails(pool, "v=spf1 foo"));                /* unknown mechanism */
	test_assert(parse_fails(pool, "v=spf1 all:x"));
	test_assert(parse_fails(pool, "v=spf1 include"));
	test_assert(parse_fails(pool, "v=spf1 ip4:192.0.2.1/33"));
	test_assert(parse_fails(pool, "v=spf1 ip4:192.0.2.1/024"));
	test_assert(parse_fails(pool, "v=spf1 ip4:1.2.3"));
	test_assert(parse_fails(pool, "v=spf1 ip6:2001:db8::/129"));
	test_assert(parse_fails(pool, "v=spf1 a:example.123"));       /* numeric toplabel */
	test_assert(parse_fails(pool, "v=spf1 a:foo.%{x}.com"));      /* unknown macro */
	test_assert(parse_fails(pool, "v=spf1 exists:%{d0}.x.com"));   /* zero digits */
	test_assert(parse_fails(pool, "v=spf1 a:foo%bar.com"));
	test_assert(parse_fails(pool, "v=spf1 redirect=a.com redirect=b.com"));
	test_assert(parse_fails(pool, "v=spf1 exp=a.com exp=b.com"));
	test_assert(parse_fails(pool, "v=spf1 1foo=bar"));
	test_assert(parse_fails(pool, "v=spf1 -"));
	test_assert(!parse_fails(pool, "v=spf1 a:%{d}"));
	test_assert(!parse_fails(pool, "v=spf1 unknown-mod=%{l}x"));
	test_end();
	pool_free(&pool);
}

static bool
expands_to(const char *spec, const struct spf_macro_env *env, const char *want)
{
	struct buf b;
	bool ok;

	buf_init(&b, 0);
	ok = spf_macro_expand(spec, env, true, &b) == 0 && b.len == strlen(want) &&
	    memcmp(b.data, want, b.len) == 0;
	if (!ok)
		fprintf(stderr, "%s -> %.*s (want %s)\n", spec, (int)b.len, b.data ? b.data : "",
		    want);
	buf_deinit(&b);
	return ok;
}

static void
test_macros(void)
{
	struct spf_macro_env env = {
		.sender = "strong-bad@email.example.com", .local = "strong-bad",
		.sender_domain = "email.example.com", .domain = "email.example.com",
		.ip = "192.0.2.3", .helo = "mx.example.org", .client_ip = "192.0.2.3",
		.timestamp = 1234,
	};
	struct buf b;

	test_begin("spf: macro expansion (RFC 7208 7.4)");
	test_assert(expands_to("%{s}", &env, "strong-bad@email.example.com"));
	test_assert(expands_to("%{o}", &env, "email.example.com"));
	test_assert(expands_to("%{d}", &env, "email.example.com"));
	test_assert(expands_to("%{d4}", &env, "email.example.com"));
	test_assert(expands_to("%{d3}", &env, "email.example.com"));
	test_assert(expands_to("%{d2}", &env, "example.com"));
	test_assert(expands_to("%{d1}", &env, "com"));
	test_assert(expands_to("%{dr}", &env, "com.example.email"));
	test_assert(expands_to("%{d2r}", &env, "example.email"));
	test_assert(expands_to("%{l}", &env, "strong-bad"));
	test_assert(expands_to("%{l-}", &env, "strong.bad"));
	test_assert(expands_to("%{lr}", &env, "strong-bad"));
	test_assert(expands_to("%{lr-}", &env, "bad.strong"));
	test_assert(expands_to("%{l1r-}", &env, "strong"));
	test_assert(expands_to("%{ir}.%{v}._spf.%{d2}", &env, "3.2.0.192.in-addr._spf.example.com"));
	test_assert(expands_to("%{lr-}.lp._spf.%{d2}", &env, "bad.strong.lp._spf.example.com"));
	test_assert(expands_to("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", &env,
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"));
	test_assert(expands_to("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", &env,
	    "3.2.0.192.in-addr.strong.lp._spf.example.com"));
	test_assert(expands_to("%{d2}.trusted-domains.example.net", &env,
	    "example.com.trusted-domains.example.net"));
	test_assert(expands_to("%{S}", &env, "strong-bad%40email.example.com"));
	test_assert(expands_to("%%%_%-", &env, "% %20"));
	test_assert(expands_to("%{h} %{c} %{t} %{r} %{p}", &env,
	    "mx.example.org 192.0.2.3 1234 unknown unknown"));
	env.ipv6 = true;
	env.ip = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1";
	test_assert(expands_to("%{ir}.%{v}._spf.%{d2}", &env,
	    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"));
	buf_init(&b, 0);
	test_assert(spf_macro_expand("%{c}", &env, false, &b) < 0);   /* c only in exp */
	test_assert(spf_macro_expand("%", &env, true, &b) < 0);
	buf_deinit(&b);
	test_assert(spf_macro_uses_p("a.%{p}.b") && !spf_macro_uses_p("%{d}"));
	buf_init(&b, 0);
	for (int i = 0; i < 30; i++)
		buf_append_cstr(&b, "abcdefghi.");
	buf_append_cstr(&b, "com");
	spf_domain_truncate(&b);
	test_assert(b.len <= 253 && b.len > 240 && memcmp(b.data + b.len - 3, "com", 3) == 0);
	buf_deinit(&b);
	test_end();
}

/* ---- evaluation against a zone ---- */

static const char zone_text[] =
	"pass.example. TXT \"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all\"\n"
	"soft.example. TXT \"v=spf1 a:host.soft.example ~all\"\n"
	"host.soft.example. A 198.51.100.7\n"
	"neutral.example. TXT \"v=spf1 ?all\"\n"
	"default.example. TXT \"v=spf1 ip4:203.0.113.1\"\n"
	"mx.example. TXT \"v=spf1 mx/24 -all\"\n"
	"mx.example. MX 10 mail.mx.example.\n"
	"mail.mx.example. A 198.51.100.200\n"
	"inc.example. TXT \"v=spf1 include:pass.example -all\"\n"
	"redir.example. TXT \"v=spf1 redirect=soft.example\"\n"
	"redir-none.example. TXT \"v=spf1 redirect=nothing.example\"\n"
	"loop.example. TXT \"v=spf1 include:loop2.example -all\"\n"
	"loop2.example. TXT \"v=spf1 include:loop.example -all\"\n"
	"many.example. TXT \"v=spf1 a:a1.many.example a:a2.many.example a:a3.many.example "
	    "a:a4.many.example a:a5.many.example a:a6.many.example a:a7.many.example "
	    "a:a8.many.example a:a9.many.example a:a10.many.example a:a11.many.example -all\"\n"
	"a1.many.example. A 10.0.0.1\n"
	"a2.many.example. A 10.0.0.2\n"
	"a3.many.example. A 10.0.0.3\n"
	"a4.many.example. A 10.0.0.4\n"
	"a5.many.example. A 10.0.0.5\n"
	"a6.many.example. A 10.0.0.6\n"
	"a7.many.example. A 10.0.0.7\n"
	"a8.many.example. A 10.0.0.8\n"
	"a9.many.example. A 10.0.0.9\n"
	"a10.many.example. A 10.0.0.10\n"
	"a11.many.example. A 10.0.0.11\n"
	"voids.example. TXT \"v=spf1 a:v1.voids.example a:v2.voids.example a:v3.voids.example -all\"\n"
	"two.example. TXT \"v=spf1 -all\"\n"
	"two.example. TXT \"v=spf1 +all\"\n"
	"bad.example. TXT \"v=spf1 ip4:300.1.1.1 -all\"\n"
	"split.example. TXT \"v=spf1 ip4:192.0.2.0\" \"/24 -all\"\n"
	"nospf.example. TXT \"google-site-verification=x\"\n"
	"slow.example. TIMEOUT\n"
	"slowa.example. TXT \"v=spf1 a:slow.example -all\"\n"
	"exp.example. TXT \"v=spf1 -all exp=why.exp.example\"\n"
	"why.exp.example. TXT \"%{i} is not one of %{d}'s senders\"\n"
	"exists.example. TXT \"v=spf1 exists:%{ir}.list.exists.example -all\"\n"
	"7.2.0.192.list.exists.example. A 127.0.0.2\n"
	"ptr.example. TXT \"v=spf1 ptr -all\"\n"
	"9.2.0.192.in-addr.arpa. PTR host.ptr.example.\n"
	"host.ptr.example. A 192.0.2.9\n";

struct eval {
	struct ev_loop *loop;
	struct dns_resolver *r;
	const struct spf_result *res;
};

static int
eval_resolve(void *rctx, const char *name, int qtype, dns_cb *cb, void *ud)
{
	struct eval *e = rctx;

	dns_resolve(e->r, name, qtype, cb, ud);
	return 0;
}

static void
eval_done(const struct spf_result *res, void *ud)
{
	struct eval *e = ud;

	e->res = res;
}

static struct pool *check_pool;

static const struct spf_result *
check(struct eval *e, const char *ip, const char *sender, const char *helo)
{
	struct spf_query q = { .ip = ip, .sender = sender, .helo = helo };
	double end = ev_time() + 20;

	e->res = NULL;
	test_assert(spf_check(check_pool, &q, eval_resolve, e, eval_done, e) == 0);
	while (e->res == NULL && ev_time() < end)
		ev_run(e->loop, EVRUN_ONCE);
	return e->res;
}

static bool
is(const struct spf_result *res, enum spf_res want, const char *mech)
{
	if (res == NULL)
		return false;
	if (res->result != want || (mech != NULL && (res->mechanism == NULL ||
	    strcmp(res->mechanism, mech) != 0))) {
		fprintf(stderr, "got %s (%s, %s)\n", spf_result_name(res->result),
		    res->mechanism ? res->mechanism : "-", res->reason ? res->reason : "-");
		return false;
	}
	return true;
}

static void
test_eval(struct eval *e)
{
	const struct spf_result *res;

	test_begin("spf: pass, fail, softfail, neutral, none");
	test_assert(is(check(e, "192.0.2.10", "user@pass.example", "h"), SPF_RES_PASS,
	    "+ip4:192.0.2.0/24"));
	test_assert(is(check(e, "2001:db8::5", "user@pass.example", "h"), SPF_RES_PASS,
	    "+ip6:2001:db8::/32"));
	test_assert(is(check(e, "::ffff:192.0.2.10", "user@pass.example", "h"), SPF_RES_PASS, NULL));
	test_assert(is(check(e, "203.0.113.5", "user@pass.example", "h"), SPF_RES_FAIL, "-all"));
	test_assert(is(check(e, "198.51.100.7", "user@soft.example", "h"), SPF_RES_PASS,
	    "+a:host.soft.example"));
	test_assert(is(check(e, "198.51.100.8", "user@soft.example", "h"), SPF_RES_SOFTFAIL,
	    "~all"));
	test_assert(is(check(e, "198.51.100.8", "user@neutral.example", "h"), SPF_RES_NEUTRAL,
	    "?all"));
	test_assert(is(check(e, "198.51.100.8", "user@default.example", "h"), SPF_RES_NEUTRAL, NULL));
	test_assert(is(check(e, "198.51.100.8", "user@nospf.example", "h"), SPF_RES_NONE, NULL));
	test_assert(is(check(e, "198.51.100.8", "user@nxdomain.example", "h"), SPF_RES_NONE, NULL));
	test_assert(is(check(e, "198.51.100.8", "user@localhost", "h"), SPF_RES_NONE, NULL));
	/* null sender: postmaster@HELO */
	res = check(e, "192.0.2.10", "", "pass.example");
	test_assert(is(res, SPF_RES_PASS, NULL) && strcmp(res->sender, "postmaster@pass.example") == 0 &&
	    strcmp(res->domain, "pass.example") == 0);
	test_end();

	test_begin("spf: mx, include, redirect, exists, ptr, exp, multi-string record");
	test_assert(is(check(e, "198.51.100.9", "u@mx.example", "h"), SPF_RES_PASS, "+mx/24"));
	test_assert(is(check(e, "198.51.101.9", "u@mx.example", "h"), SPF_RES_FAIL, "-all"));
	test_assert(is(check(e, "192.0.2.1", "u@inc.example", "h"), SPF_RES_PASS, NULL));
	test_assert(is(check(e, "203.0.113.1", "u@inc.example", "h"), SPF_RES_FAIL, "-all"));
	test_assert(is(check(e, "198.51.100.8", "u@redir.example", "h"), SPF_RES_SOFTFAIL, "~all"));
	test_assert(is(check(e, "192.0.2.7", "u@exists.example", "h"), SPF_RES_PASS, NULL));
	test_assert(is(check(e, "192.0.2.8", "u@exists.example", "h"), SPF_RES_FAIL, NULL));
	test_assert(is(check(e, "192.0.2.9", "u@ptr.example", "h"), SPF_RES_PASS, "+ptr"));
	test_assert(is(check(e, "192.0.2.8", "u@ptr.example", "h"), SPF_RES_FAIL, NULL));
	res = check(e, "192.0.2.66", "u@exp.example", "h");
	test_assert(is(res, SPF_RES_FAIL, "-all") && res->explanation != NULL &&
	    strcmp(res->explanation, "192.0.2.66 is not one of exp.example's senders") == 0);
	test_assert(is(check(e, "192.0.2.200", "u@split.example", "h"), SPF_RES_PASS, NULL));
	test_end();

	test_begin("spf: permerror (loops, 10 lookups, void lookups, two records, syntax)");
	test_assert(is(check(e, "192.0.2.1", "u@loop.example", "h"), SPF_RES_PERMERROR, NULL));
	res = check(e, "192.0.2.1", "u@many.example", "h");
	test_assert(is(res, SPF_RES_PERMERROR, NULL) && res->lookups == 11);
	res = check(e, "192.0.2.1", "u@voids.example", "h");
	test_assert(is(res, SPF_RES_PERMERROR, NULL) && res->void_lookups == 3);
	test_assert(is(check(e, "192.0.2.1", "u@two.example", "h"), SPF_RES_PERMERROR, NULL));
	test_assert(is(check(e, "192.0.2.1", "u@bad.example", "h"), SPF_RES_PERMERROR, NULL));
	test_assert(is(check(e, "192.0.2.1", "u@redir-none.example", "h"), SPF_RES_PERMERROR, NULL));
	test_end();

	test_begin("spf: temperror on DNS timeouts");
	test_assert(is(check(e, "192.0.2.1", "u@slow.example", "h"), SPF_RES_TEMPERROR, NULL));
	test_assert(is(check(e, "192.0.2.1", "u@slowa.example", "h"), SPF_RES_TEMPERROR, NULL));
	test_end();
}

static int
refuse_resolve(void *rctx, const char *name, int qtype, dns_cb *cb, void *ud)
{
	(void)rctx;
	(void)name;
	(void)qtype;
	(void)cb;
	(void)ud;
	return -1;
}

static void
test_limit(void)
{
	struct eval e = { 0 };
	struct spf_query q = { .ip = "192.0.2.1", .sender = "u@pass.example", .helo = "h" };

	test_begin("spf: a refused lookup (task DNS limit) is a temperror, at once");
	test_assert(spf_check(check_pool, &q, refuse_resolve, &e, eval_done, &e) == 0);
	test_assert(e.res != NULL && e.res->result == SPF_RES_TEMPERROR);
	test_end();
}

int
main(void)
{
	struct dnszone_child z;
	struct eval e = { .loop = ev_default_loop(0) };

	check_pool = pool_new(0);
	test_parser();
	test_macros();
	test_limit();
	test_begin("spf: test DNS server starts");
	test_assert(dnszone_start(&z, zone_text, NULL));
	test_end();
	if (z.port > 0) {
		char ns[32];
		char *servers[1] = { ns };
		struct dns_settings s = { .nameservers = servers, .n_nameservers = 1,
			.timeout = 0.3, .retransmits = 1, .cache_entries = 256 };
		char *error = NULL;

		snprintf(ns, sizeof(ns), "127.0.0.1:%d", z.port);
		e.r = dns_resolver_new(e.loop, &s, &error);
		free(error);
		if (e.r != NULL) {
			test_eval(&e);
			dns_resolver_free(&e.r);
		}
	}
	dnszone_stop(&z);
	pool_free(&check_pool);
	return test_exit();
}
