/*
 * re_atom.c - the parts of a regexp rule expression that are not the
 * expression itself: regexp atoms `[Header=]/pattern/flags[{type}]` and
 * function atoms `name('arg')`.
 *
 * The expression tokenizer (scan/expr.c) has already found where an atom
 * ends; here we split it into header name, pattern, flags and scan kind.
 * The pattern is kept exactly as written between the slashes: both
 * Hyperscan and PCRE2 read `\/` as a literal slash, so no unescaping is
 * needed, and keeping it verbatim keeps the dedup key and the disk-cache
 * hash stable.
 */
#include "scan/re/re_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"

static const struct {
	const char *name;
	enum re_kind kind;
} kind_names[] = {
	{ "header", RE_KIND_HEADER },
	{ "raw_header", RE_KIND_RAW_HEADER },
	{ "header_raw", RE_KIND_RAW_HEADER },
	{ "mime_header", RE_KIND_MIME_HEADER },
	{ "header_mime", RE_KIND_MIME_HEADER },
	{ "all_header", RE_KIND_ALL_HEADER },
	{ "all_headers", RE_KIND_ALL_HEADER },
	{ "body", RE_KIND_BODY },
	{ "raw_body", RE_KIND_BODY },
	{ "message", RE_KIND_BODY },
	{ "mime", RE_KIND_MIME },
	{ "part", RE_KIND_MIME },
	{ "raw_mime", RE_KIND_RAW_MIME },
	{ "raw_part", RE_KIND_RAW_MIME },
	{ "sa_body", RE_KIND_SA_BODY },
	{ "sa_raw_body", RE_KIND_SA_RAW_BODY },
	{ "url", RE_KIND_URL },
	{ "email", RE_KIND_EMAIL },
};

static const char kind_letters[] = "HXBRMPQCDU";
static const enum re_kind letter_kinds[] = {
	RE_KIND_HEADER, RE_KIND_RAW_HEADER, RE_KIND_MIME_HEADER, RE_KIND_ALL_HEADER,
	RE_KIND_BODY, RE_KIND_MIME, RE_KIND_RAW_MIME, RE_KIND_SA_BODY,
	RE_KIND_SA_RAW_BODY, RE_KIND_URL,
};

const char *
re_kind_name(enum re_kind kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++) {
		if (kind_names[i].kind == kind)
			return kind_names[i].name;
	}
	return "?";
}

/* "<what> <first 64 bytes of arg>" as a heap string. */
static char *
fmt_error(const char *what, const char *arg, size_t arg_len)
{
	return xasprintf("%s %.*s", what, (int)MIN(arg_len, 64u), arg);
}

static bool
kind_needs_header(enum re_kind k)
{
	return k == RE_KIND_HEADER || k == RE_KIND_RAW_HEADER || k == RE_KIND_MIME_HEADER;
}

/* Applies the flag letters of text[from..to); -1 on an unknown letter. */
static int
parse_flags(const char *t, size_t from, size_t to, struct re_atom *atom, int *kind_r,
    char **error_r)
{
	for (size_t i = from; i < to; i++) {
		const char *kl = strchr(kind_letters, t[i]);
		switch (t[i]) {
		case 'i': atom->flags |= RE_F_CASELESS; continue;
		case 'm': atom->flags |= RE_F_MULTILINE; continue;
		case 's': atom->flags |= RE_F_DOTALL; continue;
		case 'x': atom->flags |= RE_F_EXTENDED; continue;
		case 'u': atom->flags |= RE_F_UTF8; continue;
		case 'r': atom->flags |= RE_F_RAW; continue;
		case 'A': atom->flags |= RE_F_COUNT; continue;
		case 'S': atom->flags |= RE_F_STRONG; continue;
		case 'O': case 'L': case 'o': case 'T':
			continue;
		default:
			break;
		}
		if (kl != NULL && t[i] != '\0') {
			*kind_r = (int)letter_kinds[kl - kind_letters];
			continue;
		}
		*error_r = fmt_error("unknown regexp flag", t + i, 1);
		return -1;
	}
	return 0;
}

static int
parse_type(const char *t, size_t len, int *kind_r, char **error_r)
{
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++) {
		if (strlen(kind_names[i].name) == len && memcmp(kind_names[i].name, t, len) == 0) {
			*kind_r = (int)kind_names[i].kind;
			return 0;
		}
	}
	*error_r = fmt_error("unsupported regexp type", t, len);
	return -1;
}

/* Splits off a trailing {type}; returns the end of the flags. */
static int
split_type(const char *text, size_t len, size_t *flags_end_r, int *kind_r, char **error_r)
{
	*flags_end_r = len;
	if (len == 0 || text[len - 1] != '}')
		return 0;
	size_t o;
	/* the {type} is the last brace group: search backwards */
	for (o = len - 1; o > 0 && text[o] != '{'; o--)
		;
	if (text[o] != '{' || o == 0 || text[o - 1] == '\\') {
		*error_r = xstrdup("bad {type}");
		return -1;
	}
	*flags_end_r = o;
	return parse_type(text + o + 1, len - o - 2, kind_r, error_r);
}

int
re_atom_parse(const char *text, size_t len, struct re_atom *atom, char **error_r)
{
	size_t start = 0, flags_end, slash;
	int kind = -1;

	memset(atom, 0, sizeof(*atom));
	if (len > 0 && text[0] != '/') {
		const char *eq = memchr(text, '=', len);
		if (eq == NULL || eq == text) {
			*error_r = xstrdup("not a regexp");
			return -1;
		}
		start = (size_t)(eq - text) + 1;
	}
	if (split_type(text, len, &flags_end, &kind, error_r) < 0)
		return -1;
	for (slash = flags_end; slash > start + 1 && text[slash - 1] != '/'; slash--)
		;
	if (slash <= start + 1 || text[start] != '/') {
		*error_r = fmt_error("bad regexp", text, len);
		return -1;
	}
	if (parse_flags(text, slash, flags_end, atom, &kind, error_r) < 0)
		return -1;
	if (kind < 0)
		kind = start > 0 ? (int)RE_KIND_HEADER : -1;
	if (kind < 0) {
		*error_r = fmt_error("unknown type (add {type}) of regexp", text, len);
		return -1;
	}
	atom->kind = (enum re_kind)kind;
	if (kind_needs_header(atom->kind) && start == 0) {
		*error_r = fmt_error("a header name (Name=/re/) is needed by", text, len);
		return -1;
	}
	if (start > 0 && kind_needs_header(atom->kind))
		atom->header = xstrndup(text, start - 1);
	atom->pattern = xstrndup(text + start + 1, slash - 1 - (start + 1));
	return 0;
}

char *
re_atom_key(const struct re_atom *atom)
{
	const char *h = atom->header != NULL ? atom->header : "";
	size_t n = strlen(atom->pattern) + strlen(h) + 32;
	char *key = xmalloc(n);

	snprintf(key, n, "%d:%x:%s:%s", (int)atom->kind, atom->flags, h, atom->pattern);
	return key;
}

static const struct {
	const char *name;
	enum re_func func;
	bool needs_arg;
} funcs[] = {
	{ "header_exists", RE_FN_HEADER_EXISTS, true },
	{ "has_content_part", RE_FN_HAS_CONTENT_PART, true },
	{ "is_html_balanced", RE_FN_IS_HTML_BALANCED, false },
	{ "has_only_html_part", RE_FN_HAS_ONLY_HTML_PART, false },
	{ "content_type_is_type", RE_FN_CONTENT_TYPE_IS_TYPE, true },
	{ "content_type_is_subtype", RE_FN_CONTENT_TYPE_IS_SUBTYPE, true },
	{ "has_html_tag", RE_FN_HAS_HTML_TAG, true },
};

/* First quoted or bare argument of "(...)" at args[0..len). */
static char *
first_arg(const char *args, size_t len)
{
	struct str s = str_trim(str_make(args, len));
	size_t i;

	if (s.len == 0)
		return NULL;
	if (s.ptr[0] == '\'' || s.ptr[0] == '"') {
		for (i = 1; i < s.len && s.ptr[i] != s.ptr[0]; i++)
			;
		return xstrndup(s.ptr + 1, i - 1);
	}
	for (i = 0; i < s.len && s.ptr[i] != ','; i++)
		;
	s = str_trim(str_make(s.ptr, i));
	return xstrndup(s.ptr, s.len);
}

int
re_func_parse(const char *text, size_t len, struct re_operand *op, char **error_r)
{
	const char *paren = memchr(text, '(', len);
	size_t nlen = paren != NULL ? (size_t)(paren - text) : len;

	memset(op, 0, sizeof(*op));
	op->type = RE_OP_FUNC;
	for (size_t i = 0; i < ARRAY_SIZE(funcs); i++) {
		if (strlen(funcs[i].name) != nlen || memcmp(funcs[i].name, text, nlen) != 0)
			continue;
		op->func = funcs[i].func;
		if (paren != NULL && len > nlen + 1)
			op->arg = first_arg(paren + 1, len - nlen - 2);
		if (funcs[i].needs_arg && (op->arg == NULL || op->arg[0] == '\0')) {
			free(op->arg);
			op->arg = NULL;
			*error_r = fmt_error("an argument is needed by function", text, nlen);
			return -1;
		}
		return 0;
	}
	*error_r = fmt_error("unknown function", text, nlen);
	return -1;
}
