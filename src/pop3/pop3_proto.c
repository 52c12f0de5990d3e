/*
 * pop3_proto.c - POP3 command lines, message numbers, SASL PLAIN and the
 * byte-stuffed multi-line encoding, as pure functions.
 *
 * The parser is deliberately a little lenient where clients are known to
 * be sloppy (runs of spaces, trailing spaces, lowercase keywords) and
 * strict where it matters: control bytes and NULs never reach the
 * session, argument counts are checked here so handlers can index
 * cmd->args without further tests, and numbers are plain decimals with
 * an upper bound, so "RETR -1" or "RETR 1e3" is a syntax error and not
 * message 1.
 *
 * The encoder works on runs between line feeds rather than byte by byte:
 * RETR streams whole messages through it.
 */
#include <string.h>

#include "core/codec.h"
#include "pop3/pop3_proto.h"

struct verb_spec {
	const char *name;
	enum pop3_verb verb;
	unsigned min_args, max_args;
};

static const struct verb_spec verb_table[] = {
	{ "USER", POP3_CMD_USER, 1, 1 },
	{ "PASS", POP3_CMD_PASS, 1, 2 },  /* checked through `rest` */
	{ "AUTH", POP3_CMD_AUTH, 0, 2 },
	{ "CAPA", POP3_CMD_CAPA, 0, 0 },
	{ "STLS", POP3_CMD_STLS, 0, 0 },
	{ "QUIT", POP3_CMD_QUIT, 0, 0 },
	{ "STAT", POP3_CMD_STAT, 0, 0 },
	{ "LIST", POP3_CMD_LIST, 0, 1 },
	{ "RETR", POP3_CMD_RETR, 1, 1 },
	{ "DELE", POP3_CMD_DELE, 1, 1 },
	{ "NOOP", POP3_CMD_NOOP, 0, 0 },
	{ "RSET", POP3_CMD_RSET, 0, 0 },
	{ "TOP", POP3_CMD_TOP, 2, 2 },
	{ "UIDL", POP3_CMD_UIDL, 0, 1 },
	{ "APOP", POP3_CMD_APOP, 2, 2 },
};

const char *
pop3_verb_name(enum pop3_verb verb)
{
	for (size_t i = 0; i < ARRAY_SIZE(verb_table); i++) {
		if (verb_table[i].verb == verb)
			return verb_table[i].name;
	}
	return "?";
}

static bool
line_clean(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* Splits `s` on runs of spaces into at most `max` + 1 words (one more
 * than allowed tells the caller there were too many). */
static unsigned
split_args(struct str s, struct str *args, unsigned max)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < s.len) {
		size_t start;

		while (i < s.len && s.ptr[i] == ' ')
			i++;
		if (i == s.len)
			break;
		start = i;
		while (i < s.len && s.ptr[i] != ' ')
			i++;
		if (n == max)
			return max + 1;
		args[n++] = str_make(s.ptr + start, i - start);
	}
	return n;
}

int
pop3_cmd_parse(const char *line, size_t len, struct pop3_cmd *cmd_r,
    enum pop3_parse_error *error_r)
{
	struct str kw, rest = str_make("", 0);
	const char *sp = memchr(line, ' ', len);
	const struct verb_spec *spec = NULL;
	struct str args[2];
	unsigned n;

	memset(cmd_r, 0, sizeof(*cmd_r));
	*error_r = POP3_PARSE_SYNTAX;
	if (!line_clean(line, len))
		return -1;
	kw = str_make(line, sp != NULL ? (size_t)(sp - line) : len);
	if (sp != NULL)
		rest = str_make(sp + 1, len - kw.len - 1);
	for (size_t i = 0; i < ARRAY_SIZE(verb_table); i++) {
		if (str_case_eq_cstr(kw, verb_table[i].name))
			spec = &verb_table[i];
	}
	if (spec == NULL) {
		*error_r = POP3_PARSE_UNKNOWN;
		return -1;
	}
	cmd_r->verb = spec->verb;
	cmd_r->rest = rest;
	if (spec->verb == POP3_CMD_PASS) {
		/* The password is the whole rest of the line, spaces included. */
		if (rest.len == 0 || rest.len > POP3_ARG_MAX)
			return -1;
		*error_r = POP3_PARSE_OK;
		return 0;
	}
	n = split_args(rest, args, spec->max_args);
	if (n < spec->min_args || n > spec->max_args)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		/* AUTH's initial response is base64 and may be long. */
		if (args[i].len > POP3_ARG_MAX &&
		    !(spec->verb == POP3_CMD_AUTH && i == 1))
			return -1;
		cmd_r->args[i] = args[i];
	}
	cmd_r->n_args = n;
	*error_r = POP3_PARSE_OK;
	return 0;
}

int
pop3_count_parse(struct str s, uint64_t *n_r)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > 10)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s.ptr[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*n_r = v;
	return 0;
}

int
pop3_msgno_parse(struct str s, unsigned max, unsigned *n_r)
{
	uint64_t v;

	if (pop3_count_parse(s, &v) < 0 || v == 0 || v > max)
		return -1;
	*n_r = (unsigned)v;
	return 0;
}

int
pop3_sasl_plain_decode(const char *b64, size_t len, char *out,
    const char **user_r, const char **pass_r)
{
	bool damaged = false;
	size_t n = base64_decode(b64, len, (unsigned char *)out, &damaged);
	const char *nul1, *nul2, *authzid = out;

	out[n] = '\0';
	if (damaged || n == 0)
		return -1;
	nul1 = memchr(out, '\0', n);
	if (nul1 == NULL)
		return -1;
	nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - out));
	if (nul2 == NULL || nul2 == nul1 + 1 || nul2 + 1 == out + n)
		return -1;
	/* A third NUL inside the password would silently truncate it. */
	if (memchr(nul2 + 1, '\0', n - (size_t)(nul2 + 1 - out)) != NULL)
		return -1;
	if (*authzid != '\0' && strcmp(authzid, nul1 + 1) != 0)
		return -1;
	*user_r = nul1 + 1;
	*pass_r = nul2 + 1;
	return 0;
}

void
pop3_enc_init(struct pop3_enc *e, bool top, uint64_t body_lines)
{
	memset(e, 0, sizeof(*e));
	e->top = top;
	e->body_lines = body_lines;
	e->line_start = true;
}

/* A line feed ends the current line: CRLF out, and the header/body and
 * TOP line accounting. */
static int
enc_newline(struct pop3_enc *e, struct buf *out)
{
	bool empty = e->line_len == 0 || (e->line_len == 1 && e->prev_cr);

	if (e->prev_cr ? buf_putc(out, '\n') : buf_append(out, "\r\n", 2))
		return -1;
	if (e->in_body && e->top && e->body_lines > 0)
		e->body_lines--;
	if (!e->in_body && empty)
		e->in_body = true;
	e->line_start = true;
	e->prev_cr = false;
	e->line_len = 0;
	if (e->top && e->in_body && e->body_lines == 0)
		e->done = true;
	return 0;
}

int
pop3_enc_feed(struct pop3_enc *e, const void *data, size_t len, struct buf *out)
{
	const char *p = data, *end = p + len;

	while (p < end && !e->done) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t run = (size_t)((lf != NULL ? lf : end) - p);

		if (run > 0) {
			if (e->line_start && p[0] == '.' && buf_putc(out, '.') < 0)
				return -1;
			if (buf_append(out, p, run) < 0)
				return -1;
			e->line_start = false;
			e->prev_cr = p[run - 1] == '\r';
			e->line_len += run;
			p += run;
		}
		if (lf != NULL) {
			if (enc_newline(e, out) < 0)
				return -1;
			p++;
		}
	}
	return 0;
}

int
pop3_enc_finish(struct pop3_enc *e, struct buf *out)
{
	if (!e->line_start && !e->done) {
		if (e->prev_cr ? buf_putc(out, '\n') : buf_append(out, "\r\n", 2))
			return -1;
	}
	return buf_append(out, ".\r\n", 3);
}
