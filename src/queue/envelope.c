/*
 * envelope.c - the queue file's envelope: building it, writing it as
 * records and parsing it back.
 *
 * The record syntax is in spool.h. The parser is a pure function over a
 * bounded buffer (fuzzed by test/fuzz/fuzz_queue_envelope.c): it is
 * strict, because the only legitimate producer is spool_envelope_format()
 * and anything else in a queue file means damage; a file that fails here
 * is quarantined by the spool, not guessed at. Values are %XX-escaped for
 * every byte outside 0x21..0x7e and for '%', so a record never contains a
 * raw space, CR, LF or NUL, and an address cannot smuggle in a record of
 * its own.
 *
 * All memory comes from the caller's pool; arrays grow by doubling into
 * fresh pool blocks (the old block is wasted until the pool dies, at
 * most as much again).
 */
#include "queue/spool.h"

#include "core/buf.h"
#include "core/pool.h"

#include <string.h>

#define ENVELOPE_VERSION "1"

static const char *const rcpt_status_names[] = {
	[SPOOL_RCPT_PENDING] = "pending",
	[SPOOL_RCPT_DELIVERED] = "delivered",
	[SPOOL_RCPT_FAILED] = "failed",
	[SPOOL_RCPT_DEFERRED] = "deferred",
};

const char *
spool_rcpt_status_name(enum spool_rcpt_status status)
{
	if ((size_t)status >= ARRAY_SIZE(rcpt_status_names))
		return "unknown";
	return rcpt_status_names[status];
}

static int
rcpt_status_parse(struct str s, enum spool_rcpt_status *status_r)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rcpt_status_names); i++) {
		if (str_eq_cstr(s, rcpt_status_names[i])) {
			*status_r = (enum spool_rcpt_status)i;
			return 0;
		}
	}
	return -1;
}

void
spool_envelope_init(struct spool_envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->sender = STR_LIT("");
	env->client_ip = STR_LIT("");
	env->helo = STR_LIT("");
	env->auth_user = STR_LIT("");
}

/* Makes room for one more element of `size` bytes in a pool array. */
static int
pool_array_grow(struct pool *pool, void **arr, size_t *cap, size_t count,
    size_t size)
{
	size_t ncap;
	void *narr;

	if (count < *cap)
		return 0;
	ncap = *cap == 0 ? 4 : *cap * 2;
	narr = pool_calloc(pool, ncap, size);
	if (narr == NULL)
		return -1;
	if (count > 0)
		memcpy(narr, *arr, count * size);
	*arr = narr;
	*cap = ncap;
	return 0;
}

struct spool_rcpt *
spool_envelope_add_rcpt(struct pool *pool, struct spool_envelope *env,
    struct str orig, struct str addr)
{
	struct spool_rcpt *r;
	void *arr = env->rcpts;

	if (env->rcpt_count >= SPOOL_RCPT_MAX)
		return NULL;
	if (pool_array_grow(pool, &arr, &env->rcpt_cap, env->rcpt_count,
	    sizeof(*env->rcpts)) < 0)
		return NULL;
	env->rcpts = arr;
	r = &env->rcpts[env->rcpt_count++];
	r->orig = orig;
	r->addr = addr;
	r->status = SPOOL_RCPT_PENDING;
	r->reply = STR_LIT("");
	return r;
}

static bool
attr_key_valid(const char *key, size_t len)
{
	size_t i;

	if (len == 0 || len > SPOOL_ATTR_KEY_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static struct spool_attr *
attr_find(const struct spool_envelope *env, const char *key, size_t keylen)
{
	size_t i;

	for (i = 0; i < env->attr_count; i++) {
		if (str_eq(env->attrs[i].key, str_make(key, keylen)))
			return &env->attrs[i];
	}
	return NULL;
}

/* Stores already pool-owned key/value views. */
static int
attr_store(struct pool *pool, struct spool_envelope *env, struct str key,
    struct str value)
{
	struct spool_attr *a = attr_find(env, key.ptr, key.len);
	void *arr = env->attrs;

	if (a != NULL) {
		a->value = value;
		return 0;
	}
	if (env->attr_count >= SPOOL_ATTR_MAX)
		return -1;
	if (pool_array_grow(pool, &arr, &env->attr_cap, env->attr_count,
	    sizeof(*env->attrs)) < 0)
		return -1;
	env->attrs = arr;
	env->attrs[env->attr_count].key = key;
	env->attrs[env->attr_count].value = value;
	env->attr_count++;
	return 0;
}

int
spool_envelope_set_attr(struct pool *pool, struct spool_envelope *env,
    const char *key, struct str value)
{
	size_t keylen = strlen(key);
	char *k, *v;

	if (!attr_key_valid(key, keylen))
		return -1;
	k = pool_strndup(pool, key, keylen);
	v = pool_strndup(pool, value.len ? value.ptr : "", value.len);
	if (k == NULL || v == NULL)
		return -1;
	return attr_store(pool, env, str_make(k, keylen),
	    str_make(v, value.len));
}

int
spool_envelope_set_attr_u64(struct pool *pool, struct spool_envelope *env,
    const char *key, uint64_t value)
{
	char num[24];
	int n = str_format(num, sizeof(num), "%llu", (unsigned long long)value);

	if (n < 0)
		return -1;
	return spool_envelope_set_attr(pool, env, key, str_make(num, (size_t)n));
}

const struct str *
spool_envelope_get_attr(const struct spool_envelope *env, const char *key)
{
	const struct spool_attr *a = attr_find(env, key, strlen(key));

	return a == NULL ? NULL : &a->value;
}

int
spool_envelope_get_attr_u64(const struct spool_envelope *env,
    const char *key, uint64_t *value_r)
{
	const struct str *v = spool_envelope_get_attr(env, key);

	if (v == NULL)
		return 0;
	return str_to_u64(*v, value_r) < 0 ? -1 : 1;
}

/*
 * Formatting.
 */

static bool
byte_needs_escape(unsigned char c)
{
	return c < 0x21 || c > 0x7e || c == '%';
}

static int
append_escaped(struct buf *out, struct str s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, start = 0;

	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		char esc[3];

		if (!byte_needs_escape(c))
			continue;
		if (i > start && buf_append(out, s.ptr + start, i - start) < 0)
			return -1;
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 0xf];
		if (buf_append(out, esc, 3) < 0)
			return -1;
		start = i + 1;
	}
	if (i > start && buf_append(out, s.ptr + start, i - start) < 0)
		return -1;
	return 0;
}

static int
append_record(struct buf *out, char tag, struct str value)
{
	char head[2] = { tag, ':' };

	if (buf_append(out, head, 2) < 0 || append_escaped(out, value) < 0)
		return -1;
	return buf_putc(out, '\n');
}

static int
format_rcpt(struct buf *out, const struct spool_rcpt *r)
{
	if (buf_printf(out, "R:%s ", spool_rcpt_status_name(r->status)) < 0 ||
	    append_escaped(out, r->orig) < 0 || buf_putc(out, ' ') < 0 ||
	    append_escaped(out, r->addr) < 0 || buf_putc(out, ' ') < 0 ||
	    append_escaped(out, r->reply) < 0)
		return -1;
	return buf_putc(out, '\n');
}

int
spool_envelope_format(const struct spool_envelope *env, uint64_t size,
    struct buf *out)
{
	size_t start = out->len, i;

	if (env->rcpt_count > SPOOL_RCPT_MAX || env->attr_count > SPOOL_ATTR_MAX ||
	    (env->flags & ~SPOOL_FLAGS_KNOWN) != 0)
		return -1;
	if (buf_append_cstr(out, "V:" ENVELOPE_VERSION "\n") < 0 ||
	    append_record(out, 'S', env->sender) < 0 ||
	    buf_printf(out, "T:%lld\nZ:%llu\n", (long long)env->arrival,
	    (unsigned long long)size) < 0 ||
	    append_record(out, 'I', env->client_ip) < 0 ||
	    append_record(out, 'H', env->helo) < 0 ||
	    append_record(out, 'U', env->auth_user) < 0)
		return -1;
	if ((env->flags & SPOOL_FLAG_JUNK) && buf_append_cstr(out, "F:junk\n") < 0)
		return -1;
	for (i = 0; i < env->rcpt_count; i++) {
		if (format_rcpt(out, &env->rcpts[i]) < 0)
			return -1;
	}
	for (i = 0; i < env->attr_count; i++) {
		const struct spool_attr *a = &env->attrs[i];

		if (!attr_key_valid(a->key.ptr, a->key.len) ||
		    buf_append(out, "A:", 2) < 0 ||
		    buf_append(out, a->key.ptr, a->key.len) < 0 ||
		    buf_putc(out, ' ') < 0 || append_escaped(out, a->value) < 0 ||
		    buf_putc(out, '\n') < 0)
			return -1;
	}
	if (buf_append_cstr(out, "E:\n") < 0)
		return -1;
	return out->len - start > SPOOL_ENVELOPE_MAX ? -1 : 0;
}

/*
 * Parsing.
 */

struct parse_state {
	struct pool *pool;
	struct spool_envelope *env;
	unsigned seen;       /* bit per single-occurrence tag */
	const char *error;
};

/* Decodes an escaped value into a pool copy, NUL-terminated. */
static int
unescape(struct parse_state *ps, struct str in, struct str *out_r)
{
	char *dst = pool_alloc(ps->pool, in.len + 1);
	size_t i, n = 0;

	if (dst == NULL) {
		ps->error = "envelope too large for its pool";
		return -1;
	}
	for (i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.ptr[i];
		int hi, lo;

		if (c != '%') {
			if (byte_needs_escape(c)) {
				ps->error = "raw control or non-ASCII byte in a value";
				return -1;
			}
			dst[n++] = (char)c;
			continue;
		}
		if (in.len - i < 3 || (hi = ascii_hex_value(in.ptr[i + 1])) < 0 ||
		    (lo = ascii_hex_value(in.ptr[i + 2])) < 0) {
			ps->error = "bad %-escape";
			return -1;
		}
		dst[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	dst[n] = '\0';
	*out_r = str_make(dst, n);
	return 0;
}

/* Splits `s` at single spaces into exactly `n` fields. */
static int
split_fields(struct str s, struct str *fields, size_t n)
{
	size_t i, start = 0, f = 0;

	for (i = 0; i <= s.len; i++) {
		if (i < s.len && s.ptr[i] != ' ')
			continue;
		if (f == n)
			return -1;
		fields[f++] = str_make(s.ptr + start, i - start);
		start = i + 1;
	}
	return f == n ? 0 : -1;
}

static int
parse_int64(struct str s, int64_t *value_r)
{
	uint64_t u;
	bool neg = s.len > 0 && s.ptr[0] == '-';

	if (neg)
		s = str_slice(s, 1, s.len - 1);
	if (s.len == 0 || (s.len > 1 && s.ptr[0] == '0') || str_to_u64(s, &u) < 0 ||
	    u > (uint64_t)INT64_MAX || (neg && u == 0))
		return -1;
	*value_r = neg ? -(int64_t)u : (int64_t)u;
	return 0;
}

static int
parse_rcpt(struct parse_state *ps, struct str value)
{
	struct str f[4], orig, addr, reply;
	enum spool_rcpt_status status;
	struct spool_rcpt *r;

	if (split_fields(value, f, 4) < 0 || rcpt_status_parse(f[0], &status) < 0) {
		ps->error = "bad recipient record";
		return -1;
	}
	if (unescape(ps, f[1], &orig) < 0 || unescape(ps, f[2], &addr) < 0 ||
	    unescape(ps, f[3], &reply) < 0)
		return -1;
	r = spool_envelope_add_rcpt(ps->pool, ps->env, orig, addr);
	if (r == NULL) {
		ps->error = "too many recipients";
		return -1;
	}
	r->status = status;
	r->reply = reply;
	return 0;
}

static int
parse_attr(struct parse_state *ps, struct str value)
{
	struct str f[2], key, val;

	if (split_fields(value, f, 2) < 0 || !attr_key_valid(f[0].ptr, f[0].len)) {
		ps->error = "bad attribute record";
		return -1;
	}
	if (attr_find(ps->env, f[0].ptr, f[0].len) != NULL) {
		ps->error = "duplicate attribute";
		return -1;
	}
	if (unescape(ps, f[0], &key) < 0 || unescape(ps, f[1], &val) < 0)
		return -1;
	if (attr_store(ps->pool, ps->env, key, val) < 0) {
		ps->error = "too many attributes";
		return -1;
	}
	return 0;
}

static int
parse_flags(struct parse_state *ps, struct str value)
{
	if (str_eq_cstr(value, "junk")) {
		ps->env->flags |= SPOOL_FLAG_JUNK;
		return 0;
	}
	ps->error = "unknown flags";
	return -1;
}

static int
parse_number_record(struct parse_state *ps, char tag, struct str value)
{
	int64_t v;

	if (parse_int64(value, &v) < 0 || (tag == 'Z' && v < 0)) {
		ps->error = "bad number";
		return -1;
	}
	if (tag == 'T')
		ps->env->arrival = v;
	else
		ps->env->size = (uint64_t)v;
	return 0;
}

/* Tags that must appear exactly once, in this bit order. */
static const char single_tags[] = "VSTZIHUF";
#define REQUIRED_TAGS 0x7fu /* all but F */

static int
parse_record(struct parse_state *ps, char tag, struct str value)
{
	const char *p = memchr(single_tags, tag, sizeof(single_tags) - 1);

	if (p != NULL) {
		unsigned bit = 1u << (p - single_tags);

		if (ps->seen & bit) {
			ps->error = "duplicate record";
			return -1;
		}
		ps->seen |= bit;
	}
	switch (tag) {
	case 'V':
		return 0; /* checked before the loop */
	case 'S':
		return unescape(ps, value, &ps->env->sender);
	case 'I':
		return unescape(ps, value, &ps->env->client_ip);
	case 'H':
		return unescape(ps, value, &ps->env->helo);
	case 'U':
		return unescape(ps, value, &ps->env->auth_user);
	case 'T':
	case 'Z':
		return parse_number_record(ps, tag, value);
	case 'F':
		return parse_flags(ps, value);
	case 'R':
		return parse_rcpt(ps, value);
	case 'A':
		return parse_attr(ps, value);
	default:
		ps->error = "unknown record";
		return -1;
	}
}

/* Cuts the next "X:value\n" line off *rest. */
static int
next_record(struct parse_state *ps, struct str *rest, char *tag_r,
    struct str *value_r)
{
	const char *nl = memchr(rest->ptr, '\n', rest->len);
	size_t linelen;

	if (nl == NULL) {
		ps->error = "unterminated record";
		return -1;
	}
	linelen = (size_t)(nl - rest->ptr);
	if (linelen < 2 || rest->ptr[1] != ':') {
		ps->error = "malformed record";
		return -1;
	}
	*tag_r = rest->ptr[0];
	*value_r = str_make(rest->ptr + 2, linelen - 2);
	*rest = str_make(nl + 1, rest->len - linelen - 1);
	return 0;
}

int
spool_envelope_parse(const char *data, size_t len, struct pool *pool,
    struct spool_envelope *env_r, const char **error_r)
{
	struct parse_state ps = { pool, env_r, 0, NULL };
	struct str rest = str_make(data, len), value;
	char tag;

	spool_envelope_init(env_r);
	if (len > SPOOL_ENVELOPE_MAX) {
		*error_r = "envelope too long";
		return -1;
	}
	if (len < 4 || memcmp(data, "V:" ENVELOPE_VERSION "\n", 4) != 0) {
		*error_r = "not a version " ENVELOPE_VERSION " envelope";
		return -1;
	}
	for (;;) {
		if (next_record(&ps, &rest, &tag, &value) < 0)
			break;
		if (tag == 'E') {
			if (value.len != 0 || rest.len != 0)
				ps.error = "data after the end record";
			else if ((ps.seen & REQUIRED_TAGS) != REQUIRED_TAGS)
				ps.error = "required record missing";
			break;
		}
		if (parse_record(&ps, tag, value) < 0)
			break;
	}
	if (ps.error != NULL) {
		*error_r = ps.error;
		return -1;
	}
	return 0;
}
