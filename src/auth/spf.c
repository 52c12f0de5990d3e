/*
 * spf.c - check_host() of RFC 7208 as an asynchronous state machine.
 *
 * An evaluation is a stack of frames, one per record being walked (the
 * top-level domain, then one per include; a redirect replaces the frame's
 * domain and record in place, so its result becomes the frame's). Each
 * term either decides at once (ip4, ip6, all) or issues DNS queries and
 * waits: `outstanding` counts the answers still due, and when it drops to
 * zero the term is settled and the walk resumes. Answers can arrive
 * before the query call returns (cache hits), so the walk is driven by a
 * trampoline (spf_resume) that never recurses into itself.
 *
 * Limits (section 4.6.4): at most 10 terms that cause DNS lookups
 * (include, a, mx, ptr, exists, redirect), at most 2 void lookups
 * (NXDOMAIN or an empty answer), at most 10 address lookups per mx, the
 * first 10 names of a ptr; beyond them permerror. Include and redirect
 * loops end on the lookup limit.
 *
 * Known simplification: %{p} expands to the validated name found for the
 * client (PTR then forward lookup) relative to the top-level domain, looked
 * up once per evaluation.
 */
#include "auth/spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/spf_record.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"

#define SPF_MAX_LOOKUPS 10
#define SPF_MAX_VOID 2
#define SPF_MAX_NAMES 10

enum phase { PH_IDLE, PH_RECORD, PH_TERM1, PH_TERM2, PH_P, PH_EXP };
enum q_kind { Q_RECORD, Q_ADDR, Q_MX, Q_PTR, Q_PTR_ADDR, Q_EXISTS, Q_EXP, Q_P_PTR, Q_P_ADDR };

struct spf_frame {
	struct spf_frame *parent;
	const char *domain;
	struct spf_record rec;
	size_t pos;
	bool redirected;         /* none from the target is a permerror */
	bool have_record;
};

struct spf_eval {
	struct pool *pool;
	spf_resolve_fn *resolve;
	void *rctx;
	spf_done_fn *done;
	void *ud;
	struct spf_macro_env env;
	int family;
	uint8_t ip[16];
	struct spf_frame *top;
	struct spf_result res;
	/* the term in progress */
	enum phase phase;
	unsigned outstanding;
	bool running, finished;
	bool match, temperr, permerr;
	const char *target;
	const char **names;
	size_t n_names;
	int p_state;             /* 0 not looked up, 1 in progress, 2 known */
	const char *exp_text;    /* the exp= TXT, unexpanded */
	struct spf_record_result {
		enum spf_res r;
		const char *why;
	} rr;
};

struct spf_q {
	struct spf_eval *ev;
	enum q_kind kind;
	size_t idx;
};

static void spf_resume(struct spf_eval *ev);
static void frame_finish(struct spf_eval *ev, enum spf_res r, const char *mech,
    const char *why);

const char *
spf_result_name(enum spf_res r)
{
	static const char *const names[] = { "none", "neutral", "pass", "fail", "softfail",
		"temperror", "permerror" };

	return (size_t)r < ARRAY_SIZE(names) ? names[r] : "?";
}

static enum spf_res
qual_result(char q)
{
	switch (q) {
	case '-': return SPF_RES_FAIL;
	case '~': return SPF_RES_SOFTFAIL;
	case '?': return SPF_RES_NEUTRAL;
	default: return SPF_RES_PASS;
	}
}

/* Labels of 1..63 bytes, 253 bytes at most; `multi`: at least two labels
 * (RFC 4.3 for the checked domain; a mechanism's target may be one label). */
static bool
domain_valid(const char *d, bool multi)
{
	size_t len = strlen(d), label = 0, labels = 0;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || d[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			labels++;
			label = 0;
		} else {
			label++;
		}
	}
	return labels >= (multi ? 2u : 1u);
}

static bool
domain_ok(const char *d)
{
	return domain_valid(d, true);
}

static bool
addr_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* ---- DNS plumbing ---- */

static void on_answer(const struct dns_reply *reply, void *ud);

static void
query(struct spf_eval *ev, enum q_kind kind, size_t idx, const char *name, int qtype)
{
	struct spf_q *q = pool_alloc(ev->pool, sizeof(*q));
	struct dns_reply fail = { .qname = name, .qtype = qtype, .rcode = DNS_RC_ERROR };

	ev->outstanding++;
	if (q == NULL) {
		ev->outstanding--;
		ev->temperr = true;
		return;
	}
	q->ev = ev;
	q->kind = kind;
	q->idx = idx;
	if (ev->resolve(ev->rctx, name, qtype, on_answer, q) < 0)
		on_answer(&fail, q);
}

static int
addr_qtype(const struct spf_eval *ev)
{
	return ev->family == AF_INET6 ? DNS_T_AAAA : DNS_T_A;
}

static bool
dns_failed(const struct dns_reply *r)
{
	return r->rcode != DNS_RC_NOERROR && r->rcode != DNS_RC_NXDOMAIN;
}

static void
note_void(struct spf_eval *ev, const struct dns_reply *r)
{
	if (r->rcode == DNS_RC_NXDOMAIN || (r->rcode == DNS_RC_NOERROR && r->n_rr == 0)) {
		if (++ev->res.void_lookups > SPF_MAX_VOID)
			ev->permerr = true;
	}
}

static bool
reply_has_ip(const struct spf_eval *ev, const struct dns_reply *r, int cidr4, int cidr6)
{
	for (size_t i = 0; i < r->n_rr; i++) {
		const struct dns_rr *rr = &r->rr[i];

		if (rr->type == DNS_T_A && ev->family == AF_INET &&
		    addr_match((const uint8_t *)&rr->v.a, ev->ip, cidr4 >= 0 ? cidr4 : 32))
			return true;
		if (rr->type == DNS_T_AAAA && ev->family == AF_INET6 &&
		    addr_match((const uint8_t *)&rr->v.aaaa, ev->ip, cidr6 >= 0 ? cidr6 : 128))
			return true;
	}
	return false;
}

static const char **
collect_names(struct spf_eval *ev, const struct dns_reply *r, size_t max, size_t *n_r)
{
	const char **names = pool_calloc(ev->pool, MAX(r->n_rr, 1), sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; names != NULL && i < r->n_rr && n < max; i++) {
		const char *s = r->rr[i].type == DNS_T_MX ? r->rr[i].v.mx.name : r->rr[i].v.name;

		/* the null MX (".") and other unusable names match nothing */
		if (!domain_valid(s, false))
			continue;
		if ((names[n] = pool_strdup(ev->pool, s)) != NULL)
			n++;
	}
	*n_r = n;
	return names;
}

/* ptr: is `name` the target domain or below it? */
static bool
name_within(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (d > 0 && domain[d - 1] == '.')
		d--;
	if (n == d)
		return strncasecmp(name, domain, n) == 0;
	return n > d && name[n - d - 1] == '.' && strncasecmp(name + n - d, domain, d) == 0;
}

/* ---- names and macros ---- */

/* Expands a domain-spec for the current frame (NULL spec: the domain). */
static const char *
expand_domain(struct spf_eval *ev, const char *spec, const char *domain)
{
	struct buf b;
	const char *s = NULL;

	if (spec == NULL)
		return domain;
	ev->env.domain = domain;
	buf_init(&b, 4096);
	if (spf_macro_expand(spec, &ev->env, false, &b) == 0) {
		spf_domain_truncate(&b);
		while (b.len > 1 && b.data[b.len - 1] == '.')
			b.len--;
		s = pool_strndup(ev->pool, b.len ? b.data : "", b.len);
	}
	buf_deinit(&b);
	return s;
}

static const char *
reverse_name(struct spf_eval *ev)
{
	struct buf b;
	const char *s;

	buf_init(&b, 0);
	if (ev->family == AF_INET) {
		buf_printf(&b, "%u.%u.%u.%u.in-addr.arpa", ev->ip[3], ev->ip[2], ev->ip[1],
		    ev->ip[0]);
	} else {
		for (int i = 15; i >= 0; i--)
			buf_printf(&b, "%x.%x.", ev->ip[i] & 0xf, ev->ip[i] >> 4);
		buf_append_cstr(&b, "ip6.arpa");
	}
	s = pool_strndup(ev->pool, b.data, b.len);
	buf_deinit(&b);
	return s;
}

/* %{i}: dotted quad, or 32 dot-separated nibbles for IPv6. */
static const char *
ip_macro_text(struct spf_eval *ev)
{
	char v6[64 + 1];
	size_t n = 0;

	if (ev->family == AF_INET)
		return pool_printf(ev->pool, "%u.%u.%u.%u", ev->ip[0], ev->ip[1], ev->ip[2],
		    ev->ip[3]);
	for (int i = 0; i < 16; i++) {
		static const char hex[] = "0123456789abcdef";

		v6[n++] = hex[ev->ip[i] >> 4];
		v6[n++] = '.';
		v6[n++] = hex[ev->ip[i] & 0xf];
		v6[n++] = i < 15 ? '.' : '\0';
	}
	return pool_strdup(ev->pool, v6);
}

/* ---- answers ---- */

static void
record_answer(struct spf_eval *ev, const struct dns_reply *r)
{
	const char *txt = NULL;
	size_t txtlen = 0, n = 0;
	const char *err;

	ev->rr.r = SPF_RES_NONE;
	ev->rr.why = NULL;
	if (dns_failed(r)) {
		ev->rr.r = SPF_RES_TEMPERROR;
		ev->rr.why = "DNS error fetching the record";
		return;
	}
	for (size_t i = 0; i < r->n_rr; i++) {
		if (spf_record_is_v1(r->rr[i].v.txt.data, r->rr[i].v.txt.len)) {
			txt = r->rr[i].v.txt.data;
			txtlen = r->rr[i].v.txt.len;
			n++;
		}
	}
	if (n == 0) {
		ev->rr.why = "no SPF record";
		return;
	}
	if (n > 1) {
		ev->rr.r = SPF_RES_PERMERROR;
		ev->rr.why = "more than one SPF record";
		return;
	}
	if (spf_record_parse(txt, txtlen, ev->pool, &ev->top->rec, &err) < 0) {
		ev->rr.r = SPF_RES_PERMERROR;
		ev->rr.why = err;
		return;
	}
	ev->top->have_record = true;
}

/* The exp= TXT: kept for expansion once %{p} (if used) is known. */
static void
exp_answer(struct spf_eval *ev, const struct dns_reply *r)
{
	const char *text;

	if (r->rcode != DNS_RC_NOERROR || r->n_rr != 1)
		return;
	text = pool_strndup(ev->pool, r->rr[0].v.txt.data, r->rr[0].v.txt.len);
	if (text != NULL && strlen(text) == r->rr[0].v.txt.len &&
	    spf_macro_valid(text, strlen(text), true))
		ev->exp_text = text;
}

static void
exp_expand(struct spf_eval *ev)
{
	struct buf b;

	buf_init(&b, 8192);
	ev->env.domain = ev->top->domain;
	if (spf_macro_expand(ev->exp_text, &ev->env, true, &b) == 0)
		ev->res.explanation = pool_strndup(ev->pool, b.len ? b.data : "", b.len);
	buf_deinit(&b);
}

static void
p_answer(struct spf_eval *ev, const struct spf_q *q, const struct dns_reply *r)
{
	if (q->kind == Q_P_PTR) {
		if (dns_failed(r))
			return;
		ev->names = collect_names(ev, r, SPF_MAX_NAMES, &ev->n_names);
		for (size_t i = 0; ev->names != NULL && i < ev->n_names; i++)
			query(ev, Q_P_ADDR, i, ev->names[i], addr_qtype(ev));
		return;
	}
	if (dns_failed(r) || !reply_has_ip(ev, r, -1, -1))
		return;
	/* prefer a name within the domain, else the first validated one */
	if (ev->env.validated == NULL || (name_within(ev->names[q->idx], ev->top->domain) &&
	    !name_within(ev->env.validated, ev->top->domain)))
		ev->env.validated = ev->names[q->idx];
}

static void
term_answer(struct spf_eval *ev, const struct spf_q *q, const struct dns_reply *r)
{
	const struct spf_term *t = &ev->top->rec.terms[ev->top->pos];

	switch (q->kind) {
	case Q_ADDR:
		if (dns_failed(r)) {
			ev->temperr = true;
			return;
		}
		if (t->mech == SPF_MECH_A)
			note_void(ev, r);
		ev->match |= reply_has_ip(ev, r, t->cidr4, t->cidr6);
		return;
	case Q_MX:
	case Q_PTR:
		if (dns_failed(r)) {
			ev->temperr |= q->kind == Q_MX;  /* ptr: an error is no match */
			return;
		}
		note_void(ev, r);
		if (q->kind == Q_MX && r->n_rr > SPF_MAX_NAMES)
			ev->permerr = true;
		ev->names = collect_names(ev, r, SPF_MAX_NAMES, &ev->n_names);
		return;
	case Q_PTR_ADDR:
		if (!dns_failed(r) && reply_has_ip(ev, r, -1, -1) &&
		    name_within(ev->names[q->idx], ev->target))
			ev->match = true;
		return;
	case Q_EXISTS:
		if (dns_failed(r))
			ev->temperr = true;
		else if (r->n_rr > 0)
			ev->match = true;
		else
			note_void(ev, r);
		return;
	default:
		return;
	}
}

static void
on_answer(const struct dns_reply *reply, void *ud)
{
	struct spf_q *q = ud;
	struct spf_eval *ev = q->ev;

	if (q->kind == Q_RECORD)
		record_answer(ev, reply);
	else if (q->kind == Q_EXP)
		exp_answer(ev, reply);
	else if (q->kind == Q_P_PTR || q->kind == Q_P_ADDR)
		p_answer(ev, q, reply);
	else
		term_answer(ev, q, reply);
	if (--ev->outstanding == 0)
		spf_resume(ev);
}

/* ---- the walk ---- */


static bool
count_lookup(struct spf_eval *ev)
{
	if (++ev->res.lookups > SPF_MAX_LOOKUPS) {
		frame_finish(ev, SPF_RES_PERMERROR, NULL, "more than 10 DNS lookups");
		return false;
	}
	return true;
}

/* The top frame settled: pass the result up (include) or finish. */
static void
frame_finish(struct spf_eval *ev, enum spf_res r, const char *mech, const char *why)
{
	struct spf_frame *f = ev->top, *parent = f->parent;

	if (f->redirected && r == SPF_RES_NONE) {
		r = SPF_RES_PERMERROR;
		why = why ? why : "redirect to a domain without SPF record";
	}
	if (mech != NULL)
		ev->res.mechanism = mech;
	if (parent == NULL) {
		ev->res.result = r;
		ev->res.reason = why;
		ev->phase = PH_EXP;
		if (r == SPF_RES_FAIL && f->have_record && f->rec.exp != NULL) {
			const char *d = expand_domain(ev, f->rec.exp, f->domain);

			if (d != NULL && domain_ok(d))
				query(ev, Q_EXP, 0, d, DNS_T_TXT);
		}
		return;
	}
	ev->top = parent;
	switch (r) {
	case SPF_RES_PASS:
		/* keep the innermost matched mechanism as the one reported */
		frame_finish(ev, qual_result(parent->rec.terms[parent->pos].qual), NULL, NULL);
		return;
	case SPF_RES_TEMPERROR:
	case SPF_RES_PERMERROR:
		frame_finish(ev, r, NULL, why);
		return;
	case SPF_RES_NONE:
		frame_finish(ev, SPF_RES_PERMERROR, NULL, why ? why : "include of a domain without SPF");
		return;
	default:
		ev->res.mechanism = NULL;
		parent->pos++;
		ev->phase = PH_IDLE;
		return;
	}
}

static void
term_settle(struct spf_eval *ev)
{
	struct spf_frame *f = ev->top;
	const struct spf_term *t = &f->rec.terms[f->pos];

	if (ev->permerr)
		frame_finish(ev, SPF_RES_PERMERROR, NULL,
		    ev->res.void_lookups > SPF_MAX_VOID ? "more than 2 void lookups" :
		    "more than 10 MX records");
	else if (ev->temperr)
		frame_finish(ev, SPF_RES_TEMPERROR, NULL, "DNS error");
	else if (ev->match)
		frame_finish(ev, qual_result(t->qual), t->text, NULL);
	else {
		f->pos++;
		ev->phase = PH_IDLE;
	}
}

/* After the first query of a term: mx and ptr go on to address lookups. */
static void
term_after_first(struct spf_eval *ev)
{
	const struct spf_term *t = &ev->top->rec.terms[ev->top->pos];

	if ((t->mech == SPF_MECH_MX || t->mech == SPF_MECH_PTR) && !ev->temperr &&
	    !ev->permerr && ev->n_names > 0) {
		ev->phase = PH_TERM2;
		for (size_t i = 0; i < ev->n_names; i++)
			query(ev, t->mech == SPF_MECH_MX ? Q_ADDR : Q_PTR_ADDR, i, ev->names[i],
			    addr_qtype(ev));
		return;
	}
	term_settle(ev);
}

static void
include_push(struct spf_eval *ev, const char *target)
{
	struct spf_frame *child = pool_alloc(ev->pool, sizeof(*child));

	if (child == NULL) {
		frame_finish(ev, SPF_RES_TEMPERROR, NULL, "out of memory");
		return;
	}
	child->parent = ev->top;
	child->domain = target;
	ev->top = child;
	ev->phase = PH_IDLE;
}

static void
term_start(struct spf_eval *ev, const struct spf_term *t)
{
	const char *target;

	ev->match = ev->temperr = ev->permerr = false;
	ev->names = NULL;
	ev->n_names = 0;
	ev->phase = PH_TERM1;
	if (t->mech == SPF_MECH_ALL || t->mech == SPF_MECH_IP4 || t->mech == SPF_MECH_IP6) {
		ev->match = t->mech == SPF_MECH_ALL ||
		    (t->mech == SPF_MECH_IP4 && ev->family == AF_INET &&
		    addr_match(t->addr, ev->ip, t->cidr4 >= 0 ? t->cidr4 : 32)) ||
		    (t->mech == SPF_MECH_IP6 && ev->family == AF_INET6 &&
		    addr_match(t->addr, ev->ip, t->cidr6 >= 0 ? t->cidr6 : 128));
		term_settle(ev);
		return;
	}
	if (!count_lookup(ev))
		return;
	if ((target = expand_domain(ev, t->domain, ev->top->domain)) == NULL) {
		frame_finish(ev, SPF_RES_PERMERROR, NULL, "bad macro");
		return;
	}
	ev->target = target;
	if (t->mech != SPF_MECH_INCLUDE && t->mech != SPF_MECH_PTR && !domain_valid(target, false)) {
		term_settle(ev);   /* an invalid name matches nothing (RFC 4.8) */
		return;
	}
	switch (t->mech) {
	case SPF_MECH_INCLUDE:
		include_push(ev, target);
		return;
	case SPF_MECH_A:
		query(ev, Q_ADDR, 0, target, addr_qtype(ev));
		return;
	case SPF_MECH_MX:
		query(ev, Q_MX, 0, target, DNS_T_MX);
		return;
	case SPF_MECH_PTR:
		query(ev, Q_PTR, 0, reverse_name(ev), DNS_T_PTR);
		return;
	default:
		query(ev, Q_EXISTS, 0, target, DNS_T_A);
		return;
	}
}

static void
end_of_record(struct spf_eval *ev)
{
	struct spf_frame *f = ev->top;
	const char *target;

	if (f->rec.redirect == NULL || f->rec.has_all) {
		frame_finish(ev, SPF_RES_NEUTRAL, NULL, NULL);
		return;
	}
	if (!count_lookup(ev))
		return;
	if ((target = expand_domain(ev, f->rec.redirect, f->domain)) == NULL) {
		frame_finish(ev, SPF_RES_PERMERROR, NULL, "bad macro in redirect");
		return;
	}
	f->domain = target;
	f->have_record = false;
	f->redirected = true;
	f->pos = 0;
	memset(&f->rec, 0, sizeof(f->rec));
	ev->phase = PH_IDLE;
}

/* %{p}: PTR of the client, then forward lookups to validate the names. */
static void
p_start(struct spf_eval *ev)
{
	ev->p_state = 1;
	ev->names = NULL;
	ev->n_names = 0;
	query(ev, Q_P_PTR, 0, reverse_name(ev), DNS_T_PTR);
}

/* PH_EXP with nothing outstanding: true once the result can be delivered. */
static bool
exp_ready(struct spf_eval *ev)
{
	if (ev->exp_text == NULL)
		return true;
	if (ev->p_state == 0 && spf_macro_uses_p(ev->exp_text)) {
		p_start(ev);
		return false;
	}
	ev->p_state = 2;
	exp_expand(ev);
	ev->exp_text = NULL;
	return true;
}

static void
step_next(struct spf_eval *ev)
{
	struct spf_frame *f = ev->top;
	const struct spf_term *t;

	if (!f->have_record) {
		if (!domain_ok(f->domain)) {
			frame_finish(ev, SPF_RES_NONE, NULL, "malformed domain");
			return;
		}
		ev->phase = PH_RECORD;
		query(ev, Q_RECORD, 0, f->domain, DNS_T_TXT);
		return;
	}
	if (f->pos >= f->rec.n_terms) {
		end_of_record(ev);
		return;
	}
	t = &f->rec.terms[f->pos];
	if (ev->p_state == 0 && t->domain != NULL && spf_macro_uses_p(t->domain)) {
		ev->phase = PH_P;
		p_start(ev);
		return;
	}
	term_start(ev, t);
}

static void
step(struct spf_eval *ev)
{
	switch (ev->phase) {
	case PH_IDLE:
		step_next(ev);
		return;
	case PH_RECORD:
		if (ev->top->have_record)
			ev->phase = PH_IDLE;
		else
			frame_finish(ev, ev->rr.r, NULL, ev->rr.why);
		return;
	case PH_TERM1:
		term_after_first(ev);
		return;
	case PH_TERM2:
		term_settle(ev);
		return;
	case PH_P:
		ev->p_state = 2;
		ev->phase = PH_IDLE;
		return;
	case PH_EXP:
		return;    /* exp_ready() started lookups */
	}
}

/* The trampoline: answers arriving inside a query call only count down. */
static void
spf_resume(struct spf_eval *ev)
{
	if (ev->running)
		return;
	ev->running = true;
	for (;;) {
		if (ev->outstanding > 0) {
			ev->running = false;
			return;
		}
		if (ev->phase == PH_EXP && exp_ready(ev)) {
			ev->finished = true;
			ev->done(&ev->res, ev->ud);   /* last: may free what holds ev */
			return;
		}
		step(ev);
	}
}

/* %{c}: the address in its usual (lowercase, compressed) form. */
static const char *
client_ip_text(struct spf_eval *ev)
{
	char tmp[INET6_ADDRSTRLEN];

	if (inet_ntop(ev->family, ev->ip, tmp, sizeof(tmp)) == NULL)
		return "unknown";
	return pool_strdup(ev->pool, tmp);
}

/* Client address, sender, local part and domain as RFC 7208 4.1 says. */
static int
eval_setup(struct spf_eval *ev, const struct spf_query *q)
{
	const char *sender = q->sender, *at;

	if (q->ip != NULL && inet_pton(AF_INET, q->ip, ev->ip) == 1) {
		ev->family = AF_INET;
	} else if (q->ip != NULL && inet_pton(AF_INET6, q->ip, ev->ip) == 1) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		ev->family = AF_INET6;
		if (memcmp(ev->ip, mapped, 12) == 0) {
			memmove(ev->ip, ev->ip + 12, 4);
			ev->family = AF_INET;
		}
	} else {
		return -1;
	}
	if (sender == NULL || *sender == '\0')
		sender = pool_printf(ev->pool, "postmaster@%s", q->helo ? q->helo : "");
	else if ((at = strrchr(sender, '@')) == NULL)
		sender = pool_printf(ev->pool, "postmaster@%s", sender);
	else if (at == sender)
		sender = pool_printf(ev->pool, "postmaster%s", sender);
	if (sender == NULL)
		return -1;
	at = strrchr(sender, '@');
	ev->env.sender = sender;
	ev->env.local = pool_strndup(ev->pool, sender, (size_t)(at - sender));
	ev->env.sender_domain = at + 1;
	ev->env.helo = q->helo ? q->helo : "unknown";
	ev->env.receiver = q->receiver;
	ev->env.ipv6 = ev->family == AF_INET6;
	ev->env.ip = ip_macro_text(ev);
	ev->env.client_ip = client_ip_text(ev);
	ev->env.timestamp = (long long)time(NULL);
	ev->res.sender = sender;
	ev->res.domain = at + 1;
	return ev->env.local != NULL && ev->env.ip != NULL ? 0 : -1;
}

int
spf_check(struct pool *pool, const struct spf_query *q, spf_resolve_fn *resolve, void *rctx,
    spf_done_fn *done, void *ud)
{
	struct spf_eval *ev = pool_alloc(pool, sizeof(*ev));

	if (ev == NULL)
		return -1;
	ev->pool = pool;
	ev->resolve = resolve;
	ev->rctx = rctx;
	ev->done = done;
	ev->ud = ud;
	if (eval_setup(ev, q) < 0) {
		ev->res.result = SPF_RES_NONE;
		ev->res.reason = "no usable client address or sender";
		done(&ev->res, ud);
		return 0;
	}
	if ((ev->top = pool_alloc(pool, sizeof(*ev->top))) == NULL)
		return -1;
	ev->top->domain = ev->res.domain;
	ev->phase = PH_IDLE;
	spf_resume(ev);
	return 0;
}
