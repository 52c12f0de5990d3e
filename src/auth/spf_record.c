/*
 * spf_record.c - the SPF record grammar (RFC 7208 sections 4.6, 5, 6, 7)
 * and macro expansion.
 *
 * The parser is strict where the RFC says a record is malformed (unknown
 * mechanisms, bad CIDR lengths, bad macros, a domain-spec not ending in a
 * top label or a macro, redirect/exp given twice): those are permerrors,
 * and the evaluator needs to know before it does any DNS work, because a
 * syntax error anywhere in the record fails it even when an earlier
 * mechanism would have matched. Unknown modifiers are ignored once their
 * value parses as a macro-string.
 *
 * Everything here is pure (no DNS, no globals) so it can be fuzzed alone.
 */
#include "auth/spf_record.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"

#define SPF_DELIMS ".-+,/_="

bool
spf_record_is_v1(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 && (len == 6 || txt[6] == ' ');
}

static bool
macro_letter_ok(char c, bool exp)
{
	c = (char)tolower((unsigned char)c);
	if (strchr("slodiphv", c) != NULL)
		return c != '\0';
	return exp && (c == 'c' || c == 'r' || c == 't');
}

/* Length of the macro-expand at s ("%{...}", "%%", "%_", "%-"), 0 if bad. */
static size_t
macro_len(const char *s, size_t len, bool exp)
{
	size_t i = 2;

	if (len < 2 || s[0] != '%')
		return 0;
	if (s[1] == '%' || s[1] == '_' || s[1] == '-')
		return 2;
	if (s[1] != '{' || len < 4 || !macro_letter_ok(s[2], exp))
		return 0;
	i = 3;
	if (i < len && isdigit((unsigned char)s[i])) {
		if (s[i] == '0')
			return 0;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i < len && (s[i] == 'r' || s[i] == 'R'))
		i++;
	while (i < len && strchr(SPF_DELIMS, s[i]) != NULL && s[i] != '\0')
		i++;
	return i < len && s[i] == '}' ? i + 1 : 0;
}

bool
spf_macro_valid(const char *spec, size_t len, bool exp)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)spec[i];
		size_t n;

		if (c == '%') {
			if ((n = macro_len(spec + i, len - i, exp)) == 0)
				return false;
			i += n;
		} else if ((c >= 0x21 && c <= 0x7e) || (exp && c == ' ')) {
			i++;
		} else {
			return false;
		}
	}
	return true;
}

bool
spf_macro_uses_p(const char *spec)
{
	for (const char *p = strstr(spec, "%{"); p != NULL; p = strstr(p + 2, "%{")) {
		if (p[2] == 'p' || p[2] == 'P')
			return true;
	}
	return false;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
toplabel_ok(const char *s, size_t len)
{
	bool alpha = false;

	if (len == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (isalpha((unsigned char)s[i]))
			alpha = true;
		else if (s[i] == '-')
			alpha = true;   /* the second form: a hyphen inside is enough */
		else if (!isdigit((unsigned char)s[i]))
			return false;
	}
	return alpha;
}

/* domain-spec = macro-string domain-end; domain-end = "." toplabel ["."] / macro-expand */
static bool
domain_spec_ok(const char *s, size_t len)
{
	size_t end = len, dot;

	if (len == 0 || !spf_macro_valid(s, len, false))
		return false;
	if (s[len - 1] == '}')
		return true;
	if (len >= 2 && s[len - 2] == '%' && strchr("%_-", s[len - 1]) != NULL) {
		/* "%%" ends a macro-expand only when that '%' is not itself escaped */
		size_t k = 0;

		while (k < len && s[len - 1 - k] == '%')
			k++;
		if (s[len - 1] != '%' || k % 2 == 0)
			return true;
	}
	if (s[end - 1] == '.')
		end--;
	for (dot = end; dot > 0 && s[dot - 1] != '.'; dot--)
		;
	if (dot == 0)
		return false;
	return toplabel_ok(s + dot, end - dot);
}

/* "/" ("0" / %x31-39 0*N DIGIT) up to max */
static int
cidr_parse(const char *s, size_t len, int max)
{
	int v = 0;

	if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Splits a trailing dual-cidr-length off [s, s+*len): "/24", "//64", "/24//64". */
static int
dual_cidr_split(const char *s, size_t *len, int *c4, int *c6)
{
	size_t n = *len, i = n;

	*c4 = *c6 = -1;
	while (i > 0 && isdigit((unsigned char)s[i - 1]))
		i--;
	if (i >= 2 && i < n && s[i - 1] == '/' && s[i - 2] == '/') {
		if ((*c6 = cidr_parse(s + i, n - i, 128)) < 0)
			return -1;
		n = i - 2;
		i = n;
		while (i > 0 && isdigit((unsigned char)s[i - 1]))
			i--;
	}
	if (i >= 1 && i < n && s[i - 1] == '/') {
		if ((*c4 = cidr_parse(s + i, n - i, 32)) < 0)
			return -1;
		n = i - 1;
	}
	*len = n;
	return 0;
}

static int
term_domain(struct spf_term *t, const char *arg, size_t len, bool required,
    struct pool *pool)
{
	if (len == 0) {
		if (required)
			return -1;
		t->domain = NULL;
		return 0;
	}
	if (arg[0] != ':' || !domain_spec_ok(arg + 1, len - 1))
		return -1;
	t->domain = pool_strndup(pool, arg + 1, len - 1);
	return t->domain != NULL ? 0 : -1;
}

static int
term_ip(struct spf_term *t, const char *arg, size_t len, bool v6)
{
	char tmp[64];
	size_t n = len;
	const char *slash;

	if (len < 2 || arg[0] != ':')
		return -1;
	arg++;
	len--;
	slash = memchr(arg, '/', len);
	n = slash != NULL ? (size_t)(slash - arg) : len;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, arg, n);
	tmp[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, t->addr) != 1)
		return -1;
	if (slash != NULL) {
		int c = cidr_parse(slash + 1, len - n - 1, v6 ? 128 : 32);

		if (c < 0)
			return -1;
		if (v6)
			t->cidr6 = c;
		else
			t->cidr4 = c;
	}
	return 0;
}

static const struct {
	const char *name;
	enum spf_mech mech;
} mech_names[] = {
	{ "all", SPF_MECH_ALL }, { "include", SPF_MECH_INCLUDE }, { "a", SPF_MECH_A },
	{ "mx", SPF_MECH_MX }, { "ptr", SPF_MECH_PTR }, { "ip4", SPF_MECH_IP4 },
	{ "ip6", SPF_MECH_IP6 }, { "exists", SPF_MECH_EXISTS },
};

static int
mech_args(struct spf_term *t, const char *arg, size_t alen, struct pool *pool)
{
	switch (t->mech) {
	case SPF_MECH_ALL:
		return alen == 0 ? 0 : -1;
	case SPF_MECH_INCLUDE:
	case SPF_MECH_EXISTS:
		return term_domain(t, arg, alen, true, pool);
	case SPF_MECH_PTR:
		return term_domain(t, arg, alen, false, pool);
	case SPF_MECH_A:
	case SPF_MECH_MX:
		if (dual_cidr_split(arg, &alen, &t->cidr4, &t->cidr6) < 0)
			return -1;
		return term_domain(t, arg, alen, false, pool);
	case SPF_MECH_IP4:
		return term_ip(t, arg, alen, false);
	case SPF_MECH_IP6:
		return term_ip(t, arg, alen, true);
	}
	return -1;
}

/* One directive; `s` is the term without a leading qualifier. */
static int
directive_parse(const char *s, size_t len, char qual, struct spf_term *t, struct pool *pool)
{
	size_t nlen = 0;

	while (nlen < len && s[nlen] != ':' && s[nlen] != '/')
		nlen++;
	memset(t, 0, sizeof(*t));
	t->qual = qual;
	t->cidr4 = t->cidr6 = -1;
	for (size_t i = 0; i < ARRAY_SIZE(mech_names); i++) {
		if (strlen(mech_names[i].name) == nlen &&
		    strncasecmp(s, mech_names[i].name, nlen) == 0) {
			t->mech = mech_names[i].mech;
			return mech_args(t, s + nlen, len - nlen, pool);
		}
	}
	return -1;
}

static bool
modifier_name_ok(const char *s, size_t len)
{
	if (len == 0 || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) && strchr("-_.", s[i]) == NULL)
			return false;
	}
	return true;
}

static int
modifier_parse(const char *s, size_t len, size_t eq, struct spf_record *rec,
    struct pool *pool, const char **error_r)
{
	const char *val = s + eq + 1;
	size_t vlen = len - eq - 1;
	const char **slot = NULL;

	if (!modifier_name_ok(s, eq)) {
		*error_r = "bad modifier name";
		return -1;
	}
	if (eq == 8 && strncasecmp(s, "redirect", 8) == 0)
		slot = &rec->redirect;
	else if (eq == 3 && strncasecmp(s, "exp", 3) == 0)
		slot = &rec->exp;
	if (slot == NULL) {
		if (!spf_macro_valid(val, vlen, false)) {
			*error_r = "bad macro in a modifier";
			return -1;
		}
		return 0;
	}
	if (*slot != NULL) {
		*error_r = "redirect or exp given twice";
		return -1;
	}
	if (!domain_spec_ok(val, vlen)) {
		*error_r = "bad domain-spec in redirect or exp";
		return -1;
	}
	*slot = pool_strndup(pool, val, vlen);
	return *slot != NULL ? 0 : -1;
}

static int
term_parse(const char *s, size_t len, struct spf_record *rec, size_t *cap,
    struct pool *pool, const char **error_r)
{
	char qual = '+';
	const char *body = s;
	size_t blen = len, eq = 0;
	struct spf_term *t;

	while (eq < len && s[eq] != '=' && s[eq] != ':' && s[eq] != '/')
		eq++;
	if (eq < len && s[eq] == '=')
		return modifier_parse(s, len, eq, rec, pool, error_r);
	if (strchr("+-~?", s[0]) != NULL) {
		qual = s[0];
		body++;
		blen--;
	}
	if (rec->n_terms == *cap) {
		struct spf_term *n = pool_calloc(pool, *cap ? *cap * 2 : 8, sizeof(*n));

		if (n == NULL)
			return -1;
		if (rec->n_terms > 0)
			memcpy(n, rec->terms, rec->n_terms * sizeof(*n));
		rec->terms = n;
		*cap = *cap ? *cap * 2 : 8;
	}
	t = &rec->terms[rec->n_terms];
	if (blen == 0 || directive_parse(body, blen, qual, t, pool) < 0) {
		*error_r = "unknown mechanism or bad mechanism argument";
		return -1;
	}
	t->text = pool_printf(pool, "%c%.*s", qual, (int)blen, body);
	if (t->text == NULL)
		return -1;
	rec->has_all |= t->mech == SPF_MECH_ALL;
	rec->n_terms++;
	return 0;
}

int
spf_record_parse(const char *txt, size_t len, struct pool *pool, struct spf_record *rec_r,
    const char **error_r)
{
	size_t cap = 0, i = 6;

	memset(rec_r, 0, sizeof(*rec_r));
	*error_r = "out of memory";
	if (!spf_record_is_v1(txt, len)) {
		*error_r = "not an SPF version 1 record";
		return -1;
	}
	while (i < len) {
		size_t start;

		if (txt[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < len && txt[i] != ' ')
			i++;
		if (term_parse(txt + start, i - start, rec_r, &cap, pool, error_r) < 0)
			return -1;
	}
	return 0;
}

/* ---- macro expansion ---- */

static const char *
macro_value(char letter, const struct spf_macro_env *env, char *tmp, size_t tmplen)
{
	switch (tolower((unsigned char)letter)) {
	case 's': return env->sender;
	case 'l': return env->local;
	case 'o': return env->sender_domain;
	case 'd': return env->domain;
	case 'i': return env->ip;
	case 'p': return env->validated != NULL ? env->validated : "unknown";
	case 'h': return env->helo;
	case 'v': return env->ipv6 ? "ip6" : "in-addr";
	case 'c': return env->client_ip;
	case 'r': return env->receiver != NULL ? env->receiver : "unknown";
	case 't':
		snprintf(tmp, tmplen, "%lld", env->timestamp);
		return tmp;
	}
	return "";
}

static int
url_escape_append(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || strchr("-._~", c) != NULL) {
			if (buf_putc(out, (char)c) < 0)
				return -1;
		} else if (buf_printf(out, "%%%02X", c) < 0) {
			return -1;
		}
	}
	return 0;
}

/* Splits `v` on `delims`, optionally reverses, keeps the rightmost `keep`. */
static int
macro_transform(const char *v, const char *delims, size_t ndelims, bool rev, long keep,
    bool upper, struct buf *out)
{
	const char *parts[128];
	size_t plen[128], n = 0, first;
	const char *p = v;

	if (ndelims == 0) {
		delims = ".";
		ndelims = 1;
	}
	for (;;) {
		size_t l = 0;

		while (p[l] != '\0' && memchr(delims, p[l], ndelims) == NULL)
			l++;
		if (n == ARRAY_SIZE(parts))
			return -1;
		parts[n] = p;
		plen[n++] = l;
		if (p[l] == '\0')
			break;
		p += l + 1;
	}
	if (rev) {
		for (size_t i = 0; i < n / 2; i++) {
			const char *tp = parts[i];
			size_t tl = plen[i];

			parts[i] = parts[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			parts[n - 1 - i] = tp;
			plen[n - 1 - i] = tl;
		}
	}
	first = keep > 0 && (size_t)keep < n ? n - (size_t)keep : 0;
	for (size_t i = first; i < n; i++) {
		if (i > first && buf_putc(out, '.') < 0)
			return -1;
		if (upper ? url_escape_append(out, parts[i], plen[i]) < 0 :
		    buf_append(out, parts[i], plen[i]) < 0)
			return -1;
	}
	return 0;
}

/* One "%{...}" of length mlen at m. */
static int
macro_one(const char *m, size_t mlen, const struct spf_macro_env *env, struct buf *out)
{
	char tmp[32];
	const char *v = macro_value(m[2], env, tmp, sizeof(tmp));
	size_t i = 3;
	long keep = 0;
	bool rev = false;

	while (i < mlen && isdigit((unsigned char)m[i])) {
		keep = MIN(keep * 10 + (m[i] - '0'), 1000);
		i++;
	}
	if (m[i] == 'r' || m[i] == 'R') {
		rev = true;
		i++;
	}
	return macro_transform(v != NULL ? v : "", m + i, mlen - 1 - i, rev, keep,
	    isupper((unsigned char)m[2]) != 0, out);
}

int
spf_macro_expand(const char *spec, const struct spf_macro_env *env, bool exp, struct buf *out)
{
	size_t len = strlen(spec);

	for (size_t i = 0; i < len;) {
		size_t n;
		int rc = 0;

		if (spec[i] != '%') {
			if (buf_putc(out, spec[i]) < 0)
				return -1;
			i++;
			continue;
		}
		if ((n = macro_len(spec + i, len - i, exp)) == 0)
			return -1;
		if (spec[i + 1] == '%')
			rc = buf_putc(out, '%');
		else if (spec[i + 1] == '_')
			rc = buf_putc(out, ' ');
		else if (spec[i + 1] == '-')
			rc = buf_append(out, "%20", 3);
		else
			rc = macro_one(spec + i, n, env, out);
		if (rc < 0)
			return -1;
		i += n;
	}
	return 0;
}

void
spf_domain_truncate(struct buf *name)
{
	size_t cut = 0;

	while (name->len - cut > 253) {
		const char *dot = memchr(name->data + cut, '.', name->len - cut);

		if (dot == NULL)
			break;
		cut = (size_t)(dot - name->data) + 1;
	}
	buf_consume(name, cut);
}
