/*
 * qmgr_route.c - where a remote recipient's mail goes: the next hop
 * (transport_maps, then relayhost, then the recipient's domain) and the
 * addresses to try for it (MX lookup in preference order, random among
 * equal preferences, A/AAAA of the domain when it has no MX, RFC 7505
 * null MX refused for good).
 *
 * The transport map is a flat text file read once at start: "domain
 * smtp:nexthop", ".domain" for subdomains, "*" for everything else, the
 * nexthop written as Postfix writes it ("[host]:port" suppresses the MX
 * lookup, "host" or "host:port" does one). Lookups go through the
 * project's c-ares resolver on the queue manager's loop; the result is
 * always reported from the loop, never from inside qmgr_resolve(), so a
 * caller can start a lookup while walking its own lists.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dns.h"
#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "worker/qmgr.h"

#define ROUTE_LINE_MAX 1024

struct qmgr_map {
	char **keys;                 /* "example.net", ".example.com", "*" */
	char **values;
	size_t n, cap;
};

/* "[host]:port", "host:port", "host", "[::1]:25"; 0 or -1. */
int
qmgr_nexthop_parse(const char *text, struct qmgr_nexthop *hop_r)
{
	const char *end, *colon;
	size_t hlen;
	uint64_t port = 25;

	memset(hop_r, 0, sizeof(*hop_r));
	hop_r->port = 25;
	hop_r->mx = true;
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL)
			return -1;
		hop_r->mx = false;
		hlen = (size_t)(end - text - 1);
		text++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strrchr(text, ':');
		hlen = colon != NULL ? (size_t)(colon - text) : strlen(text);
	}
	if (hlen == 0 || hlen >= sizeof(hop_r->host))
		return -1;
	memcpy(hop_r->host, text, hlen);
	hop_r->host[hlen] = '\0';
	for (size_t i = 0; i < hlen; i++)
		hop_r->host[i] = ascii_tolower(hop_r->host[i]);
	if (colon != NULL && (str_to_u64(str_from_cstr(colon + 1), &port) < 0 || port == 0 ||
	    port > 65535))
		return -1;
	hop_r->port = (unsigned)port;
	return 0;
}

/* "[host]:port" or "host:port": the key destinations are grouped by. */
void
qmgr_nexthop_key(const struct qmgr_nexthop *hop, char *out, size_t size)
{
	if (str_format(out, size, hop->mx ? "%s:%u" : "[%s]:%u", hop->host, hop->port) < 0)
		str_lcpy(out, hop->host, size);
}

static char *
next_word(char **p)
{
	char *w;

	while (isspace((unsigned char)**p))
		(*p)++;
	w = *p;
	while (**p != '\0' && !isspace((unsigned char)**p))
		(*p)++;
	if (**p != '\0')
		*(*p)++ = '\0';
	return w;
}

/* One "key value" line; 1 added, 0 blank or comment, -1 bad. */
static int
parse_line(struct qmgr_map *m, char *line)
{
	char *p = line, *key, *value;

	key = next_word(&p);
	if (*key == '\0' || *key == '#')
		return 0;
	value = next_word(&p);
	if (*value == '\0' || *next_word(&p) != '\0')
		return -1;
	for (char *c = key; *c != '\0'; c++)
		*c = ascii_tolower(*c);
	m->keys = xgrow(m->keys, &m->cap, m->n + 1, sizeof(*m->keys));
	m->values = xrealloc(m->values, m->cap * sizeof(*m->values));
	m->keys[m->n] = xstrdup(key);
	m->values[m->n] = xstrdup(value);
	m->n++;
	return 1;
}

int
qmgr_map_load(const char *path, struct qmgr_map **map_r, char **error_r)
{
	struct qmgr_map *m = xcalloc(1, sizeof(*m));
	char line[ROUTE_LINE_MAX];
	unsigned lineno = 0;
	FILE *f;

	*map_r = m;
	if (path == NULL || *path == '\0')
		return 0;
	f = fopen(path, "re");
	if (f == NULL) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (parse_line(m, line) < 0) {
			*error_r = xasprintf("%s:%u: expected \"key value\"", path, lineno);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

void
qmgr_map_free(struct qmgr_map **map)
{
	if (*map == NULL)
		return;
	for (size_t i = 0; i < (*map)->n; i++) {
		free((*map)->keys[i]);
		free((*map)->values[i]);
	}
	free((*map)->keys);
	free((*map)->values);
	free(*map);
	*map = NULL;
}

static const char *
find_key(const struct qmgr_map *m, const char *key)
{
	for (size_t i = 0; m != NULL && i < m->n; i++) {
		if (strcasecmp(m->keys[i], key) == 0)
			return m->values[i];
	}
	return NULL;
}

const char *
qmgr_map_match(const struct qmgr_map *m, const char *domain)
{
	const char *v = find_key(m, domain);
	const char *d = domain;

	/* Exact name, then ".parent" entries from the nearest, then "*". */
	while (v == NULL && (d = strchr(d, '.')) != NULL) {
		v = find_key(m, d);
		d++;
	}
	return v != NULL ? v : find_key(m, "*");
}

int
qmgr_route(const struct qmgr_map *transports, const char *relayhost, const char *domain,
    struct qmgr_nexthop *hop_r)
{
	const char *v = qmgr_map_match(transports, domain);
	const char *colon = v != NULL ? strchr(v, ':') : NULL;

	if (colon != NULL && colon[1] != '\0' &&
	    (strncmp(v, "smtp:", 5) == 0 || strncmp(v, "relay:", 6) == 0))
		return qmgr_nexthop_parse(colon + 1, hop_r);
	if (relayhost != NULL && *relayhost != '\0')
		return qmgr_nexthop_parse(relayhost, hop_r);
	return qmgr_nexthop_parse(domain, hop_r);
}

/*
 * Asynchronous address resolution.
 */
#define LOOKUP_MAX_HOSTS 16
#define LOOKUP_MAX_QUERIES (1 + 2 * LOOKUP_MAX_HOSTS)

struct lookup_query {
	struct qmgr_lookup *lk;
	struct dns_request *req;
	int host;                    /* index in hosts[], -1 for the MX query */
	int qtype;
};

struct lookup_host {
	char name[256];
	unsigned pref;
	struct qmgr_addr addr[QMGR_MAX_ADDRS];
	size_t n_addr;
	bool tempfail;
};

struct qmgr_lookup {
	struct dns_resolver *dns;
	struct ev_loop *loop;
	struct qmgr_nexthop hop;
	qmgr_resolve_cb *cb;
	void *ud;
	struct lookup_query q[LOOKUP_MAX_QUERIES];
	size_t n_q;
	unsigned pending;
	bool launching;
	struct lookup_host hosts[LOOKUP_MAX_HOSTS];
	size_t n_hosts;
	int status;                  /* QMGR_RESOLVE_* once known */
	char reply[256];
	ev_timer report;
};

static void
finish(struct qmgr_lookup *lk, int status, const char *reply)
{
	lk->status = status;
	str_lcpy(lk->reply, reply, sizeof(lk->reply));
	ev_timer_start(lk->loop, &lk->report);
}

static void on_dns(const struct dns_reply *reply, void *ud);

static void
ask(struct qmgr_lookup *lk, int host, const char *name, int qtype)
{
	struct lookup_query *q;

	if (lk->n_q >= LOOKUP_MAX_QUERIES)
		return;
	q = &lk->q[lk->n_q++];
	q->lk = lk;
	q->host = host;
	q->qtype = qtype;
	q->req = NULL;
	lk->pending++;
	q->req = dns_resolve(lk->dns, name, qtype, on_dns, q);
}

static void
add_host(struct qmgr_lookup *lk, const char *name, unsigned pref)
{
	struct lookup_host *h;

	if (lk->n_hosts >= LOOKUP_MAX_HOSTS)
		return;
	h = &lk->hosts[lk->n_hosts++];
	memset(h, 0, sizeof(*h));
	str_lcpy(h->name, name, sizeof(h->name));
	h->pref = pref;
}

static int
cmp_pref(const void *a, const void *b)
{
	const struct lookup_host *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/* Preference order; hosts of one preference in random order. */
static void
order_hosts(struct qmgr_lookup *lk)
{
	size_t i = 0;

	qsort(lk->hosts, lk->n_hosts, sizeof(lk->hosts[0]), cmp_pref);
	while (i < lk->n_hosts) {
		size_t j = i;

		while (j < lk->n_hosts && lk->hosts[j].pref == lk->hosts[i].pref)
			j++;
		for (size_t k = j - 1; k > i; k--) {
			size_t pick = i + (size_t)random() % (k - i + 1);
			struct lookup_host t = lk->hosts[k];

			lk->hosts[k] = lk->hosts[pick];
			lk->hosts[pick] = t;
		}
		i = j;
	}
}

static void
launch_hosts(struct qmgr_lookup *lk)
{
	order_hosts(lk);
	for (size_t i = 0; i < lk->n_hosts; i++) {
		ask(lk, (int)i, lk->hosts[i].name, DNS_T_A);
		ask(lk, (int)i, lk->hosts[i].name, DNS_T_AAAA);
	}
}

static void
on_mx(struct qmgr_lookup *lk, const struct dns_reply *reply)
{
	bool was;

	if (reply->rcode == DNS_RC_NXDOMAIN) {
		finish(lk, QMGR_RESOLVE_PERM, "550 5.4.4 Host or domain name not found "
		    "(MX lookup: NXDOMAIN)");
		return;
	}
	if (reply->rcode != DNS_RC_NOERROR) {
		finish(lk, QMGR_RESOLVE_TEMP, "451 4.4.3 Host or domain name lookup failed "
		    "(MX lookup: temporary failure)");
		return;
	}
	for (size_t i = 0; i < reply->n_rr; i++) {
		const char *name = reply->rr[i].v.mx.name;

		if (reply->rr[i].type != DNS_T_MX)
			continue;
		if (name == NULL || name[0] == '\0' || strcmp(name, ".") == 0) {
			/* RFC 7505: the domain accepts no mail at all. */
			finish(lk, QMGR_RESOLVE_PERM, "556 5.1.10 Recipient address has null MX");
			return;
		}
		add_host(lk, name, reply->rr[i].v.mx.pref);
	}
	if (lk->n_hosts == 0)
		add_host(lk, lk->hop.host, 0); /* no MX: the domain's own address */
	/* Cached answers come back at once: not finished until all are asked. */
	was = lk->launching;
	lk->launching = true;
	launch_hosts(lk);
	lk->launching = was;
}

static void
on_address(struct qmgr_lookup *lk, struct lookup_host *h, const struct dns_reply *reply)
{
	if (reply->rcode == DNS_RC_SERVFAIL || reply->rcode == DNS_RC_TIMEOUT ||
	    reply->rcode == DNS_RC_REFUSED || reply->rcode == DNS_RC_ERROR)
		h->tempfail = true;
	for (size_t i = 0; i < reply->n_rr && h->n_addr < QMGR_MAX_ADDRS; i++) {
		struct qmgr_addr *a = &h->addr[h->n_addr];

		memset(a, 0, sizeof(*a));
		if (reply->rr[i].type == DNS_T_A) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)lk->hop.port);
			sin->sin_addr = reply->rr[i].v.a;
			a->len = sizeof(*sin);
		} else if (reply->rr[i].type == DNS_T_AAAA) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)lk->hop.port);
			sin6->sin6_addr = reply->rr[i].v.aaaa;
			a->len = sizeof(*sin6);
		} else {
			continue;
		}
		str_lcpy(a->host, h->name, sizeof(a->host));
		h->n_addr++;
	}
	UNUSED(lk);
}

static void
on_dns(const struct dns_reply *reply, void *ud)
{
	struct lookup_query *q = ud;
	struct qmgr_lookup *lk = q->lk;

	q->req = NULL;
	lk->pending--;
	if (q->host < 0)
		on_mx(lk, reply);
	else
		on_address(lk, &lk->hosts[q->host], reply);
	if (lk->pending == 0 && !lk->launching && !ev_is_active(&lk->report))
		finish(lk, QMGR_RESOLVE_OK, "");
}

/* The hosts' addresses in order, v4 before v6 within a host. */
static size_t
collect(struct qmgr_lookup *lk, struct qmgr_addr *out, bool *tempfail_r)
{
	size_t n = 0;

	*tempfail_r = false;
	for (size_t i = 0; i < lk->n_hosts; i++) {
		struct lookup_host *h = &lk->hosts[i];

		*tempfail_r |= h->tempfail && h->n_addr == 0;
		for (int pass = 0; pass < 2; pass++) {
			for (size_t j = 0; j < h->n_addr && n < QMGR_MAX_ROUTE_ADDRS; j++) {
				bool v4 = h->addr[j].sa.ss_family == AF_INET;

				if (v4 == (pass == 0))
					out[n++] = h->addr[j];
			}
		}
	}
	return n;
}

static void
on_report(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct qmgr_lookup *lk = w->data;
	struct qmgr_addr addrs[QMGR_MAX_ROUTE_ADDRS];
	size_t n = 0;
	bool tempfail = false;

	UNUSED(loop);
	UNUSED(revents);
	if (lk->status == QMGR_RESOLVE_OK) {
		n = collect(lk, addrs, &tempfail);
		if (n == 0 && tempfail) {
			lk->status = QMGR_RESOLVE_TEMP;
			str_lcpy(lk->reply, "451 4.4.3 Host or domain name lookup failed",
			    sizeof(lk->reply));
		} else if (n == 0) {
			lk->status = QMGR_RESOLVE_PERM;
			(void)str_format(lk->reply, sizeof(lk->reply),
			    "550 5.4.4 Host or domain name not found (%s has no address)",
			    lk->hop.host);
		}
	}
	lk->cb(lk->status, lk->reply, addrs, n, lk->ud);
	free(lk);
}

static bool
literal_address(const struct qmgr_nexthop *hop, struct qmgr_addr *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;
	const char *host = hop->host;

	memset(a, 0, sizeof(*a));
	if (strncasecmp(host, "ipv6:", 5) == 0)
		host += 5;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)hop->port);
		a->len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)hop->port);
		a->len = sizeof(*sin6);
	} else {
		return false;
	}
	str_lcpy(a->host, hop->host, sizeof(a->host));
	return true;
}

struct qmgr_lookup *
qmgr_resolve(struct dns_resolver *dns, struct ev_loop *loop, const struct qmgr_nexthop *hop,
    qmgr_resolve_cb *cb, void *ud)
{
	struct qmgr_lookup *lk = xcalloc(1, sizeof(*lk));
	struct lookup_host *h;

	lk->dns = dns;
	lk->loop = loop;
	lk->hop = *hop;
	lk->cb = cb;
	lk->ud = ud;
	ev_timer_init(&lk->report, on_report, 0.0, 0.0);
	lk->report.data = lk;
	lk->launching = true;
	add_host(lk, hop->host, 0);
	h = &lk->hosts[0];
	if (literal_address(hop, &h->addr[0])) {
		h->n_addr = 1;
	} else if (dns == NULL) {
		lk->launching = false;
		finish(lk, QMGR_RESOLVE_TEMP, "451 4.4.3 no resolver");
		return lk;
	} else if (hop->mx) {
		lk->n_hosts = 0;
		ask(lk, -1, hop->host, DNS_T_MX);
	} else {
		lk->n_hosts = 0;
		add_host(lk, hop->host, 0);
		launch_hosts(lk);
	}
	lk->launching = false;
	if (lk->pending == 0 && !ev_is_active(&lk->report))
		finish(lk, QMGR_RESOLVE_OK, "");
	return lk;
}

void
qmgr_lookup_cancel(struct qmgr_lookup **lk)
{
	if (*lk == NULL)
		return;
	for (size_t i = 0; i < (*lk)->n_q; i++) {
		if ((*lk)->q[i].req != NULL)
			dns_request_cancel((*lk)->dns, (*lk)->q[i].req);
	}
	ev_timer_stop((*lk)->loop, &(*lk)->report);
	free(*lk);
	*lk = NULL;
}
