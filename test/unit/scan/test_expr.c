/* Unit tests for scan/expr: tokenizing atoms, precedence, counting, limits. */
#include "scan/expr.h"
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Atom data = 1-based slot in `vals` (by letter for one-letter atoms). */
struct env {
	char names[32][256];
	size_t n;
	double vals[32];
	unsigned calls;
};

static int
atom_cb(const char *atom, size_t len, void *ud, void **data_r, char **error_r)
{
	struct env *env = ud;

	if (len >= 5 && memcmp(atom, "BAD_", 4) == 0) {
		char *e = malloc(16);
		memcpy(e, "bad atom", 9);
		*error_r = e;
		return -1;
	}
	if (env->n >= 32 || len >= 256)
		return -1;
	memcpy(env->names[env->n], atom, len);
	env->names[env->n][len] = '\0';
	env->n++;
	/* single letters map to their own slot: A = vals[0], B = vals[1] ... */
	if (len == 1 && atom[0] >= 'A' && atom[0] <= 'Z')
		*data_r = (void *)(uintptr_t)(atom[0] - 'A' + 1);
	else
		*data_r = (void *)(uintptr_t)(27 + env->n % 5);
	return 0;
}

static double
value_cb(void *data, void *ud)
{
	struct env *env = ud;
	size_t i = (uintptr_t)data - 1;

	env->calls++;
	return env->vals[i];
}

/* Parses `text` with atom values `vals` (in atom order); returns result. */
static double
run(const char *text, const double *vals, size_t n_vals)
{
	struct env env;
	char *err = NULL;
	struct expr *e;
	double r;

	memset(&env, 0, sizeof(env));
	e = expr_parse(text, atom_cb, &env, &err);
	if (e == NULL) {
		printf("  parse error for %s: %s\n", text, err);
		free(err);
		return -1000;
	}
	memcpy(env.vals, vals, n_vals * sizeof(*vals));
	r = expr_eval(e, value_cb, &env);
	expr_free(&e);
	return r;
}

static bool
atoms_are(const char *text, const char *const *want, size_t n)
{
	char *err = NULL;
	struct expr *e = expr_parse(text, NULL, NULL, &err);
	bool ok;
	size_t i;

	if (e == NULL) {
		printf("  parse error for %s: %s\n", text, err);
		free(err);
		return false;
	}
	ok = expr_atom_count(e) == n;
	for (i = 0; ok && i < n; i++) {
		if (strcmp(expr_atom_text(e, i), want[i]) != 0) {
			printf("  atom %zu: got [%s] want [%s]\n", i, expr_atom_text(e, i),
			    want[i]);
			ok = false;
		}
	}
	expr_free(&e);
	return ok;
}

static bool
fails(const char *text)
{
	char *err = NULL;
	struct env env;
	struct expr *e;

	memset(&env, 0, sizeof(env));
	e = expr_parse(text, atom_cb, &env, &err);
	if (e != NULL) {
		expr_free(&e);
		return false;
	}
	test_assert(err != NULL && strncmp(err, "offset ", 7) == 0);
	free(err);
	return true;
}

static void
test_atoms(void)
{
	test_begin("atom shapes");
	{
		const char *w[] = { "Subject=/viagra|cialis & co/i{header}",
			"/click (here){1,3} \\/x/isu{sa_body}", "SYM_A" };
		test_assert(atoms_are("Subject=/viagra|cialis & co/i{header} & "
		    "/click (here){1,3} \\/x/isu{sa_body} | !SYM_A", w, 3));
	}
	{
		const char *w[] = { "has_content_part('text/html')",
			"header_exists(\"X-A)(\")", "is_html_balanced()" };
		test_assert(atoms_are("has_content_part('text/html') and not "
		    "header_exists(\"X-A)(\") or is_html_balanced()", w, 3));
	}
	{
		const char *w[] = { "~SYM.A", "-SYM-B", "^C_1" };
		test_assert(atoms_are("~SYM.A & (-SYM-B || ^C_1)", w, 3));
	}
	{
		const char *w[] = { "/a[/]b/", "X-H=/[]/]x/H", "/x/{url}" };
		test_assert(atoms_are("/a[/]b/ & X-H=/[]/]x/H & /x/{url}", w, 3));
	}
	{
		const char *w[] = { "A", "B" };
		test_assert(atoms_are("A&&B", w, 2));
		test_assert(atoms_are("(A)||(B)", w, 2));
		test_assert(atoms_are("A == 1 & B", w, 2));
	}
	test_end();
}

static void
test_logic(void)
{
	const double t[] = { 1, 0, 1 };
	const double c[] = { 3, 0, 1, 1 };

	test_begin("operators and precedence");
	test_assert(run("A & B", t, 3) == 0);
	test_assert(run("A | B", t, 3) == 1);
	test_assert(run("!B", t, 3) == 1);
	test_assert(run("not A", t, 3) == 0);
	test_assert(run("A and B or C", t, 3) == 1);
	test_assert(run("A & (B | C)", t, 3) == 1);
	test_assert(run("A & !(B | C)", t, 3) == 0);
	test_assert(run("B | A & C", t, 3) == 1);   /* & binds tighter */
	test_assert(run("!B & !B", t, 3) == 1);
	test_assert(run("!!A", t, 3) == 1);
	test_assert(run("A", c, 4) == 3);           /* lone count kept */
	test_end();

	test_begin("counting");
	test_assert(run("A + B + C >= 2", t, 3) == 1);
	test_assert(run("A + B + C >= 3", t, 3) == 0);
	test_assert(run("A + B + C > 1", t, 3) == 1);
	test_assert(run("A + B + C < 2", t, 3) == 0);
	test_assert(run("A + B + C <= 2", t, 3) == 1);
	test_assert(run("A + B + C == 2", t, 3) == 1);
	test_assert(run("A + B + C != 2", t, 3) == 0);
	test_assert(run("A + B >= 3", c, 4) == 1);  /* A counts 3 */
	test_assert(run("A + B + C >= 2 & D", t, 3) == 0); /* cmp over & */
	test_assert(run("B | A + C >= 2", t, 3) == 1);
	test_assert(run("!B + C >= 2", t, 3) == 1); /* ! over + */
	test_assert(run("A + B", t, 3) == 1);
	test_end();
}

static double short_vals[3] = { 0, 1, 1 };

static void
test_short_circuit(void)
{
	struct env env;
	char *err = NULL;
	struct expr *e;

	test_begin("short-circuit");
	memset(&env, 0, sizeof(env));
	e = expr_parse("A & B & C", atom_cb, &env, &err);
	test_assert(e != NULL);
	memcpy(env.vals, short_vals, sizeof(short_vals));
	test_assert(expr_eval(e, value_cb, &env) == 0);
	test_assert(env.calls == 1);
	expr_free(&e);
	memset(&env, 0, sizeof(env));
	e = expr_parse("B | A | C", atom_cb, &env, &err);
	env.vals[1] = 1;
	test_assert(expr_eval(e, value_cb, &env) == 1);
	test_assert(env.calls == 1);
	test_assert(expr_atom_data(e, 2) == (void *)(uintptr_t)3);
	test_assert(expr_atom_data(e, 3) == NULL);
	expr_free(&e);
	test_assert(e == NULL);
	test_end();
}

static void
test_errors(void)
{
	char *big;
	size_t i, n;

	test_begin("syntax errors and limits");
	test_assert(fails(""));
	test_assert(fails("A &"));
	test_assert(fails("(A | B"));
	test_assert(fails("A B"));
	test_assert(fails("A | )"));
	test_assert(fails("/unterminated"));
	test_assert(fails("H=/x/i{header"));
	test_assert(fails("f('x'"));
	test_assert(fails("A + B >= C"));
	test_assert(fails("A @ B"));
	test_assert(fails("~"));
	test_assert(fails("A & BAD_ATOM"));
	n = EXPR_MAX_DEPTH + 2;
	big = malloc(2 * n + 2);
	for (i = 0; i < n; i++)
		big[i] = '(';
	big[n] = 'A';
	for (i = 0; i < n; i++)
		big[n + 1 + i] = ')';
	big[2 * n + 1] = '\0';
	test_assert(fails(big));
	memset(big, '!', 2 * n);
	test_assert(fails(big));
	free(big);
	n = EXPR_MAX_LEN + 10;
	big = malloc(n + 1);
	memset(big, 'A', n);
	big[n] = '\0';
	test_assert(fails(big));
	free(big);
	/* many atoms: beyond EXPR_MAX_ATOMS fails, without a callback */
	n = (EXPR_MAX_ATOMS + 1) * 4;
	big = malloc(n + 1);
	for (i = 0; i + 4 <= n; i += 4)
		memcpy(big + i, "A | ", 4);
	big[n - 3] = '\0';
	char *err = NULL;
	test_assert(expr_parse(big, NULL, NULL, &err) == NULL);
	free(err);
	free(big);
	test_end();
}

int
main(void)
{
	test_atoms();
	test_logic();
	test_short_circuit();
	test_errors();
	return test_exit();
}
