/* Unit tests for the MIME tree: multipart, rfc822, broken structure, CTE. */
#include "core/pool.h"
#include "mime/message.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static struct mime_message *
parse(struct pool *p, const char *s)
{
	const char *err = NULL;

	return mime_parse(p, s, strlen(s), NULL, &err);
}

static const char nested[] =
    "From: a@b.c\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=mid\r\n\r\n"
    "--mid\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    "plain text\r\n"
    "--mid\r\n"
    "Content-Type: multipart/related; boundary=\"inner\"\r\n\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=us-ascii\r\n\r\n"
    "<p>html &amp; text</p>\r\n"
    "--inner\r\n"
    "Content-Type: image/png; name=\"pic.png\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "iVBORw0KGgo=\r\n"
    "--inner--\r\n"
    "--mid--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n\r\n"
    "Subject: inner message\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "inner body\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "JVBERi0=\r\n"
    "--outer--\r\n"
    "epilogue\r\n";

static void
test_nested(void)
{
	struct pool *p = pool_new(0);
	struct mime_message *m = parse(p, nested);
	struct mime_part *mid, *inner, *rfc, *pdf;

	test_begin("nested multipart, 3 levels, message/rfc822 inside");
	test_assert(m != NULL);
	test_assert(m->n_parts == 9);
	test_assert(strcmp(m->root->type, "multipart") == 0);
	test_assert(strcmp(m->root->boundary, "outer") == 0);
	mid = m->root->first_child;
	test_assert(strcmp(mid->subtype, "alternative") == 0 && mid->depth == 1);
	test_assert(strcmp(mid->first_child->utf8, "plain text") == 0);
	inner = mid->first_child->next_sibling;
	test_assert(strcmp(inner->subtype, "related") == 0 && inner->depth == 2);
	test_assert(inner->first_child->is_html);
	test_assert(strcmp(inner->first_child->utf8, "html & text") == 0);
	test_assert(inner->first_child->depth == 3);
	test_assert(strcmp(inner->first_child->next_sibling->filename,
	    "pic.png") == 0);
	test_assert(inner->first_child->next_sibling->is_attachment);
	test_assert(inner->first_child->next_sibling->decoded_len == 8);
	test_assert(memcmp(inner->first_child->next_sibling->decoded,
	    "\x89PNG\r\n\x1a\n", 8) == 0);
	rfc = mid->next_sibling;
	test_assert(strcmp(rfc->type, "message") == 0);
	test_assert(strcmp(mime_headers_get(&rfc->first_child->headers,
	    "subject"), "inner message") == 0);
	test_assert(strcmp(rfc->first_child->utf8, "inner body") == 0);
	pdf = rfc->next_sibling;
	test_assert(pdf->is_attachment && !pdf->is_text);
	test_assert(strcmp(pdf->filename, "r\xc3\xa9sum\xc3\xa9.pdf") == 0);
	test_assert(strcmp(pdf->disposition, "attachment") == 0);
	test_assert(pdf->next_sibling == NULL);
	test_assert(m->n_text_parts == 3);
	test_assert(m->parts[0] == m->root && m->parts[1] == mid &&
	    m->parts[2] == mid->first_child);
	test_assert(!(m->flags & MIME_MSG_BROKEN_MIME));
	pool_free(&p);
	test_end();
}

static void
test_broken_structure(void)
{
	struct pool *p = pool_new(0);
	struct mime_message *m;

	test_begin("multipart without boundary parameter");
	m = parse(p, "Content-Type: multipart/mixed\n\n--guess\n"
	    "Content-Type: text/plain\n\nfirst\n--guess\n\nsecond\n--guess--\n");
	test_assert(m != NULL && (m->root->flags & MIME_PART_MISSING_BOUNDARY));
	test_assert(m->n_parts == 3 && m->n_text_parts == 2);
	test_assert(strcmp(m->text_parts[1]->utf8, "second") == 0);
	test_assert(m->flags & MIME_MSG_BROKEN_MIME);
	m = parse(p, "Content-Type: multipart/mixed\n\njust text\n");
	test_assert(m->n_parts == 1 && m->n_text_parts == 1);
	test_assert(strcmp(m->text_parts[0]->utf8, "just text\n") == 0);
	test_end();

	test_begin("multipart without closing boundary");
	m = parse(p, "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n"
	    "--b\nContent-Type: text/html\n\n<b>two</b>");
	test_assert(m->root->flags & MIME_PART_UNTERMINATED_MULTIPART);
	test_assert(m->n_parts == 3);
	test_assert(strcmp(m->parts[2]->utf8, "two") == 0);
	test_end();

	test_begin("boundary prefix and transport padding");
	m = parse(p, "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
	    "--bb not a delimiter\n--b  \t\nContent-Type: text/plain\n\nx\n"
	    "--b--junk\n");
	test_assert(m->n_parts == 2 && strcmp(m->parts[1]->utf8, "x") == 0);
	test_assert(!(m->root->flags & MIME_PART_UNTERMINATED_MULTIPART));
	test_end();

	test_begin("multipart with no delimiter at all");
	m = parse(p, "Content-Type: multipart/mixed; boundary=zz\n\nhello\n");
	test_assert(m->root->flags & MIME_PART_EMPTY_MULTIPART);
	test_assert(m->n_text_parts == 1);
	test_end();

	test_begin("bad Content-Type, unknown CTE, digest default");
	m = parse(p, "Content-Type: garbage\nContent-Transfer-Encoding: x-uue\n\n"
	    "body\n");
	test_assert(strcmp(m->root->type, "text") == 0);
	test_assert(m->root->flags & MIME_PART_BAD_CONTENT_TYPE);
	test_assert(m->root->cte == MIME_CTE_UNKNOWN);
	m = parse(p, "Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
	    "Subject: digested\n\nbody\n--d--\n");
	test_assert(m->n_parts == 3);
	test_assert(strcmp(m->parts[1]->type, "message") == 0);
	test_assert(strcmp(mime_headers_get(&m->parts[2]->headers, "subject"),
	    "digested") == 0);
	test_end();
	pool_free(&p);
}

static void
test_cte(void)
{
	struct pool *p = pool_new(0);
	struct mime_message *m;

	test_begin("bad base64 flagged, decoded best-effort");
	m = parse(p, "Content-Transfer-Encoding: base64\n\naGVsbG8g!!d29y\nbGQ\n");
	test_assert(m->root->flags & MIME_PART_BAD_BASE64);
	test_assert(strcmp(m->root->utf8, "hello world") == 0);
	m = parse(p, "Content-Transfer-Encoding: BASE64\n\naGVs\r\nbG8=\r\n");
	test_assert(!(m->root->flags & MIME_PART_BAD_BASE64));
	test_assert(strcmp(m->root->decoded, "hello") == 0);
	test_end();

	test_begin("quoted-printable soft breaks");
	m = parse(p, "Content-Type: text/plain; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "caf=E9 soft=\nbreak=\r\nhere =ZZ\n");
	test_assert(strcmp(m->root->utf8, "caf\xc3\xa9 softbreakhere =ZZ\n") == 0);
	test_assert(m->root->flags & MIME_PART_BAD_QP);
	test_end();
	pool_free(&p);
}

static void
test_truncated(void)
{
	struct pool *p = pool_new(0);
	struct mime_message *m;
	const char *cut = strstr(nested, "iVBOR") + 5;

	test_begin("message cut inside a base64 part");
	m = mime_parse(p, nested, (size_t)(cut - nested), NULL, &(const char *){ 0 });
	test_assert(m != NULL && m->n_parts == 6);
	test_assert(m->root->flags & MIME_PART_UNTERMINATED_MULTIPART);
	test_assert(m->parts[5]->cte == MIME_CTE_BASE64);
	test_assert(m->parts[5]->decoded_len == 3);
	test_end();

	test_begin("message cut inside headers");
	m = mime_parse(p, nested, 25, NULL, &(const char *){ 0 });
	test_assert(m != NULL && (m->flags & MIME_MSG_NO_HEADERS_END));
	test_assert(m->headers.count == 2);
	test_assert(strcmp(m->subject, "nes") == 0);
	test_end();

	test_begin("every prefix of a multipart message parses");
	size_t len = strlen(nested), i;
	bool ok = true;

	for (i = 0; i <= len; i++) {
		struct pool *q = pool_new(0);
		char *copy = malloc(i + 1);

		memcpy(copy, nested, i);
		m = mime_parse(q, copy, i, NULL, &(const char *){ 0 });
		if (m == NULL || m->n_parts < 1 || m->root == NULL)
			ok = false;
		free(copy);
		pool_free(&q);
	}
	test_assert(ok);
	test_end();
	pool_free(&p);
}

static void
test_pool_cap(void)
{
	struct pool *p = pool_new(2048);
	const char *err = NULL;

	test_begin("pool exhaustion returns NULL with an error");
	test_assert(mime_parse(p, nested, strlen(nested), NULL, &err) == NULL);
	test_assert(err != NULL);
	pool_free(&p);
	test_end();
}

int
main(void)
{
	test_nested();
	test_broken_structure();
	test_cte();
	test_truncated();
	test_pool_cap();
	return test_exit();
}
