/*
 * imap_args.c - the IMAP command reader: bytes from the client in, one
 * command as an argument tree (imap_args.h) out.
 *
 * Two layers. The reader (imap_reader_feed) only frames: it collects one
 * command's bytes - its lines and the literals between them - into a
 * bounded buffer, tells the session when a synchronising literal needs
 * its "+" continuation, and refuses what is over a limit before storing
 * it. When the last line of the command is in, the pure parser
 * (imap_parse_command) turns the complete, bounded buffer into the tree.
 * Framing apart from parsing keeps the parser a plain recursive descent
 * over memory, so splitting the input anywhere (trickle tests) cannot
 * change the result.
 *
 * The literal limit depends on the command: APPEND carries a message,
 * everything else only names, flags and search keys. The framer reads
 * the command name from the start of the buffer to pick the limit.
 *
 * Recovery: an over-long line is skipped up to its LF and answered BAD;
 * a synchronising literal over the limit drops the command (the client
 * never sends it: it waits for "+"); a non-synchronising one (LITERAL+)
 * cannot be skipped safely, so it is fatal (RFC 7888 section 4 allows
 * closing).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "imap/imap_args.h"

#define IMAP_LINE_MAX_DEFAULT (64 * 1024)
#define IMAP_LITERAL_MAX_DEFAULT (64 * 1024)
#define IMAP_APPEND_MAX_DEFAULT (50 * 1024 * 1024)
#define IMAP_DEPTH_MAX_DEFAULT 16
#define IMAP_ARGS_MAX_DEFAULT 4096
/* A buffer that grew past this is given back after its command. */
#define IMAP_BUF_KEEP (256 * 1024)

struct imap_reader {
	struct imap_reader_limits lim;
	struct buf cmd;        /* the command so far: lines and literals */
	struct pool *pool;     /* the last command's tree */
	size_t line_bytes;     /* bytes outside literals */
	size_t lit_total;      /* literal bytes of this command */
	size_t lit_left;       /* bytes of the current literal still to come */
	size_t seg_start;      /* where the current line segment begins in cmd */
	bool skipping;         /* dropping bytes up to the next LF */
	bool delivered;        /* cmd/pool hold a result the caller may use */
	char tag[64];          /* for error replies */
};

bool
imap_arg_atom_is(const struct imap_arg *a, const char *word)
{
	if (a == NULL || a->type != IMAP_ARG_ATOM)
		return false;
	return str_case_eq_cstr(str_make(a->str, a->len), word);
}

const char *
imap_arg_text(const struct imap_arg *a)
{
	if (a == NULL || (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING))
		return NULL;
	return a->str;
}

static void
limits_fill(struct imap_reader_limits *l, const struct imap_reader_limits *in)
{
	memset(l, 0, sizeof(*l));
	if (in != NULL)
		*l = *in;
	if (l->line_max == 0)
		l->line_max = IMAP_LINE_MAX_DEFAULT;
	if (l->literal_max == 0)
		l->literal_max = IMAP_LITERAL_MAX_DEFAULT;
	if (l->append_literal_max == 0)
		l->append_literal_max = IMAP_APPEND_MAX_DEFAULT;
	if (l->depth_max == 0)
		l->depth_max = IMAP_DEPTH_MAX_DEFAULT;
	if (l->args_max == 0)
		l->args_max = IMAP_ARGS_MAX_DEFAULT;
}

/* ----- the parser ----- */

struct parser {
	const char *p;
	size_t len, pos;
	struct pool *pool;
	const struct imap_reader_limits *lim;
	unsigned n_args;
	const char *err;
};

static bool
is_atom_char(char c)
{
	unsigned char u = (unsigned char)c;

	if (u <= 0x20 || u == 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"';
}

static bool
is_tag_char(char c)
{
	return is_atom_char(c) && c != '+' && c != '%' && c != '*' && c != '\\';
}

static bool
at_eol(const struct parser *ps)
{
	size_t rest = ps->len - ps->pos;

	return (rest == 2 && ps->p[ps->pos] == '\r' && ps->p[ps->pos + 1] == '\n') ||
	    (rest == 1 && ps->p[ps->pos] == '\n');
}

static int
fail(struct parser *ps, const char *why)
{
	if (ps->err == NULL)
		ps->err = why;
	return -1;
}

static char *
pool_bytes(struct parser *ps, const char *s, size_t n)
{
	char *out = pool_alloc(ps->pool, n + 1);

	if (out != NULL && n > 0)
		memcpy(out, s, n);
	return out;
}

static int
parse_quoted(struct parser *ps, struct imap_arg *a)
{
	char *out = pool_alloc(ps->pool, ps->len - ps->pos);
	size_t n = 0;

	if (out == NULL)
		return fail(ps, "out of memory");
	ps->pos++;
	while (ps->pos < ps->len) {
		char c = ps->p[ps->pos++];

		if (c == '"') {
			a->type = IMAP_ARG_STRING;
			a->str = out;
			a->len = n;
			return 0;
		}
		if (c == '\r' || c == '\n' || c == '\0')
			return fail(ps, "bad character in quoted string");
		if (c == '\\') {
			if (ps->pos >= ps->len)
				break;
			c = ps->p[ps->pos++];
			if (c != '\\' && c != '"')
				return fail(ps, "bad escape in quoted string");
		}
		out[n++] = c;
	}
	return fail(ps, "unterminated quoted string");
}

/* "{n}" or "{n+}", CRLF, n bytes. */
static int
parse_literal(struct parser *ps, struct imap_arg *a)
{
	uint64_t n = 0;
	size_t digits = 0;

	ps->pos++;
	while (ps->pos < ps->len && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9') {
		if (n > (UINT64_MAX - 9) / 10)
			return fail(ps, "literal size overflow");
		n = n * 10 + (uint64_t)(ps->p[ps->pos++] - '0');
		digits++;
	}
	if (digits == 0)
		return fail(ps, "bad literal");
	if (ps->pos < ps->len && ps->p[ps->pos] == '+')
		ps->pos++;
	if (ps->pos >= ps->len || ps->p[ps->pos] != '}')
		return fail(ps, "bad literal");
	ps->pos++;
	if (ps->pos < ps->len && ps->p[ps->pos] == '\r')
		ps->pos++;
	if (ps->pos >= ps->len || ps->p[ps->pos] != '\n')
		return fail(ps, "literal must end its line");
	ps->pos++;
	if (n > ps->len - ps->pos)
		return fail(ps, "truncated literal");
	a->type = IMAP_ARG_STRING;
	a->literal = true;
	a->len = (size_t)n;
	a->str = pool_bytes(ps, ps->p + ps->pos, a->len);
	if (a->str == NULL)
		return fail(ps, "out of memory");
	ps->pos += a->len;
	return 0;
}

static int parse_list(struct parser *ps, unsigned depth, char close, struct imap_arg *a);

/*
 * The bracketed part of an atom: "[HEADER.FIELDS (From To)]". A list
 * inside becomes the atom's section; the bytes stay part of its text.
 */
static int
parse_brackets(struct parser *ps, unsigned depth, struct imap_arg *a)
{
	ps->pos++;
	while (ps->pos < ps->len) {
		char c = ps->p[ps->pos];

		if (c == ']') {
			ps->pos++;
			return 0;
		}
		if (c == '(') {
			struct imap_arg sec;

			memset(&sec, 0, sizeof(sec));
			if (a->list != NULL)
				return fail(ps, "two lists in a section");
			if (parse_list(ps, depth + 1, ')', &sec) < 0)
				return -1;
			a->list = sec.list;
			a->n_list = sec.n_list;
			continue;
		}
		if (c == '\r' || c == '\n' || c == '[' || c == '\0' || c == '{')
			return fail(ps, "bad section");
		ps->pos++;
	}
	return fail(ps, "unterminated section");
}

static int
parse_atom(struct parser *ps, unsigned depth, struct imap_arg *a)
{
	size_t start = ps->pos;

	while (ps->pos < ps->len) {
		char c = ps->p[ps->pos];

		if (c == '[') {
			if (depth + 1 > ps->lim->depth_max)
				return fail(ps, "too deeply nested");
			if (parse_brackets(ps, depth, a) < 0)
				return -1;
			continue;
		}
		if (!is_atom_char(c) || c == ']')
			break;
		ps->pos++;
	}
	if (ps->pos == start)
		return fail(ps, "unexpected character");
	a->type = IMAP_ARG_ATOM;
	a->len = ps->pos - start;
	a->str = pool_bytes(ps, ps->p + start, a->len);
	if (a->str == NULL)
		return fail(ps, "out of memory");
	if (a->list == NULL && str_case_eq_cstr(str_make(a->str, a->len), "NIL"))
		a->type = IMAP_ARG_NIL;
	return 0;
}

static int
parse_element(struct parser *ps, unsigned depth, struct imap_arg *a)
{
	memset(a, 0, sizeof(*a));
	if (++ps->n_args > ps->lim->args_max)
		return fail(ps, "too many arguments");
	switch (ps->p[ps->pos]) {
	case '(':
		return parse_list(ps, depth + 1, ')', a);
	case '"':
		return parse_quoted(ps, a);
	case '{':
		return parse_literal(ps, a);
	default:
		return parse_atom(ps, depth, a);
	}
}

/* Elements separated by single spaces up to `close` (')' for a list). */
static int
parse_items(struct parser *ps, unsigned depth, char close, struct imap_arg **list_r,
    size_t *n_r)
{
	struct imap_arg *items = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (;;) {
		bool end = close == '\0' ? at_eol(ps) : ps->pos < ps->len && ps->p[ps->pos] == close;

		if (end)
			break;
		if (ps->pos >= ps->len) {
			rc = fail(ps, "unterminated list");
			break;
		}
		if (n > 0 || close == '\0') {
			if (ps->p[ps->pos] != ' ') {
				rc = fail(ps, "missing space between arguments");
				break;
			}
			ps->pos++;
			if (ps->pos >= ps->len) {
				rc = fail(ps, "unterminated list");
				break;
			}
		}
		if (n == cap) {
			cap = cap * 2 + 4;
			items = xrealloc(items, cap * sizeof(*items));
		}
		if (parse_element(ps, depth, &items[n]) < 0) {
			rc = -1;
			break;
		}
		n++;
	}
	*list_r = NULL;
	*n_r = 0;
	if (rc == 0 && n > 0) {
		*list_r = pool_memdup(ps->pool, items, n * sizeof(*items));
		*n_r = n;
		if (*list_r == NULL)
			rc = fail(ps, "out of memory");
	}
	free(items);
	return rc;
}

static int
parse_list(struct parser *ps, unsigned depth, char close, struct imap_arg *a)
{
	if (depth > ps->lim->depth_max)
		return fail(ps, "too deeply nested");
	ps->pos++;
	a->type = IMAP_ARG_LIST;
	if (parse_items(ps, depth, close, &a->list, &a->n_list) < 0)
		return -1;
	ps->pos++;
	return 0;
}

/* tag SP name: both atoms of their own character classes. */
static int
parse_head(struct parser *ps, struct imap_command *cmd)
{
	size_t start = ps->pos;
	char *name;

	while (ps->pos < ps->len && is_tag_char(ps->p[ps->pos]))
		ps->pos++;
	if (ps->pos == start)
		return fail(ps, "missing tag");
	cmd->tag = pool_bytes(ps, ps->p + start, ps->pos - start);
	if (cmd->tag == NULL)
		return fail(ps, "out of memory");
	if (ps->pos >= ps->len || ps->p[ps->pos] != ' ')
		return fail(ps, "missing command");
	start = ++ps->pos;
	while (ps->pos < ps->len && is_atom_char(ps->p[ps->pos]) && ps->p[ps->pos] != '[' &&
	    ps->p[ps->pos] != ']')
		ps->pos++;
	if (ps->pos == start)
		return fail(ps, "missing command");
	name = pool_bytes(ps, ps->p + start, ps->pos - start);
	if (name == NULL)
		return fail(ps, "out of memory");
	for (char *c = name; *c != '\0'; c++)
		*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
	cmd->name = name;
	return 0;
}

int
imap_parse_command(const char *data, size_t len, const struct imap_reader_limits *lim,
    struct pool *pool, struct imap_command *cmd_r, const char **error_r)
{
	struct imap_reader_limits l;
	struct parser ps;

	limits_fill(&l, lim);
	memset(&ps, 0, sizeof(ps));
	ps.p = data;
	ps.len = len;
	ps.pool = pool;
	ps.lim = &l;
	memset(cmd_r, 0, sizeof(*cmd_r));
	if (len == 0 || data[len - 1] != '\n') {
		*error_r = "command must end with CRLF";
		return -1;
	}
	if (parse_head(&ps, cmd_r) < 0 ||
	    parse_items(&ps, 0, '\0', &cmd_r->args, &cmd_r->n_args) < 0) {
		*error_r = ps.err;
		return -1;
	}
	return 0;
}

/* ----- the framer ----- */

struct imap_reader *
imap_reader_new(const struct imap_reader_limits *lim)
{
	struct imap_reader *r = xcalloc(1, sizeof(*r));

	limits_fill(&r->lim, lim);
	buf_init(&r->cmd, 0);
	return r;
}

void
imap_reader_free(struct imap_reader **r)
{
	if (*r == NULL)
		return;
	buf_deinit(&(*r)->cmd);
	pool_free(&(*r)->pool);
	free(*r);
	*r = NULL;
}

static void
start_command(struct imap_reader *r)
{
	if (r->cmd.cap > IMAP_BUF_KEEP) {
		buf_deinit(&r->cmd);
		buf_init(&r->cmd, 0);
	}
	buf_reset(&r->cmd);
	pool_free(&r->pool);
	r->line_bytes = r->lit_total = r->lit_left = r->seg_start = 0;
	r->delivered = false;
}

void
imap_reader_reset(struct imap_reader *r)
{
	start_command(r);
	r->skipping = false;
}

/* The tag at the start of the buffer, for error replies ("*" if none). */
static const char *
current_tag(struct imap_reader *r)
{
	size_t n = 0;

	while (n < r->cmd.len && n + 1 < sizeof(r->tag) && is_tag_char(r->cmd.data[n]))
		n++;
	if (n == 0 || n >= r->cmd.len || r->cmd.data[n] != ' ')
		return "*";
	memcpy(r->tag, r->cmd.data, n);
	r->tag[n] = '\0';
	return r->tag;
}

static bool
command_is_append(const struct imap_reader *r)
{
	const char *sp = memchr(r->cmd.data, ' ', r->cmd.len);
	size_t off;

	if (sp == NULL)
		return false;
	off = (size_t)(sp - r->cmd.data) + 1;
	return r->cmd.len - off > 7 &&
	    str_case_eq_cstr(str_make(r->cmd.data + off, 7), "APPEND ");
}

/*
 * Whether the line segment just completed ends in "{n}" or "{n+}":
 * 1 with the size, 0 not a literal, -1 absurd size.
 */
static int
trailing_literal(const struct imap_reader *r, uint64_t *n_r, bool *plus_r)
{
	const char *s = r->cmd.data + r->seg_start;
	size_t len = r->cmd.len - r->seg_start, end, i;
	uint64_t n = 0, mul = 1;

	end = len;
	if (end > 0 && s[end - 1] == '\n')
		end--;
	if (end > 0 && s[end - 1] == '\r')
		end--;
	if (end < 3 || s[end - 1] != '}')
		return 0;
	i = end - 1;
	*plus_r = s[i - 1] == '+';
	if (*plus_r)
		i--;
	if (i == 0 || s[i - 1] < '0' || s[i - 1] > '9')
		return 0;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') {
		if (mul > UINT64_MAX / 100)
			return -1;
		n += (uint64_t)(s[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	if (i == 0 || s[i - 1] != '{')
		return 0;
	*n_r = n;
	return 1;
}

/* A line of the command ended: a literal follows, or the command is complete. */
static enum imap_read
line_done(struct imap_reader *r, struct imap_command *cmd_r, const char **error_r)
{
	uint64_t n = 0;
	bool plus = false;
	int lit = trailing_literal(r, &n, &plus);
	size_t max = command_is_append(r) ? r->lim.append_literal_max : r->lim.literal_max;

	if (lit != 0) {
		if (lit < 0 || n > max || n > r->lim.append_literal_max - r->lit_total) {
			cmd_r->tag = current_tag(r);
			*error_r = "literal too big";
			start_command(r);
			return plus ? IMAP_READ_FATAL : IMAP_READ_TOOBIG;
		}
		r->lit_left = (size_t)n;
		r->lit_total += (size_t)n;
		r->seg_start = r->cmd.len + (size_t)n;
		if (buf_reserve(&r->cmd, (size_t)n + 1) < 0)
			return IMAP_READ_FATAL;
		return plus ? IMAP_READ_MORE : IMAP_READ_CONTINUE;
	}
	r->pool = pool_new(0);
	r->delivered = true;
	if (imap_parse_command(r->cmd.data, r->cmd.len, &r->lim, r->pool, cmd_r, error_r) < 0) {
		cmd_r->tag = cmd_r->tag != NULL ? cmd_r->tag : current_tag(r);
		return IMAP_READ_BAD;
	}
	return IMAP_READ_COMMAND;
}

/* Copies line bytes up to and including an LF; the result when one ended. */
static enum imap_read
take_line(struct imap_reader *r, const char *data, size_t len, size_t *used_r,
    struct imap_command *cmd_r, const char **error_r)
{
	const char *lf = memchr(data, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - data) + 1 : len;

	*used_r = n;
	if (n > r->lim.line_max - r->line_bytes) {
		if (r->cmd.len < sizeof(r->tag))
			buf_append(&r->cmd, data, MIN(n, sizeof(r->tag) - r->cmd.len));
		cmd_r->tag = current_tag(r);
		*error_r = "command line too long";
		start_command(r);
		r->skipping = lf == NULL;
		return IMAP_READ_BAD;
	}
	buf_append(&r->cmd, data, n);
	r->line_bytes += n;
	if (lf == NULL)
		return IMAP_READ_MORE;
	return line_done(r, cmd_r, error_r);
}

enum imap_read
imap_reader_feed(struct imap_reader *r, const char *data, size_t len,
    size_t *consumed_r, struct imap_command *cmd_r, const char **error_r)
{
	size_t pos = 0;
	enum imap_read res = IMAP_READ_MORE;

	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->tag = "*";
	*error_r = NULL;
	if (r->delivered)
		start_command(r);
	while (pos < len && res == IMAP_READ_MORE) {
		if (r->skipping) {
			const char *lf = memchr(data + pos, '\n', len - pos);

			r->skipping = lf == NULL;
			pos = lf != NULL ? (size_t)(lf - data) + 1 : len;
		} else if (r->lit_left > 0) {
			size_t n = MIN(r->lit_left, len - pos);

			buf_append(&r->cmd, data + pos, n);
			r->lit_left -= n;
			pos += n;
		} else {
			size_t used;

			res = take_line(r, data + pos, len - pos, &used, cmd_r, error_r);
			pos += used;
		}
	}
	*consumed_r = pos;
	return res;
}

int
imap_reader_line(struct imap_reader *r, const char *data, size_t len,
    size_t *consumed_r, const char **line_r)
{
	const char *lf;
	size_t n;

	*consumed_r = 0;
	if (r->delivered)
		start_command(r);
	if (r->skipping) {
		lf = memchr(data, '\n', len);
		r->skipping = lf == NULL;
		*consumed_r = lf != NULL ? (size_t)(lf - data) + 1 : len;
		return 0;
	}
	lf = memchr(data, '\n', len);
	n = lf != NULL ? (size_t)(lf - data) + 1 : len;
	*consumed_r = n;
	if (n > r->lim.line_max - r->line_bytes) {
		start_command(r);
		r->skipping = lf == NULL;
		return -1;
	}
	buf_append(&r->cmd, data, n);
	r->line_bytes += n;
	if (lf == NULL)
		return 0;
	r->cmd.len--;
	if (r->cmd.len > 0 && r->cmd.data[r->cmd.len - 1] == '\r')
		r->cmd.len--;
	r->cmd.data[r->cmd.len] = '\0';
	r->delivered = true;
	*line_r = r->cmd.data;
	return 1;
}
