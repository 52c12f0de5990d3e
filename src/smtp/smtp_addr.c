/*
 * smtp_addr.c - the RFC 5321 Path grammar (section 4.1.2) for MAIL FROM and
 * RCPT TO, with RFC 6531 UTF-8 when SMTPUTF8 was given.
 *
 * Why a hand parser: the grammar is small, and we need exact control over
 * what counts as a relay trick. The parser is deliberately strict where a
 * lax reading would change where mail goes (a second unquoted '@' is a
 * syntax error, never "the last '@' wins") and lenient only where Postfix
 * is (missing angle brackets, spaces after the colon, a trailing dot in
 * the domain, which is flagged so RCPT can refuse it).
 *
 * Normalization: the domain is ASCII-lowercased; a quoted local part whose
 * content is a plain dot-atom loses its quotes ("user"@x == user@x), any
 * other quoted local part is kept quoted with only the necessary escapes.
 * Case of the local part is kept (RFC 5321 2.4).
 */
#include "smtp/smtp_addr.h"
#include "core/common.h"
#include "core/str.h"

#include <string.h>
#include <strings.h>

struct cursor {
	const unsigned char *p;
	size_t len, pos;
	bool utf8_ok;
	bool saw_utf8;
	bool utf8_bad;
};

static int
peek(const struct cursor *c)
{
	return c->pos < c->len ? c->p[c->pos] : -1;
}

static bool
is_atext_ascii(int ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch > 0 && ch < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

static bool
is_let_dig(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/*
 * Length of a valid UTF-8 sequence of non-ASCII at c->pos (2..4), or 0.
 * Overlongs, surrogates and values past U+10FFFF are invalid.
 */
static size_t
utf8_seq(const struct cursor *c)
{
	const unsigned char *s = c->p + c->pos;
	size_t avail = c->len - c->pos, n;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* Accepts one UTF-8 character at the cursor when allowed; records why not. */
static bool
take_utf8(struct cursor *c)
{
	size_t n;

	if (peek(c) < 0x80)
		return false;
	n = utf8_seq(c);
	if (n == 0 || !c->utf8_ok) {
		c->utf8_bad = c->utf8_bad || (n != 0 && !c->utf8_ok);
		return false;
	}
	c->saw_utf8 = true;
	c->pos += n;
	return true;
}

/* Dot-string: Atom *("." Atom). Appends to out. */
static int
parse_dot_string(struct cursor *c, char *out, size_t size, size_t *olen)
{
	bool need_atom = true;
	size_t start = c->pos;

	for (;;) {
		int ch = peek(c);

		if (ch >= 0 && is_atext_ascii(ch)) {
			c->pos++;
			need_atom = false;
		} else if (ch >= 0x80 && take_utf8(c)) {
			need_atom = false;
		} else if (ch == '.' && !need_atom) {
			c->pos++;
			need_atom = true;
		} else {
			break;
		}
	}
	if (need_atom || c->pos - start >= size)
		return -1;
	memcpy(out, c->p + start, c->pos - start);
	*olen = c->pos - start;
	out[*olen] = '\0';
	return 0;
}

/* Quoted-string; `out` receives the unescaped content. */
static int
parse_quoted(struct cursor *c, char *out, size_t size, size_t *olen)
{
	size_t n = 0;

	c->pos++; /* DQUOTE */
	for (;;) {
		int ch = peek(c);
		size_t from = c->pos;

		if (ch < 0)
			return -1;
		if (ch == '"') {
			c->pos++;
			break;
		}
		if (ch == '\\') {
			c->pos++;
			ch = peek(c);
			if (ch < 32 || ch > 126)
				return -1;
			c->pos++;
			from = c->pos - 1;
		} else if (ch >= 32 && ch <= 126) {
			c->pos++;
		} else if (!take_utf8(c)) {
			return -1;
		}
		if (n + (c->pos - from) >= size)
			return -1;
		memcpy(out + n, c->p + from, c->pos - from);
		n += c->pos - from;
	}
	out[n] = '\0';
	*olen = n;
	return 0;
}

static bool
is_dot_atom(const char *s, size_t n)
{
	bool need_atom = true;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (need_atom)
				return false;
			need_atom = true;
		} else if (is_atext_ascii(ch) || ch >= 0x80) {
			need_atom = false;
		} else {
			return false;
		}
	}
	return !need_atom;
}

/* Re-quote `raw` into `out` escaping only '"' and '\'. */
static int
requote(const char *raw, size_t n, char *out, size_t size)
{
	size_t o = 0;

	if (size < 3)
		return -1;
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (o + 4 > size)
			return -1;
		if (raw[i] == '"' || raw[i] == '\\')
			out[o++] = '\\';
		out[o++] = raw[i];
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

static int
parse_local(struct cursor *c, struct smtp_addr *a)
{
	char raw[SMTP_ADDR_LOCAL_MAX + 1];
	size_t n, start = c->pos;

	if (peek(c) == '"') {
		if (parse_quoted(c, raw, sizeof(raw), &n) < 0)
			return -1;
		a->quoted = true;
		if (is_dot_atom(raw, n))
			memcpy(a->local, raw, n + 1);
		else if (requote(raw, n, a->local, sizeof(a->local)) < 0)
			return -1;
	} else if (parse_dot_string(c, a->local, sizeof(a->local), &n) < 0) {
		return -1;
	}
	return c->pos - start > SMTP_ADDR_LOCAL_MAX ? -1 : 0;
}

/*
 * Domain = sub-domain *("." sub-domain), labels of letters, digits and
 * inner hyphens (or UTF-8 U-labels with SMTPUTF8). A single trailing dot
 * is tolerated and flagged.
 */
static int
parse_domain(struct cursor *c, struct smtp_addr *a)
{
	size_t start = c->pos, label = 0, o = 0;
	int last = '.';

	for (;;) {
		int ch = peek(c);

		if (is_let_dig(ch)) {
			c->pos++;
		} else if (ch == '-' && last != '.') {
			c->pos++;
		} else if (ch >= 0x80 && take_utf8(c)) {
			last = 'u';
			if (++label > 63)
				return -1;
			continue;
		} else if (ch == '.' && last != '.' && last != '-') {
			c->pos++;
			label = 0;
			last = ch;
			continue;
		} else {
			break;
		}
		last = ch;
		if (++label > 63)
			return -1;
	}
	if (c->pos == start || last == '-')
		return -1;
	if (last == '.') {
		if (c->pos - start < 2)
			return -1;
		a->trailing_dot = true;
	}
	if (c->pos - start > SMTP_ADDR_DOMAIN_MAX)
		return -1;
	for (size_t i = start; i < c->pos - (a->trailing_dot ? 1 : 0); i++)
		a->domain[o++] = ascii_tolower((char)c->p[i]);
	a->domain[o] = '\0';
	return 0;
}

/* "[" IPv4 / "IPv6:" ... / tag ":" dcontent "]" - kept verbatim. */
static int
parse_literal(struct cursor *c, struct smtp_addr *a)
{
	size_t start = c->pos, n;

	c->pos++;
	while (c->pos < c->len && c->p[c->pos] != ']') {
		int ch = c->p[c->pos];

		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			return -1;
		c->pos++;
	}
	if (peek(c) != ']' || c->pos == start + 1)
		return -1;
	c->pos++;
	n = c->pos - start;
	if (n > SMTP_ADDR_DOMAIN_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		a->domain[i] = ascii_tolower((char)c->p[start + i]);
	a->domain[n] = '\0';
	a->literal = true;
	return 0;
}

/* A-d-l ":" - the route is validated and dropped. */
static int
skip_source_route(struct cursor *c)
{
	struct smtp_addr scratch;

	for (;;) {
		if (peek(c) != '@')
			return -1;
		c->pos++;
		memset(&scratch, 0, sizeof(scratch));
		if ((peek(c) == '[' ? parse_literal(c, &scratch) : parse_domain(c, &scratch)) < 0)
			return -1;
		if (peek(c) == ':') {
			c->pos++;
			return 0;
		}
		if (peek(c) != ',')
			return -1;
		c->pos++;
	}
}

static int
parse_mailbox(struct cursor *c, unsigned flags, struct smtp_addr *a)
{
	if (parse_local(c, a) < 0)
		return -1;
	if (peek(c) != '@') {
		if ((flags & SMTP_ADDR_ALLOW_POSTMASTER) && !a->quoted &&
		    strcasecmp(a->local, "postmaster") == 0)
			return 0;
		return -1;
	}
	c->pos++;
	if (peek(c) == '[')
		return parse_literal(c, a);
	return parse_domain(c, a);
}

static int
parse_path(struct cursor *c, unsigned flags, struct smtp_addr *a)
{
	bool bracket = peek(c) == '<';

	if (!bracket && !(flags & SMTP_ADDR_ALLOW_UNBRACKETED))
		return -1;
	if (bracket) {
		c->pos++;
		if (peek(c) == '>') {
			c->pos++;
			a->null_path = true;
			return (flags & SMTP_ADDR_ALLOW_NULL) ? 0 : -1;
		}
	}
	if (peek(c) == '@') {
		if (skip_source_route(c) < 0)
			return -1;
		a->source_route = true;
	}
	if (parse_mailbox(c, flags, a) < 0)
		return -1;
	if (bracket) {
		if (peek(c) != '>')
			return -1;
		c->pos++;
	}
	if (c->pos < c->len && c->p[c->pos] != ' ')
		return -1;
	return 0;
}

int
smtp_addr_parse(const char *in, size_t len, unsigned flags,
    struct smtp_addr *addr_r, size_t *used_r, enum smtp_addr_error *error_r)
{
	struct cursor c = { (const unsigned char *)in, len, 0,
		(flags & SMTP_ADDR_ALLOW_UTF8) != 0, false, false };
	size_t start;

	memset(addr_r, 0, sizeof(*addr_r));
	while (c.pos < c.len && c.p[c.pos] == ' ')
		c.pos++;
	start = c.pos;
	if (parse_path(&c, flags, addr_r) < 0) {
		*error_r = c.utf8_bad ? SMTP_ADDR_ERR_UTF8 : SMTP_ADDR_ERR_SYNTAX;
		return -1;
	}
	/* The limit counts the brackets, also for a path written without
	 * them, so that the address fits once we write it with them. */
	if (c.pos - start + (c.p[start] == '<' ? 0 : 2) > SMTP_ADDR_PATH_MAX) {
		*error_r = SMTP_ADDR_ERR_TOO_LONG;
		return -1;
	}
	addr_r->utf8 = c.saw_utf8;
	*used_r = c.pos;
	*error_r = SMTP_ADDR_OK;
	return 0;
}

int
smtp_addr_format(const struct smtp_addr *a, char *out, size_t size)
{
	if (a->null_path || a->domain[0] == '\0')
		return str_format(out, size, "%s", a->null_path ? "" : a->local);
	return str_format(out, size, "%s@%s", a->local, a->domain);
}

enum smtp_relay_trick
smtp_addr_relay_trick(const struct smtp_addr *a)
{
	if (a->source_route)
		return SMTP_TRICK_SOURCE_ROUTE;
	if (strchr(a->local, '@') != NULL)
		return SMTP_TRICK_LOCAL_AT;
	if (strchr(a->local, '%') != NULL)
		return SMTP_TRICK_LOCAL_PERCENT;
	if (strchr(a->local, '!') != NULL)
		return SMTP_TRICK_LOCAL_BANG;
	if (a->literal)
		return SMTP_TRICK_ADDR_LITERAL;
	if (a->trailing_dot)
		return SMTP_TRICK_TRAILING_DOT;
	return SMTP_TRICK_NONE;
}

const char *
smtp_relay_trick_name(enum smtp_relay_trick t)
{
	static const char *const names[] = {
		[SMTP_TRICK_NONE] = "none",
		[SMTP_TRICK_SOURCE_ROUTE] = "source route",
		[SMTP_TRICK_LOCAL_AT] = "'@' in local part",
		[SMTP_TRICK_LOCAL_PERCENT] = "'%' in local part",
		[SMTP_TRICK_LOCAL_BANG] = "'!' in local part",
		[SMTP_TRICK_ADDR_LITERAL] = "address literal",
		[SMTP_TRICK_TRAILING_DOT] = "trailing dot in domain",
	};

	return (size_t)t < ARRAY_SIZE(names) ? names[t] : "?";
}
