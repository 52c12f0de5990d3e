/*
 * html.c - tolerant HTML to text, with the facts spam rules look at.
 *
 * Not a DOM: one left-to-right pass over the bytes with memchr for '<' and
 * '&'. Tags are stripped, block tags become newlines, whitespace runs are
 * collapsed, script/style/title contents are not text, entities (a common
 * named set and numeric forms) are decoded. A small element stack tracks
 * what hides text - display:none, visibility:hidden, font-size:0, and a
 * text colour equal to the background colour - so hidden text is counted
 * (spammers pad messages with it to poison Bayes) instead of shown.
 * <a href> links are kept with the text shown inside them, so url.c can
 * flag a link whose shown text names another host. Output never exceeds
 * the input length plus a constant, nor max_out.
 */
#include "mime/html.h"

#include <string.h>
#include <strings.h>

#include "core/pool.h"
#include "core/str.h"

#define HTML_STACK_MAX 64
#define HTML_TAG_NAME_MAX 16
#define HTML_COLOR_MAX 16
#define HTML_ATTR_MAX 8

struct html_elem {
	char name[HTML_TAG_NAME_MAX];
	bool hidden;
	char fg[HTML_COLOR_MAX];
	char bg[HTML_COLOR_MAX];
};

struct html_attr {
	struct str name, value;
};

struct html_tag {
	char name[HTML_TAG_NAME_MAX];
	bool closing, self_closing;
	struct html_attr attrs[HTML_ATTR_MAX];
	unsigned n_attrs;
};

struct html_state {
	struct pool *pool;
	char *out;
	size_t len, cap;
	struct html_info *info;
	struct html_elem stack[HTML_STACK_MAX];
	unsigned depth, overflow;
	struct html_link *cur_link, *links_tail;
	size_t link_start;
	bool oom;
};

static const struct html_elem html_root = { "", false, "#000000", "#ffffff" };

static const struct html_elem *
top(const struct html_state *st)
{
	return st->depth > 0 ? &st->stack[st->depth - 1] : &html_root;
}

static void
out_put(struct html_state *st, const char *s, size_t n)
{
	if (top(st)->hidden) {
		st->info->invisible_chars += n;
		return;
	}
	if (st->len + n > st->cap) {
		st->info->flags |= HTML_FLAG_TRUNCATED;
		return;
	}
	memcpy(st->out + st->len, s, n);
	st->len += n;
	st->info->visible_chars += n;
}

static void
out_space(struct html_state *st, char c)
{
	char last = st->len > 0 ? st->out[st->len - 1] : '\n';

	if (top(st)->hidden)
		return;
	if (c == ' ' && (last == ' ' || last == '\n'))
		return;
	if (c == '\n') {
		if (last == ' ')
			st->len--;
		if (st->len >= 2 && st->out[st->len - 1] == '\n' &&
		    st->out[st->len - 2] == '\n')
			return;
		if (st->len == 0)
			return;
	}
	if (st->len < st->cap)
		st->out[st->len++] = c;
}

/* Text between tags: whitespace collapsed, bytes copied in runs. */
static void
out_text(struct html_state *st, const char *s, size_t n)
{
	size_t i = 0, run;

	while (i < n) {
		if (ascii_isspace(s[i])) {
			out_space(st, ' ');
			i++;
			continue;
		}
		for (run = i; run < n && !ascii_isspace(s[run]); run++)
			;
		out_put(st, s + i, run - i);
		i = run;
	}
}

static size_t
utf8_encode(uint32_t cp, char *out)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static const struct {
	const char *name;
	uint32_t cp;
} html_entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
	{ "apos", '\'' }, { "nbsp", ' ' }, { "copy", 0xa9 }, { "reg", 0xae },
	{ "trade", 0x2122 }, { "hellip", 0x2026 }, { "mdash", 0x2014 },
	{ "ndash", 0x2013 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
	{ "ldquo", 0x201c }, { "rdquo", 0x201d }, { "bull", 0x2022 },
	{ "middot", 0xb7 }, { "euro", 0x20ac }, { "pound", 0xa3 },
	{ "yen", 0xa5 }, { "cent", 0xa2 }, { "sect", 0xa7 }, { "deg", 0xb0 },
	{ "plusmn", 0xb1 }, { "times", 0xd7 }, { "divide", 0xf7 },
	{ "laquo", 0xab }, { "raquo", 0xbb }, { "iexcl", 0xa1 },
	{ "iquest", 0xbf }, { "shy", 0xad }, { "zwnj", 0x200c },
	{ "zwj", 0x200d }, { "lrm", 0x200e }, { "rlm", 0x200f },
	{ "ensp", 0x2002 }, { "emsp", 0x2003 }, { "thinsp", 0x2009 },
	{ "eacute", 0xe9 }, { "egrave", 0xe8 }, { "agrave", 0xe0 },
	{ "aacute", 0xe1 }, { "ccedil", 0xe7 }, { "uuml", 0xfc },
	{ "ouml", 0xf6 }, { "auml", 0xe4 }, { "szlig", 0xdf },
	{ "ntilde", 0xf1 }, { "oacute", 0xf3 }, { "iacute", 0xed },
	{ "uacute", 0xfa }, { "ecirc", 0xea }, { "Uuml", 0xdc },
	{ "Ouml", 0xd6 }, { "Auml", 0xc4 }, { "Eacute", 0xc9 },
	{ "frac12", 0xbd }, { "para", 0xb6 }, { "micro", 0xb5 },
};

/*
 * Decodes the entity at p ('&'); returns bytes consumed (1 when it is not
 * an entity, so the '&' is copied literally) and the UTF-8 in out/olen.
 */
static size_t
entity_decode(const char *p, const char *end, char *out, size_t *olen)
{
	const char *q = p + 1;
	char name[8];
	size_t n = 0, i;

	if (q < end && *q == '#') {
		uint32_t cp = 0;
		bool hex = q + 1 < end && (q[1] == 'x' || q[1] == 'X');
		unsigned digits = 0;

		for (q += hex ? 2 : 1; q < end && digits < 8; q++, digits++) {
			int v = *q >= '0' && *q <= '9' ? *q - '0' :
			    hex && ascii_tolower(*q) >= 'a' &&
			    ascii_tolower(*q) <= 'f' ? ascii_tolower(*q) - 'a' + 10 : -1;

			if (v < 0)
				break;
			cp = cp * (hex ? 16 : 10) + (uint32_t)v;
		}
		if (digits == 0)
			goto literal;
		if (q < end && *q == ';')
			q++;
		*olen = utf8_encode(cp, out);
		return (size_t)(q - p);
	}
	while (q < end && n < sizeof(name) - 1 &&
	    ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
	    (*q >= '0' && *q <= '9')))
		name[n++] = *q++;
	name[n] = '\0';
	for (i = 0; i < sizeof(html_entities) / sizeof(html_entities[0]); i++) {
		if (strcmp(name, html_entities[i].name) == 0) {
			if (q < end && *q == ';')
				q++;
			*olen = utf8_encode(html_entities[i].cp, out);
			return (size_t)(q - p);
		}
	}
literal:
	out[0] = '&';
	*olen = 1;
	return 1;
}

/* Text with entities; `p`..`end` contains no '<'. */
static void
text_segment(struct html_state *st, const char *p, const char *end)
{
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		char buf[4];
		size_t olen, used;

		if (amp == NULL) {
			out_text(st, p, (size_t)(end - p));
			return;
		}
		out_text(st, p, (size_t)(amp - p));
		used = entity_decode(amp, end, buf, &olen);
		if (olen == 1 && ascii_isspace(buf[0]))
			out_space(st, ' ');
		else
			out_put(st, buf, olen);
		p = amp + used;
	}
}

static bool
attr_name_char(char c)
{
	return !ascii_isspace(c) && c != '=' && c != '>' && c != '/' &&
	    c != '"' && c != '\'';
}

/* Parses a tag at p ('<' + letter or '/'); returns the byte after '>'. */
static const char *
tag_parse(struct html_state *st, const char *p, const char *end,
    struct html_tag *t)
{
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	p++;
	if (p < end && *p == '/') {
		t->closing = true;
		p++;
	}
	while (p < end && attr_name_char(*p)) {
		if (n < HTML_TAG_NAME_MAX - 1)
			t->name[n++] = ascii_tolower(*p);
		p++;
	}
	while (p < end && *p != '>') {
		struct html_attr a = { 0 };
		const char *s;

		if (ascii_isspace(*p) || *p == '"' || *p == '\'' || *p == '=') {
			p++;
			continue;
		}
		if (*p == '/') {
			t->self_closing = p + 1 < end && p[1] == '>';
			p++;
			continue;
		}
		for (s = p; p < end && attr_name_char(*p); p++)
			;
		a.name = str_make(s, (size_t)(p - s));
		while (p < end && ascii_isspace(*p))
			p++;
		if (p < end && *p == '=') {
			for (p++; p < end && ascii_isspace(*p); p++)
				;
			if (p < end && (*p == '"' || *p == '\'')) {
				const char *q = memchr(p + 1, *p, (size_t)(end - p - 1));

				if (q == NULL) {
					st->info->flags |= HTML_FLAG_UNBALANCED;
					q = end;
				}
				a.value = str_make(p + 1, (size_t)(q - p - 1));
				p = q < end ? q + 1 : end;
			} else {
				for (s = p; p < end && !ascii_isspace(*p) && *p != '>'; p++)
					;
				a.value = str_make(s, (size_t)(p - s));
			}
		}
		if (t->n_attrs < HTML_ATTR_MAX)
			t->attrs[t->n_attrs++] = a;
	}
	if (p >= end) {
		st->info->flags |= HTML_FLAG_UNBALANCED;
		return end;
	}
	return p + 1;
}

static struct str
tag_attr(const struct html_tag *t, const char *name)
{
	unsigned i;

	for (i = 0; i < t->n_attrs; i++) {
		if (str_case_eq_cstr(t->attrs[i].name, name))
			return t->attrs[i].value;
	}
	return STR_NULL;
}

static bool
tag_is(const struct html_tag *t, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(t->name, names[i]) == 0)
			return true;
	}
	return false;
}

static const char *const block_tags[] = {
	"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
	"table", "ul", "ol", "blockquote", "hr", "pre", "dd", "dt", "center",
	"form", "address", "section", "article", "header", "footer",
};
static const char *const void_tags[] = {
	"br", "img", "hr", "meta", "link", "input", "area", "base", "col",
	"embed", "param", "source", "track", "wbr", "p", "li", "td", "tr",
	"th", "option", "!doctype",
};

/* "#abc" -> "#aabbcc", names of the usual suspects -> hex, else as is. */
static void
color_norm(struct str v, char *out)
{
	static const struct {
		const char *name, *hex;
	} names[] = {
		{ "white", "#ffffff" }, { "black", "#000000" },
		{ "red", "#ff0000" }, { "blue", "#0000ff" },
		{ "green", "#008000" }, { "yellow", "#ffff00" },
		{ "silver", "#c0c0c0" }, { "gray", "#808080" },
	};
	size_t i, n = 0;

	v = str_trim(v);
	for (i = 0; i < v.len && n < HTML_COLOR_MAX - 1; i++) {
		if (v.ptr[i] != ' ' && v.ptr[i] != '"' && v.ptr[i] != '\'')
			out[n++] = ascii_tolower(v.ptr[i]);
	}
	out[n] = '\0';
	if (n == 4 && out[0] == '#') {
		char h[8] = { '#', out[1], out[1], out[2], out[2], out[3],
		    out[3], 0 };
		memcpy(out, h, 8);
		return;
	}
	if (n == 6 && out[0] != '#') {
		memmove(out + 1, out, 7);
		out[0] = '#';
		if (strspn(out + 1, "0123456789abcdef") != 6)
			memmove(out, out + 1, 7);
		return;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(out, names[i].name) == 0) {
			memcpy(out, names[i].hex, 8);
			return;
		}
	}
}

/* Value of CSS property `prop` in a style attribute (no '-' before it). */
static struct str
css_value(struct str style, const char *prop)
{
	size_t plen = strlen(prop), i;

	for (i = 0; i + plen < style.len; i++) {
		if (strncasecmp(style.ptr + i, prop, plen) != 0)
			continue;
		if (i > 0 && (style.ptr[i - 1] == '-' ||
		    (ascii_tolower(style.ptr[i - 1]) >= 'a' &&
		    ascii_tolower(style.ptr[i - 1]) <= 'z')))
			continue;
		size_t j = i + plen;

		while (j < style.len && style.ptr[j] == ' ')
			j++;
		if (j >= style.len || style.ptr[j] != ':')
			continue;
		j++;
		size_t k = j;

		while (k < style.len && style.ptr[k] != ';')
			k++;
		return str_trim(str_make(style.ptr + j, k - j));
	}
	return STR_NULL;
}

static bool
css_hides(struct str style)
{
	struct str v;

	v = css_value(style, "display");
	if (str_has_prefix_case(v, "none"))
		return true;
	v = css_value(style, "visibility");
	if (str_has_prefix_case(v, "hidden"))
		return true;
	v = css_value(style, "font-size");
	if (v.len > 0 && v.ptr[0] == '0' &&
	    (v.len == 1 || (v.ptr[1] != '.' && (v.ptr[1] < '0' || v.ptr[1] > '9'))))
		return true;
	return false;
}

static void
elem_push(struct html_state *st, const struct html_tag *t)
{
	struct str style = tag_attr(t, "style"), v;
	struct html_elem e = *top(st);

	str_lcpy(e.name, t->name, sizeof(e.name));
	if (css_hides(style) || tag_attr(t, "hidden").ptr != NULL)
		e.hidden = true;
	if ((v = tag_attr(t, "bgcolor")).len > 0)
		color_norm(v, e.bg);
	if ((v = css_value(style, "background-color")).len > 0 ||
	    (v = css_value(style, "background")).len > 0)
		color_norm(v, e.bg);
	if ((v = tag_attr(t, "color")).len > 0)
		color_norm(v, e.fg);
	if ((v = css_value(style, "color")).len > 0)
		color_norm(v, e.fg);
	if (strcmp(e.fg, e.bg) == 0)
		e.hidden = true;
	if (st->depth == HTML_STACK_MAX) {
		st->overflow++;
		return;
	}
	st->stack[st->depth++] = e;
}

static void
elem_pop(struct html_state *st, const char *name)
{
	unsigned i;

	if (st->overflow > 0) {
		st->overflow--;
		return;
	}
	for (i = st->depth; i > 0; i--) {
		if (strcmp(st->stack[i - 1].name, name) == 0) {
			st->depth = i - 1;
			return;
		}
	}
}

static void
link_close(struct html_state *st)
{
	struct html_link *l = st->cur_link;
	struct str text;

	if (l == NULL)
		return;
	st->cur_link = NULL;
	if (st->len > st->link_start) {
		text = str_trim(str_make(st->out + st->link_start,
		    st->len - st->link_start));
		if (text.len > 0 && (l->text = str_dup_cstr(st->pool, text)) == NULL)
			st->oom = true;
	}
}

static struct html_link *
link_add(struct html_state *st, struct str href, bool image)
{
	struct html_link *l = pool_alloc(st->pool, sizeof(*l));
	char buf[8];
	size_t i, n = 0, olen;
	char *h;

	if (l == NULL || (h = pool_alloc(st->pool, href.len + 1)) == NULL) {
		st->oom = true;
		return NULL;
	}
	/* Entities in attribute values ("&amp;" in query strings). */
	for (i = 0; i < href.len;) {
		if (href.ptr[i] == '&') {
			i += entity_decode(href.ptr + i, href.ptr + href.len, buf,
			    &olen);
			if (n + olen > href.len)
				break;
			memcpy(h + n, buf, olen);
			n += olen;
		} else {
			h[n++] = href.ptr[i++];
		}
	}
	l->href = h;
	l->is_image = image;
	if (st->links_tail == NULL)
		st->info->links = l;
	else
		st->links_tail->next = l;
	st->links_tail = l;
	return l;
}

/* Bytes up to "</name" (case-insensitive) from p; returns its '<' or end. */
static const char *
find_close(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));

		if (lt == NULL)
			return end;
		if ((size_t)(end - lt) >= n + 2 && lt[1] == '/' &&
		    strncasecmp(lt + 2, name, n) == 0)
			return lt;
		p = lt + 1;
	}
	return end;
}

static const char *
tag_raw_content(struct html_state *st, const struct html_tag *t,
    const char *p, const char *end)
{
	const char *close = find_close(p, end, t->name);

	if (strcmp(t->name, "title") == 0 && st->info->title == NULL) {
		st->info->title = str_dup_cstr(st->pool,
		    str_trim(str_make(p, (size_t)(close - p))));
		if (st->info->title == NULL)
			st->oom = true;
	}
	if (close == end)
		st->info->flags |= HTML_FLAG_UNBALANCED;
	return close;
}

static const char *
tag_handle(struct html_state *st, const struct html_tag *t, const char *p,
    const char *end)
{
	struct str v;

	st->info->n_tags++;
	if (tag_is(t, block_tags, sizeof(block_tags) / sizeof(block_tags[0])))
		out_space(st, '\n');
	else if (strcmp(t->name, "td") == 0 || strcmp(t->name, "th") == 0)
		out_space(st, ' ');
	if (t->closing) {
		if (strcmp(t->name, "a") == 0)
			link_close(st);
		elem_pop(st, t->name);
		return p;
	}
	if (strcmp(t->name, "script") == 0)
		st->info->flags |= HTML_FLAG_HAS_SCRIPT;
	else if (strcmp(t->name, "form") == 0)
		st->info->flags |= HTML_FLAG_HAS_FORM;
	else if (strcmp(t->name, "iframe") == 0)
		st->info->flags |= HTML_FLAG_HAS_IFRAME;
	if (strcmp(t->name, "a") == 0) {
		link_close(st);
		if ((v = tag_attr(t, "href")).len > 0) {
			st->info->n_links++;
			st->cur_link = link_add(st, v, false);
			st->link_start = st->len;
		}
	} else if (strcmp(t->name, "img") == 0) {
		st->info->n_images++;
		if ((v = tag_attr(t, "src")).len > 0)
			(void)link_add(st, v, true);
	}
	if (!t->self_closing && (strcmp(t->name, "script") == 0 ||
	    strcmp(t->name, "style") == 0 || strcmp(t->name, "title") == 0))
		return tag_raw_content(st, t, p, end);
	if (!t->self_closing && (!tag_is(t, void_tags,
	    sizeof(void_tags) / sizeof(void_tags[0])) ||
	    css_hides(tag_attr(t, "style"))))
		elem_push(st, t);
	return p;
}

/* Skips "<!-- ... -->", "<!...>" and "<?...>"; returns the byte after. */
static const char *
skip_markup(struct html_state *st, const char *p, const char *end)
{
	const char *q;

	if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
		q = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
		if (q != NULL)
			return q + 3;
	} else {
		q = memchr(p, '>', (size_t)(end - p));
		if (q != NULL)
			return q + 1;
	}
	st->info->flags |= HTML_FLAG_UNBALANCED;
	return end;
}

const char *
html_to_text(struct pool *pool, const char *html, size_t len, size_t max_out,
    size_t *out_len_r, struct html_info **info_r)
{
	struct html_state *st = pool_alloc(pool, sizeof(*st));
	const char *p = html, *end = html + len;
	struct html_tag tag;

	if (st == NULL)
		return NULL;
	st->pool = pool;
	st->cap = MIN(len + 16, max_out);
	st->out = pool_alloc(pool, st->cap + 1);
	st->info = pool_alloc(pool, sizeof(*st->info));
	if (st->out == NULL || st->info == NULL)
		return NULL;
	while (p < end && !st->oom) {
		const char *lt = memchr(p, '<', (size_t)(end - p));

		text_segment(st, p, lt != NULL ? lt : end);
		if (lt == NULL)
			break;
		p = lt;
		if (end - p >= 2 && (p[1] == '!' || p[1] == '?')) {
			p = skip_markup(st, p, end);
		} else if (end - p >= 2 && (p[1] == '/' ||
		    (ascii_tolower(p[1]) >= 'a' && ascii_tolower(p[1]) <= 'z'))) {
			p = tag_parse(st, p, end, &tag);
			p = tag_handle(st, &tag, p, end);
		} else {
			out_put(st, "<", 1);
			p++;
		}
	}
	link_close(st);
	while (st->len > 0 && ascii_isspace(st->out[st->len - 1]))
		st->len--;
	st->out[st->len] = '\0';
	if (st->oom)
		return NULL;
	*out_len_r = st->len;
	*info_r = st->info;
	return st->out;
}
