/*
 * psl.c - public suffix list: parsing, A-label conversion of IDN rules,
 * and the longest-match lookup.
 *
 * The rules sit in one case-insensitive string map keyed by the rule's
 * domain part, with a bit set per kind (plain, "*." wildcard, "!"
 * exception), so one lookup per label of the queried name suffices: a
 * name of N labels costs at most 2N hash lookups, and the map (about
 * 10,000 rules) is built once in the main process and only read after.
 *
 * Debian ships the list in UTF-8; mail carries domains in A-label form, so
 * every rule with non-ASCII labels is stored a second time punycoded
 * (RFC 3492, encoder only: the list is already lower case, which is all
 * the normalisation its rules need).
 */
#include "auth/psl.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/strmap.h"
#include "core/xmalloc.h"

#define RULE_PLAIN 1u
#define RULE_WILDCARD 2u
#define RULE_EXCEPTION 4u

/* RFC 1035: 255 octets on the wire, so at most 127 labels. */
#define PSL_MAX_NAME 256
#define PSL_MAX_LABELS 128
#define PSL_MAX_FILE (16u * 1024 * 1024)

struct psl {
	struct strmap *rules;
	size_t n_rules;
};

static struct psl *psl_default_list;
static int psl_default_tried;

/* Punycode parameters, RFC 3492 section 5. */
enum {
	PC_BASE = 36,
	PC_TMIN = 1,
	PC_TMAX = 26,
	PC_SKEW = 38,
	PC_DAMP = 700,
	PC_INITIAL_BIAS = 72,
	PC_INITIAL_N = 128,
};

static uint32_t
punycode_adapt(uint32_t delta, uint32_t numpoints, int first)
{
	uint32_t k = 0;

	delta = first ? delta / PC_DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
		delta /= PC_BASE - PC_TMIN;
		k += PC_BASE;
	}
	return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static char
punycode_digit(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* Emits the variable-length integer q with the current bias. */
static int
punycode_emit(struct buf *out, uint32_t q, uint32_t bias)
{
	for (uint32_t k = PC_BASE;; k += PC_BASE) {
		uint32_t t = k <= bias ? PC_TMIN :
		    k >= bias + PC_TMAX ? PC_TMAX : k - bias;
		if (q < t)
			break;
		if (buf_putc(out, punycode_digit(t + (q - t) % (PC_BASE - t))) < 0)
			return -1;
		q = (q - t) / (PC_BASE - t);
	}
	return buf_putc(out, punycode_digit(q));
}

/* Encodes code points cp[0..n) (one label) after "xn--" into out. */
static int
punycode_encode(const uint32_t *cp, size_t n, struct buf *out)
{
	uint32_t next = PC_INITIAL_N, delta = 0, bias = PC_INITIAL_BIAS;
	uint32_t h, b = 0;

	for (size_t i = 0; i < n; i++) {
		if (cp[i] < 0x80) {
			if (buf_putc(out, (char)cp[i]) < 0)
				return -1;
			b++;
		}
	}
	h = b;
	if (b > 0 && buf_putc(out, '-') < 0)
		return -1;
	while (h < n) {
		uint32_t m = UINT32_MAX;
		for (size_t i = 0; i < n; i++)
			if (cp[i] >= next && cp[i] < m)
				m = cp[i];
		if ((uint64_t)delta + (uint64_t)(m - next) * (h + 1) > UINT32_MAX)
			return -1;
		delta += (m - next) * (h + 1);
		next = m;
		for (size_t i = 0; i < n; i++) {
			if (cp[i] < next && ++delta == 0)
				return -1;
			if (cp[i] != next)
				continue;
			if (punycode_emit(out, delta, bias) < 0)
				return -1;
			bias = punycode_adapt(delta, h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++;
		next++;
	}
	return 0;
}

/* Decodes one UTF-8 sequence at s[*i]; -1 on malformed input. */
static int
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp_r)
{
	unsigned char c = s[*i];
	size_t need;
	uint32_t cp;

	if (c < 0x80) {
		*cp_r = c;
		(*i)++;
		return 0;
	}
	if ((c & 0xe0) == 0xc0) {
		need = 1;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		need = 2;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		need = 3;
		cp = c & 0x07;
	} else {
		return -1;
	}
	if (*i + need >= len)
		return -1;
	for (size_t k = 1; k <= need; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[*i + k] & 0x3f);
	}
	*i += need + 1;
	*cp_r = cp;
	return 0;
}

/* The A-label form of a dotted UTF-8 name into out; -1 if malformed. */
static int
psl_to_alabels(const char *name, size_t len, struct buf *out)
{
	uint32_t cps[64];
	size_t pos = 0;

	while (pos <= len) {
		size_t end = pos, n = 0;
		int ascii = 1;
		while (end < len && name[end] != '.')
			end++;
		for (size_t i = pos; i < end;) {
			if (n == ARRAY_SIZE(cps) ||
			    utf8_next((const unsigned char *)name, end, &i,
				&cps[n]) < 0)
				return -1;
			if (cps[n++] >= 0x80)
				ascii = 0;
		}
		if (ascii) {
			if (buf_append(out, name + pos, end - pos) < 0)
				return -1;
		} else if (buf_append_cstr(out, "xn--") < 0 ||
		    punycode_encode(cps, n, out) < 0) {
			return -1;
		}
		if (end < len && buf_putc(out, '.') < 0)
			return -1;
		pos = end + 1;
	}
	return 0;
}

static void
psl_add(struct psl *psl, const char *key, unsigned kind)
{
	uintptr_t old = (uintptr_t)strmap_get(psl->rules, key);

	strmap_put(psl->rules, key, (void *)(old | kind));
	if (old == 0)
		psl->n_rules++;
}

static int
psl_has_non_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* One line of the list: the rule is its first whitespace-free word. */
static void
psl_parse_line(struct psl *psl, const char *line, size_t len)
{
	char key[PSL_MAX_NAME];
	unsigned kind = RULE_PLAIN;
	size_t n = 0;
	struct buf alabel;

	while (n < len && line[n] != ' ' && line[n] != '\t' && line[n] != '\r')
		n++;
	if (n == 0 || (n >= 2 && line[0] == '/' && line[1] == '/'))
		return;
	if (line[0] == '!') {
		kind = RULE_EXCEPTION;
		line++;
		n--;
	} else if (n >= 2 && line[0] == '*' && line[1] == '.') {
		kind = RULE_WILDCARD;
		line += 2;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(key))
		return;
	memcpy(key, line, n);
	key[n] = '\0';
	psl_add(psl, key, kind);
	if (!psl_has_non_ascii(key, n))
		return;
	buf_init(&alabel, PSL_MAX_NAME);
	if (psl_to_alabels(key, n, &alabel) == 0)
		psl_add(psl, alabel.data, kind);
	buf_deinit(&alabel);
}

struct psl *
psl_parse(const char *text, size_t len)
{
	struct psl *psl = xcalloc(1, sizeof(*psl));
	size_t pos = 0;

	psl->rules = strmap_new(true);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t start = pos;
		while (start < end && (text[start] == ' ' || text[start] == '\t'))
			start++;
		psl_parse_line(psl, text + start, end - start);
		pos = end + 1;
	}
	return psl;
}

struct psl *
psl_load(const char *path, char **error_r)
{
	FILE *fp = fopen(path, "rb");
	struct buf text;
	char chunk[8192];
	size_t n;
	struct psl *psl;

	if (fp == NULL) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	buf_init(&text, PSL_MAX_FILE);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (buf_append(&text, chunk, n) < 0) {
			*error_r = xasprintf("%s: larger than %u bytes", path,
			    PSL_MAX_FILE);
			fclose(fp);
			buf_deinit(&text);
			return NULL;
		}
	}
	if (ferror(fp)) {
		*error_r = xasprintf("%s: read error", path);
		fclose(fp);
		buf_deinit(&text);
		return NULL;
	}
	fclose(fp);
	psl = psl_parse(text.data != NULL ? text.data : "", text.len);
	buf_deinit(&text);
	return psl;
}

void
psl_free(struct psl **psl)
{
	if (*psl == NULL)
		return;
	strmap_free(&(*psl)->rules);
	free(*psl);
	*psl = NULL;
}

size_t
psl_rule_count(const struct psl *psl)
{
	return psl != NULL ? psl->n_rules : 0;
}

int
psl_default_load(char **error_r)
{
	if (psl_default_tried)
		return psl_default_list != NULL ? 0 : -1;
	psl_default_tried = 1;
	psl_default_list = psl_load(PSL_DEFAULT_PATH, error_r);
	return psl_default_list != NULL ? 0 : -1;
}

const struct psl *
psl_default(void)
{
	return psl_default_list;
}

static unsigned
psl_kind(const struct psl *psl, const char *key)
{
	if (psl == NULL)
		return 0;
	return (unsigned)(uintptr_t)strmap_get(psl->rules, key);
}

/*
 * Splits name (no trailing dot) into label start offsets; returns the
 * label count, or 0 for an empty or malformed name.
 */
static size_t
psl_split(const char *name, size_t len, size_t *starts)
{
	size_t n = 0;

	if (len == 0)
		return 0;
	starts[n++] = 0;
	for (size_t i = 0; i < len; i++) {
		if (name[i] != '.')
			continue;
		if (i == 0 || name[i - 1] == '.' || i + 1 == len ||
		    n == PSL_MAX_LABELS)
			return 0;
		starts[n++] = i + 1;
	}
	return n;
}

/*
 * Index of the label where the public suffix of name starts, or -1.
 * Walks from the top-level label leftwards so the last match seen is the
 * longest; an exception stops the walk at once, as it wins over all.
 */
static ptrdiff_t
psl_suffix_label(const struct psl *psl, const char *name, size_t len,
    size_t *starts, size_t *n_r)
{
	size_t n = psl_split(name, len, starts);
	ptrdiff_t ps;

	*n_r = n;
	if (n == 0)
		return -1;
	ps = (ptrdiff_t)n - 1;
	for (size_t i = n; i-- > 0;) {
		unsigned kind = psl_kind(psl, name + starts[i]);
		if ((kind & RULE_EXCEPTION) && i + 1 < n)
			return (ptrdiff_t)i + 1;
		if (kind & RULE_PLAIN)
			ps = (ptrdiff_t)i;
		if (i + 1 < n &&
		    (psl_kind(psl, name + starts[i + 1]) & RULE_WILDCARD))
			ps = (ptrdiff_t)i;
	}
	return ps;
}

/* Copies domain without its trailing dot; returns length, or -1. */
static ptrdiff_t
psl_copy_name(const char *domain, char *name)
{
	size_t len;

	if (domain == NULL)
		return -1;
	len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len >= PSL_MAX_NAME)
		return -1;
	memcpy(name, domain, len);
	name[len] = '\0';
	return (ptrdiff_t)len;
}

const char *
psl_public_suffix(const struct psl *psl, const char *domain)
{
	char name[PSL_MAX_NAME];
	size_t starts[PSL_MAX_LABELS], n;
	ptrdiff_t len = psl_copy_name(domain, name), ps;

	if (len < 0)
		return NULL;
	ps = psl_suffix_label(psl, name, (size_t)len, starts, &n);
	return ps < 0 ? NULL : domain + starts[ps];
}

const char *
psl_registrable_domain(const struct psl *psl, const char *domain)
{
	char name[PSL_MAX_NAME];
	size_t starts[PSL_MAX_LABELS], n;
	ptrdiff_t len = psl_copy_name(domain, name), ps;

	if (len < 0)
		return NULL;
	ps = psl_suffix_label(psl, name, (size_t)len, starts, &n);
	if (ps <= 0)
		return NULL;
	return domain + starts[ps - 1];
}

const char *
psl_org_domain(const struct psl *psl, const char *domain)
{
	const char *reg = psl_registrable_domain(psl, domain);

	return reg != NULL ? reg : domain;
}
