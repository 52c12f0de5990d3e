/*
 * smtp_client_proto.c - the pure halves of the outbound SMTP client:
 * server replies (multi-line, enhanced status codes), EHLO keywords, and
 * the DATA encoder (dot-stuffing, CRLF normalization).
 *
 * Replies come from hosts we do not control, so the parser is strict
 * about structure (a code must stay the same through a multi-line reply,
 * lines have a maximum) but lenient about what is harmless: "250" alone,
 * a CR left before the LF, text of any content (control characters are
 * blanked when exported, since the text ends up in logs and DSNs).
 */
#include <string.h>

#include "core/buf.h"
#include "core/str.h"
#include "smtp/smtp_client.h"

void
smtp_reply_parser_init(struct smtp_reply_parser *p)
{
	p->code = 0;
	p->lines = 0;
	p->enhanced[0] = '\0';
	p->text[0] = '\0';
	p->text_len = 0;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "x.y.z" with x = `cls`, y and z 1-3 digits, followed by SP or the end.
 * Returns its length or 0. */
static size_t
enhanced_len(const char *s, size_t len, char cls)
{
	size_t i = 0, part, n;

	if (len < 5 || s[0] != cls || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && is_digit(s[i]) && n < 4; i++)
			n++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

static void
append_text(struct smtp_reply_parser *p, const char *s, size_t len)
{
	size_t room = sizeof(p->text) - 1 - p->text_len;

	if (p->lines > 1 && room > 0) {
		p->text[p->text_len++] = '\n';
		room--;
	}
	if (len > room)
		len = room;
	memcpy(p->text + p->text_len, s, len);
	p->text_len += len;
	p->text[p->text_len] = '\0';
}

int
smtp_reply_parser_line(struct smtp_reply_parser *p, const char *line, size_t len)
{
	int code;
	bool last;
	size_t skip;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len < 3 || len > SMTP_CLIENT_REPLY_LINE_MAX || memchr(line, '\0', len) != NULL)
		return -1;
	if (line[0] < '2' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2]))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	if (p->code != 0 && code != p->code)
		return -1;
	if (++p->lines > SMTP_CLIENT_REPLY_LINES_MAX)
		return -1;
	p->code = code;
	last = len == 3 || line[3] == ' ';
	line += len > 3 ? 4 : 3;
	len -= len > 3 ? 4 : 3;
	skip = enhanced_len(line, len, (char)('0' + code / 100));
	if (skip > 0) {
		if (p->lines == 1 && skip < sizeof(p->enhanced)) {
			memcpy(p->enhanced, line, skip);
			p->enhanced[skip] = '\0';
		}
		line += skip;
		len -= skip;
		if (len > 0)
			line++, len--;
	}
	append_text(p, line, len);
	return last ? 1 : 0;
}

void
smtp_reply_parser_export(const struct smtp_reply_parser *p,
    enum smtp_client_stage stage, struct smtp_client_reply *r)
{
	size_t i, n = p->text_len;

	memset(r, 0, sizeof(*r));
	r->code = p->code;
	r->stage = stage;
	if (p->enhanced[0] != '\0')
		str_lcpy(r->enhanced, p->enhanced, sizeof(r->enhanced));
	else
		(void)str_format(r->enhanced, sizeof(r->enhanced), "%d.0.0",
		    p->code / 100);
	if (n > sizeof(r->text) - 1)
		n = sizeof(r->text) - 1;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p->text[i];

		r->text[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	r->text[n] = '\0';
}

/* One EHLO line: keyword then optional parameters. */
static void
parse_cap_line(struct str line, struct smtp_client_caps *caps)
{
	ptrdiff_t sp = str_find_chr(line, ' ');
	struct str kw = sp < 0 ? line : str_slice(line, 0, (size_t)sp);
	struct str arg = sp < 0 ? STR_NULL : str_trim(str_slice(line,
	    (size_t)sp + 1, line.len - (size_t)sp - 1));
	uint64_t v;

	if (str_case_eq_cstr(kw, "PIPELINING"))
		caps->pipelining = true;
	else if (str_case_eq_cstr(kw, "8BITMIME"))
		caps->eightbitmime = true;
	else if (str_case_eq_cstr(kw, "SMTPUTF8"))
		caps->smtputf8 = true;
	else if (str_case_eq_cstr(kw, "STARTTLS"))
		caps->starttls = true;
	else if (str_case_eq_cstr(kw, "CHUNKING"))
		caps->chunking = true;
	else if (str_case_eq_cstr(kw, "ENHANCEDSTATUSCODES"))
		caps->enhancedstatuscodes = true;
	else if (str_case_eq_cstr(kw, "DSN"))
		caps->dsn = true;
	else if (str_case_eq_cstr(kw, "SIZE")) {
		caps->size = true;
		caps->size_max = 0;
		if (arg.len > 0 && str_to_u64(arg, &v) == 0)
			caps->size_max = v;
	}
}

void
smtp_client_parse_caps(const struct smtp_reply_parser *p,
    struct smtp_client_caps *caps)
{
	struct str rest = str_make(p->text, p->text_len);
	bool first = true;

	caps->esmtp = true;
	caps->pipelining = caps->size = caps->eightbitmime = false;
	caps->smtputf8 = caps->starttls = caps->chunking = false;
	caps->enhancedstatuscodes = caps->dsn = false;
	caps->size_max = 0;
	while (rest.len > 0 || first) {
		ptrdiff_t nl = str_find_chr(rest, '\n');
		struct str line = nl < 0 ? rest : str_slice(rest, 0, (size_t)nl);

		/* The first line is the greeting ("host says hello"). */
		if (!first)
			parse_cap_line(str_trim(line), caps);
		first = false;
		if (nl < 0)
			break;
		rest = str_slice(rest, (size_t)nl + 1, rest.len - (size_t)nl - 1);
	}
}

void
smtp_dot_init(struct smtp_dot_state *st)
{
	st->line_start = true;
	st->prev_cr = false;
}

/*
 * Copies runs of ordinary bytes at once; stops only at '\n', '\r' and a
 * '.' at a line start, the only bytes that need anything done.
 */
int
smtp_dot_encode(struct smtp_dot_state *st, const char *in, size_t len,
    struct buf *out)
{
	size_t i = 0, run;

	while (i < len) {
		char ch = in[i];

		if (st->prev_cr && ch != '\n') {
			/* A lone CR is sent as a line end: no server after us may
			 * read "\r.\r" as the end of the data (SMTP smuggling). */
			if (buf_putc(out, '\n') < 0)
				return -1;
			st->prev_cr = false;
			st->line_start = true;
		}
		if (ch == '\n') {
			if (!st->prev_cr && buf_putc(out, '\r') < 0)
				return -1;
			if (buf_putc(out, '\n') < 0)
				return -1;
			st->line_start = true;
			st->prev_cr = false;
			i++;
			continue;
		}
		if (ch == '.' && st->line_start && buf_putc(out, '.') < 0)
			return -1;
		st->line_start = false;
		if (ch == '\r') {
			st->prev_cr = true;
			if (buf_putc(out, '\r') < 0)
				return -1;
			i++;
			continue;
		}
		st->prev_cr = false;
		for (run = i + 1; run < len && in[run] != '\n' && in[run] != '\r'; run++)
			;
		if (buf_append(out, in + i, run - i) < 0)
			return -1;
		i = run;
	}
	return 0;
}

int
smtp_dot_finish(struct smtp_dot_state *st, struct buf *out)
{
	if (!st->line_start) {
		/* A content ending in a lone CR gets only the LF. */
		if (buf_append_cstr(out, st->prev_cr ? "\n" : "\r\n") < 0)
			return -1;
	}
	if (buf_append_cstr(out, ".\r\n") < 0)
		return -1;
	smtp_dot_init(st);
	return 0;
}
