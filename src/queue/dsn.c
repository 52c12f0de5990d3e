/*
 * dsn.c - builds delivery status notifications (RFC 3464 inside an
 * RFC 6522 multipart/report) from the facts the queue manager has.
 *
 * Why a separate, pure module: a bounce is composed from untrusted bytes
 * (remote replies, the original message, addresses) and goes back out
 * through the same queue, so it must be impossible for those bytes to
 * inject header fields or MIME boundaries. Keeping the builder free of
 * I/O and clocks lets the unit tests and the fuzzer check exactly that.
 *
 * Injection defences: every value written into a header or into the
 * delivery-status part passes through dsn_put_text(), which turns control
 * bytes (CR, LF, NUL, ...) into spaces and 8-bit bytes into '?', then
 * folds at whitespace. The MIME boundary is chosen so that it does not
 * occur in the original message (a counter is appended until it does
 * not). The original is copied with bare LFs turned into CRLF and its
 * part labelled 8bit when it holds 8-bit bytes, so the returned headers
 * are byte-identical otherwise.
 */
#include "queue/dsn.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"

/* Longest reply text we quote; longer replies are cut (multi-line
 * replies from big MTAs stay well under this). */
#define DSN_REPLY_MAX 2048
/* Fold header-like lines at this column when there is whitespace; cut
 * a whitespace-free run at DSN_HARD_COL (RFC 5322 allows 998). */
#define DSN_FOLD_COL 76
#define DSN_HARD_COL 900

bool
dsn_should_bounce(struct str sender)
{
	struct str s = str_trim(sender);

	if (s.len == 0)
		return false;
	if (s.len == 2 && s.ptr[0] == '<' && s.ptr[1] == '>')
		return false;
	return true;
}

static bool
dsn_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parses "d.ddd.ddd" at s[*pos]; on success copies it to out. */
static bool
dsn_parse_enhanced(struct str s, size_t pos, char out[DSN_STATUS_SIZE])
{
	size_t start = pos, part, digits;

	for (part = 0; part < 3; part++) {
		digits = 0;
		while (pos < s.len && dsn_is_digit(s.ptr[pos]) && digits < 4) {
			pos++;
			digits++;
		}
		if (digits == 0 || digits > (part == 0 ? 1u : 3u))
			return false;
		if (part < 2) {
			if (pos >= s.len || s.ptr[pos] != '.')
				return false;
			pos++;
		}
	}
	/* The code must end at a word boundary ("5.1.10x" is not a code). */
	if (pos < s.len && !ascii_isspace(s.ptr[pos]) && s.ptr[pos] != ',' &&
	    s.ptr[pos] != ';')
		return false;
	memcpy(out, s.ptr + start, pos - start);
	out[pos - start] = '\0';
	return true;
}

int
dsn_status_from_reply(struct str reply, char status_r[DSN_STATUS_SIZE])
{
	size_t pos = 0;
	char cls;

	status_r[0] = '\0';
	while (pos < reply.len && ascii_isspace(reply.ptr[pos]))
		pos++;
	if (reply.len - pos < 3 || !dsn_is_digit(reply.ptr[pos]) ||
	    !dsn_is_digit(reply.ptr[pos + 1]) || !dsn_is_digit(reply.ptr[pos + 2]))
		return -1;
	cls = reply.ptr[pos];
	if (cls != '2' && cls != '4' && cls != '5')
		return -1;
	if (pos + 3 < reply.len && dsn_is_digit(reply.ptr[pos + 3]))
		return -1; /* four digits: not a reply code */
	pos += 3;
	if (pos < reply.len && (reply.ptr[pos] == ' ' || reply.ptr[pos] == '-')) {
		pos++;
		if (pos < reply.len && reply.ptr[pos] == cls &&
		    dsn_parse_enhanced(reply, pos, status_r))
			return 1;
	}
	status_r[0] = cls;
	memcpy(status_r + 1, ".0.0", 5);
	return 0;
}

/* RFC 5322 date in UTC, locale-independent. */
static int
dsn_format_date(int64_t when, char *dst, size_t size)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)when;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11)
		return str_format(dst, size, "Thu, 01 Jan 1970 00:00:00 +0000");
	return str_format(dst, size, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* One byte of untrusted text made safe for a 7-bit header line. */
static char
dsn_safe_char(unsigned char c)
{
	if (c >= 0x80)
		return '?';
	if (c < 0x20 || c == 0x7f)
		return ' ';
	return (char)c;
}

/*
 * Appends untrusted `text` sanitized, collapsing whitespace runs, folding
 * before DSN_FOLD_COL at a space (continuation lines start with `indent`)
 * and cutting whitespace-free runs at DSN_HARD_COL. *col is the current
 * column and is updated. The text is cut at DSN_REPLY_MAX bytes.
 */
static int
dsn_put_text(struct buf *out, struct str text, const char *indent,
    size_t *col)
{
	size_t i, end, n = MIN(text.len, (size_t)DSN_REPLY_MAX);
	size_t ilen = strlen(indent);
	bool space = false;
	int rc = 0;

	for (i = 0; i < n && rc == 0;) {
		char c = dsn_safe_char((unsigned char)text.ptr[i]);

		if (c == ' ') {
			space = true;
			i++;
			continue;
		}
		/* Length of the next word, to decide on folding before it. */
		for (end = i; end < n &&
		    dsn_safe_char((unsigned char)text.ptr[end]) != ' '; end++)
			;
		if (space && *col > ilen && *col + 1 + (end - i) > DSN_FOLD_COL) {
			rc |= buf_append(out, "\r\n", 2);
			rc |= buf_append_cstr(out, indent);
			*col = ilen;
		} else if (space && *col > 0) {
			rc |= buf_putc(out, ' ');
			(*col)++;
		}
		space = false;
		for (; i < end && rc == 0; i++) {
			if (*col >= DSN_HARD_COL) {
				rc |= buf_append(out, "\r\n", 2);
				rc |= buf_append_cstr(out, indent);
				*col = ilen;
			}
			rc |= buf_putc(out, dsn_safe_char((unsigned char)text.ptr[i]));
			(*col)++;
		}
	}
	return rc == 0 ? 0 : -1;
}

/* "Name: <prefix><sanitized folded text>\r\n" */
static int
dsn_put_field(struct buf *out, const char *name, const char *prefix,
    struct str text)
{
	size_t col = strlen(name) + 2 + strlen(prefix);
	int rc = 0;

	rc |= buf_printf(out, "%s: %s", name, prefix);
	rc |= dsn_put_text(out, text, " ", &col);
	rc |= buf_append(out, "\r\n", 2);
	return rc == 0 ? 0 : -1;
}

/* Address as a view with surrounding <> and blanks removed. */
static struct str
dsn_bare_addr(struct str addr)
{
	struct str s = str_trim(addr);

	if (s.len >= 2 && s.ptr[0] == '<' && s.ptr[s.len - 1] == '>')
		s = str_slice(s, 1, s.len - 2);
	return s;
}

static bool
dsn_has_8bit(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

/*
 * Length of the header section of `msg` including the blank line (or
 * up to the last complete line when the blank line is not there).
 * *complete_r says whether the end of the header section was seen.
 */
static size_t
dsn_header_len(struct str msg, bool *complete_r)
{
	size_t pos = 0, last_line_end = 0;

	*complete_r = false;
	while (pos < msg.len) {
		const char *nl = memchr(msg.ptr + pos, '\n', msg.len - pos);
		size_t line_len;

		if (nl == NULL)
			break;
		line_len = (size_t)(nl - (msg.ptr + pos));
		pos += line_len + 1;
		if (line_len == 0 || (line_len == 1 && msg.ptr[pos - 2] == '\r')) {
			*complete_r = true;
			return pos;
		}
		last_line_end = pos;
	}
	return last_line_end;
}

/* Copies message bytes, turning bare LF into CRLF and ending with CRLF. */
static int
dsn_put_original(struct buf *out, struct str data)
{
	size_t i, start = 0;
	int rc = 0;

	for (i = 0; i < data.len && rc == 0; i++) {
		if (data.ptr[i] != '\n' || (i > 0 && data.ptr[i - 1] == '\r'))
			continue;
		rc |= buf_append(out, data.ptr + start, i - start);
		rc |= buf_append(out, "\r\n", 2);
		start = i + 1;
	}
	rc |= buf_append(out, data.ptr + start, data.len - start);
	if (data.len > 0 && data.ptr[data.len - 1] != '\n')
		rc |= buf_append(out, "\r\n", 2);
	return rc == 0 ? 0 : -1;
}

static bool
dsn_contains(struct str hay, const char *needle)
{
	size_t nlen = strlen(needle);

	return hay.len >= nlen && memmem(hay.ptr, hay.len, needle, nlen) != NULL;
}

struct dsn_ctx {
	const struct dsn_message *m;
	struct buf *out;
	char boundary[160];
	char date[64];
	struct str returned;   /* bytes of the original to return */
	bool return_whole;     /* message/rfc822 vs text/rfc822-headers */
	bool eight_bit;
};

/* Decides what part of the original goes back and picks a boundary. */
static int
dsn_prepare(struct dsn_ctx *c)
{
	const struct dsn_message *m = c->m;
	size_t cap = m->return_max != 0 ? m->return_max : DSN_RETURN_MAX_DEFAULT;
	struct str orig = m->original;
	bool complete;
	unsigned n;

	if (orig.ptr == NULL)
		orig.len = 0;
	c->return_whole = !m->headers_only && m->original_size <= cap &&
	    orig.len >= m->original_size;
	if (c->return_whole) {
		c->returned = str_make(orig.ptr, (size_t)m->original_size);
	} else {
		c->returned = str_make(orig.ptr, dsn_header_len(orig, &complete));
	}
	c->eight_bit = dsn_has_8bit(c->returned.ptr, c->returned.len);
	for (n = 0; n < 1000; n++) {
		if (str_format(c->boundary, sizeof(c->boundary),
		    "%s.%lld.%u/%s", m->queue_id, (long long)m->now, n,
		    m->myhostname) < 0)
			return -1;
		if (!dsn_contains(c->returned, c->boundary))
			return 0;
	}
	return -1;
}

static int
dsn_put_headers(struct dsn_ctx *c)
{
	const struct dsn_message *m = c->m;
	struct buf *out = c->out;
	char stamp[32];
	struct tm tm;
	time_t t = (time_t)m->now;
	size_t col;
	int rc = 0;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
		stamp[0] = '\0';
	rc |= buf_printf(out, "From: \"Mail Delivery System\" "
	    "<MAILER-DAEMON@%s>\r\n", m->myhostname);
	col = 5;
	rc |= buf_append_cstr(out, "To: <");
	rc |= dsn_put_text(out, dsn_bare_addr(m->sender), " ", &col);
	rc |= buf_append(out, ">\r\n", 3);
	rc |= buf_printf(out, "Subject: %s\r\n", m->kind == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)");
	rc |= buf_printf(out, "Date: %s\r\n", c->date);
	if (m->message_id_token != NULL)
		rc |= buf_printf(out, "Message-ID: <%s@%s>\r\n",
		    m->message_id_token, m->myhostname);
	else
		rc |= buf_printf(out, "Message-ID: <%s.%s.%s@%s>\r\n", stamp,
		    m->queue_id, m->kind == DSN_FAILED ? "bounce" : "delay",
		    m->myhostname);
	rc |= buf_append_cstr(out, "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n");
	rc |= buf_printf(out, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n",
	    c->boundary);
	rc |= buf_printf(out, "Content-Transfer-Encoding: %s\r\n\r\n",
	    c->eight_bit ? "8bit" : "7bit");
	rc |= buf_append_cstr(out, "This is a MIME-encapsulated message.\r\n\r\n");
	return rc == 0 ? 0 : -1;
}

/* Part 1: the explanation people read. */
static int
dsn_put_human(struct dsn_ctx *c)
{
	const struct dsn_message *m = c->m;
	struct buf *out = c->out;
	char until[64];
	size_t i, col;
	int rc = 0;

	rc |= buf_printf(out, "--%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n", c->boundary);
	rc |= buf_printf(out, "This is the mail system at host %s.\r\n\r\n",
	    m->myhostname);
	if (m->kind == DSN_FAILED) {
		rc |= buf_append_cstr(out,
		    "Your message could not be delivered to one or more of its\r\n"
		    "recipients, and delivery has been abandoned. The reasons\r\n"
		    "are listed below; the message (or its headers) is attached.\r\n");
	} else {
		rc |= buf_append_cstr(out,
		    "Your message has not yet been delivered to the recipients\r\n"
		    "listed below. This is only a warning: the mail system keeps\r\n"
		    "trying, and you do not need to send the message again.\r\n");
		if (m->will_retry_until > 0 &&
		    dsn_format_date(m->will_retry_until, until, sizeof(until)) >= 0)
			rc |= buf_printf(out, "It will give up after %s.\r\n", until);
	}
	rc |= buf_printf(out, "\r\nFor help, write to postmaster@%s and include "
	    "this report.\r\n\r\n", m->myhostname);
	for (i = 0; i < m->rcpt_count; i++) {
		const struct dsn_rcpt *r = &m->rcpts[i];
		struct str reply = str_trim(r->reply);

		col = 1;
		rc |= buf_putc(out, '<');
		rc |= dsn_put_text(out, dsn_bare_addr(r->addr), "    ", &col);
		rc |= buf_append_cstr(out, ">:");
		col += 2;
		if (r->remote_mta.len > 0) {
			rc |= buf_append_cstr(out, " host ");
			col += 6;
			rc |= dsn_put_text(out, r->remote_mta, "    ", &col);
			rc |= buf_append_cstr(out, " said:");
		}
		rc |= buf_append_cstr(out, "\r\n    ");
		col = 4;
		rc |= dsn_put_text(out, reply.len > 0 ? reply :
		    STR_LIT("(no reason given)"), "    ", &col);
		rc |= buf_append_cstr(out, "\r\n\r\n");
	}
	return rc == 0 ? 0 : -1;
}

static int
dsn_put_rcpt_status(struct dsn_ctx *c, const struct dsn_rcpt *r)
{
	const struct dsn_message *m = c->m;
	struct buf *out = c->out;
	struct str addr = dsn_bare_addr(r->addr);
	struct str orig = dsn_bare_addr(r->orig);
	struct str reply = str_trim(r->reply);
	char status[DSN_STATUS_SIZE], code[DSN_STATUS_SIZE], date[64];
	int rc = 0;

	rc |= buf_append_cstr(out, "\r\n");
	rc |= dsn_put_field(out, "Final-Recipient", "rfc822; ", addr);
	if (orig.len > 0 && !str_case_eq(orig, addr))
		rc |= dsn_put_field(out, "Original-Recipient", "rfc822; ", orig);
	rc |= buf_printf(out, "Action: %s\r\n",
	    m->kind == DSN_FAILED ? "failed" : "delayed");
	if (r->status.len > 0 && r->status.len < DSN_STATUS_SIZE &&
	    dsn_parse_enhanced(r->status, 0, status) &&
	    strlen(status) == r->status.len) {
		/* explicit status accepted as given */
	} else if (dsn_status_from_reply(reply, status) < 0 ||
	    (m->kind == DSN_FAILED && status[0] != '5') ||
	    (m->kind == DSN_DELAYED && status[0] != '4')) {
		/* RFC 3464: failed needs 5.x.x, delayed 4.x.x. */
		memcpy(status, m->kind == DSN_FAILED ? "5.0.0" : "4.0.0", 6);
	}
	rc |= buf_printf(out, "Status: %s\r\n", status);
	if (r->remote_mta.len > 0)
		rc |= dsn_put_field(out, "Remote-MTA", "dns; ", r->remote_mta);
	if (reply.len > 0)
		rc |= dsn_put_field(out, "Diagnostic-Code", dsn_status_from_reply(
		    reply, code) >= 0 ? "smtp; " : "X-local; ", reply);
	if (dsn_format_date(r->last_attempt != 0 ? r->last_attempt : m->now,
	    date, sizeof(date)) >= 0)
		rc |= buf_printf(out, "Last-Attempt-Date: %s\r\n", date);
	if (m->kind == DSN_DELAYED && m->will_retry_until > 0 &&
	    dsn_format_date(m->will_retry_until, date, sizeof(date)) >= 0)
		rc |= buf_printf(out, "Will-Retry-Until: %s\r\n", date);
	return rc == 0 ? 0 : -1;
}

/* Part 2: the machine-readable report (RFC 3464 section 2). */
static int
dsn_put_status(struct dsn_ctx *c)
{
	const struct dsn_message *m = c->m;
	struct buf *out = c->out;
	char arrival[64];
	size_t i;
	int rc = 0;

	rc |= buf_printf(out, "--%s\r\nContent-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n", c->boundary);
	rc |= buf_printf(out, "Reporting-MTA: dns; %s\r\n", m->myhostname);
	rc |= buf_printf(out, "X-Queue-ID: %s\r\n", m->queue_id);
	if (dsn_format_date(m->arrival, arrival, sizeof(arrival)) >= 0)
		rc |= buf_printf(out, "Arrival-Date: %s\r\n", arrival);
	for (i = 0; i < m->rcpt_count; i++)
		rc |= dsn_put_rcpt_status(c, &m->rcpts[i]);
	rc |= buf_append_cstr(out, "\r\n");
	return rc == 0 ? 0 : -1;
}

/* Part 3: the original message or its headers (RFC 6522 section 3). */
static int
dsn_put_returned(struct dsn_ctx *c)
{
	struct buf *out = c->out;
	int rc = 0;

	rc |= buf_printf(out, "--%s\r\nContent-Description: %s\r\n"
	    "Content-Type: %s\r\n", c->boundary,
	    c->return_whole ? "Undelivered Message" :
	    "Undelivered Message Headers",
	    c->return_whole ? "message/rfc822" : "text/rfc822-headers");
	if (c->eight_bit)
		rc |= buf_append_cstr(out, "Content-Transfer-Encoding: 8bit\r\n");
	rc |= buf_append_cstr(out, "\r\n");
	rc |= dsn_put_original(out, c->returned);
	rc |= buf_printf(out, "\r\n--%s--\r\n", c->boundary);
	return rc == 0 ? 0 : -1;
}

static bool
dsn_cstr_safe(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '<' || s[i] == '>' || s[i] == '"')
			return false;
	return i < 256;
}

int
dsn_build(const struct dsn_message *m, struct buf *out, const char **error_r)
{
	struct dsn_ctx c;

	*error_r = NULL;
	if (!dsn_should_bounce(m->sender)) {
		*error_r = "null sender: never bounce a bounce";
		return -1;
	}
	if (m->rcpt_count == 0 || m->rcpts == NULL) {
		*error_r = "no recipients to report";
		return -1;
	}
	if (!dsn_cstr_safe(m->queue_id) || !dsn_cstr_safe(m->myhostname) ||
	    (m->message_id_token != NULL && !dsn_cstr_safe(m->message_id_token))) {
		*error_r = "missing or unsafe queue id / host name";
		return -1;
	}
	memset(&c, 0, sizeof(c));
	c.m = m;
	c.out = out;
	if (dsn_format_date(m->now, c.date, sizeof(c.date)) < 0 ||
	    dsn_prepare(&c) < 0) {
		*error_r = "cannot format the notification";
		return -1;
	}
	if (dsn_put_headers(&c) < 0 || dsn_put_human(&c) < 0 ||
	    dsn_put_status(&c) < 0 || dsn_put_returned(&c) < 0) {
		*error_r = "notification larger than the output limit";
		return -1;
	}
	return 0;
}

int
dsn_load_original(int fd, off_t offset, uint64_t len, size_t return_max,
    struct buf *out)
{
	size_t cap = return_max != 0 ? return_max : DSN_RETURN_MAX_DEFAULT;
	size_t want = len <= cap ? (size_t)len : cap + 1, got = 0;

	buf_reset(out);
	if (buf_reserve(out, want + 1) < 0) {
		errno = ENOMEM;
		return -1;
	}
	while (got < want) {
		ssize_t n = pread(fd, out->data + got, want - got,
		    offset + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO; /* file shorter than its preamble says */
			return -1;
		}
		got += (size_t)n;
	}
	out->len = got;
	out->data[got] = '\0';
	return 0;
}
