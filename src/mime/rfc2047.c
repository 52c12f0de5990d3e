/*
 * rfc2047.c - encoded words ("=?charset?B|Q?text?=") in header values.
 *
 * Real mail breaks RFC 2047 in predictable ways, all tolerated here:
 * encoded words glued to text, spaces inside Q words, multi-byte characters
 * split across adjacent words (so adjacent words in one charset are joined
 * before conversion, not converted one by one), unknown charsets (sent to
 * detection) and raw 8-bit bytes next to encoded words. Whitespace between
 * two encoded words is dropped, as the RFC says. One pass: the search for
 * a closing "?=" that fails means no later word can close either.
 */
#include "mime/mime_internal.h"

#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/pool.h"

#define RFC2047_CHARSET_MAX 40

struct rfc2047_state {
	struct pool *pool;
	struct buf out;      /* UTF-8 result */
	struct buf pending;  /* decoded bytes of the current word run */
	char charset[RFC2047_CHARSET_MAX + 1];
	bool had_8bit;
	bool oom;
};

static void
append_converted(struct rfc2047_state *st, const char *charset,
    const char *s, size_t len)
{
	struct mime_conv_result res;
	size_t n;
	char *u;

	if (len == 0)
		return;
	u = mime_charset_to_utf8(st->pool, charset, s, len, &n, &res);
	if (u == NULL) {
		st->oom = true;
		return;
	}
	(void)buf_append(&st->out, u, n);
}

static void
flush_pending(struct rfc2047_state *st)
{
	append_converted(st, st->charset, st->pending.data, st->pending.len);
	buf_reset(&st->pending);
	st->charset[0] = '\0';
}

/* Plain text between words: raw 8-bit bytes are converted too. */
static void
append_plain(struct rfc2047_state *st, const char *s, size_t len)
{
	if (mime_is_ascii(s, len)) {
		(void)buf_append(&st->out, s, len);
		return;
	}
	st->had_8bit = true;
	append_converted(st, NULL, s, len);
}

struct encoded_word {
	struct str charset;
	char enc;          /* 'B' or 'Q' */
	struct str text;
	const char *end;   /* after "?=" */
};

/*
 * Parses an encoded word at p ("=?" already seen). Returns 1 on success,
 * 0 when this is not a word, -1 when no "?=" closes anything after p.
 */
static int
word_parse(const char *p, const char *end, struct encoded_word *w)
{
	const char *cs = p + 2, *q = cs, *close;

	while (q < end && *q != '?' && (size_t)(q - cs) <= RFC2047_CHARSET_MAX &&
	    !ascii_isspace(*q))
		q++;
	if (q == cs || q >= end || *q != '?' || end - q < 3)
		return 0;
	w->charset = str_make(cs, (size_t)(q - cs));
	w->enc = ascii_tolower(q[1]) == 'b' ? 'B' :
	    ascii_tolower(q[1]) == 'q' ? 'Q' : 0;
	if (w->enc == 0 || q[2] != '?')
		return 0;
	q += 3;
	close = memmem(q, (size_t)(end - q), "?=", 2);
	if (close == NULL)
		return -1;
	w->text = str_make(q, (size_t)(close - q));
	w->end = close + 2;
	return 1;
}

static void
word_decode(struct rfc2047_state *st, const struct encoded_word *w)
{
	char cs[RFC2047_CHARSET_MAX + 1];
	size_t n = MIN(w->charset.len, RFC2047_CHARSET_MAX), dlen;
	const char *star;
	bool damaged;

	memcpy(cs, w->charset.ptr, n);
	cs[n] = '\0';
	star = memchr(cs, '*', n); /* RFC 2231 language suffix */
	if (star != NULL)
		cs[star - cs] = '\0';
	if (st->pending.len > 0 && strcasecmp(cs, st->charset) != 0)
		flush_pending(st);
	str_lcpy(st->charset, cs, sizeof(st->charset));
	if (buf_reserve(&st->pending, w->text.len + 4) < 0)
		return;
	if (w->enc == 'B') {
		dlen = base64_decode(w->text.ptr, w->text.len,
		    (unsigned char *)st->pending.data + st->pending.len,
		    &damaged);
	} else {
		dlen = qp_decode(w->text.ptr, w->text.len,
		    (unsigned char *)st->pending.data + st->pending.len, true,
		    &damaged);
	}
	st->pending.len += dlen;
	st->pending.data[st->pending.len] = '\0';
}

static bool
all_space(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!ascii_isspace(s[i]))
			return false;
	}
	return true;
}

char *
mime_rfc2047_decode(struct pool *pool, const char *s, size_t len,
    size_t *out_len_r, bool *had_8bit_r)
{
	struct rfc2047_state st = { .pool = pool };
	const char *p = s, *end = s + len, *plain = s;
	bool after_word = false;
	char *res;

	buf_init(&st.out, 0);
	buf_init(&st.pending, 0);
	while (p < end && !st.oom) {
		const char *q = memmem(p, (size_t)(end - p), "=?", 2);
		struct encoded_word w;
		int r;

		if (q == NULL)
			break;
		r = word_parse(q, end, &w);
		if (r < 0)
			break;
		if (r == 0) {
			p = q + 2;
			continue;
		}
		if (!(after_word && all_space(plain, (size_t)(q - plain)))) {
			if (st.pending.len > 0)
				flush_pending(&st);
			append_plain(&st, plain, (size_t)(q - plain));
		}
		word_decode(&st, &w);
		after_word = true;
		p = plain = w.end;
	}
	if (st.pending.len > 0)
		flush_pending(&st);
	append_plain(&st, plain, (size_t)(end - plain));
	res = st.oom ? NULL : pool_strndup(pool, st.out.data != NULL ?
	    st.out.data : "", st.out.len);
	*out_len_r = st.out.len;
	*had_8bit_r = st.had_8bit;
	buf_deinit(&st.out);
	buf_deinit(&st.pending);
	return res;
}
