/*
 * expr.h - Rspamd rule expressions: parser and evaluator shared by regexp
 * rules and composites.
 *
 * Grammar (lowest precedence first):
 *   or     := and { ("|" | "||" | "or") and }
 *   and    := cmp { ("&" | "&&" | "and") cmp }
 *   cmp    := sum [ (">=" | ">" | "<=" | "<" | "==" | "!=") NUMBER ]
 *   sum    := unary { "+" unary }
 *   unary  := ("!" | "not") unary | "(" or ")" | ATOM
 * `A + B + C >= 2` counts: each atom contributes its value (0/1, or a count
 * for counting regexps). A bare sum without a comparison is true when the
 * sum is non-zero.
 *
 * Atoms are opaque to the parser: it only knows their shapes so that it can
 * find where one ends:
 *   - identifiers  [A-Za-z0-9_.-]+ with an optional policy prefix ~ - ^
 *     (composites read the prefix; it stays in the atom text),
 *   - regexps      [Header-Name=]/pattern/flags[{type}] where the pattern may
 *     hold spaces, operators, `\/` and `{m,n}` quantifiers,
 *   - functions    name(args) with balanced parentheses and quoted strings.
 * Each atom's text is handed to `atom_cb` at parse time; the opaque pointer
 * it returns is what expr_eval() later passes to `value_cb`.
 *
 * Expressions come from config files that may be hostile or broken, so
 * length, nesting depth and atom count are capped (EXPR_MAX_*).
 */
#ifndef SCAN_EXPR_H
#define SCAN_EXPR_H

#include <stddef.h>

#define EXPR_MAX_LEN   (256u * 1024u) /* bytes of expression text */
#define EXPR_MAX_DEPTH 64u            /* nesting of ( ) and ! */
#define EXPR_MAX_ATOMS 4096u

struct expr;

/*
 * Called once per atom occurrence, in text order. `atom` is not
 * NUL-terminated (use `len`). Returns 0 and sets *atom_data_r (may be NULL),
 * or -1 with a heap *error_r which becomes part of expr_parse's error.
 * When parsing fails, data already returned for earlier atoms is not handed
 * back: keep it somewhere you free yourself (a table indexed by the data).
 */
typedef int expr_atom_fn(const char *atom, size_t len, void *ud,
    void **atom_data_r, char **error_r);

/*
 * Parses `text`. Returns a heap expression or NULL with a heap *error_r
 * ("offset N: reason"). `atom_cb` may be NULL (atom data is then NULL).
 */
struct expr *expr_parse(const char *text, expr_atom_fn *atom_cb, void *ud,
    char **error_r);

/*
 * Evaluates with short-circuit `&` and `|`; `value_cb` gives each atom's
 * value (0 = no, 1 = yes, or a count). Result: `&`/`|`/`!`/comparisons
 * give 0 or 1; a lone atom or a sum gives its value. Non-zero = match.
 */
typedef double expr_value_fn(void *atom_data, void *ud);
double expr_eval(const struct expr *e, expr_value_fn *value_cb, void *ud);

/* Frees the tree (not the atom data: free it via the iterator first). */
void expr_free(struct expr **e);

/* Atoms in text order, 0 <= i < expr_atom_count(). */
size_t expr_atom_count(const struct expr *e);
void *expr_atom_data(const struct expr *e, size_t i);
/* The atom's text (NUL-terminated copy owned by the expression). */
const char *expr_atom_text(const struct expr *e, size_t i);

#endif
