/*
 * mailbox_index.c - the per-folder index file (rsm-index), the cache file
 * records (rsm-cache), and message file name helpers. Everything here is
 * pure: bytes in, structures out, no I/O, so the parsers can be fuzzed
 * (test/fuzz/fuzz_mailbox_index.c).
 *
 * Why text: the index is small (one line per message, ~100 bytes), is
 * rewritten whole under the folder lock, and an administrator can read
 * it. LMDB or SQLite would add a dependency to the store library and a
 * second source of truth to keep in step with the Maildir names, which
 * already carry flags and UIDs. Format:
 *
 *   RSMIDX1 <uidvalidity> <uidnext> <first_recent> <highestmodseq>
 *           <new/ mtime sec> <nsec> <cur/ mtime sec> <nsec>
 *   K <keyword>                             (0..32 lines, in bit order)
 *   M <uid> <modseq> <flags hex> <keywords hex> <size> <vsize> <idate> <file>
 *   E <message count>
 *
 * one record per line, UIDs ascending. The "E" trailer catches a
 * truncated file; anything not exactly in this form makes the parse fail
 * and the folder is rebuilt from the directory.
 */
#include "store/mailbox_private.h"

#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mailbox_index *
mbx_index_new(uint32_t uidvalidity)
{
	struct mailbox_index *idx = xcalloc(1, sizeof(*idx));

	idx->uidvalidity = uidvalidity;
	idx->uidnext = 1;
	idx->first_recent = 1;
	idx->highestmodseq = 1;
	return idx;
}

void
mailbox_index_free(struct mailbox_index *idx)
{
	size_t i;

	if (idx == NULL)
		return;
	for (i = 0; i < idx->n; i++)
		free(idx->recs[i].file);
	for (i = 0; i < idx->n_keywords; i++)
		free(idx->keywords[i]);
	free(idx->recs);
	free(idx);
}

struct mbx_rec *
mbx_index_add(struct mailbox_index *idx, const struct mbx_rec *rec)
{
	struct mbx_rec *r;

	idx->recs = xgrow(idx->recs, &idx->cap, idx->n + 1, sizeof(*idx->recs));
	r = &idx->recs[idx->n++];
	*r = *rec;
	r->file = xstrdup(rec->file);
	return r;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct mbx_rec *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

void
mbx_index_sort(struct mailbox_index *idx)
{
	if (idx->n > 1)
		qsort(idx->recs, idx->n, sizeof(*idx->recs), rec_cmp);
}

void
mbx_index_remove(struct mailbox_index *idx, size_t i)
{
	free(idx->recs[i].file);
	memmove(&idx->recs[i], &idx->recs[i + 1],
	    (idx->n - i - 1) * sizeof(*idx->recs));
	idx->n--;
}

ptrdiff_t
mbx_index_find(const struct mailbox_index *idx, uint32_t uid)
{
	size_t lo = 0, hi = idx->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx->recs[mid].uid == uid)
			return (ptrdiff_t)mid;
		if (idx->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int
mbx_index_format(const struct mailbox_index *idx, struct buf *out)
{
	size_t i;
	int rc;

	rc = buf_printf(out, "RSMIDX1 %u %u %u %llu %lld %ld %lld %ld\n",
	    idx->uidvalidity, idx->uidnext, idx->first_recent,
	    (unsigned long long)idx->highestmodseq,
	    (long long)idx->new_mtime.tv_sec, (long)idx->new_mtime.tv_nsec,
	    (long long)idx->cur_mtime.tv_sec, (long)idx->cur_mtime.tv_nsec);
	for (i = 0; rc == 0 && i < idx->n_keywords; i++)
		rc = buf_printf(out, "K %s\n", idx->keywords[i]);
	for (i = 0; rc == 0 && i < idx->n; i++) {
		const struct mbx_rec *r = &idx->recs[i];

		rc = buf_printf(out, "M %u %llu %x %x %llu %llu %lld %s\n",
		    r->uid, (unsigned long long)r->modseq, r->flags, r->keywords,
		    (unsigned long long)r->size, (unsigned long long)r->vsize,
		    (long long)r->idate, r->file);
	}
	if (rc == 0)
		rc = buf_printf(out, "E %zu\n", idx->n);
	return rc;
}

/*
 * Parsing.
 */

struct cursor {
	const char *p;
	const char *end;
};

/* Next space-separated field of the current line (never crosses '\n'). */
static bool
field(struct cursor *c, struct str *f_r)
{
	const char *s = c->p;

	while (c->p < c->end && *c->p != ' ' && *c->p != '\n')
		c->p++;
	*f_r = str_make(s, (size_t)(c->p - s));
	if (c->p < c->end && *c->p == ' ')
		c->p++;
	return f_r->len > 0;
}

static bool
num(struct cursor *c, int base, uint64_t max, uint64_t *v_r)
{
	struct str f;
	uint64_t v = 0;
	size_t i;

	if (!field(c, &f) || f.len > 20)
		return false;
	for (i = 0; i < f.len; i++) {
		int d = base == 16 ? ascii_hex_value(f.ptr[i]) :
		    (f.ptr[i] >= '0' && f.ptr[i] <= '9' ? f.ptr[i] - '0' : -1);

		if (d < 0 || v > (max - (uint64_t)d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*v_r = v;
	return true;
}

static bool
snum(struct cursor *c, int64_t *v_r)
{
	uint64_t v;
	bool neg = c->p < c->end && *c->p == '-';

	if (neg)
		c->p++;
	if (!num(c, 10, INT64_MAX, &v))
		return false;
	*v_r = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* At the end of a line: consume the '\n'. */
static bool
eol(struct cursor *c)
{
	if (c->p >= c->end || *c->p != '\n')
		return false;
	c->p++;
	return true;
}

static bool
parse_header(struct cursor *c, struct mailbox_index *idx)
{
	uint64_t v[5];
	int64_t s[2];
	struct str f;

	if (!field(c, &f) || !str_eq_cstr(f, "RSMIDX1") ||
	    !num(c, 10, UINT32_MAX, &v[0]) || !num(c, 10, UINT32_MAX, &v[1]) ||
	    !num(c, 10, UINT32_MAX, &v[2]) || !num(c, 10, UINT64_MAX, &v[3]) ||
	    !snum(c, &s[0]) || !num(c, 10, 999999999, &v[4]))
		return false;
	idx->new_mtime.tv_sec = (time_t)s[0];
	idx->new_mtime.tv_nsec = (long)v[4];
	if (!snum(c, &s[1]) || !num(c, 10, 999999999, &v[4]) || !eol(c))
		return false;
	idx->cur_mtime.tv_sec = (time_t)s[1];
	idx->cur_mtime.tv_nsec = (long)v[4];
	idx->uidvalidity = (uint32_t)v[0];
	idx->uidnext = (uint32_t)v[1];
	idx->first_recent = (uint32_t)v[2];
	idx->highestmodseq = v[3];
	return idx->uidvalidity != 0 && idx->uidnext != 0 &&
	    idx->first_recent <= idx->uidnext && idx->highestmodseq != 0;
}

static bool
parse_keyword(struct cursor *c, struct mailbox_index *idx)
{
	struct str f;
	char *name;

	if (!field(c, &f) || !eol(c) || idx->n_keywords >= MAILBOX_KEYWORDS_MAX)
		return false;
	name = xstrndup(f.ptr, f.len);
	if (!mbx_keyword_valid(name)) {
		free(name);
		return false;
	}
	idx->keywords[idx->n_keywords++] = name;
	return true;
}

static bool
parse_message(struct cursor *c, struct mailbox_index *idx)
{
	uint64_t uid, modseq, flags, kw, size, vsize;
	struct mbx_rec r;
	struct str f;
	char file[MBX_FILE_MAX + 5];
	const char *nl;

	if (!num(c, 10, UINT32_MAX, &uid) || !num(c, 10, UINT64_MAX, &modseq) ||
	    !num(c, 16, MAIL_FLAGS_STORED, &flags) ||
	    !num(c, 16, UINT32_MAX, &kw) || !num(c, 10, UINT64_MAX, &size) ||
	    !num(c, 10, UINT64_MAX, &vsize) || !snum(c, &r.idate))
		return false;
	/* The file name is the rest of the line (names may hold spaces). */
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	if (nl == NULL)
		return false;
	f = str_make(c->p, (size_t)(nl - c->p));
	c->p = nl;
	if (!eol(c) || f.len >= sizeof(file) || memchr(f.ptr, '\0', f.len) != NULL)
		return false;
	memcpy(file, f.ptr, f.len);
	file[f.len] = '\0';
	if (uid == 0 || uid >= idx->uidnext || modseq == 0 ||
	    modseq > idx->highestmodseq || vsize < size ||
	    (idx->n > 0 && uid <= idx->recs[idx->n - 1].uid) ||
	    (kw >> idx->n_keywords) != 0 || !mbx_file_valid(file) ||
	    idx->n >= MBX_MAX_MESSAGES)
		return false;
	r.uid = (uint32_t)uid;
	r.modseq = modseq;
	r.flags = (unsigned)flags;
	r.keywords = (uint32_t)kw;
	r.size = size;
	r.vsize = vsize;
	r.file = file;
	mbx_index_add(idx, &r);
	return true;
}

static bool
parse_body(struct cursor *c, struct mailbox_index *idx)
{
	struct str f;
	uint64_t count;

	for (;;) {
		if (!field(c, &f) || f.len != 1)
			return false;
		if (f.ptr[0] == 'K' && idx->n == 0) {
			if (!parse_keyword(c, idx))
				return false;
		} else if (f.ptr[0] == 'M') {
			if (!parse_message(c, idx))
				return false;
		} else if (f.ptr[0] == 'E') {
			return num(c, 10, UINT64_MAX, &count) && eol(c) &&
			    count == idx->n && c->p == c->end;
		} else {
			return false;
		}
	}
}

int
mailbox_index_parse(const char *data, size_t len,
    struct mailbox_index **index_r)
{
	struct cursor c = { data, data + len };
	struct mailbox_index *idx = mbx_index_new(1);

	if (!parse_header(&c, idx) || !parse_body(&c, idx)) {
		mailbox_index_free(idx);
		errno = EINVAL;
		return -1;
	}
	*index_r = idx;
	return 0;
}

/*
 * Cache records.
 */

bool
mbx_cache_key_valid(const char *key, size_t len)
{
	size_t i;

	if (len == 0 || len > MAILBOX_CACHE_KEY_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char ch = key[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

/* One record at c; false when malformed or incomplete. */
static bool
cache_record(struct cursor *c, uint32_t *uid_r, struct str *key_r,
    struct str *val_r)
{
	uint64_t uid, vlen;
	struct str f;

	if (!field(c, &f) || !str_eq_cstr(f, "C") ||
	    !num(c, 10, UINT32_MAX, &uid) || uid == 0 || !field(c, key_r) ||
	    !mbx_cache_key_valid(key_r->ptr, key_r->len) ||
	    !num(c, 10, MAILBOX_CACHE_VALUE_MAX, &vlen) || !eol(c) ||
	    (uint64_t)(c->end - c->p) < vlen + 1 || c->p[vlen] != '\n')
		return false;
	*uid_r = (uint32_t)uid;
	*val_r = str_make(c->p, (size_t)vlen);
	c->p += vlen + 1;
	return true;
}

size_t
mbx_cache_parse(const char *data, size_t len,
    void (*cb)(uint32_t uid, const char *key, size_t key_len,
    const char *val, size_t val_len, void *ctx), void *ctx,
    size_t *consumed_r)
{
	struct cursor c = { data, data + len };
	size_t count = 0;

	*consumed_r = 0;
	while (c.p < c.end) {
		uint32_t uid;
		struct str key, val;

		if (!cache_record(&c, &uid, &key, &val))
			break;
		if (cb != NULL)
			cb(uid, key.ptr, key.len, val.ptr, val.len, ctx);
		count++;
		*consumed_r = (size_t)(c.p - data);
	}
	return count;
}

size_t
mailbox_cache_parse_count(const char *data, size_t len)
{
	size_t consumed;

	return mbx_cache_parse(data, len, NULL, NULL, &consumed);
}

/*
 * Message file names.
 */

bool
mbx_keyword_valid(const char *name)
{
	static const char specials[] = "(){%*\"\\]";
	size_t i, len = strlen(name);

	if (len == 0 || len > 64 || name[0] == '\\')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch <= 0x20 || ch >= 0x7f || strchr(specials, ch) != NULL)
			return false;
	}
	return true;
}

bool
mbx_file_valid(const char *file)
{
	size_t i, len = strlen(file);

	if (len <= 4 || len > MBX_FILE_MAX + 4 ||
	    (strncmp(file, "cur/", 4) != 0 && strncmp(file, "new/", 4) != 0) ||
	    file[4] == '.')
		return false;
	for (i = 4; i < len; i++) {
		unsigned char ch = (unsigned char)file[i];

		if (ch == '/' || ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

size_t
mbx_base_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

static const char flag_letters[] = "DFRST";
static const unsigned flag_bits[] = {
	MAIL_DRAFT, MAIL_FLAGGED, MAIL_ANSWERED, MAIL_SEEN, MAIL_DELETED,
};

static const char *
info_of(const char *name)
{
	const char *info = strstr(name, ":2,");

	return info != NULL ? info + 3 : "";
}

unsigned
mbx_flags_from_name(const char *name)
{
	const char *info = info_of(name), *p;
	unsigned flags = 0;

	for (; *info != '\0' && *info != ','; info++) {
		p = strchr(flag_letters, *info);
		if (p != NULL)
			flags |= flag_bits[p - flag_letters];
	}
	return flags;
}

uint32_t
mbx_uid_from_name(const char *name)
{
	size_t base = mbx_base_len(name), i;
	const char *u = NULL, *p;
	uint64_t v = 0;

	for (p = name; (p = strstr(p, ",U=")) != NULL && (size_t)(p - name) < base;
	    p += 3)
		u = p + 3;
	if (u == NULL)
		return 0;
	for (i = 0; u + i < name + base && u[i] != ','; i++) {
		if (u[i] < '0' || u[i] > '9' || i >= 10)
			return 0;
		v = v * 10 + (uint64_t)(u[i] - '0');
	}
	return i > 0 && v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* Copies the base of name without any ",U=<digits>" field. */
static int
base_without_uid(const char *name, char *out, size_t size)
{
	size_t base = mbx_base_len(name), i = 0, o = 0;

	while (i < base) {
		if (strncmp(name + i, ",U=", 3) == 0) {
			i += 3;
			while (i < base && name[i] >= '0' && name[i] <= '9')
				i++;
			continue;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = name[i++];
	}
	out[o] = '\0';
	return 0;
}

int
mbx_name_build(const char *name, unsigned flags, uint32_t uid, char *out,
    size_t out_size)
{
	const char *old = info_of(name);
	bool have[128] = { false };
	char info[160], base[MBX_FILE_MAX + 1];
	size_t i, n = 0;

	for (i = 0; i < ARRAY_SIZE(flag_bits); i++)
		have[(unsigned char)flag_letters[i]] = (flags & flag_bits[i]) != 0;
	for (; *old != '\0' && *old != ','; old++) {
		unsigned char ch = (unsigned char)*old;

		if (ch < 128 && strchr(flag_letters, ch) == NULL &&
		    ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
			have[ch] = true;
	}
	for (i = 'A'; i <= 'z'; i++) {
		if (have[i])
			info[n++] = (char)i;
	}
	info[n] = '\0';
	if (base_without_uid(name, base, sizeof(base)) < 0 ||
	    str_format(out, out_size, "cur/%s,U=%u:2,%s", base, uid, info) < 0 ||
	    strlen(out) > MBX_FILE_MAX + 4) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
