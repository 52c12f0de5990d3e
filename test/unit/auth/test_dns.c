/*
 * test_dns.c - the asynchronous resolver against a real DNS server on
 * loopback (test/functional/dnszone.py): every record type we parse,
 * negative answers, timeouts against a silent server, the cache (hits
 * counted on the server side, TTL expiry, negative TTL), coalescing,
 * cancellation, the AD bit, settings parsing and the per-task limit.
 */
#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dns.h"
#include "config/config.h"
#include "core/obj.h"
#include "core/pool.h"
#include "scan/task.h"
#include "test.h"

#include "dnszone_child.h"

static const char zone_text[] =
	"example.com. 300 IN SOA ns.example.com. host.example.com. 1 3600 600 86400 2\n"
	"example.com. 300 A 192.0.2.1\n"
	"example.com. 300 A 192.0.2.2\n"
	"example.com. AAAA 2001:db8::1\n"
	"example.com. MX 10 mx.example.com.\n"
	"example.com. MX 20 mx2.example.com.\n"
	"example.com. TXT \"v=spf1 \" \"ip4:192.0.2.0/24 -all\"\n"
	"example.com. TXT \"second record\"\n"
	"alias.example.com. CNAME example.com.\n"
	"1.2.0.192.in-addr.arpa. PTR example.com.\n"
	"short.example.com. 1 A 192.0.2.9\n"
	"broken.example.com. SERVFAIL\n"
	"slow.example.com. TIMEOUT\n";

struct result {
	bool done;
	int calls;
	enum dns_rcode rcode;
	bool ad, from_cache;
	size_t n_rr;
	struct dns_rr rr[8];
	char text[8][128];
};

static void
on_reply(const struct dns_reply *reply, void *ud)
{
	struct result *res = ud;

	res->done = true;
	res->calls++;
	res->rcode = reply->rcode;
	res->ad = reply->ad;
	res->from_cache = reply->from_cache;
	res->n_rr = MIN(reply->n_rr, 8u);
	for (size_t i = 0; i < res->n_rr; i++) {
		const struct dns_rr *rr = &reply->rr[i];

		res->rr[i] = *rr;
		if (rr->type == DNS_T_TXT)
			snprintf(res->text[i], sizeof(res->text[i]), "%.*s", (int)rr->v.txt.len,
			    rr->v.txt.data);
		else if (rr->type == DNS_T_MX)
			snprintf(res->text[i], sizeof(res->text[i]), "%u %s", rr->v.mx.pref,
			    rr->v.mx.name);
		else if (rr->type == DNS_T_PTR || rr->type == DNS_T_CNAME)
			snprintf(res->text[i], sizeof(res->text[i]), "%s", rr->v.name);
		else if (rr->type == DNS_T_A)
			inet_ntop(AF_INET, &rr->v.a, res->text[i], sizeof(res->text[i]));
		else if (rr->type == DNS_T_AAAA)
			inet_ntop(AF_INET6, &rr->v.aaaa, res->text[i], sizeof(res->text[i]));
	}
}

static struct ev_loop *loop;

static void
wait_for(struct result *res)
{
	double end = ev_time() + 10;

	while (!res->done && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
}

static struct result
lookup(struct dns_resolver *r, const char *name, int qtype)
{
	struct result res;

	memset(&res, 0, sizeof(res));
	dns_resolve(r, name, qtype, on_reply, &res);
	wait_for(&res);
	return res;
}

static bool
has_text(const struct result *res, const char *s)
{
	for (size_t i = 0; i < res->n_rr; i++) {
		if (strcmp(res->text[i], s) == 0)
			return true;
	}
	return false;
}

static struct dns_resolver *
resolver_for(int port, double timeout, unsigned tries)
{
	char ns[32];
	char *servers[1] = { ns };
	struct dns_settings s = { .nameservers = servers, .n_nameservers = 1,
		.timeout = timeout, .retransmits = tries, .cache_entries = 128 };
	char *error = NULL;
	struct dns_resolver *r;

	snprintf(ns, sizeof(ns), "127.0.0.1:%d", port);
	r = dns_resolver_new(loop, &s, &error);
	if (r == NULL)
		fprintf(stderr, "resolver: %s\n", error);
	free(error);
	return r;
}

static void
test_types(struct dns_resolver *r)
{
	struct result res;

	test_begin("dns: A, AAAA, MX, TXT, PTR, CNAME");
	res = lookup(r, "example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_NOERROR && res.n_rr == 2);
	test_assert(has_text(&res, "192.0.2.1") && has_text(&res, "192.0.2.2"));
	test_assert(res.rr[0].ttl == 300);
	res = lookup(r, "example.com.", DNS_T_AAAA);
	test_assert(res.n_rr == 1 && has_text(&res, "2001:db8::1"));
	res = lookup(r, "EXAMPLE.com", DNS_T_MX);
	test_assert(res.n_rr == 2 && has_text(&res, "10 mx.example.com") &&
	    has_text(&res, "20 mx2.example.com"));
	res = lookup(r, "example.com", DNS_T_TXT);
	test_assert(res.n_rr == 2);
	test_assert(has_text(&res, "v=spf1 ip4:192.0.2.0/24 -all"));
	test_assert(has_text(&res, "second record"));
	res = lookup(r, "1.2.0.192.in-addr.arpa", DNS_T_PTR);
	test_assert(res.n_rr == 1 && has_text(&res, "example.com"));
	res = lookup(r, "alias.example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_NOERROR && res.n_rr == 2 && has_text(&res, "192.0.2.1"));
	res = lookup(r, "alias.example.com", DNS_T_CNAME);
	test_assert(res.n_rr == 1 && has_text(&res, "example.com"));
	test_end();
}

static void
test_negative(struct dns_resolver *r, struct dnszone_child *z)
{
	struct result res;

	test_begin("dns: NXDOMAIN, NODATA, SERVFAIL, negative cache from the SOA");
	res = lookup(r, "nx.example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_NXDOMAIN && res.n_rr == 0 && !res.from_cache);
	res = lookup(r, "nx.example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_NXDOMAIN && res.from_cache);
	test_assert(dnszone_queries(z, "nx.example.com A") == 1);
	res = lookup(r, "short.example.com", DNS_T_TXT);
	test_assert(res.rcode == DNS_RC_NOERROR && res.n_rr == 0);
	res = lookup(r, "broken.example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_SERVFAIL);
	res = lookup(r, "broken.example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_SERVFAIL && !res.from_cache);
	/* SOA minimum is 2 s: the NXDOMAIN expires */
	sleep(2);
	ev_now_update(loop);
	res = lookup(r, "nx.example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_NXDOMAIN && !res.from_cache);
	test_assert(dnszone_queries(z, "nx.example.com A") == 2);
	res = lookup(r, "", DNS_T_A);
	test_assert(res.rcode == DNS_RC_ERROR);
	test_end();
}

static void
test_cache(struct dns_resolver *r, struct dnszone_child *z)
{
	struct result res, a, b;
	unsigned long sent;

	test_begin("dns: cache hits without a query, TTL expiry, coalescing");
	res = lookup(r, "example.com", DNS_T_TXT);
	test_assert(res.from_cache);
	test_assert(dnszone_queries(z, "example.com TXT") == 1);
	res = lookup(r, "short.example.com", DNS_T_A);
	test_assert(res.n_rr == 1 && !res.from_cache && has_text(&res, "192.0.2.9"));
	dnszone_reload(z, "short.example.com. 1 A 192.0.2.10\n");
	res = lookup(r, "short.example.com", DNS_T_A);
	test_assert(res.from_cache && has_text(&res, "192.0.2.9"));
	sleep(1);
	usleep(200 * 1000);
	ev_now_update(loop);
	res = lookup(r, "short.example.com", DNS_T_A);
	test_assert(!res.from_cache && has_text(&res, "192.0.2.10"));
	test_assert(dnszone_queries(z, "short.example.com A") == 2);
	dnszone_reload(z, zone_text);

	/* two lookups of one name in flight: one query */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	sent = dns_resolver_queries_sent(r);
	test_assert(dns_resolve(r, "mx.example.com", DNS_T_A, on_reply, &a) != NULL);
	test_assert(dns_resolve(r, "MX.example.com.", DNS_T_A, on_reply, &b) != NULL);
	wait_for(&a);
	wait_for(&b);
	test_assert(a.calls == 1 && b.calls == 1);
	test_assert(dns_resolver_queries_sent(r) == sent + 1);
	test_assert(dnszone_queries(z, "mx.example.com A") == 1);
	test_end();
}

static void
test_cancel(struct dns_resolver *r)
{
	struct result a, b;
	struct dns_request *ra;

	test_begin("dns: a cancelled request never calls back");
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ra = dns_resolve(r, "mx2.example.com", DNS_T_A, on_reply, &a);
	test_assert(ra != NULL);
	dns_resolve(r, "mx2.example.com", DNS_T_A, on_reply, &b);
	dns_request_cancel(r, ra);
	wait_for(&b);
	test_assert(b.calls == 1 && b.rcode == DNS_RC_NXDOMAIN);
	for (int i = 0; i < 5; i++)
		ev_run(loop, EVRUN_NOWAIT);
	test_assert(a.calls == 0);
	test_end();
}

static void
test_timeout(void)
{
	struct dnszone_child z;
	struct dns_resolver *r;
	struct result res;
	double t0;

	test_begin("dns: timeout against a silent server, retransmits");
	test_assert(dnszone_start(&z, "", "--silent"));
	r = resolver_for(z.port, 0.2, 3);
	t0 = ev_time();
	res = lookup(r, "example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_TIMEOUT);
	test_assert(ev_time() - t0 >= 0.55 && ev_time() - t0 < 2.0);
	test_assert(dnszone_queries(&z, "example.com A") == 3);
	/* a timeout is not cached */
	res = lookup(r, "example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_TIMEOUT && !res.from_cache);
	/* freeing with a query outstanding calls nothing */
	memset(&res, 0, sizeof(res));
	dns_resolve(r, "other.example.com", DNS_T_A, on_reply, &res);
	dns_resolver_free(&r);
	test_assert(res.calls == 0 && r == NULL);
	dnszone_stop(&z);
	test_end();
}

static void
test_ad(void)
{
	struct dnszone_child z;
	struct dns_resolver *r;
	struct result res;

	test_begin("dns: the AD bit is passed through");
	test_assert(dnszone_start(&z, zone_text, "--ad"));
	r = resolver_for(z.port, 1, 2);
	res = lookup(r, "example.com", DNS_T_A);
	test_assert(res.rcode == DNS_RC_NOERROR && res.ad);
	res = lookup(r, "example.com", DNS_T_A);
	test_assert(res.from_cache && res.ad);
	dns_resolver_free(&r);
	dnszone_stop(&z);
	test_end();
}

static struct obj *
config_tree(const char *ns, int max_requests)
{
	struct obj *root = obj_new_object(), *opts = obj_new_object(), *dns = obj_new_object();
	struct obj *arr = obj_new_array();

	obj_array_append(arr, obj_new_string(ns));
	obj_array_append(arr, obj_new_string("127.0.0.2,[::1]:5353"));
	obj_object_set(dns, "nameserver", arr);
	obj_object_set(dns, "timeout", obj_new_float(0.5));
	obj_object_set(dns, "retransmits", obj_new_int(2));
	obj_object_set(opts, "dns", dns);
	obj_object_set(opts, "dns_max_requests", obj_new_int(max_requests));
	obj_object_set(root, "options", opts);
	return root;
}

static void
test_settings(void)
{
	struct config cfg;
	struct dns_settings s;
	char *error = NULL;

	test_begin("dns: settings from options.dns");
	memset(&cfg, 0, sizeof(cfg));
	cfg.root = config_tree("master-slave:127.0.0.1:5300", 3);
	test_assert(dns_settings_from_config(&cfg, &s, &error) == 0);
	test_assert(s.n_nameservers == 3);
	test_assert(s.n_nameservers == 3 && strcmp(s.nameservers[0], "127.0.0.1:5300") == 0 &&
	    strcmp(s.nameservers[1], "127.0.0.2") == 0 &&
	    strcmp(s.nameservers[2], "[::1]:5353") == 0);
	test_assert(s.timeout == 0.5 && s.retransmits == 2 && s.max_task_requests == 3);
	dns_settings_deinit(&s);
	obj_object_set(obj_lookup(obj_lookup(cfg.root, "options"), "dns"), "timeout",
	    obj_new_string("soon"));
	test_assert(dns_settings_from_config(&cfg, &s, &error) < 0 && error != NULL);
	free(error);
	obj_free(&cfg.root);
	test_assert(dns_settings_from_config(NULL, &s, &error) == 0);
	test_assert(s.n_nameservers == 0 && s.timeout == 1.0 && s.retransmits == 5 &&
	    s.max_task_requests == 64);
	dns_settings_deinit(&s);
	test_end();
}

static void
on_task_reply(const struct dns_reply *reply, void *ud)
{
	int *n = ud;

	(void)reply;
	(*n)++;
}

static void
test_task_limit(int port)
{
	struct config cfg;
	struct scan_task task;
	char ns[32];
	int answered = 0;

	test_begin("dns: per-task request limit and pending work");
	snprintf(ns, sizeof(ns), "127.0.0.1:%d", port);
	memset(&cfg, 0, sizeof(cfg));
	cfg.root = config_tree(ns, 3);
	/* the second and third servers in config_tree do not exist: keep one */
	obj_object_set(obj_lookup(obj_lookup(cfg.root, "options"), "dns"), "nameserver",
	    obj_new_string(ns));
	memset(&task, 0, sizeof(task));
	task.pool = pool_new(0);
	task.cfg = &cfg;
	test_assert(dns_task_resolve(&task, "example.com", DNS_T_A, on_task_reply, &answered) < 0);
	task.loop = loop;
	test_assert(dns_task_resolve(&task, "example.com", DNS_T_A, on_task_reply, &answered) == 0);
	test_assert(dns_task_resolve(&task, "example.com", DNS_T_MX, on_task_reply, &answered) == 0);
	test_assert(dns_task_resolve(&task, "nx.example.com", DNS_T_A, on_task_reply,
	    &answered) == 0);
	test_assert(task.n_pending == 3);
	test_assert(dns_task_resolve(&task, "example.com", DNS_T_TXT, on_task_reply,
	    &answered) < 0);
	test_assert(dns_task_requests(&task) == 3);
	for (int i = 0; i < 1000 && answered < 3; i++)
		ev_run(loop, EVRUN_ONCE);
	test_assert(answered == 3 && task.n_pending == 0);
	pool_free(&task.pool);
	obj_free(&cfg.root);
	test_end();
}

int
main(void)
{
	struct dnszone_child z;
	struct dns_resolver *r;

	loop = ev_default_loop(0);
	test_settings();
	test_begin("dns: test server starts");
	test_assert(dnszone_start(&z, zone_text, NULL));
	test_end();
	r = resolver_for(z.port, 1, 2);
	if (r != NULL) {
		test_types(r);
		test_negative(r, &z);
		test_cache(r, &z);
		test_cancel(r);
		dns_resolver_free(&r);
		test_task_limit(z.port);
	}
	dnszone_stop(&z);
	test_timeout();
	test_ad();
	return test_exit();
}
