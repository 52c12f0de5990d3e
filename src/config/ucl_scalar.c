/*
 * ucl_scalar.c - the leaves of the UCL grammar: string unescaping,
 * variable expansion and the classification of bare words into booleans,
 * null and numbers with size/time suffixes.
 *
 * These work on byte ranges already delimited by ucl_parser.c, so nothing
 * here can run past its input. Unescaping never fails: a malformed \u
 * sequence becomes U+FFFD and an unknown escape keeps the escaped
 * character, because configuration files written for Rspamd rely on that
 * leniency (regular expressions in double quotes).
 */
#include "config/ucl_private.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Four hex digits at s (len available), or -1. */
static long
hex4(const char *s, size_t len)
{
	long v = 0;

	if (len < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = ascii_hex_value(s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static void
put_utf8(struct buf *out, unsigned long cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	(void)buf_append(out, b, n);
}

/*
 * \uXXXX at s[0] == 'u'; handles surrogate pairs. Returns the number of
 * bytes consumed after the backslash.
 */
static size_t
unescape_u(const char *s, size_t len, struct buf *out)
{
	long hi = hex4(s + 1, len - 1), lo;

	if (hi < 0) {
		put_utf8(out, 0xfffd);
		return 1;
	}
	if (hi >= 0xd800 && hi <= 0xdbff && len >= 11 && s[5] == '\\' &&
	    s[6] == 'u') {
		lo = hex4(s + 7, len - 7);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			put_utf8(out, 0x10000 + (((unsigned long)hi - 0xd800) << 10) +
			    ((unsigned long)lo - 0xdc00));
			return 11;
		}
	}
	if (hi >= 0xd800 && hi <= 0xdfff)
		hi = 0xfffd;
	put_utf8(out, (unsigned long)hi);
	return 5;
}

void
ucl_unescape_dquoted(const char *s, size_t len, struct buf *out)
{
	size_t i = 0, run;

	while (i < len) {
		const char *bs = memchr(s + i, '\\', len - i);

		run = bs != NULL ? (size_t)(bs - (s + i)) : len - i;
		(void)buf_append(out, s + i, run);
		i += run;
		if (i >= len)
			break;
		i++; /* the backslash */
		if (i >= len) {
			(void)buf_putc(out, '\\');
			break;
		}
		switch (s[i]) {
		case 'n': (void)buf_putc(out, '\n'); break;
		case 't': (void)buf_putc(out, '\t'); break;
		case 'r': (void)buf_putc(out, '\r'); break;
		case 'b': (void)buf_putc(out, '\b'); break;
		case 'f': (void)buf_putc(out, '\f'); break;
		case 'u':
			i += unescape_u(s + i, len - i, out);
			continue;
		default:
			/* \\ \" \/ \$ and unknown escapes: the character itself */
			(void)buf_putc(out, s[i]);
			break;
		}
		i++;
	}
}

void
ucl_unescape_squoted(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len && s[i + 1] == '\'')
			i++;
		(void)buf_putc(out, s[i]);
	}
}

static bool
is_var_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/*
 * One "$..." at s[0]; appends its expansion and returns the bytes
 * consumed. Unknown names are kept verbatim, because module options use
 * $domain/$selector templates of their own.
 */
static size_t
expand_one(const struct ucl_vars *vars, const char *s, size_t len,
    struct buf *out, int *r)
{
	const char *val;
	size_t n = 1;

	if (len >= 2 && s[1] == '$') {
		*r |= buf_putc(out, '$');
		return 2;
	}
	if (len >= 2 && s[1] == '{') {
		const char *close = memchr(s + 2, '}', len - 2);

		if (close != NULL) {
			val = ucl_vars_get(vars, s + 2, (size_t)(close - s - 2));
			if (val != NULL) {
				*r |= buf_append_cstr(out, val);
				return (size_t)(close - s) + 1;
			}
		}
	} else {
		while (n < len && is_var_char(s[n]))
			n++;
		val = n > 1 ? ucl_vars_get(vars, s + 1, n - 1) : NULL;
		if (val != NULL) {
			*r |= buf_append_cstr(out, val);
			return n;
		}
	}
	*r |= buf_putc(out, '$');
	return 1;
}

int
ucl_expand_vars(const struct ucl_vars *vars, const char *s, size_t len,
    struct buf *out)
{
	size_t i = 0;
	int r = 0;

	while (i < len && r == 0) {
		const char *d = memchr(s + i, '$', len - i);
		size_t run = d != NULL ? (size_t)(d - (s + i)) : len - i;

		r |= buf_append(out, s + i, run);
		i += run;
		if (i < len)
			i += expand_one(vars, s + i, len - i, out, &r);
	}
	return r == 0 ? 0 : -1;
}

struct suffix {
	const char *name;
	double mult;
	bool is_time;
};

/* Sizes: k/m/g are powers of 1000, kb/mb/gb powers of 1024 (UCL rule). */
static const struct suffix suffixes[] = {
	{ "k", 1e3, false }, { "m", 1e6, false }, { "g", 1e9, false },
	{ "kb", 1024.0, false }, { "mb", 1048576.0, false },
	{ "gb", 1073741824.0, false },
	{ "ms", 0.001, true }, { "s", 1, true }, { "min", 60, true },
	{ "h", 3600, true }, { "d", 86400, true }, { "w", 604800, true },
	{ "y", 31536000, true },
};

static const struct suffix *
find_suffix(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		if (strlen(suffixes[i].name) == len &&
		    strncasecmp(suffixes[i].name, s, len) == 0)
			return &suffixes[i];
	}
	return NULL;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the decimal number at s (sign, digits, fraction, exponent). */
static size_t
scan_decimal(const char *s, size_t len, bool *is_float_r)
{
	size_t i = 0, d;

	*is_float_r = false;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	d = i;
	while (i < len && is_digit(s[i]))
		i++;
	if (i == d)
		return 0;
	if (i + 1 < len && s[i] == '.' && is_digit(s[i + 1])) {
		*is_float_r = true;
		i++;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i + 1 < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;

		if (j < len && (s[j] == '-' || s[j] == '+'))
			j++;
		if (j < len && is_digit(s[j])) {
			while (j < len && is_digit(s[j]))
				j++;
			*is_float_r = true;
			i = j;
		}
	}
	return i;
}

static struct obj *
parse_hex(const char *s, size_t len)
{
	char tmp[32];
	char *end;
	long long v;

	if (len >= sizeof(tmp))
		return NULL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	v = strtoll(tmp, &end, 16);
	if (errno != 0 || *end != '\0' || end == tmp)
		return NULL;
	return obj_new_int(v);
}

static struct obj *
parse_number(const char *s, size_t len)
{
	const struct suffix *suf = NULL;
	char tmp[64];
	bool is_float;
	size_t n;
	double d;
	long long ll;
	int64_t prod;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return parse_hex(s + 2, len - 2);
	n = scan_decimal(s, len, &is_float);
	if (n == 0 || n >= sizeof(tmp))
		return NULL;
	if (n < len && (suf = find_suffix(s + n, len - n)) == NULL)
		return NULL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	if (!is_float && (suf == NULL || !suf->is_time)) {
		ll = strtoll(tmp, NULL, 10);
		if (errno == 0 && suf == NULL)
			return obj_new_int(ll);
		if (errno == 0 && !__builtin_mul_overflow((int64_t)ll,
		    (int64_t)suf->mult, &prod))
			return obj_new_int(prod);
	}
	errno = 0;
	d = strtod(tmp, NULL);
	if (suf != NULL)
		d *= suf->mult;
	if (!isfinite(d))
		return NULL;
	return obj_new_float(d);
}

struct obj *
ucl_atom_scalar(const char *s, size_t len)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strlen(yes[i]) == len && strncasecmp(s, yes[i], len) == 0)
			return obj_new_bool(true);
		if (strlen(no[i]) == len && strncasecmp(s, no[i], len) == 0)
			return obj_new_bool(false);
	}
	if (len == 4 && strncasecmp(s, "null", 4) == 0)
		return obj_new_null();
	if (len > 0 && (is_digit(s[0]) || ((s[0] == '-' || s[0] == '+') &&
	    len > 1 && is_digit(s[1]))))
		return parse_number(s, len);
	return NULL;
}

void
ucl_vars_set(struct ucl_vars *vars, const char *name, const char *value)
{
	for (size_t i = 0; i < vars->n; i++) {
		if (strcmp(vars->v[i].name, name) == 0) {
			free(vars->v[i].value);
			vars->v[i].value = xstrdup(value);
			return;
		}
	}
	vars->v = xgrow(vars->v, &vars->cap, vars->n + 1, sizeof(*vars->v));
	vars->v[vars->n].name = xstrdup(name);
	vars->v[vars->n].value = xstrdup(value);
	vars->n++;
}

const char *
ucl_vars_get(const struct ucl_vars *vars, const char *name, size_t len)
{
	if (vars == NULL)
		return NULL;
	for (size_t i = 0; i < vars->n; i++) {
		if (strlen(vars->v[i].name) == len &&
		    memcmp(vars->v[i].name, name, len) == 0)
			return vars->v[i].value;
	}
	return NULL;
}

void
ucl_vars_free(struct ucl_vars *vars)
{
	for (size_t i = 0; i < vars->n; i++) {
		free(vars->v[i].name);
		free(vars->v[i].value);
	}
	free(vars->v);
	vars->v = NULL;
	vars->n = vars->cap = 0;
}
