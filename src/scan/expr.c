/*
 * expr.c - parser and evaluator for Rspamd rule expressions (see expr.h).
 *
 * The parser is a plain recursive descent over a hand-written tokenizer.
 * The tokenizer is the delicate part: a regexp atom may contain every
 * operator character of the expression language, so atom boundaries are
 * decided by shape (a slash-delimited pattern with escapes and character
 * classes, a parenthesised argument list with quoted strings) before any
 * operator is looked for.
 *
 * The tree is stored as an array of nodes whose children are index ranges
 * into one shared array, so chains like `A | B | ... ` are one n-ary node
 * (no deep recursion on long flat expressions) and freeing is two free()
 * calls plus the atom texts. Recursion depth is bounded by EXPR_MAX_DEPTH,
 * which counts parentheses and negations, the only ways to nest.
 */
#include "scan/expr.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/xmalloc.h"

enum tok_kind {
	TOK_END,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_AND,
	TOK_OR,
	TOK_NOT,
	TOK_PLUS,
	TOK_CMP,
	TOK_NUMBER,
	TOK_ATOM,
};

enum cmp_op { CMP_GE, CMP_GT, CMP_LE, CMP_LT, CMP_EQ, CMP_NE };

enum node_kind { NODE_ATOM, NODE_CONST, NODE_NOT, NODE_AND, NODE_OR, NODE_SUM, NODE_CMP };

struct token {
	enum tok_kind kind;
	enum cmp_op cmp;
	double num;
	size_t start, len;
};

struct node {
	enum node_kind kind;
	enum cmp_op cmp;
	double num;
	size_t atom;       /* NODE_ATOM: index into atoms */
	size_t first_kid;  /* index into kids */
	size_t n_kids;
};

struct expr_atom {
	char *text;
	void *data;
};

struct expr {
	struct node *nodes;
	size_t n_nodes, nodes_cap;
	size_t *kids;
	size_t n_kids, kids_cap;
	struct expr_atom *atoms;
	size_t n_atoms, atoms_cap;
	size_t root;
};

struct parser {
	const char *text;
	size_t len, pos;
	struct token tok;  /* current (lookahead) token */
	unsigned depth;
	struct expr *e;
	expr_atom_fn *atom_cb;
	void *ud;
	char *error;
};

static void PRINTF_LIKE(3, 4)
parser_fail(struct parser *p, size_t at, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (p->error != NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->error = xasprintf("offset %zu: %s", at, msg);
}

static bool
is_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static bool
is_flag_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '$';
}

/* Index just past the closing '/' of a pattern starting at `i` (on '/'), or 0. */
static size_t
scan_pattern(const char *s, size_t len, size_t i)
{
	bool in_class = false;

	for (i++; i < len; i++) {
		char c = s[i];
		if (c == '\\') {
			i++;
			continue;
		}
		if (in_class) {
			if (c == ']')
				in_class = false;
			continue;
		}
		if (c == '[') {
			in_class = true;
			/* "[]...]" and "[^]...]": a leading ']' is a literal */
			if (i + 1 < len && s[i + 1] == '^')
				i++;
			if (i + 1 < len && s[i + 1] == ']')
				i++;
		} else if (c == '/') {
			return i + 1;
		}
	}
	return 0;
}

/* Rest of a regexp atom after its pattern: flags and an optional {type}. */
static size_t
scan_regexp_tail(struct parser *p, size_t i)
{
	const char *s = p->text;

	while (i < p->len && is_flag_char(s[i]))
		i++;
	if (i < p->len && s[i] == '{') {
		size_t j = i + 1;
		while (j < p->len && (is_ident_char(s[j])))
			j++;
		if (j >= p->len || s[j] != '}') {
			parser_fail(p, i, "unterminated {type} of a regexp");
			return 0;
		}
		i = j + 1;
	}
	return i;
}

static size_t
scan_regexp(struct parser *p, size_t slash)
{
	size_t end = scan_pattern(p->text, p->len, slash);

	if (end == 0) {
		parser_fail(p, slash, "unterminated regexp");
		return 0;
	}
	return scan_regexp_tail(p, end);
}

/* Index just past the ')' matching the '(' at `i`, or 0. */
static size_t
scan_call(struct parser *p, size_t i)
{
	const char *s = p->text;
	unsigned level = 0;
	size_t open = i;

	for (; i < p->len; i++) {
		char c = s[i];
		if (c == '\'' || c == '"') {
			for (i++; i < p->len && s[i] != c; i++) {
				if (s[i] == '\\')
					i++;
			}
			if (i >= p->len)
				break;
		} else if (c == '(') {
			if (++level > EXPR_MAX_DEPTH) {
				parser_fail(p, i, "function arguments nested too deep");
				return 0;
			}
		} else if (c == ')') {
			if (--level == 0)
				return i + 1;
		}
	}
	parser_fail(p, open, "unterminated function call");
	return 0;
}

static bool
word_is(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && memcmp(s, w, len) == 0;
}

/* Classifies an identifier-shaped word: keyword, number or atom. */
static void
classify_word(struct parser *p, struct token *t)
{
	const char *w = p->text + t->start;
	size_t i;
	char buf[64];

	if (word_is(w, t->len, "and")) {
		t->kind = TOK_AND;
		return;
	}
	if (word_is(w, t->len, "or")) {
		t->kind = TOK_OR;
		return;
	}
	if (word_is(w, t->len, "not")) {
		t->kind = TOK_NOT;
		return;
	}
	for (i = 0; i < t->len; i++) {
		if (!((w[i] >= '0' && w[i] <= '9') || w[i] == '.'))
			return;
	}
	if (t->len >= sizeof(buf) || w[0] == '.')
		return;
	memcpy(buf, w, t->len);
	buf[t->len] = '\0';
	char *end;
	double v = strtod(buf, &end);
	if (*end == '\0') {
		t->kind = TOK_NUMBER;
		t->num = v;
	}
}

/* An atom that starts with an identifier character or a policy prefix. */
static void
lex_word(struct parser *p, struct token *t)
{
	const char *s = p->text;
	size_t i = p->pos;

	if (s[i] == '~' || s[i] == '^')
		i++;
	while (i < p->len && is_ident_char(s[i]))
		i++;
	if (i == p->pos || (i == p->pos + 1 && !is_ident_char(s[p->pos]))) {
		parser_fail(p, p->pos, "unexpected character '%c'", s[p->pos]);
		return;
	}
	t->kind = TOK_ATOM;
	if (i + 1 < p->len && s[i] == '=' && s[i + 1] == '/') {
		i = scan_regexp(p, i + 1);
	} else if (i < p->len && s[i] == '(') {
		i = scan_call(p, i);
	} else {
		t->len = i - p->pos;
		classify_word(p, t);
	}
	if (i != 0)
		t->len = i - p->pos;
}

static void
lex_operator(struct parser *p, struct token *t)
{
	const char *s = p->text + p->pos;
	size_t left = p->len - p->pos;
	char c0 = s[0], c1 = left > 1 ? s[1] : '\0';

	t->len = 1;
	switch (c0) {
	case '(': t->kind = TOK_LPAREN; return;
	case ')': t->kind = TOK_RPAREN; return;
	case '+': t->kind = TOK_PLUS; return;
	case '&':
	case '|':
		t->kind = c0 == '&' ? TOK_AND : TOK_OR;
		t->len = c1 == c0 ? 2 : 1;
		return;
	case '!':
		if (c1 == '=') {
			t->kind = TOK_CMP;
			t->cmp = CMP_NE;
			t->len = 2;
		} else {
			t->kind = TOK_NOT;
		}
		return;
	case '>':
	case '<':
		t->kind = TOK_CMP;
		t->len = c1 == '=' ? 2 : 1;
		if (c0 == '>')
			t->cmp = c1 == '=' ? CMP_GE : CMP_GT;
		else
			t->cmp = c1 == '=' ? CMP_LE : CMP_LT;
		return;
	case '=':
		if (c1 == '=') {
			t->kind = TOK_CMP;
			t->cmp = CMP_EQ;
			t->len = 2;
			return;
		}
		break;
	default:
		break;
	}
	t->len = 0;
	lex_word(p, t);
}

/* Reads the next token into p->tok; TOK_END on error too (p->error set). */
static void
next_token(struct parser *p)
{
	struct token *t = &p->tok;

	while (p->pos < p->len && (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' ||
	    p->text[p->pos] == '\r' || p->text[p->pos] == '\n'))
		p->pos++;
	memset(t, 0, sizeof(*t));
	t->start = p->pos;
	if (p->error != NULL || p->pos >= p->len) {
		t->kind = TOK_END;
		return;
	}
	if (p->text[p->pos] == '/') {
		size_t end = scan_regexp(p, p->pos);
		t->kind = TOK_ATOM;
		t->len = end > p->pos ? end - p->pos : 0;
	} else {
		lex_operator(p, t);
	}
	if (p->error != NULL) {
		t->kind = TOK_END;
		return;
	}
	p->pos += t->len;
}

static size_t
add_node(struct parser *p, enum node_kind kind)
{
	struct expr *e = p->e;

	e->nodes = xgrow(e->nodes, &e->nodes_cap, e->n_nodes + 1, sizeof(*e->nodes));
	memset(&e->nodes[e->n_nodes], 0, sizeof(*e->nodes));
	e->nodes[e->n_nodes].kind = kind;
	return e->n_nodes++;
}

/* A node of `kind` over the children collected in kids[0..n). */
static size_t
add_nary(struct parser *p, enum node_kind kind, const size_t *kids, size_t n)
{
	struct expr *e = p->e;
	size_t id = add_node(p, kind);

	e->kids = xgrow(e->kids, &e->kids_cap, e->n_kids + n, sizeof(*e->kids));
	memcpy(&e->kids[e->n_kids], kids, n * sizeof(*kids));
	e->nodes[id].first_kid = e->n_kids;
	e->nodes[id].n_kids = n;
	e->n_kids += n;
	return id;
}

static size_t
add_atom(struct parser *p, const struct token *t)
{
	struct expr *e = p->e;
	void *data = NULL;
	char *err = NULL;

	if (e->n_atoms >= EXPR_MAX_ATOMS) {
		parser_fail(p, t->start, "too many atoms (max %u)", EXPR_MAX_ATOMS);
		return 0;
	}
	if (p->atom_cb != NULL &&
	    p->atom_cb(p->text + t->start, t->len, p->ud, &data, &err) < 0) {
		parser_fail(p, t->start, "%.*s: %s", (int)MIN(t->len, 80u),
		    p->text + t->start, err != NULL ? err : "bad atom");
		free(err);
		return 0;
	}
	e->atoms = xgrow(e->atoms, &e->atoms_cap, e->n_atoms + 1, sizeof(*e->atoms));
	e->atoms[e->n_atoms].text = xstrndup(p->text + t->start, t->len);
	e->atoms[e->n_atoms].data = data;
	size_t id = add_node(p, NODE_ATOM);
	e->nodes[id].atom = e->n_atoms++;
	return id;
}

static size_t parse_or(struct parser *p);

static size_t
parse_unary(struct parser *p)
{
	struct token t = p->tok;
	size_t id = 0, kid;

	switch (t.kind) {
	case TOK_NOT:
	case TOK_LPAREN:
		if (++p->depth > EXPR_MAX_DEPTH) {
			parser_fail(p, t.start, "nested too deep (max %u)", EXPR_MAX_DEPTH);
			return 0;
		}
		next_token(p);
		if (t.kind == TOK_NOT) {
			kid = parse_unary(p);
			id = add_nary(p, NODE_NOT, &kid, 1);
		} else {
			id = parse_or(p);
			if (p->error == NULL && p->tok.kind != TOK_RPAREN)
				parser_fail(p, p->tok.start, "expected ')'");
			next_token(p);
		}
		p->depth--;
		return id;
	case TOK_ATOM:
		next_token(p);
		return add_atom(p, &t);
	case TOK_NUMBER:
		next_token(p);
		id = add_node(p, NODE_CONST);
		p->e->nodes[id].num = t.num;
		return id;
	case TOK_END:
		parser_fail(p, t.start, "unexpected end of expression");
		return 0;
	default:
		parser_fail(p, t.start, "unexpected operator");
		return 0;
	}
}

/*
 * Collects operands separated by `sep` into an n-ary node of `kind`; a
 * single operand is returned as is. Operands are parsed by `sub`.
 */
static size_t
parse_list(struct parser *p, enum tok_kind sep, enum node_kind kind,
    size_t (*sub)(struct parser *))
{
	size_t first = sub(p);
	size_t *kids, n = 1, cap = 0;

	if (p->error != NULL || p->tok.kind != sep)
		return first;
	kids = xgrow(NULL, &cap, 4, sizeof(*kids));
	kids[0] = first;
	while (p->error == NULL && p->tok.kind == sep) {
		next_token(p);
		size_t k = sub(p);
		kids = xgrow(kids, &cap, n + 1, sizeof(*kids));
		kids[n++] = k;
	}
	size_t id = p->error == NULL ? add_nary(p, kind, kids, n) : 0;
	free(kids);
	return id;
}

static size_t
parse_sum(struct parser *p)
{
	return parse_list(p, TOK_PLUS, NODE_SUM, parse_unary);
}

static size_t
parse_cmp(struct parser *p)
{
	size_t left = parse_sum(p);

	if (p->error != NULL || p->tok.kind != TOK_CMP)
		return left;
	enum cmp_op op = p->tok.cmp;
	next_token(p);
	if (p->error != NULL)
		return 0;
	if (p->tok.kind != TOK_NUMBER) {
		parser_fail(p, p->tok.start, "expected a number after a comparison");
		return 0;
	}
	double num = p->tok.num;
	next_token(p);
	size_t id = add_nary(p, NODE_CMP, &left, 1);
	p->e->nodes[id].cmp = op;
	p->e->nodes[id].num = num;
	return id;
}

static size_t
parse_and(struct parser *p)
{
	return parse_list(p, TOK_AND, NODE_AND, parse_cmp);
}

static size_t
parse_or(struct parser *p)
{
	return parse_list(p, TOK_OR, NODE_OR, parse_and);
}

struct expr *
expr_parse(const char *text, expr_atom_fn *atom_cb, void *ud, char **error_r)
{
	struct parser p;

	*error_r = NULL;
	memset(&p, 0, sizeof(p));
	p.text = text;
	p.len = strlen(text);
	p.atom_cb = atom_cb;
	p.ud = ud;
	if (p.len > EXPR_MAX_LEN) {
		*error_r = xstrdup("offset 0: expression too long");
		return NULL;
	}
	p.e = xcalloc(1, sizeof(*p.e));
	next_token(&p);
	if (p.error == NULL)
		p.e->root = parse_or(&p);
	if (p.error == NULL && p.tok.kind != TOK_END)
		parser_fail(&p, p.tok.start, "unexpected token");
	if (p.error != NULL) {
		*error_r = p.error;
		expr_free(&p.e);
		return NULL;
	}
	return p.e;
}

static double
eval_node(const struct expr *e, size_t id, expr_value_fn *value_cb, void *ud)
{
	const struct node *n = &e->nodes[id];
	const size_t *kids = n->n_kids > 0 ? e->kids + n->first_kid : NULL;
	double v = 0;
	size_t i;

	switch (n->kind) {
	case NODE_ATOM:
		return value_cb(e->atoms[n->atom].data, ud);
	case NODE_CONST:
		return n->num;
	case NODE_NOT:
		return eval_node(e, kids[0], value_cb, ud) == 0 ? 1 : 0;
	case NODE_AND:
		for (i = 0; i < n->n_kids; i++) {
			if (eval_node(e, kids[i], value_cb, ud) == 0)
				return 0;
		}
		return 1;
	case NODE_OR:
		for (i = 0; i < n->n_kids; i++) {
			if (eval_node(e, kids[i], value_cb, ud) != 0)
				return 1;
		}
		return 0;
	case NODE_SUM:
		for (i = 0; i < n->n_kids; i++)
			v += eval_node(e, kids[i], value_cb, ud);
		return v;
	case NODE_CMP:
		v = eval_node(e, kids[0], value_cb, ud);
		switch (n->cmp) {
		case CMP_GE: return v >= n->num;
		case CMP_GT: return v > n->num;
		case CMP_LE: return v <= n->num;
		case CMP_LT: return v < n->num;
		case CMP_EQ: return v == n->num;
		case CMP_NE: return v != n->num;
		}
	}
	return 0;
}

double
expr_eval(const struct expr *e, expr_value_fn *value_cb, void *ud)
{
	if (e == NULL || e->n_nodes == 0)
		return 0;
	return eval_node(e, e->root, value_cb, ud);
}

void
expr_free(struct expr **ep)
{
	struct expr *e = *ep;
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n_atoms; i++)
		free(e->atoms[i].text);
	free(e->atoms);
	free(e->nodes);
	free(e->kids);
	free(e);
	*ep = NULL;
}

size_t
expr_atom_count(const struct expr *e)
{
	return e->n_atoms;
}

void *
expr_atom_data(const struct expr *e, size_t i)
{
	return i < e->n_atoms ? e->atoms[i].data : NULL;
}

const char *
expr_atom_text(const struct expr *e, size_t i)
{
	return i < e->n_atoms ? e->atoms[i].text : NULL;
}
