/*
 * content_type.c - Content-Type / Content-Disposition values and params.
 *
 * "type/subtype; name=value; name="quoted"; name*=charset'lang'%XX;
 * name*0=...; name*1*=..." (RFC 2045, RFC 2231). Parsing is over the
 * unfolded raw value, not the RFC 2047 decoded one, because decoding can
 * inject quotes and semicolons; encoded words inside a quoted filename are
 * a common non-standard habit and are decoded after assembly. Parameters
 * beyond MIME_MAX_PARAMS are ignored.
 */
#include "mime/mime_internal.h"
#include "core/str.h"

#include <string.h>

#include "core/buf.h"
#include "core/pool.h"

#define PARAM_SECTIONS_MAX 64

static bool
is_tspecial_end(char c)
{
	return c == ';' || c == '=' || ascii_isspace(c) || c == '"' ||
	    c == '/' || c == ',';
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && ascii_isspace(*p))
		p++;
	return p;
}

static const char *
read_token(const char *p, const char *end, struct str *tok_r)
{
	const char *s = p;

	while (p < end && !is_tspecial_end(*p))
		p++;
	*tok_r = str_make(s, (size_t)(p - s));
	return p;
}

/* Quoted string starting after the opening quote; unterminated is fine. */
static const char *
read_quoted(const char *p, const char *end, struct str *val_r)
{
	const char *s = p;

	while (p < end && *p != '"') {
		if (*p == '\\' && p + 1 < end)
			p++;
		p++;
	}
	*val_r = str_make(s, (size_t)(p - s));
	return p < end ? p + 1 : p;
}

/* Splits "name*3*" into name, section 3, extended. */
static void
param_name_split(struct mime_param *prm)
{
	struct str n = prm->name;
	size_t i;

	prm->section = -1;
	prm->extended = false;
	if (n.len > 0 && n.ptr[n.len - 1] == '*') {
		prm->extended = true;
		n.len--;
	}
	i = n.len;
	while (i > 0 && n.ptr[i - 1] >= '0' && n.ptr[i - 1] <= '9')
		i--;
	if (i < n.len && i > 0 && n.ptr[i - 1] == '*' && n.len - i <= 4) {
		int sec = 0;

		for (size_t k = i; k < n.len; k++)
			sec = sec * 10 + (n.ptr[k] - '0');
		prm->section = sec;
		n.len = i - 1;
	}
	prm->name = n;
}

static const char *
param_parse_one(const char *p, const char *end, struct mime_ctype *ct)
{
	struct mime_param prm = { 0 };

	p = read_token(skip_space(p, end), end, &prm.name);
	p = skip_space(p, end);
	if (p >= end || *p != '=' || prm.name.len == 0) {
		/* Junk: skip to the next ';'. */
		const char *semi = memchr(p, ';', (size_t)(end - p));

		return semi != NULL ? semi : end;
	}
	p = skip_space(p + 1, end);
	if (p < end && *p == '"') {
		p = read_quoted(p + 1, end, &prm.value);
		prm.quoted = true;
	} else {
		const char *s = p;

		/* Unquoted values with spaces are common: take up to ';'. */
		while (p < end && *p != ';')
			p++;
		prm.value = str_trim(str_make(s, (size_t)(p - s)));
	}
	param_name_split(&prm);
	if (ct->n_params < MIME_MAX_PARAMS)
		ct->params[ct->n_params++] = prm;
	return p;
}

int
mime_ctype_parse(const char *value, size_t len, bool want_subtype,
    struct mime_ctype *ct_r)
{
	const char *p = value, *end = value + len;

	memset(ct_r, 0, sizeof(*ct_r) - sizeof(ct_r->params));
	ct_r->n_params = 0;
	p = read_token(skip_space(p, end), end, &ct_r->type);
	p = skip_space(p, end);
	if (want_subtype) {
		if (p < end && *p == '/') {
			p = read_token(skip_space(p + 1, end), end,
			    &ct_r->subtype);
		}
	}
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));

		if (semi == NULL)
			break;
		p = param_parse_one(semi + 1, end, ct_r);
	}
	if (ct_r->type.len == 0 || (want_subtype && ct_r->subtype.len == 0))
		return -1;
	return 0;
}

char *
mime_lower_dup(struct pool *pool, struct str s)
{
	char *out = pool_alloc(pool, s.len + 1);
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i < s.len; i++)
		out[i] = ascii_tolower(s.ptr[i]);
	return out;
}

/* Appends a value, undoing quoted-pair or %XX escapes. */
static void
param_append(struct buf *b, const struct mime_param *prm, struct str v)
{
	size_t i;

	for (i = 0; i < v.len; i++) {
		char c = v.ptr[i];

		if (prm->quoted && c == '\\' && i + 1 < v.len) {
			c = v.ptr[++i];
		} else if (prm->extended && c == '%' && i + 2 < v.len &&
		    ascii_hex_value(v.ptr[i + 1]) >= 0 && ascii_hex_value(v.ptr[i + 2]) >= 0) {
			c = (char)(ascii_hex_value(v.ptr[i + 1]) << 4 | ascii_hex_value(v.ptr[i + 2]));
			i += 2;
		}
		(void)buf_putc(b, c);
	}
}

/* Strips "charset'lang'" from the first extended section. */
static struct str
param_split_charset(struct str v, char *cs, size_t cs_size)
{
	const char *q1 = memchr(v.ptr, '\'', v.len), *q2;
	size_t n;

	if (q1 == NULL)
		return v;
	q2 = memchr(q1 + 1, '\'', (size_t)(v.ptr + v.len - q1 - 1));
	if (q2 == NULL)
		return v;
	n = MIN((size_t)(q1 - v.ptr), cs_size - 1);
	memcpy(cs, v.ptr, n);
	cs[n] = '\0';
	return str_make(q2 + 1, (size_t)(v.ptr + v.len - q2 - 1));
}

static char *
param_finish(struct pool *pool, struct buf *b, const char *charset,
    bool decode)
{
	struct mime_conv_result res;
	size_t n;
	bool had_8bit;

	if (b->len == 0)
		return pool_strdup(pool, "");
	if (!decode)
		return pool_strndup(pool, b->data, b->len);
	if (charset[0] != '\0')
		return mime_charset_to_utf8(pool, charset, b->data, b->len, &n,
		    &res);
	return mime_rfc2047_decode(pool, b->data, b->len, &n, &had_8bit);
}

const char *
mime_ctype_param(struct pool *pool, const struct mime_ctype *ct,
    const char *name, bool decode)
{
	const struct mime_param *sec[PARAM_SECTIONS_MAX] = { 0 };
	const struct mime_param *plain = NULL;
	char charset[41] = "";
	struct buf b;
	unsigned i;
	char *res;

	for (i = 0; i < ct->n_params; i++) {
		const struct mime_param *prm = &ct->params[i];

		if (!str_case_eq_cstr(prm->name, name))
			continue;
		if (prm->section < 0 && (plain == NULL || prm->extended))
			plain = prm;
		else if (prm->section >= 0 && prm->section < PARAM_SECTIONS_MAX &&
		    sec[prm->section] == NULL)
			sec[prm->section] = prm;
	}
	if (plain == NULL && sec[0] == NULL)
		return NULL;
	buf_init(&b, 0);
	if (plain != NULL && (plain->extended || sec[0] == NULL)) {
		struct str v = plain->value;

		if (plain->extended)
			v = param_split_charset(v, charset, sizeof(charset));
		param_append(&b, plain, v);
	} else {
		for (i = 0; i < PARAM_SECTIONS_MAX && sec[i] != NULL; i++) {
			struct str v = sec[i]->value;

			if (i == 0 && sec[i]->extended)
				v = param_split_charset(v, charset,
				    sizeof(charset));
			param_append(&b, sec[i], v);
		}
	}
	res = param_finish(pool, &b, charset, decode);
	buf_deinit(&b);
	return res;
}
