/*
 * charset.c - any declared or guessed charset to UTF-8, through ICU.
 *
 * Rules want UTF-8, mail declares anything (or nothing, or lies). The
 * order is: pure ASCII in an ASCII-compatible charset is copied as is;
 * valid UTF-8 declared as UTF-8 is copied; otherwise ICU converts strictly,
 * and when the charset is missing, unknown to ICU or the bytes are invalid
 * in it, ucsdet guesses and the conversion is redone with substitution.
 *
 * Opening an ICU converter costs far more than converting a short part, so
 * converters are cached per thread (workers are single-threaded processes;
 * the cache lives for the process and is never freed, like ICU's own data).
 */
#include "mime/mime_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/ucnv.h>
#include <unicode/ucsdet.h>

#include "core/pool.h"
#include "core/xmalloc.h"

#define CONV_CACHE_SIZE 16
#define CHARSET_NAME_MAX 48
#define DETECT_MAX_BYTES (8 * 1024)
#define DETECT_MIN_CONFIDENCE 10

struct conv_entry {
	char name[CHARSET_NAME_MAX];
	UConverter *conv; /* NULL: ICU does not know the name */
	bool used;
};

static _Thread_local struct conv_entry conv_cache[CONV_CACHE_SIZE];
static _Thread_local unsigned conv_next;
static _Thread_local UCharsetDetector *detector;

/* Labels mail uses that ICU maps differently than mail clients do. */
static const struct {
	const char *label, *icu;
} charset_aliases[] = {
	{ "iso-8859-1", "windows-1252" },
	{ "latin1", "windows-1252" },
	{ "iso8859-1", "windows-1252" },
	{ "ks_c_5601-1987", "windows-949" },
	{ "gb2312", "GBK" },
	{ "x-gbk", "GBK" },
	{ "tis-620", "windows-874" },
	{ "iso-8859-11", "windows-874" },
	{ "x-sjis", "Shift_JIS" },
	{ "utf8", "UTF-8" },
};

/* Families whose ASCII bytes mean ASCII, so ASCII text needs no ICU. */
static const char *const ascii_families[] = {
	"us-ascii", "ascii", "utf-8", "utf8", "iso-8859", "iso8859", "windows-",
	"cp125", "koi8", "latin", "gb", "big5", "euc-", "shift_jis", "sjis",
	"ks_c", "tis-", "x-mac", "macintosh", "ansi_x3.4",
};

bool
mime_is_ascii(const char *s, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t v;

		memcpy(&v, s + i, 8);
		if (v & 0x8080808080808080ULL)
			return false;
	}
	for (; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return false;
	}
	return true;
}

bool
mime_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		if (end - p >= 8) {
			uint64_t v;

			memcpy(&v, p, 8);
			if ((v & 0x8080808080808080ULL) == 0) {
				p += 8;
				continue;
			}
		}
		unsigned c = *p;

		if (c < 0x80) {
			p++;
		} else if (c >= 0xc2 && c <= 0xdf) {
			if (end - p < 2 || (p[1] & 0xc0) != 0x80)
				return false;
			p += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (end - p < 3 || (p[1] & 0xc0) != 0x80 ||
			    (p[2] & 0xc0) != 0x80)
				return false;
			if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
				return false;
			p += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (end - p < 4 || (p[1] & 0xc0) != 0x80 ||
			    (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
				return false;
			if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
				return false;
			p += 4;
		} else {
			return false;
		}
	}
	return true;
}

/* Lowercased, trimmed copy of a label into buf; false if it does not fit. */
static bool
charset_normalize(const char *label, char *buf, size_t size)
{
	struct str s = str_trim(str_from_cstr(label));
	size_t i;

	while (s.len > 0 && (s.ptr[0] == '"' || s.ptr[0] == '\''))
		s = str_slice(s, 1, s.len - 1);
	while (s.len > 0 && (s.ptr[s.len - 1] == '"' || s.ptr[s.len - 1] == '\''))
		s.len--;
	if (s.len == 0 || s.len >= size)
		return false;
	for (i = 0; i < s.len; i++) {
		char c = ascii_tolower(s.ptr[i]);

		if ((unsigned char)c <= ' ' || (unsigned char)c >= 127)
			return false;
		buf[i] = c;
	}
	buf[s.len] = '\0';
	for (i = 0; i < ARRAY_SIZE(charset_aliases); i++) {
		if (strcmp(buf, charset_aliases[i].label) == 0) {
			str_lcpy(buf, charset_aliases[i].icu, size);
			break;
		}
	}
	return true;
}

static bool
charset_ascii_compatible(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ascii_families); i++) {
		if (str_has_prefix_case(str_from_cstr(name), ascii_families[i]))
			return true;
	}
	return false;
}

static bool
charset_is_utf8(const char *name)
{
	return strcmp(name, "UTF-8") == 0 || strcmp(name, "utf-8") == 0;
}

/* Cached converter for a normalized name, or NULL when ICU lacks it. */
static UConverter *
conv_get(const char *name)
{
	struct conv_entry *e;
	UErrorCode err = U_ZERO_ERROR;
	unsigned i;

	for (i = 0; i < CONV_CACHE_SIZE; i++) {
		if (conv_cache[i].used && strcmp(conv_cache[i].name, name) == 0)
			return conv_cache[i].conv;
	}
	e = &conv_cache[conv_next++ % CONV_CACHE_SIZE];
	if (e->conv != NULL)
		ucnv_close(e->conv);
	str_lcpy(e->name, name, sizeof(e->name));
	e->used = true;
	e->conv = ucnv_open(name, &err);
	if (U_FAILURE(err)) {
		if (e->conv != NULL)
			ucnv_close(e->conv);
		e->conv = NULL;
	}
	return e->conv;
}

/*
 * UTF-16/32 guesses for text without NUL bytes are always wrong in mail
 * (ucsdet offers them for short Latin-1 strings), so they are skipped.
 */
static bool
detect_plausible(const char *name, const char *in, size_t len)
{
	if (strncmp(name, "UTF-16", 6) != 0 && strncmp(name, "UTF-32", 6) != 0)
		return true;
	return memchr(in, '\0', len) != NULL;
}

/* ucsdet's best plausible guess for the bytes, or NULL. */
static const char *
charset_detect(const char *in, size_t len)
{
	UErrorCode err = U_ZERO_ERROR;
	const UCharsetMatch **all;
	int32_t n, i;

	/*
	 * ucsdet costs tens of ns per byte per recognizer; only 8-bit bytes
	 * tell charsets apart, so the window starts near the first of them.
	 */
	if (len > DETECT_MAX_BYTES) {
		size_t skip = 0;

		while (skip < len - DETECT_MAX_BYTES &&
		    (unsigned char)in[skip] < 0x80)
			skip++;
		skip -= MIN(skip, 64);
		in += skip;
		len = MIN(len - skip, DETECT_MAX_BYTES);
	}
	if (detector == NULL) {
		detector = ucsdet_open(&err);
		if (U_FAILURE(err)) {
			detector = NULL;
			return NULL;
		}
	}
	ucsdet_setText(detector, in, (int32_t)len, &err);
	all = ucsdet_detectAll(detector, &n, &err);
	if (U_FAILURE(err) || all == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *name = ucsdet_getName(all[i], &err);

		if (U_FAILURE(err) ||
		    ucsdet_getConfidence(all[i], &err) < DETECT_MIN_CONFIDENCE)
			return NULL;
		if (detect_plausible(name, in, len))
			return name;
	}
	return NULL;
}

/*
 * Converts with `conv`; with `strict`, returns NULL on the first invalid
 * sequence instead of substituting U+FFFD. *oom_r is set at the pool cap.
 * ICU writes into a per-thread scratch buffer sized for the worst case, and
 * only the exact result is copied to the pool: pool memory is zeroed, and
 * zeroing three times the input for every part was a measurable cost.
 */
static _Thread_local char *conv_scratch;
static _Thread_local size_t conv_scratch_size;

#define CONV_SCRATCH_KEEP (1024 * 1024)

static char *
conv_run(struct pool *pool, UConverter *conv, bool strict, const char *in,
    size_t len, size_t *out_len_r, bool *oom_r)
{
	UErrorCode err = U_ZERO_ERROR;
	size_t cap = len * 3 + 4;
	int32_t n = 0;
	char *out = NULL;

	ucnv_setToUCallBack(conv, strict ? UCNV_TO_U_CALLBACK_STOP :
	    UCNV_TO_U_CALLBACK_SUBSTITUTE, NULL, NULL, NULL, &err);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (conv_scratch_size < cap) {
			conv_scratch = xrealloc(conv_scratch, cap);
			conv_scratch_size = cap;
		}
		err = U_ZERO_ERROR;
		ucnv_reset(conv);
		n = ucnv_toAlgorithmic(UCNV_UTF8, conv, conv_scratch,
		    (int32_t)cap, in, (int32_t)len, &err);
		if (err == U_BUFFER_OVERFLOW_ERROR) {
			cap = (size_t)n + 1;
			continue;
		}
		if (U_FAILURE(err))
			break;
		out = pool_strndup(pool, conv_scratch, (size_t)n);
		if (out == NULL)
			*oom_r = true;
		*out_len_r = (size_t)n;
		break;
	}
	if (conv_scratch_size > CONV_SCRATCH_KEEP) {
		free(conv_scratch);
		conv_scratch = NULL;
		conv_scratch_size = 0;
	}
	return out;
}

static char *
copy_out(struct pool *pool, const char *in, size_t len, size_t *out_len_r)
{
	char *out = pool_strndup(pool, in, len);

	*out_len_r = len;
	return out;
}

/* Detection path: guessed charset, else the fallback, with substitution. */
static char *
convert_detected(struct pool *pool, const char *fallback, const char *in,
    size_t len, size_t *out_len_r, struct mime_conv_result *res)
{
	const char *name = charset_detect(in, len);
	UConverter *conv = NULL;
	bool oom = false;
	char *out;

	if (name != NULL && strcmp(name, "UTF-8") == 0 && mime_utf8_valid(in, len)) {
		res->charset = "UTF-8";
		res->flags |= MIME_PART_CHARSET_DETECTED;
		return copy_out(pool, in, len, out_len_r);
	}
	if (name != NULL && (conv = conv_get(name)) != NULL) {
		res->flags |= MIME_PART_CHARSET_DETECTED;
	} else {
		name = fallback != NULL ? fallback : "windows-1252";
		if ((conv = conv_get(name)) == NULL)
			conv = conv_get(name = "windows-1252");
	}
	res->charset = pool_strdup(pool, name);
	if (res->charset == NULL)
		return NULL;
	if (conv == NULL)
		return copy_out(pool, in, len, out_len_r);
	out = conv_run(pool, conv, false, in, len, out_len_r, &oom);
	if (out == NULL && !oom)
		return copy_out(pool, in, len, out_len_r);
	return out;
}

char *
mime_charset_to_utf8(struct pool *pool, const char *charset, const char *in,
    size_t len, size_t *out_len_r, struct mime_conv_result *res_r)
{
	char name[CHARSET_NAME_MAX];
	UConverter *conv;
	bool oom = false;
	char *out;

	res_r->flags = 0;
	res_r->charset = NULL;
	if (charset == NULL || !charset_normalize(charset, name, sizeof(name))) {
		if (charset != NULL)
			res_r->flags |= MIME_PART_BAD_CHARSET;
		if (mime_is_ascii(in, len)) {
			res_r->charset = "US-ASCII";
			return copy_out(pool, in, len, out_len_r);
		}
		if (mime_utf8_valid(in, len)) {
			res_r->charset = "UTF-8";
			res_r->flags |= MIME_PART_CHARSET_DETECTED;
			return copy_out(pool, in, len, out_len_r);
		}
		return convert_detected(pool, NULL, in, len, out_len_r, res_r);
	}
	res_r->charset = charset;
	if (charset_ascii_compatible(name) && mime_is_ascii(in, len) &&
	    memchr(in, 0x1b, len) == NULL)
		return copy_out(pool, in, len, out_len_r);
	if (charset_is_utf8(name) && mime_utf8_valid(in, len))
		return copy_out(pool, in, len, out_len_r);
	conv = conv_get(name);
	if (conv != NULL) {
		out = conv_run(pool, conv, true, in, len, out_len_r, &oom);
		if (out != NULL || oom)
			return out;
	}
	/* Unknown to ICU, or the bytes lie about the charset. */
	res_r->flags |= MIME_PART_BAD_CHARSET;
	return convert_detected(pool, conv != NULL ? name : NULL, in, len,
	    out_len_r, res_r);
}
