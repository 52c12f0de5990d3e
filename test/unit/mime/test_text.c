/* Charsets, HTML to text, URL and e-mail extraction. */
#include "core/buf.h"
#include "core/pool.h"
#include "mime/html.h"
#include "mime/message.h"
#include "test.h"

#include <string.h>

static struct mime_message *
parse(struct pool *p, const char *s)
{
	const char *err = NULL;

	return mime_parse(p, s, strlen(s), NULL, &err);
}

/* Russian sentence in windows-1251 ("Это тестовое сообщение ..."). */
static const char cp1251[] =
    "\xdd\xf2\xee \xf2\xe5\xf1\xf2\xee\xe2\xee\xe5 \xf1\xee\xee\xe1\xf9\xe5"
    "\xed\xe8\xe5 \xe4\xeb\xff \xef\xf0\xee\xe2\xe5\xf0\xea\xe8 \xee\xef\xf0"
    "\xe5\xe4\xe5\xeb\xe5\xed\xe8\xff \xea\xee\xe4\xe8\xf0\xee\xe2\xea\xe8. "
    "\xcc\xfb \xef\xf0\xe5\xe4\xeb\xe0\xe3\xe0\xe5\xec \xe2\xe0\xec "
    "\xeb\xf3\xf7\xf8\xe8\xe5 \xf6\xe5\xed\xfb \xed\xe0 \xf2\xee\xe2\xe0"
    "\xf0\xfb \xe8 \xf3\xf1\xeb\xf3\xe3\xe8 \xe2 \xfd\xf2\xee\xec "
    "\xec\xe5\xf1\xff\xf6\xe5, \xef\xee\xe7\xe2\xee\xed\xe8\xf2\xe5 "
    "\xed\xe0\xec \xf1\xe5\xe3\xee\xe4\xed\xff \xe8\xeb\xe8 \xe7\xe0\xe2"
    "\xf2\xf0\xe0 \xe8 \xef\xee\xeb\xf3\xf7\xe8\xf2\xe5 \xf1\xea\xe8\xe4"
    "\xea\xf3 \xed\xe0 \xe2\xf1\xe5 \xf2\xee\xe2\xe0\xf0\xfb.\n";

static void
test_charsets(void)
{
	struct pool *p = pool_new(0);
	struct mime_message *m;
	struct buf b;

	buf_init(&b, 0);
	test_begin("undeclared windows-1251 is detected");
	buf_printf(&b, "Subject: x\n\n%s", cp1251);
	m = parse(p, b.data);
	test_assert(m->root->flags & MIME_PART_CHARSET_DETECTED);
	test_assert(strcmp(m->root->detected_charset, "windows-1251") == 0);
	test_assert(strncmp(m->root->utf8, "\xd0\xad\xd1\x82\xd0\xbe ", 7) == 0);
	test_end();

	test_begin("unknown declared charset goes to detection");
	buf_reset(&b);
	buf_printf(&b, "Content-Type: text/plain; charset=x-bogus-42\n\n%s",
	    cp1251);
	m = parse(p, b.data);
	test_assert(m->root->flags & MIME_PART_BAD_CHARSET);
	test_assert(m->root->flags & MIME_PART_CHARSET_DETECTED);
	test_assert(strcmp(m->root->detected_charset, "windows-1251") == 0);
	test_end();

	test_begin("undeclared ISO-8859-1 and UTF-8 text");
	m = parse(p, "Subject: x\n\nCe message est envoy\xe9 \xe0 tous les "
	    "abonn\xe9s de la liste. Merci de ne pas r\xe9pondre \xe0 ce "
	    "courrier, il a \xe9t\xe9 g\xe9n\xe9r\xe9 automatiquement par le "
	    "syst\xe8me. D\xe9sinscription possible \xe0 tout moment.\n");
	test_assert(m->root->flags & MIME_PART_CHARSET_DETECTED);
	test_assert(strncmp(m->root->detected_charset, "ISO-8859-1", 10) == 0 ||
	    strcmp(m->root->detected_charset, "windows-1252") == 0);
	test_assert(strstr(m->root->utf8, "envoy\xc3\xa9 \xc3\xa0") != NULL);
	m = parse(p, "Subject: x\n\nGr\xc3\xbc\xc3\x9f""e aus K\xc3\xb6ln\n");
	test_assert(strcmp(m->root->detected_charset, "UTF-8") == 0);
	test_assert(strcmp(m->root->utf8, "Gr\xc3\xbc\xc3\x9f""e aus K\xc3\xb6ln\n") == 0);
	test_end();

	test_begin("declared charsets convert; lies are detected");
	m = parse(p, "Content-Type: text/plain; charset=\"KOI8-R\"\n\n"
	    "\xf0\xd2\xc9\xd7\xc5\xd4\n");
	test_assert(strcmp(m->root->utf8,
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\n") == 0);
	test_assert(!(m->root->flags & MIME_PART_BAD_CHARSET));
	buf_reset(&b);
	buf_printf(&b, "Content-Type: text/plain; charset=utf-8\n\n%s", cp1251);
	m = parse(p, b.data);
	test_assert(m->root->flags & MIME_PART_BAD_CHARSET);
	test_assert(strcmp(m->root->detected_charset, "windows-1251") == 0);
	m = parse(p, "Content-Type: text/plain; charset=iso-2022-jp\n\n"
	    "\x1b$B$3$s$K$A$O\x1b(B\n");
	test_assert(strcmp(m->root->utf8,
	    "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\n") == 0);
	test_end();
	buf_deinit(&b);
	pool_free(&p);
}

static void
test_html(void)
{
	struct pool *p = pool_new(0);
	struct html_info *info;
	const char *t;
	size_t n;
	const char *h =
	    "<html><head><title>T &amp; t</title><style>p{color:red}</style>"
	    "<script>var x = '<p>no</p>';</script></head>"
	    "<body bgcolor=\"#FFFFFF\"><p>Caf&eacute; &lt;b&gt; &#233;&#x41;"
	    "&nbsp;x&unknown; &amp</p>"
	    "<div style=\"display: none\">hidden words</div>"
	    "<font color=\"white\">white on white</font>"
	    "<span style=\"font-size:0px\">tiny</span>"
	    "<div>Visit <a href=\"http://evil.example.net/login?a=1&amp;b=2\">"
	    "https://www.paypal.com/</a> or <a href='http://www.good.org/x'>"
	    "good.org</a> <a href=\"http://sub.paypal.com/\">www.paypal.com</a>"
	    "</div><img src=\"http://img.example.com/p.gif\"><!-- comment <p> -->"
	    "<br>end</body></html>";

	test_begin("HTML to text: entities, script/style, blocks");
	t = html_to_text(p, h, strlen(h), 1 << 20, &n, &info);
	test_assert(t != NULL && strlen(t) == n);
	test_assert(strncmp(t, "Caf\xc3\xa9 <b> \xc3\xa9""A x&unknown; &\n", 22) == 0);
	test_assert(strstr(t, "var x") == NULL && strstr(t, "color") == NULL);
	test_assert(strcmp(info->title, "T &amp; t") == 0);
	test_assert(strstr(t, "\nend") != NULL);
	test_end();

	test_begin("HTML invisible text");
	test_assert(strstr(t, "hidden") == NULL);
	test_assert(strstr(t, "white on white") == NULL);
	test_assert(strstr(t, "tiny") == NULL);
	test_assert(info->invisible_chars >= strlen("hiddenwordswhiteonwhitetiny"));
	test_end();

	test_begin("HTML links and images");
	test_assert(info->n_links == 3 && info->n_images == 1);
	test_assert(strcmp(info->links->href,
	    "http://evil.example.net/login?a=1&b=2") == 0);
	test_assert(strcmp(info->links->text, "https://www.paypal.com/") == 0);
	test_assert(info->links->next->next->next->is_image);
	test_end();

	test_begin("HTML hostile input");
	t = html_to_text(p, "<a href=\"x", 10, 100, &n, &info);
	test_assert(t != NULL && (info->flags & HTML_FLAG_UNBALANCED));
	t = html_to_text(p, "<!-- never closed", 17, 100, &n, &info);
	test_assert(t != NULL && n == 0);
	t = html_to_text(p, "a < b && c<<>", 13, 100, &n, &info);
	test_assert(t != NULL && strncmp(t, "a < b && c<", 11) == 0);
	t = html_to_text(p, "<p>aaaaaaaaaaaaaaaaaaaa</p>", 27, 5, &n, &info);
	test_assert(n <= 5 && (info->flags & HTML_FLAG_TRUNCATED));
	test_end();
	pool_free(&p);
}

static const struct mime_url *
find_url(const struct mime_message *m, const char *url)
{
	size_t i;

	for (i = 0; i < m->n_urls; i++) {
		if (strcmp(m->urls[i].url, url) == 0)
			return &m->urls[i];
	}
	return NULL;
}

static void
test_urls(void)
{
	struct pool *p = pool_new(0);
	struct mime_message *m;
	const struct mime_url *u;

	test_begin("URL extraction from text");
	m = parse(p, "Subject: x\n\nGo to http://Example.COM/path?q=1. Or "
	    "(https://secure.example.org/a_(b)) and www.Foo.net/bar, also\n"
	    "ftp://files.example.com/f.txt and http://192.168.1.10:8080/x "
	    "http://user@evil.com/ mailto:joe@example.com "
	    "http://Example.COM/path?q=1 xhttp://no hTTp:// www.a\n");
	test_assert(m->n_urls == 7);
	test_assert(strcmp(m->urls[0].url, "http://Example.COM/path?q=1") == 0);
	test_assert(strcmp(m->urls[0].host, "example.com") == 0);
	test_assert(m->urls[0].flags & MIME_URL_FROM_TEXT);
	test_assert(find_url(m, "https://secure.example.org/a_(b)") != NULL);
	u = find_url(m, "http://www.Foo.net/bar");
	test_assert(u != NULL && (u->flags & MIME_URL_SCHEMELESS));
	test_assert(strcmp(u->host, "www.foo.net") == 0);
	u = find_url(m, "http://192.168.1.10:8080/x");
	test_assert(u != NULL && (u->flags & MIME_URL_HAS_IP));
	test_assert(strcmp(u->host, "192.168.1.10") == 0);
	u = find_url(m, "http://user@evil.com/");
	test_assert(u != NULL && (u->flags & MIME_URL_OBFUSCATED));
	test_assert(strcmp(u->host, "evil.com") == 0);
	u = find_url(m, "mailto:joe@example.com");
	test_assert(u != NULL && (u->flags & MIME_URL_MAILTO));
	test_end();

	test_begin("e-mail extraction from text");
	m = parse(p, "Subject: x\n\nWrite to John.Doe+tag@Example.COM, or "
	    "<sales@shop.example.org>. Not: a@b, @x.y, foo@, "
	    "http://u@host.com/. Again: John.Doe+tag@example.com\n");
	test_assert(m->n_emails == 2);
	test_assert(strcmp(m->emails[0].addr, "John.Doe+tag@example.com") == 0);
	test_assert(strcmp(m->emails[0].user, "John.Doe+tag") == 0);
	test_assert(strcmp(m->emails[0].domain, "example.com") == 0);
	test_assert(strcmp(m->emails[1].addr, "sales@shop.example.org") == 0);
	test_end();

	test_begin("HTML URLs: displayed text and phishing");
	m = parse(p, "Content-Type: text/html\n\n"
	    "<a href=\"http://evil.example.net/login\">https://www.paypal.com/"
	    "</a> <a href=\"http://sub.paypal.com/\">www.paypal.com</a> "
	    "<a href=\"http://x.org/\">click here</a> <a href=\"cid:abc\">c</a>"
	    "<img src=\"http://1.2.3.4/i.gif\">\n");
	u = find_url(m, "http://evil.example.net/login");
	test_assert(u != NULL && (u->flags & MIME_URL_PHISHED));
	test_assert(u->flags & MIME_URL_FROM_HTML);
	test_assert(strcmp(u->displayed, "https://www.paypal.com/") == 0);
	u = find_url(m, "http://sub.paypal.com/");
	test_assert(u != NULL && !(u->flags & MIME_URL_PHISHED));
	u = find_url(m, "http://x.org/");
	test_assert(u != NULL && !(u->flags & MIME_URL_PHISHED));
	u = find_url(m, "http://1.2.3.4/i.gif");
	test_assert(u != NULL && (u->flags & MIME_URL_IMAGE) &&
	    (u->flags & MIME_URL_HAS_IP));
	/* The shown text of the first link is also a text URL. */
	test_assert(find_url(m, "https://www.paypal.com/") != NULL);
	test_assert(m->root->html != NULL && m->root->is_html);
	test_end();
	pool_free(&p);
}

int
main(void)
{
	test_charsets();
	test_html();
	test_urls();
	return test_exit();
}
