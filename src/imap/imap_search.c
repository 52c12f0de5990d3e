/*
 * imap_search.c - SEARCH programs: parse the argument tree into a key
 * tree, evaluate it per message.
 *
 * Every key becomes one of a few node kinds: AND/OR/NOT, a flag test (the
 * system flags, keywords, RECENT; NEW is RECENT AND UNSEEN), a sequence or
 * UID set, a date or size comparison, or a substring test on headers or
 * text. Each node knows whether it needs the message content, so an AND
 * runs its index-only children first and a message that already failed
 * on flags or size is never read or parsed. The parsed view is kept on
 * the message struct so several content keys parse it once.
 *
 * Dates compare by calendar day: INTERNALDATE in the server's zone, the
 * Date: header in its own (RFC 3501 says to disregard time and zone). A
 * message whose Date: does not parse matches no SENT* key.
 */
#include "imap/imap_search.h"
#include "imap/imap_fetch_internal.h"
#include "imap/imap_seqset.h"

#include <string.h>
#include <strings.h>

#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "mime/message.h"

enum key_kind {
	KEY_ALL,
	KEY_AND,        /* children */
	KEY_OR,         /* two children */
	KEY_NOT,        /* one child */
	KEY_FLAG,       /* text = flag; present = wanted state */
	KEY_SEQ,
	KEY_UID,
	KEY_BEFORE, KEY_ON, KEY_SINCE,             /* internal date, day */
	KEY_SENTBEFORE, KEY_SENTON, KEY_SENTSINCE, /* Date: header, day */
	KEY_LARGER, KEY_SMALLER,
	KEY_HEADER,     /* header = name, text = substring */
	KEY_BODY,
	KEY_TEXT,
};

struct imap_search_key {
	enum key_kind kind;
	bool present;
	bool content;             /* this key or a child needs the message */
	const char *header;
	struct str text;
	int64_t num;              /* day number or size */
	struct imap_seqset set;
	struct imap_search_key *child, *next;
};

struct sparse {
	struct pool *pool;
	const struct imap_arg *args;
	size_t n, i;
	uint32_t max_seq, max_uid;
	unsigned n_keys;
	const char *error;
};

static struct imap_search_key *parse_key(struct sparse *ps, unsigned depth);

static struct imap_search_key *
key_new(struct sparse *ps, enum key_kind kind)
{
	struct imap_search_key *k;

	if (++ps->n_keys > IMAP_SEARCH_MAX_KEYS) {
		ps->error = "Too many search keys";
		return NULL;
	}
	if ((k = pool_alloc(ps->pool, sizeof(*k))) == NULL) {
		ps->error = "Out of memory";
		return NULL;
	}
	k->kind = kind;
	return k;
}

/* The next argument as text (atom or string), or NULL. */
static const struct imap_arg *
next_text(struct sparse *ps)
{
	const struct imap_arg *a;

	if (ps->i >= ps->n) {
		ps->error = "Missing search key argument";
		return NULL;
	}
	a = &ps->args[ps->i++];
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING) {
		ps->error = "Bad search key argument";
		return NULL;
	}
	return a;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int
month_number(struct str s)
{
	static const char *const months[12] = { "jan", "feb", "mar", "apr",
		"may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
	unsigned m;

	for (m = 0; m < 12; m++) {
		if (str_case_eq_cstr(s, months[m]))
			return (int)m + 1;
	}
	return -1;
}

/* Digits at s[*i], 1..max_digits of them; -1 if none. */
static int64_t
digits(struct str s, size_t *i, size_t max_digits)
{
	int64_t v = 0;
	size_t start = *i;

	while (*i < s.len && s.ptr[*i] >= '0' && s.ptr[*i] <= '9' &&
	    *i - start < max_digits)
		v = v * 10 + (s.ptr[(*i)++] - '0');
	return *i == start ? -1 : v;
}

/* "1-Feb-1994" (date-text, RFC 3501) to a day number. */
static int
parse_search_date(struct str s, int64_t *day_r)
{
	size_t i = 0;
	int64_t d, y;
	int m;

	if ((d = digits(s, &i, 2)) < 1 || d > 31 || i >= s.len ||
	    s.ptr[i++] != '-' || i + 4 > s.len ||
	    (m = month_number(str_make(s.ptr + i, 3))) < 0)
		return -1;
	i += 3;
	if (i >= s.len || s.ptr[i++] != '-' || s.len - i != 4 ||
	    (y = digits(s, &i, 4)) < 0 || i != s.len)
		return -1;
	*day_r = days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

/* The day of an RFC 5322 Date: value ("Tue, 1 Jan 2002 ..."). */
static int
parse_header_date(const char *v, int64_t *day_r)
{
	struct str s = str_trim(str_from_cstr(v));
	size_t i = 0;
	int64_t d, y;
	int m;

	if (s.len > 0 && !(s.ptr[0] >= '0' && s.ptr[0] <= '9')) {
		ptrdiff_t comma = str_find_chr(s, ',');

		if (comma < 0)
			return -1;
		i = (size_t)comma + 1;
	}
	while (i < s.len && ascii_isspace(s.ptr[i]))
		i++;
	if ((d = digits(s, &i, 2)) < 1 || d > 31)
		return -1;
	while (i < s.len && (ascii_isspace(s.ptr[i]) || s.ptr[i] == '-'))
		i++;
	if (i + 3 > s.len || (m = month_number(str_make(s.ptr + i, 3))) < 0)
		return -1;
	i += 3;
	while (i < s.len && (ascii_isspace(s.ptr[i]) || s.ptr[i] == '-'))
		i++;
	{
		size_t start = i;

		if ((y = digits(s, &i, 4)) < 0)
			return -1;
		if (i - start == 2)
			y += y < 50 ? 2000 : 1900;
		else if (i - start == 3)
			y += 1900;
	}
	*day_r = days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

/* Key words with no argument that test one flag. */
static const struct {
	const char *word;
	const char *flag;
	bool present;
} flag_keys[] = {
	{ "ANSWERED", "\\Answered", true }, { "UNANSWERED", "\\Answered", false },
	{ "DELETED", "\\Deleted", true }, { "UNDELETED", "\\Deleted", false },
	{ "DRAFT", "\\Draft", true }, { "UNDRAFT", "\\Draft", false },
	{ "FLAGGED", "\\Flagged", true }, { "UNFLAGGED", "\\Flagged", false },
	{ "SEEN", "\\Seen", true }, { "UNSEEN", "\\Seen", false },
	{ "RECENT", "\\Recent", true }, { "OLD", "\\Recent", false },
};

/* Key words taking one string and matching a header. */
static const struct {
	const char *word;
	const char *header;
} header_keys[] = {
	{ "BCC", "Bcc" }, { "CC", "Cc" }, { "FROM", "From" },
	{ "SUBJECT", "Subject" }, { "TO", "To" },
};

static const struct {
	const char *word;
	enum key_kind kind;
} date_keys[] = {
	{ "BEFORE", KEY_BEFORE }, { "ON", KEY_ON }, { "SINCE", KEY_SINCE },
	{ "SENTBEFORE", KEY_SENTBEFORE }, { "SENTON", KEY_SENTON },
	{ "SENTSINCE", KEY_SENTSINCE },
};

static struct imap_search_key *
flag_key(struct sparse *ps, const char *flag, bool present)
{
	struct imap_search_key *k = key_new(ps, KEY_FLAG);

	if (k != NULL) {
		k->text = str_from_cstr(flag);
		k->present = present;
	}
	return k;
}

/* KEY_AND/OR/NOT node over `n` keys parsed next. */
static struct imap_search_key *
parse_group(struct sparse *ps, enum key_kind kind, unsigned n,
    unsigned depth)
{
	struct imap_search_key *k = key_new(ps, kind), *last = NULL, *c;
	unsigned j;

	if (k == NULL)
		return NULL;
	for (j = 0; j < n; j++) {
		if ((c = parse_key(ps, depth + 1)) == NULL)
			return NULL;
		if (last == NULL)
			k->child = c;
		else
			last->next = c;
		last = c;
		k->content |= c->content;
	}
	return k;
}

/* ( key *(SP key) ): the list's elements as an AND. */
static struct imap_search_key *
parse_list(struct sparse *ps, const struct imap_arg *a, unsigned depth)
{
	struct sparse sub = *ps;
	struct imap_search_key *k = key_new(ps, KEY_AND), *last = NULL, *c;

	if (k == NULL)
		return NULL;
	if (a->n_list == 0) {
		ps->error = "Empty search key list";
		return NULL;
	}
	sub.args = a->list;
	sub.n = a->n_list;
	sub.i = 0;
	sub.n_keys = ps->n_keys;
	while (sub.i < sub.n) {
		if ((c = parse_key(&sub, depth + 1)) == NULL) {
			ps->error = sub.error;
			return NULL;
		}
		if (last == NULL)
			k->child = c;
		else
			last->next = c;
		last = c;
		k->content |= c->content;
	}
	ps->n_keys = sub.n_keys;
	return k;
}

static struct imap_search_key *
parse_set(struct sparse *ps, enum key_kind kind, const struct imap_arg *a)
{
	struct imap_search_key *k = key_new(ps, kind);
	const char *error;

	if (k == NULL)
		return NULL;
	if (a->type != IMAP_ARG_ATOM || imap_seqset_parse(ps->pool, a->str,
	    a->len, kind == KEY_UID ? ps->max_uid : ps->max_seq, &k->set,
	    &error) < 0) {
		ps->error = "Invalid sequence set in search";
		return NULL;
	}
	return k;
}

/* Keys with a string argument: headers, BODY, TEXT, KEYWORD. */
static struct imap_search_key *
parse_string_key(struct sparse *ps, enum key_kind kind, const char *header)
{
	const struct imap_arg *a = next_text(ps);
	struct imap_search_key *k;

	if (a == NULL || (k = key_new(ps, kind)) == NULL)
		return NULL;
	k->header = header;
	k->text = str_make(a->str, a->len);
	k->content = kind != KEY_FLAG;
	return k;
}

static struct imap_search_key *
parse_number_key(struct sparse *ps, enum key_kind kind)
{
	const struct imap_arg *a = next_text(ps);
	struct imap_search_key *k;
	uint64_t v;

	if (a == NULL)
		return NULL;
	if (a->type != IMAP_ARG_ATOM ||
	    str_to_u64(str_make(a->str, a->len), &v) < 0 || v > UINT32_MAX) {
		ps->error = "Invalid number in search";
		return NULL;
	}
	if ((k = key_new(ps, kind)) != NULL)
		k->num = (int64_t)v;
	return k;
}

static struct imap_search_key *
parse_date_key(struct sparse *ps, enum key_kind kind)
{
	const struct imap_arg *a = next_text(ps);
	struct imap_search_key *k;
	int64_t day;

	if (a == NULL)
		return NULL;
	if (parse_search_date(str_make(a->str, a->len), &day) < 0) {
		ps->error = "Invalid date in search";
		return NULL;
	}
	if ((k = key_new(ps, kind)) != NULL) {
		k->num = day;
		k->content = kind >= KEY_SENTBEFORE && kind <= KEY_SENTSINCE;
	}
	return k;
}

static struct imap_search_key *
parse_header_key(struct sparse *ps)
{
	const struct imap_arg *name = next_text(ps);
	char *h;

	if (name == NULL)
		return NULL;
	if (name->len == 0 || memchr(name->str, '\0', name->len) != NULL ||
	    memchr(name->str, ':', name->len) != NULL) {
		ps->error = "Invalid header name in search";
		return NULL;
	}
	if ((h = pool_strndup(ps->pool, name->str, name->len)) == NULL) {
		ps->error = "Out of memory";
		return NULL;
	}
	return parse_string_key(ps, KEY_HEADER, h);
}

/* Keys that are one word with a fixed meaning, or NULL with no error. */
static struct imap_search_key *
parse_simple_word(struct sparse *ps, const struct imap_arg *a)
{
	struct imap_search_key *k;
	size_t j;

	for (j = 0; j < ARRAY_SIZE(flag_keys); j++) {
		if (imap_arg_atom_is(a, flag_keys[j].word))
			return flag_key(ps, flag_keys[j].flag, flag_keys[j].present);
	}
	if (imap_arg_atom_is(a, "ALL"))
		return key_new(ps, KEY_ALL);
	if (imap_arg_atom_is(a, "NEW")) {
		if ((k = key_new(ps, KEY_AND)) == NULL ||
		    (k->child = flag_key(ps, "\\Recent", true)) == NULL ||
		    (k->child->next = flag_key(ps, "\\Seen", false)) == NULL)
			return NULL;
		return k;
	}
	return NULL;
}

static struct imap_search_key *
parse_word(struct sparse *ps, const struct imap_arg *a, unsigned depth)
{
	struct imap_search_key *k;
	size_t j;

	if ((k = parse_simple_word(ps, a)) != NULL || ps->error != NULL)
		return k;
	for (j = 0; j < ARRAY_SIZE(header_keys); j++) {
		if (imap_arg_atom_is(a, header_keys[j].word))
			return parse_string_key(ps, KEY_HEADER,
			    header_keys[j].header);
	}
	for (j = 0; j < ARRAY_SIZE(date_keys); j++) {
		if (imap_arg_atom_is(a, date_keys[j].word))
			return parse_date_key(ps, date_keys[j].kind);
	}
	if (imap_arg_atom_is(a, "BODY"))
		return parse_string_key(ps, KEY_BODY, NULL);
	if (imap_arg_atom_is(a, "TEXT"))
		return parse_string_key(ps, KEY_TEXT, NULL);
	if (imap_arg_atom_is(a, "HEADER"))
		return parse_header_key(ps);
	if (imap_arg_atom_is(a, "KEYWORD") || imap_arg_atom_is(a, "UNKEYWORD")) {
		bool present = imap_arg_atom_is(a, "KEYWORD");

		if ((k = parse_string_key(ps, KEY_FLAG, NULL)) != NULL)
			k->present = present;
		return k;
	}
	if (imap_arg_atom_is(a, "LARGER"))
		return parse_number_key(ps, KEY_LARGER);
	if (imap_arg_atom_is(a, "SMALLER"))
		return parse_number_key(ps, KEY_SMALLER);
	if (imap_arg_atom_is(a, "NOT"))
		return parse_group(ps, KEY_NOT, 1, depth);
	if (imap_arg_atom_is(a, "OR"))
		return parse_group(ps, KEY_OR, 2, depth);
	if (imap_arg_atom_is(a, "UID")) {
		if (ps->i >= ps->n) {
			ps->error = "Missing UID set";
			return NULL;
		}
		return parse_set(ps, KEY_UID, &ps->args[ps->i++]);
	}
	if (a->len > 0 && ((a->str[0] >= '0' && a->str[0] <= '9') ||
	    a->str[0] == '*'))
		return parse_set(ps, KEY_SEQ, a);
	ps->error = "Unknown search key";
	return NULL;
}

static struct imap_search_key *
parse_key(struct sparse *ps, unsigned depth)
{
	const struct imap_arg *a;

	if (depth > IMAP_SEARCH_MAX_DEPTH) {
		ps->error = "Search program nested too deeply";
		return NULL;
	}
	if (ps->i >= ps->n) {
		ps->error = "Missing search key";
		return NULL;
	}
	a = &ps->args[ps->i++];
	if (a->type == IMAP_ARG_LIST)
		return parse_list(ps, a, depth);
	if (a->type != IMAP_ARG_ATOM) {
		ps->error = "Bad search key";
		return NULL;
	}
	return parse_word(ps, a, depth);
}

int
imap_search_parse(struct pool *pool, const struct imap_arg *args,
    size_t n_args, uint32_t max_seq, uint32_t max_uid,
    struct imap_search_key **program_r, const char **error_r)
{
	struct sparse ps = { .pool = pool, .args = args, .n = n_args,
		.max_seq = max_seq, .max_uid = max_uid };
	struct imap_search_key *top;

	if (n_args >= 2 && imap_arg_atom_is(&args[0], "CHARSET")) {
		const char *cs = imap_arg_text(&args[1]);

		if (cs == NULL || (strcasecmp(cs, "UTF-8") != 0 &&
		    strcasecmp(cs, "US-ASCII") != 0)) {
			*error_r = IMAP_SEARCH_BADCHARSET " Unsupported charset";
			return -1;
		}
		ps.i = 2;
	}
	if (ps.i >= n_args) {
		*error_r = "Missing search key";
		return -1;
	}
	{
		struct imap_arg list = { .type = IMAP_ARG_LIST,
			.list = (struct imap_arg *)(args + ps.i),
			.n_list = n_args - ps.i };

		top = parse_list(&ps, &list, 0);
	}
	if (top == NULL) {
		*error_r = ps.error != NULL ? ps.error : "Invalid search program";
		return -1;
	}
	*program_r = top;
	return 0;
}

bool
imap_search_needs_content(const struct imap_search_key *program)
{
	return program->content;
}

/* ---- evaluation ---- */

static bool
has_flag(const struct imap_search_msg *msg, struct str flag)
{
	size_t i;

	for (i = 0; i < msg->n_flags; i++) {
		if (str_case_eq_cstr(flag, msg->flags[i]))
			return true;
	}
	return false;
}

/* The parsed message, loading and parsing it on first use. */
static struct mime_message *
msg_mime(struct imap_search_msg *msg)
{
	if (msg->mime_ != NULL || msg->load_failed_)
		return msg->mime_;
	if (msg->data == NULL && msg->load != NULL &&
	    msg->load(msg->load_ctx, &msg->data, &msg->len) < 0) {
		msg->load_failed_ = true;
		return NULL;
	}
	if (msg->data == NULL && msg->len > 0) {
		msg->load_failed_ = true;
		return NULL;
	}
	msg->pool_ = imap_parse_pool_new(msg->len);
	msg->mime_ = imap_parse_message(msg->pool_, msg->data, msg->len);
	if (msg->mime_ == NULL)
		msg->load_failed_ = true;
	return msg->mime_;
}

static bool
contains(const char *hay, size_t len, struct str needle)
{
	if (needle.len == 0)
		return true;
	return hay != NULL && str_find_case(str_make(hay, len), needle) >= 0;
}

static int
match_header(struct imap_search_msg *msg, const struct imap_search_key *k)
{
	const struct mime_message *m = msg_mime(msg);
	const struct mime_header *h;

	if (m == NULL)
		return -1;
	for (h = m->headers.first; h != NULL; h = h->next) {
		if (str_case_eq_cstr(h->name, k->header) &&
		    contains(h->value, strlen(h->value), k->text))
			return 1;
	}
	return 0;
}

static int
match_body(struct imap_search_msg *msg, const struct imap_search_key *k)
{
	const struct mime_message *m = msg_mime(msg);
	const struct mime_header *h;
	unsigned i;

	if (m == NULL)
		return -1;
	for (i = 0; i < m->n_text_parts; i++) {
		const struct mime_part *p = m->text_parts[i];

		if (contains(p->utf8, p->utf8_len, k->text))
			return 1;
	}
	if (k->kind != KEY_TEXT)
		return 0;
	for (h = m->headers.first; h != NULL; h = h->next) {
		if (contains(h->name.ptr, h->name.len, k->text) ||
		    contains(h->value, strlen(h->value), k->text))
			return 1;
	}
	return 0;
}

static int
match_sent(struct imap_search_msg *msg, const struct imap_search_key *k)
{
	const struct mime_message *m = msg_mime(msg);
	const char *v;
	int64_t day;

	if (m == NULL)
		return -1;
	v = mime_headers_get(&m->headers, "Date");
	if (v == NULL || parse_header_date(v, &day) < 0)
		return 0;
	if (k->kind == KEY_SENTBEFORE)
		return day < k->num;
	if (k->kind == KEY_SENTON)
		return day == k->num;
	return day >= k->num;
}

static int64_t
internal_day(const struct imap_search_msg *msg)
{
	int64_t t = (int64_t)msg->internal_date + (int64_t)msg->tz_minutes * 60;

	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

static int match_key(const struct imap_search_key *k,
    struct imap_search_msg *msg);

/* AND: index-only children first, content children only if needed. */
static int
match_and(const struct imap_search_key *k, struct imap_search_msg *msg)
{
	const struct imap_search_key *c;
	int pass, r;

	for (pass = 0; pass < 2; pass++) {
		for (c = k->child; c != NULL; c = c->next) {
			if (c->content != (pass == 1))
				continue;
			if ((r = match_key(c, msg)) <= 0)
				return r;
		}
	}
	return 1;
}

static int
match_or(const struct imap_search_key *k, struct imap_search_msg *msg)
{
	const struct imap_search_key *a = k->child, *b = a->next;
	int r;

	if (a->content && !b->content) {
		const struct imap_search_key *t = a;

		a = b, b = t;
	}
	if ((r = match_key(a, msg)) != 0)
		return r;
	return match_key(b, msg);
}

static int
match_key(const struct imap_search_key *k, struct imap_search_msg *msg)
{
	int r;

	switch (k->kind) {
	case KEY_ALL:
		return 1;
	case KEY_AND:
		return match_and(k, msg);
	case KEY_OR:
		return match_or(k, msg);
	case KEY_NOT:
		r = match_key(k->child, msg);
		return r < 0 ? r : !r;
	case KEY_FLAG:
		return has_flag(msg, k->text) == k->present;
	case KEY_SEQ:
		return imap_seqset_contains(&k->set, msg->seq);
	case KEY_UID:
		return imap_seqset_contains(&k->set, msg->uid);
	case KEY_BEFORE:
		return internal_day(msg) < k->num;
	case KEY_ON:
		return internal_day(msg) == k->num;
	case KEY_SINCE:
		return internal_day(msg) >= k->num;
	case KEY_SENTBEFORE: case KEY_SENTON: case KEY_SENTSINCE:
		return match_sent(msg, k);
	case KEY_LARGER:
		return msg->size > (uint64_t)k->num;
	case KEY_SMALLER:
		return msg->size < (uint64_t)k->num;
	case KEY_HEADER:
		return match_header(msg, k);
	case KEY_BODY: case KEY_TEXT:
		return match_body(msg, k);
	}
	return 0;
}

int
imap_search_match(const struct imap_search_key *program,
    struct imap_search_msg *msg)
{
	return match_key(program, msg);
}

void
imap_search_msg_clear(struct imap_search_msg *msg)
{
	pool_free(&msg->pool_);
	msg->mime_ = NULL;
	msg->load_failed_ = false;
}
