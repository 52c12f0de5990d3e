/* Unit tests for mime headers: folding, duplicates, RFC 2047, 8-bit. */
#include "core/pool.h"
#include "mime/message.h"
#include "test.h"

#include <string.h>

static struct mime_message *
parse(struct pool *p, const char *s)
{
	const char *err = NULL;

	return mime_parse(p, s, strlen(s), NULL, &err);
}

static void
test_folding(void)
{
	struct pool *p = pool_new(0);
	struct mime_message *m = parse(p,
	    "Received: from a\r\n\tby b\r\n  with c\r\n"
	    "Subject: folded\r\n subject line\r\n"
	    "Received: second\r\n"
	    "X-Empty:\r\n"
	    "X-Spaced :  v  \r\n"
	    "Message-ID: <abc@example.com>\r\n"
	    "\r\nbody\r\n");
	const struct mime_header *h;

	test_begin("header folding and duplicates in order");
	test_assert(m != NULL);
	test_assert(m->headers.count == 6);
	test_assert(mime_headers_count(&m->headers, "received") == 2);
	h = mime_headers_find(&m->headers, "RECEIVED");
	test_assert(h != NULL && strcmp(h->value, "from a\tby b  with c") == 0);
	test_assert(h->raw.len == strlen("from a\r\n\tby b\r\n  with c"));
	test_assert(h->next->next != NULL &&
	    strcmp(h->next->next->value, "second") == 0);
	test_assert(strcmp(m->subject, "folded subject line") == 0);
	test_assert(strcmp(mime_headers_get(&m->headers, "x-empty"), "") == 0);
	test_assert(strcmp(mime_headers_get(&m->headers, "x-spaced"), "v") == 0);
	test_assert(strcmp(m->message_id, "abc@example.com") == 0);
	test_assert(m->body.len == 6 && memcmp(m->body.ptr, "body\r\n", 6) == 0);
	test_assert(mime_headers_get(&m->headers, "nope") == NULL);
	pool_free(&p);
	test_end();

	test_begin("LF-only headers, mbox From line");
	p = pool_new(0);
	m = parse(p, "From foo@bar Mon Jan  1 00:00:00 2001\nSubject: x\n"
	    " y\nTo: a@b\n\nbody\n");
	test_assert(m != NULL && (m->flags & MIME_MSG_MBOX_FROM_LINE));
	test_assert(strcmp(m->subject, "x y") == 0);
	test_assert(m->headers.count == 2);
	test_assert(m->body.len == 5);
	pool_free(&p);
	test_end();

	test_begin("no blank line after headers");
	p = pool_new(0);
	m = parse(p, "Subject: cut\r\nFrom: a@b");
	test_assert(m != NULL && (m->flags & MIME_MSG_NO_HEADERS_END));
	test_assert(m->headers.count == 2);
	test_assert(strcmp(mime_headers_get(&m->headers, "from"), "a@b") == 0);
	test_assert(m->n_parts == 1 && m->root->decoded_len == 0);
	pool_free(&p);
	test_end();
}

static const char *
subj(struct pool *p, const char *raw)
{
	char buf[1024];
	struct mime_message *m;

	str_format(buf, sizeof(buf), "Subject: %s\n\nx\n", raw);
	m = parse(p, buf);
	return m != NULL && m->subject != NULL ? m->subject : "(null)";
}

static void
test_rfc2047(void)
{
	struct pool *p = pool_new(0);

	test_begin("RFC 2047 B and Q words");
	test_assert(strcmp(subj(p, "=?utf-8?B?0J/RgNC40LLQtdGC?="),
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82") == 0);
	test_assert(strcmp(subj(p, "=?ISO-8859-1?Q?caf=E9_au_lait?="),
	    "caf\xc3\xa9 au lait") == 0);
	test_assert(strcmp(subj(p, "Re: =?utf-8?q?hi?= there"),
	    "Re: hi there") == 0);
	test_end();

	test_begin("RFC 2047 adjacent words joined");
	test_assert(strcmp(subj(p, "=?utf-8?Q?a?= =?utf-8?Q?b?="), "ab") == 0);
	test_assert(strcmp(subj(p, "=?utf-8?Q?a?=\n =?utf-8?Q?_b?="), "a b") == 0);
	/* A UTF-8 sequence split across two B words. */
	test_assert(strcmp(subj(p, "=?utf-8?B?w6k=?= =?utf-8?B?w6k=?="),
	    "\xc3\xa9\xc3\xa9") == 0);
	test_assert(strcmp(subj(p, "=?utf-8?Q?=C3?= =?utf-8?Q?=A9?="),
	    "\xc3\xa9") == 0);
	test_assert(strcmp(subj(p, "=?koi8-r?B?8NLJ18XU?= =?utf-8?Q?!?="),
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82!") == 0);
	test_end();

	test_begin("RFC 2047 unknown charset and broken words");
	/* Unknown charset: bytes go through detection; ASCII stays. */
	test_assert(strcmp(subj(p, "=?x-unknown?Q?hello?="), "hello") == 0);
	/* Space inside a Q word. */
	test_assert(strcmp(subj(p, "=?utf-8?Q?hello world?="),
	    "hello world") == 0);
	/* Glued to text. */
	test_assert(strcmp(subj(p, "foo=?utf-8?Q?bar?=baz"), "foobarbaz") == 0);
	/* Not closed: kept literally. */
	test_assert(strcmp(subj(p, "=?utf-8?Q?open"), "=?utf-8?Q?open") == 0);
	test_assert(strcmp(subj(p, "=?utf-8?X?abc?="), "=?utf-8?X?abc?=") == 0);
	test_assert(strcmp(subj(p, "=??Q?abc?="), "=??Q?abc?=") == 0);
	test_assert(strcmp(subj(p, "=?utf-8?B?****?="), "") == 0);
	test_assert(strcmp(subj(p, "=?utf-8*en?Q?lang?="), "lang") == 0);
	test_end();
	pool_free(&p);
}

static void
test_8bit(void)
{
	struct pool *p = pool_new(0);
	struct mime_message *m;
	const struct mime_header *h;

	test_begin("raw 8-bit headers flagged and converted");
	m = parse(p, "Subject: caf\xe9 cr\xe8me\nTo: x\n\nbody\n");
	test_assert(m != NULL && (m->flags & MIME_MSG_8BIT_HEADERS));
	h = mime_headers_find(&m->headers, "subject");
	test_assert(h->decoded_8bit);
	test_assert(strcmp(m->subject, "caf\xc3\xa9 cr\xc3\xa8me") == 0);
	test_assert(m->root->flags & MIME_PART_8BIT_HEADERS);
	m = parse(p, "Subject: \xd0\x9f\xd1\x80\xd0\xb8\n\nbody\n");
	test_assert(strcmp(m->subject, "\xd0\x9f\xd1\x80\xd0\xb8") == 0);
	test_end();
	pool_free(&p);
}

static void
test_addresses(void)
{
	struct pool *p = pool_new(0);
	struct mime_address *a;
	const char *v;

	test_begin("address lists");
	v = "\"Doe, John\" <john@example.com>, jane@example.org (Jane D), "
	    "Undisclosed: a@b.c, <@route,@r2:x@y.z>;, =?utf-8?Q?J=C3=B6rg?= <j@k.l>";
	a = mime_parse_addresses(p, v, strlen(v));
	test_assert(a != NULL && strcmp(a->name, "Doe, John") == 0);
	test_assert(strcmp(a->addr, "john@example.com") == 0);
	test_assert(strcmp(a->user, "john") == 0);
	test_assert(strcmp(a->domain, "example.com") == 0);
	a = a->next;
	test_assert(a != NULL && strcmp(a->addr, "jane@example.org") == 0);
	test_assert(a->name != NULL && strcmp(a->name, "Jane D") == 0);
	a = a->next;
	test_assert(a != NULL && strcmp(a->addr, "a@b.c") == 0 && a->name == NULL);
	a = a->next;
	test_assert(a != NULL && strcmp(a->addr, "x@y.z") == 0);
	a = a->next;
	test_assert(a != NULL && strcmp(a->addr, "j@k.l") == 0);
	test_assert(a->name != NULL && strcmp(a->name, "J\xc3\xb6rg") == 0);
	test_assert(a->next == NULL);
	test_assert(mime_parse_addresses(p, "undisclosed-recipients:;", 24) == NULL);
	test_assert(mime_parse_addresses(p, "", 0) == NULL);
	a = mime_parse_addresses(p, "<unterminated@x.y", 17);
	test_assert(a != NULL && strcmp(a->addr, "unterminated@x.y") == 0);
	a = mime_parse_addresses(p, "\"bad (((", 8);
	test_assert(a == NULL || a->addr != NULL);
	test_end();
	pool_free(&p);
}

int
main(void)
{
	test_folding();
	test_rfc2047();
	test_8bit();
	test_addresses();
	return test_exit();
}
