/*
 * cmd_dnscheck.c - `rspamadm dnscheck DOMAIN [--ip ADDR] [--helo NAME]
 * [--selector S]... [--nameserver IP:PORT] [--timeout SECONDS]`: audits
 * the DNS records a mail domain needs (the tutorial's checklist: MX, SPF,
 * DKIM, DMARC and the PTR of the sending address) and prints one line per
 * finding, "PASS|WARN|FAIL <check>: <reason>". Exit status 1 when any
 * line is a FAIL, so it can gate a deployment script.
 *
 * Lookups go through the scanner's own asynchronous resolver (auth/dns.h)
 * on a private loop; the command needs one answer before it can decide
 * what to ask next, so each query runs the loop until its callback fires.
 * The record parsers are the scanner's too (SPF, DKIM key, DMARC), so a
 * record this command passes is one the scanner reads the same way.
 *
 * The SPF walk follows include and redirect itself instead of evaluating
 * for an address: the 10-lookup and 2-void limits are properties of the
 * whole tree, whatever address a message comes from.
 */
#include "admin/admin.h"

#include <arpa/inet.h>
#include <ev.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/dns.h"
#include "auth/psl.h"
#include "auth/spf_record.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/xmalloc.h"

#define DC_MAX_SELECTORS 16
#define DC_SPF_MAX_DEPTH 12   /* include/redirect nesting followed */
#define DC_SPF_MAX_WALK 40    /* lookups counted before the walk stops */

struct dc_answer {
	enum dns_rcode rcode;
	struct dns_rr *rr;       /* pool copies */
	size_t n;
};

struct dc_selector {
	const char *name;
	const char *path_tpl;    /* private key path template, or NULL */
};

struct dnscheck {
	struct ev_loop *loop;
	struct dns_resolver *r;
	struct pool *pool;
	struct config *cfg;      /* may be NULL with --nameserver */
	const char *domain;
	const char *ip, *helo;
	struct dc_selector sel[DC_MAX_SELECTORS];
	size_t n_sel;
	unsigned n_fail, n_warn;
};

struct dc_wait {
	struct pool *pool;
	struct dc_answer *ans;
	bool done;
};

/* One finding; FAILs decide the exit status. */
static void PRINTF_LIKE(3, 4)
dc_report(struct dnscheck *dc, const char *level, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(level, "FAIL") == 0)
		dc->n_fail++;
	else if (strcmp(level, "WARN") == 0)
		dc->n_warn++;
	printf("%s ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *
dc_rcode_name(enum dns_rcode rc)
{
	static const char *const names[] = { "noerror", "nxdomain", "servfail",
		"timeout", "refused", "error" };

	return (size_t)rc < ARRAY_SIZE(names) ? names[rc] : "error";
}

/* The reply is only valid during the callback: copy it into the pool. */
static void
dc_on_reply(const struct dns_reply *rep, void *ud)
{
	struct dc_wait *w = ud;
	struct dc_answer *a = w->ans;

	w->done = true;
	a->rcode = rep->rcode;
	a->n = 0;
	a->rr = pool_calloc(w->pool, rep->n_rr + 1, sizeof(*a->rr));
	if (a->rr == NULL)
		return;
	for (size_t i = 0; i < rep->n_rr; i++) {
		struct dns_rr *d = &a->rr[a->n];
		const struct dns_rr *s = &rep->rr[i];

		*d = *s;
		if (s->type == DNS_T_MX)
			d->v.mx.name = pool_strdup(w->pool, s->v.mx.name);
		else if (s->type == DNS_T_TXT) {
			char *t = pool_alloc(w->pool, s->v.txt.len + 1);

			if (t == NULL)
				continue;
			memcpy(t, s->v.txt.data, s->v.txt.len);
			t[s->v.txt.len] = '\0';
			d->v.txt.data = t;
		} else if (s->type == DNS_T_PTR || s->type == DNS_T_CNAME)
			d->v.name = pool_strdup(w->pool, s->v.name);
		a->n++;
	}
}

/* Asks and waits: later checks depend on earlier answers. */
static void
dc_query(struct dnscheck *dc, const char *name, int qtype, struct dc_answer *ans_r)
{
	struct dc_wait w = { .pool = dc->pool, .ans = ans_r };

	memset(ans_r, 0, sizeof(*ans_r));
	dns_resolve(dc->r, name, qtype, dc_on_reply, &w);
	while (!w.done)
		ev_run(dc->loop, EVRUN_ONCE);
}

/* A failed lookup that is not "no such name / no data". */
static bool
dc_lookup_error(const struct dc_answer *a)
{
	return a->rcode != DNS_RC_NOERROR && a->rcode != DNS_RC_NXDOMAIN;
}

/* Lowercase without a trailing dot, for name comparisons. */
static const char *
dc_norm(struct dnscheck *dc, const char *name)
{
	size_t len = strlen(name);
	char *s;

	if (len > 0 && name[len - 1] == '.')
		len--;
	s = pool_strndup(dc->pool, name, len);
	for (char *p = s; p != NULL && *p != '\0'; p++)
		*p = ascii_tolower(*p);
	return s != NULL ? s : name;
}

/* A and AAAA of `name` as text, "" when none; *error_r on a DNS failure. */
static const char *
dc_addresses(struct dnscheck *dc, const char *name, const char **error_r)
{
	static const int types[] = { DNS_T_A, DNS_T_AAAA };
	struct buf b;
	const char *out;

	*error_r = NULL;
	buf_init(&b, 4096);
	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		struct dc_answer a;

		dc_query(dc, name, types[t], &a);
		if (dc_lookup_error(&a))
			*error_r = dc_rcode_name(a.rcode);
		for (size_t i = 0; i < a.n; i++) {
			char txt[INET6_ADDRSTRLEN];

			if (a.rr[i].type == DNS_T_A)
				inet_ntop(AF_INET, &a.rr[i].v.a, txt, sizeof(txt));
			else if (a.rr[i].type == DNS_T_AAAA)
				inet_ntop(AF_INET6, &a.rr[i].v.aaaa, txt, sizeof(txt));
			else
				continue;
			(void)buf_printf(&b, "%s%s", b.len > 0 ? " " : "", txt);
		}
	}
	out = pool_strndup(dc->pool, b.data != NULL ? b.data : "", b.len);
	buf_deinit(&b);
	return out != NULL ? out : "";
}

/* ---- MX ---- */

/* RFC 7505: a single MX of preference 0 with the root as target. */
static bool
dc_mx_is_null(const struct dns_rr *rr)
{
	return rr->v.mx.name == NULL || rr->v.mx.name[0] == '\0' ||
	    strcmp(rr->v.mx.name, ".") == 0;
}

static void
dc_check_mx_target(struct dnscheck *dc, const char *target)
{
	struct dc_answer c;
	const char *addrs, *err;

	dc_query(dc, target, DNS_T_CNAME, &c);
	for (size_t i = 0; i < c.n; i++) {
		if (c.rr[i].type == DNS_T_CNAME) {
			dc_report(dc, "FAIL", "MX: target %s is a CNAME to %s (RFC 2181 10.3: "
			    "an MX must name a host with A/AAAA records)", target, c.rr[i].v.name);
			return;
		}
	}
	addrs = dc_addresses(dc, target, &err);
	if (addrs[0] != '\0')
		dc_report(dc, "PASS", "MX: %s resolves to %s", target, addrs);
	else if (err != NULL)
		dc_report(dc, "FAIL", "MX: %s: address lookup failed (%s)", target, err);
	else
		dc_report(dc, "FAIL", "MX: %s has no A or AAAA record", target);
}

static void
dc_check_mx(struct dnscheck *dc)
{
	struct dc_answer a;
	size_t nulls = 0;

	dc_query(dc, dc->domain, DNS_T_MX, &a);
	if (dc_lookup_error(&a)) {
		dc_report(dc, "FAIL", "MX: lookup failed (%s)", dc_rcode_name(a.rcode));
		return;
	}
	if (a.n == 0) {
		dc_report(dc, "FAIL", "MX: no MX record for %s%s", dc->domain,
		    a.rcode == DNS_RC_NXDOMAIN ? " (the domain does not exist)" :
		    " (publish one, or a null MX \"0 .\" if it takes no mail)");
		return;
	}
	for (size_t i = 0; i < a.n; i++)
		nulls += dc_mx_is_null(&a.rr[i]);
	if (nulls > 0 && a.n == 1) {
		dc_report(dc, "PASS", "MX: null MX (RFC 7505): %s deliberately accepts no mail",
		    dc->domain);
		return;
	}
	if (nulls > 0) {
		dc_report(dc, "FAIL", "MX: null MX mixed with other MX records (RFC 7505 3.3)");
		return;
	}
	dc_report(dc, "PASS", "MX: %zu MX record%s", a.n, a.n == 1 ? "" : "s");
	for (size_t i = 0; i < a.n; i++)
		dc_check_mx_target(dc, dc_norm(dc, a.rr[i].v.mx.name));
}

/* ---- SPF ---- */

struct dc_spf_walk {
	unsigned lookups, voids, unfollowed;
	const char *path[DC_SPF_MAX_DEPTH + 1]; /* domains being walked, for loops */
	size_t depth;
	bool failed;
	bool have_top;           /* the domain's own record parsed */
};

static void dc_spf_walk(struct dnscheck *dc, struct dc_spf_walk *w, const char *domain,
    const char *via, struct spf_record *top_r);

/*
 * The v=spf1 records of `domain`: returns their count (the first in
 * *txt_r), or -1 after reporting a lookup failure.
 */
static int
dc_spf_records(struct dnscheck *dc, const char *domain, const char **txt_r, size_t *len_r)
{
	struct dc_answer a;
	int n = 0;

	dc_query(dc, domain, DNS_T_TXT, &a);
	if (dc_lookup_error(&a)) {
		dc_report(dc, "FAIL", "SPF: TXT lookup for %s failed (%s): temperror",
		    domain, dc_rcode_name(a.rcode));
		return -1;
	}
	for (size_t i = 0; i < a.n; i++) {
		if (a.rr[i].type != DNS_T_TXT ||
		    !spf_record_is_v1(a.rr[i].v.txt.data, a.rr[i].v.txt.len))
			continue;
		if (n++ == 0) {
			*txt_r = a.rr[i].v.txt.data;
			*len_r = a.rr[i].v.txt.len;
		}
	}
	return n;
}

/* A void lookup is an answer with nothing in it (RFC 7208 4.6.4). */
static void
dc_spf_void_check(struct dnscheck *dc, struct dc_spf_walk *w, const char *name, int qtype)
{
	struct dc_answer a;
	const char *err;

	if (qtype == DNS_T_A) {
		if (dc_addresses(dc, name, &err)[0] == '\0' && err == NULL)
			w->voids++;
		return;
	}
	dc_query(dc, name, qtype, &a);
	if (!dc_lookup_error(&a) && a.n == 0)
		w->voids++;
	/* RFC 7208 4.6.4: an mx term may look up at most 10 hosts */
	if (qtype == DNS_T_MX && a.n > 10) {
		dc_report(dc, "FAIL", "SPF: mx:%s has %zu MX hosts > 10 (permerror)", name, a.n);
		w->failed = true;
	}
}

/* Counts one DNS-querying term and follows it where that makes sense. */
static void
dc_spf_term(struct dnscheck *dc, struct dc_spf_walk *w, const char *domain,
    const struct spf_term *t)
{
	const char *target = t->domain != NULL ? t->domain : domain;
	bool macro = strchr(target, '%') != NULL;

	switch (t->mech) {
	case SPF_MECH_INCLUDE:
		w->lookups++;
		if (macro)
			w->unfollowed++;
		else
			dc_spf_walk(dc, w, dc_norm(dc, target), "include", NULL);
		break;
	case SPF_MECH_A:
	case SPF_MECH_MX:
	case SPF_MECH_EXISTS:
		w->lookups++;
		if (macro)
			w->unfollowed++;
		else
			dc_spf_void_check(dc, w, target, t->mech == SPF_MECH_MX ?
			    DNS_T_MX : DNS_T_A);
		break;
	case SPF_MECH_PTR:
		w->lookups++;
		dc_report(dc, "WARN", "SPF: %s uses \"ptr\", which RFC 7208 5.5 says not to "
		    "use (slow, unreliable)", domain);
		break;
	default:
		break;
	}
}

/* Was `domain` already entered on the current include/redirect path? */
static bool
dc_spf_loops(const struct dc_spf_walk *w, const char *domain)
{
	for (size_t i = 0; i < w->depth; i++)
		if (strcmp(w->path[i], domain) == 0)
			return true;
	return false;
}

/*
 * Walks the record of `domain` (reached through `via`: NULL for the top,
 * "include" or "redirect"), reporting what makes it a permerror.
 */
static void
dc_spf_walk(struct dnscheck *dc, struct dc_spf_walk *w, const char *domain,
    const char *via, struct spf_record *top_r)
{
	struct spf_record rec;
	const char *txt = NULL, *err;
	size_t len = 0;
	int n;

	if (w->failed || w->lookups > DC_SPF_MAX_WALK)
		return;
	if (w->depth >= DC_SPF_MAX_DEPTH || dc_spf_loops(w, domain)) {
		dc_report(dc, "FAIL", "SPF: %s:%s loops back (permerror)", via, domain);
		w->failed = true;
		return;
	}
	if ((n = dc_spf_records(dc, domain, &txt, &len)) < 0) {
		w->failed = true;
		return;
	}
	if (n == 0) {
		if (via == NULL)
			dc_report(dc, "FAIL", "SPF: no SPF record (TXT \"v=spf1 ...\") at %s",
			    domain);
		else
			dc_report(dc, "FAIL", "SPF: %s:%s has no SPF record (permerror)",
			    via, domain);
		w->voids += via != NULL;
		w->failed = true;
		return;
	}
	if (n > 1) {
		dc_report(dc, "FAIL", "SPF: %s SPF records at %s: permerror",
		    n == 2 ? "two" : "several", domain);
		w->failed = true;
		return;
	}
	if (spf_record_parse(txt, len, dc->pool, &rec, &err) < 0) {
		dc_report(dc, "FAIL", "SPF: syntax error in the record of %s: %s (\"%s\")",
		    domain, err, txt);
		w->failed = true;
		return;
	}
	if (top_r != NULL) {
		*top_r = rec;
		w->have_top = true;
		dc_report(dc, "PASS", "SPF: one record: %s", txt);
	}
	w->path[w->depth++] = domain;
	for (size_t i = 0; i < rec.n_terms && !w->failed; i++)
		dc_spf_term(dc, w, domain, &rec.terms[i]);
	if (!rec.has_all && rec.redirect != NULL && !w->failed) {
		w->lookups++;
		if (strchr(rec.redirect, '%') != NULL)
			w->unfollowed++;
		else
			dc_spf_walk(dc, w, dc_norm(dc, rec.redirect), "redirect", NULL);
	}
	w->depth--;
}

/* How the top record ends: the result for mail matching nothing. */
static void
dc_spf_ending(struct dnscheck *dc, const struct spf_record *rec)
{
	const struct spf_term *all = NULL;

	for (size_t i = 0; i < rec->n_terms && all == NULL; i++)
		if (rec->terms[i].mech == SPF_MECH_ALL)
			all = &rec->terms[i];
	if (all == NULL && rec->redirect != NULL)
		dc_report(dc, "PASS", "SPF: ends with redirect=%s", rec->redirect);
	else if (all == NULL)
		dc_report(dc, "WARN", "SPF: no \"all\" mechanism or redirect: unlisted senders "
		    "get neutral; end with ~all or -all");
	else if (all->qual == '+')
		dc_report(dc, "WARN", "SPF: \"+all\" authorizes every host on the Internet; "
		    "use ~all or -all");
	else if (all->qual == '?')
		dc_report(dc, "WARN", "SPF: \"?all\" gives unlisted senders neutral; "
		    "use ~all or -all");
	else
		dc_report(dc, "PASS", "SPF: ends with %call", all->qual);
}

static void
dc_check_spf(struct dnscheck *dc)
{
	struct dc_spf_walk w = { 0 };
	struct spf_record top = { 0 };

	dc_spf_walk(dc, &w, dc_norm(dc, dc->domain), NULL, &top);
	if (!w.have_top)
		return;
	if (w.lookups > 10)
		dc_report(dc, "FAIL", "SPF: %u lookups > 10 (include, a, mx, ptr, exists, "
		    "redirect; permerror): flatten or drop includes", w.lookups);
	else if (!w.failed)
		dc_report(dc, "PASS", "SPF: %u DNS lookups (limit 10)%s", w.lookups,
		    w.unfollowed > 0 ? ", terms with macros not followed" : "");
	if (w.voids > 2)
		dc_report(dc, "FAIL", "SPF: %u void lookups > 2 (terms naming nothing; "
		    "permerror)", w.voids);
	else if (!w.failed)
		dc_report(dc, "PASS", "SPF: %u void lookups (limit 2)", w.voids);
	dc_spf_ending(dc, &top);
}

/* ---- DKIM ---- */

/* $domain, $selector and $DBDIR of a dkim_signing path template. */
static const char *
dc_expand_path(struct dnscheck *dc, const char *tpl, const char *sel)
{
	struct buf b;
	const char *out;

	buf_init(&b, 4096);
	for (const char *p = tpl; *p != '\0'; p++) {
		if (strncmp(p, "$domain", 7) == 0) {
			(void)buf_append_cstr(&b, dc->domain);
			p += 6;
		} else if (strncmp(p, "$selector", 9) == 0) {
			(void)buf_append_cstr(&b, sel);
			p += 8;
		} else if (strncmp(p, "$DBDIR", 6) == 0 && dc->cfg != NULL &&
		    dc->cfg->dbdir != NULL) {
			(void)buf_append_cstr(&b, dc->cfg->dbdir);
			p += 5;
		} else
			(void)buf_putc(&b, *p);
	}
	out = pool_strndup(dc->pool, b.data != NULL ? b.data : "", b.len);
	buf_deinit(&b);
	return out;
}

static const struct obj *
dc_signing_conf(const struct dnscheck *dc, const char *key)
{
	const struct obj *sec = dc->cfg != NULL ? obj_lookup(dc->cfg->root, "dkim_signing") : NULL;

	return sec != NULL ? obj_lookup(sec, key) : NULL;
}

static void
dc_add_selector(struct dnscheck *dc, const char *name, const char *path_tpl)
{
	for (size_t i = 0; i < dc->n_sel; i++) {
		if (strcmp(dc->sel[i].name, name) == 0) {
			if (dc->sel[i].path_tpl == NULL)
				dc->sel[i].path_tpl = path_tpl;
			return;
		}
	}
	if (dc->n_sel < DC_MAX_SELECTORS)
		dc->sel[dc->n_sel++] = (struct dc_selector){ name, path_tpl };
}

/*
 * Selectors from dkim_signing { domain { <domain> { selector; path; or
 * selectors = [...] } } }, as the signer reads them; without an entry,
 * the global selector when its key file exists (the signer's fallback).
 */
static void
dc_config_selectors(struct dnscheck *dc)
{
	const struct obj *doms = dc_signing_conf(dc, "domain"), *e, *s, *it = NULL;
	const char *defsel = obj_get_string(dc_signing_conf(dc, "selector"));
	const char *defpath = obj_get_string(dc_signing_conf(dc, "path"));

	e = doms != NULL ? obj_lookup(doms, dc->domain) : NULL;
	if (e == NULL) {
		if (defsel != NULL && defpath != NULL &&
		    access(dc_expand_path(dc, defpath, defsel), F_OK) == 0)
			dc_add_selector(dc, defsel, defpath);
		return;
	}
	if (obj_lookup(e, "selectors") == NULL) {
		const char *sel = obj_get_string(obj_lookup(e, "selector"));
		const char *path = obj_get_string(obj_lookup(e, "path"));

		if (sel != NULL || defsel != NULL)
			dc_add_selector(dc, sel != NULL ? sel : defsel, path != NULL ? path : defpath);
		return;
	}
	while ((s = obj_iter_values(obj_lookup(e, "selectors"), &it)) != NULL) {
		const char *sel = obj_get_string(obj_lookup(s, "selector"));
		const char *path = obj_get_string(obj_lookup(s, "path"));

		if (sel != NULL || defsel != NULL)
			dc_add_selector(dc, sel != NULL ? sel : defsel, path != NULL ? path : defpath);
	}
}

/* Compares the published key with the private key file, when there is one. */
static void
dc_dkim_match(struct dnscheck *dc, const struct dc_selector *s, const struct dkim_key *key)
{
	struct dkim_privkey *priv = NULL;
	const char *path;
	char *err = NULL;

	if (s->path_tpl == NULL)
		return;
	path = dc_expand_path(dc, s->path_tpl, s->name);
	if (access(path, F_OK) != 0) {
		dc_report(dc, "PASS", "DKIM: %s: no private key at %s to compare with",
		    s->name, path);
		return;
	}
	if (dkim_privkey_load(path, &priv, &err) < 0) {
		dc_report(dc, "FAIL", "DKIM: %s: %s", s->name, err);
		free(err);
		return;
	}
	if (priv->type == key->type && EVP_PKEY_eq(priv->pkey, key->pkey) == 1)
		dc_report(dc, "PASS", "DKIM: %s: DNS key matches %s", s->name, path);
	else
		dc_report(dc, "FAIL", "DKIM: %s: DNS key does not match %s", s->name, path);
	dkim_privkey_free(&priv);
}

/* Type and size of a parsed key record. */
static void
dc_dkim_strength(struct dnscheck *dc, const char *name, const struct dkim_key *key)
{
	if (key->type == DKIM_KEY_ED25519)
		dc_report(dc, "PASS", "DKIM: %s: ed25519 key", name);
	else if (key->bits < 2048)
		dc_report(dc, "FAIL", "DKIM: %s: RSA key of %u bits < 2048: "
		    "use rspamadm dkim_keygen -b 2048", name, key->bits);
	else
		dc_report(dc, "PASS", "DKIM: %s: RSA key of %u bits", name, key->bits);
	if (key->testing)
		dc_report(dc, "WARN", "DKIM: %s: t=y: verifiers treat the key as in testing "
		    "and may ignore failures", name);
}

static void
dc_check_selector(struct dnscheck *dc, const struct dc_selector *s)
{
	const char *name = pool_printf(dc->pool, "%s._domainkey.%s", s->name, dc->domain);
	struct dkim_key *key = NULL;
	const char *err = "no TXT record";
	struct dc_answer a;
	bool revoked = false;

	dc_query(dc, name, DNS_T_TXT, &a);
	if (dc_lookup_error(&a)) {
		dc_report(dc, "FAIL", "DKIM: %s: lookup failed (%s)", name, dc_rcode_name(a.rcode));
		return;
	}
	for (size_t i = 0; i < a.n && key == NULL && !revoked; i++)
		if (a.rr[i].type == DNS_T_TXT)
			(void)dkim_key_parse(str_make(a.rr[i].v.txt.data, a.rr[i].v.txt.len),
			    &key, &revoked, &err);
	if (revoked) {
		dc_report(dc, "FAIL", "DKIM: %s: key revoked (empty p=)", name);
		return;
	}
	if (key == NULL) {
		dc_report(dc, "FAIL", "DKIM: %s: %s", name,
		    a.n == 0 ? "no key record published" : err);
		return;
	}
	dc_dkim_strength(dc, name, key);
	dc_dkim_match(dc, s, key);
	dkim_key_free(&key);
}

static void
dc_check_dkim(struct dnscheck *dc)
{
	const char *defpath = obj_get_string(dc_signing_conf(dc, "path"));

	/* --selector names without a path get the global path template */
	for (size_t i = 0; i < dc->n_sel; i++)
		if (dc->sel[i].path_tpl == NULL)
			dc->sel[i].path_tpl = defpath;
	if (dc->n_sel == 0)
		dc_config_selectors(dc);
	if (dc->n_sel == 0) {
		dc_report(dc, "WARN", "DKIM: no selector configured for %s (dkim_signing "
		    "domain entry or --selector)", dc->domain);
		return;
	}
	for (size_t i = 0; i < dc->n_sel; i++)
		dc_check_selector(dc, &dc->sel[i]);
}

/* ---- DMARC ---- */

/*
 * The DMARC record at _dmarc.<name>: 1 with *rec_r, 0 when none, -1
 * after reporting an error (lookup failure, several records, syntax).
 */
static int
dc_dmarc_fetch(struct dnscheck *dc, const char *name, struct dmarc_record *rec_r)
{
	const char *qname = pool_printf(dc->pool, "_dmarc.%s", name), *err = NULL;
	struct dc_answer a;
	int found = 0, bad = 0;

	dc_query(dc, qname, DNS_T_TXT, &a);
	if (dc_lookup_error(&a)) {
		dc_report(dc, "FAIL", "DMARC: %s: lookup failed (%s)", qname, dc_rcode_name(a.rcode));
		return -1;
	}
	for (size_t i = 0; i < a.n; i++) {
		struct dmarc_record r;
		const char *e = NULL;
		int rc;

		if (a.rr[i].type != DNS_T_TXT)
			continue;
		rc = dmarc_record_parse(a.rr[i].v.txt.data, a.rr[i].v.txt.len, &r, &e);
		if (rc == 1 && found++ == 0)
			*rec_r = r;
		else if (rc < 0 && bad++ == 0)
			err = e;
	}
	if (found + bad > 1)
		dc_report(dc, "FAIL", "DMARC: %s has %d DMARC records: none applies",
		    qname, found + bad);
	else if (bad > 0)
		dc_report(dc, "FAIL", "DMARC: invalid record at %s: %s", qname, err);
	else if (found == 1)
		dc_report(dc, "PASS", "DMARC: record at %s", qname);
	return found + bad > 1 || bad > 0 ? -1 : found;
}

/* Where the domain stands on none -> quarantine (pct) -> reject. */
static void
dc_dmarc_advice(struct dnscheck *dc, const struct dmarc_record *r)
{
	if (r->p == DMARC_POLICY_NONE)
		dc_report(dc, "WARN", "DMARC: p=none: monitoring only: move to p=quarantine "
		    "with pct=10..100 once reports are clean");
	else if (r->p == DMARC_POLICY_QUARANTINE && r->pct < 100)
		dc_report(dc, "WARN", "DMARC: p=quarantine pct=%u: raise pct to 100, then "
		    "p=reject", r->pct);
	else if (r->p == DMARC_POLICY_QUARANTINE)
		dc_report(dc, "PASS", "DMARC: p=quarantine: move to p=reject when reports "
		    "stay clean");
	else if (r->pct < 100)
		dc_report(dc, "WARN", "DMARC: p=reject pct=%u: raise pct to 100", r->pct);
	else
		dc_report(dc, "PASS", "DMARC: p=reject");
	if (r->sp == DMARC_POLICY_NONE && r->p != DMARC_POLICY_NONE)
		dc_report(dc, "WARN", "DMARC: sp=none leaves subdomains unprotected");
	if (r->rua.len == 0)
		dc_report(dc, "WARN", "DMARC: no rua=: you receive no aggregate reports "
		    "to see who sends as the domain");
	else
		dc_report(dc, "PASS", "DMARC: aggregate reports to %.*s", (int)r->rua.len,
		    r->rua.ptr);
}

static void
dc_check_dmarc(struct dnscheck *dc)
{
	struct dmarc_record rec;
	const char *org;
	char *err = NULL;
	int rc;

	if ((rc = dc_dmarc_fetch(dc, dc->domain, &rec)) < 0)
		return;
	if (rc == 0) {
		if (psl_default_load(&err) < 0)
			free(err);
		org = psl_org_domain(psl_default(), dc->domain);
		if (org != NULL && strcasecmp(org, dc->domain) != 0)
			rc = dc_dmarc_fetch(dc, org, &rec);
		if (rc < 0)
			return;
	}
	if (rc == 0) {
		dc_report(dc, "FAIL", "DMARC: no DMARC record: publish v=DMARC1; p=none; "
		    "rua=mailto:... to start");
		return;
	}
	dc_dmarc_advice(dc, &rec);
}

/* ---- PTR ---- */

/* in-addr.arpa / ip6.arpa name of the address; NULL when not an address. */
static const char *
dc_reverse_name(struct dnscheck *dc, const char *ip)
{
	unsigned char a[16];
	struct buf b;
	const char *out;

	buf_init(&b, 256);
	if (inet_pton(AF_INET, ip, a) == 1)
		(void)buf_printf(&b, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
	else if (inet_pton(AF_INET6, ip, a) == 1) {
		for (int i = 15; i >= 0; i--)
			(void)buf_printf(&b, "%x.%x.", a[i] & 0xf, a[i] >> 4);
		(void)buf_append_cstr(&b, "ip6.arpa");
	} else {
		buf_deinit(&b);
		return NULL;
	}
	out = pool_strndup(dc->pool, b.data, b.len);
	buf_deinit(&b);
	return out;
}

/* Is `ip` among the space-separated addresses (compared as binary)? */
static bool
dc_addr_listed(const char *list, const char *ip)
{
	unsigned char want[16], got[16];
	int fam = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	char tok[INET6_ADDRSTRLEN];

	if (inet_pton(fam, ip, want) != 1)
		return false;
	while (*list != '\0') {
		size_t n = strcspn(list, " ");

		if (n < sizeof(tok)) {
			memcpy(tok, list, n);
			tok[n] = '\0';
			if (inet_pton(fam, tok, got) == 1 &&
			    memcmp(want, got, fam == AF_INET ? 4 : 16) == 0)
				return true;
		}
		list += n + (list[n] == ' ');
	}
	return false;
}

/* The PTR name against mta { myhostname }, else --helo. */
static void
dc_ptr_name_match(struct dnscheck *dc, const char *ptr)
{
	const struct obj *mta = dc->cfg != NULL ? obj_lookup(dc->cfg->root, "mta") : NULL;
	const char *mine = obj_get_string(mta != NULL ? obj_lookup(mta, "myhostname") : NULL);
	const char *what = "myhostname";

	if (mine == NULL) {
		mine = dc->helo;
		what = "HELO";
	}
	if (mine == NULL)
		dc_report(dc, "WARN", "PTR: no myhostname configured and no --helo to "
		    "compare %s with", ptr);
	else if (strcmp(dc_norm(dc, mine), ptr) != 0)
		dc_report(dc, "FAIL", "PTR: PTR %s differs from %s %s", ptr, what, mine);
	else
		dc_report(dc, "PASS", "PTR: %s equals %s", ptr, what);
}

static void
dc_check_ptr(struct dnscheck *dc)
{
	const char *rev = dc_reverse_name(dc, dc->ip), *ptr, *addrs, *err;
	struct dc_answer a;

	if (rev == NULL) {
		dc_report(dc, "FAIL", "PTR: '%s' is not an IP address", dc->ip);
		return;
	}
	dc_query(dc, rev, DNS_T_PTR, &a);
	if (dc_lookup_error(&a) || a.n == 0) {
		dc_report(dc, "FAIL", "PTR: no PTR record for %s (%s)", dc->ip,
		    a.n == 0 && !dc_lookup_error(&a) ? rev : dc_rcode_name(a.rcode));
		return;
	}
	ptr = dc_norm(dc, a.rr[0].v.name);
	if (a.n > 1)
		dc_report(dc, "WARN", "PTR: %s has %zu PTR records; receivers may pick any",
		    dc->ip, a.n);
	else
		dc_report(dc, "PASS", "PTR: %s -> %s", dc->ip, ptr);
	addrs = dc_addresses(dc, ptr, &err);
	if (dc_addr_listed(addrs, dc->ip))
		dc_report(dc, "PASS", "PTR: %s resolves back to %s (forward-confirmed)", ptr, dc->ip);
	else
		dc_report(dc, "FAIL", "PTR: %s does not resolve back to %s (%s): not "
		    "forward-confirmed", ptr, dc->ip, addrs[0] != '\0' ? addrs :
		    err != NULL ? err : "no address");
	dc_ptr_name_match(dc, ptr);
}

/* ---- command ---- */

/* Config (for dkim_signing, mta and options.dns) and resolver. */
static int
dc_setup(struct dnscheck *dc, const struct admin_ctx *ctx, const char *ns, double timeout)
{
	struct dns_settings s;
	char *error = NULL;

	if (config_load(ctx->conf_path, ctx->state_dir, &dc->cfg, &error) < 0) {
		fprintf(stderr, "%s\n", error != NULL ? error : "cannot load config");
		free(error);
		if (ns == NULL)
			return -1;
		error = NULL;
	}
	if (dns_settings_from_config(dc->cfg, &s, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return -1;
	}
	if (ns != NULL) {
		dns_settings_deinit(&s);
		s.nameservers = xmalloc(sizeof(char *));
		s.nameservers[0] = xstrdup(ns);
		s.n_nameservers = 1;
	}
	if (timeout > 0)
		s.timeout = timeout;
	s.cache_entries = 0;
	dc->r = dns_resolver_new(dc->loop, &s, &error);
	dns_settings_deinit(&s);
	if (dc->r == NULL) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return -1;
	}
	return 0;
}

static void
dc_usage(void)
{
	fprintf(stderr, "usage: rspamadm dnscheck DOMAIN [--ip ADDR] [--helo NAME] "
	    "[--selector S]... [--nameserver IP:PORT] [--timeout SECONDS]\n");
}

/* Options; returns the nameserver override through *ns_r. */
static int
dc_parse_args(struct dnscheck *dc, int argc, char **argv, char **ns_r, double *timeout_r)
{
	static const struct option longopts[] = {
		{ "ip", required_argument, NULL, 'i' }, { "helo", required_argument, NULL, 'H' },
		{ "selector", required_argument, NULL, 's' },
		{ "nameserver", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:H:s:n:t:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': dc->ip = optarg; break;
		case 'H': dc->helo = optarg; break;
		case 's': dc_add_selector(dc, optarg, NULL); break;
		case 'n': *ns_r = optarg; break;
		case 't': *timeout_r = strtod(optarg, NULL); break;
		default: return -1;
		}
	}
	if (optind != argc - 1 || argv[optind][0] == '\0')
		return -1;
	dc->domain = argv[optind];
	return 0;
}

int
admin_cmd_dnscheck(const struct admin_ctx *ctx, int argc, char **argv)
{
	struct dnscheck dc = { .loop = ev_default_loop(0) };
	char *ns = NULL;
	double timeout = 0;

	if (dc_parse_args(&dc, argc, argv, &ns, &timeout) < 0) {
		dc_usage();
		return 1;
	}
	if (dc_setup(&dc, ctx, ns, timeout) < 0) {
		config_unref(&dc.cfg);
		return 1;
	}
	dc.pool = pool_new(0);
	dc.domain = dc_norm(&dc, dc.domain);
	dc_check_mx(&dc);
	dc_check_spf(&dc);
	dc_check_dkim(&dc);
	dc_check_dmarc(&dc);
	if (dc.ip != NULL)
		dc_check_ptr(&dc);
	printf("%u FAIL, %u WARN\n", dc.n_fail, dc.n_warn);
	pool_free(&dc.pool);
	dns_resolver_free(&dc.r);
	config_unref(&dc.cfg);
	return dc.n_fail > 0 ? 1 : 0;
}
