/*
 * fuzz_expr.c - libFuzzer target for the rule expression parser.
 *
 * Expressions come from config files and Lua, which a site may copy from
 * anywhere, so the parser must reject any input cleanly. Each input is
 * parsed; on success every atom is checked to be a slice of the input
 * shape-wise (non-empty) and the tree is evaluated twice with atom values
 * derived from the atom index, which must give the same result (the
 * evaluator has no hidden state).
 */
#include "scan/expr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
atom_cb(const char *atom, size_t len, void *ud, void **data_r, char **error_r)
{
	size_t *n = ud;

	(void)error_r;
	if (len == 0 || atom == NULL)
		abort();
	*data_r = (void *)(uintptr_t)(++*n);
	return 0;
}

static double
value_cb(void *data, void *ud)
{
	uintptr_t i = (uintptr_t)data;

	(void)ud;
	return (double)(i % 3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *err = NULL;
	size_t n = 0, i;
	struct expr *e;

	memcpy(text, data, size);
	text[size] = '\0';
	e = expr_parse(text, atom_cb, &n, &err);
	if (e == NULL) {
		if (err == NULL)
			abort();
		free(err);
	} else {
		if (expr_atom_count(e) != n)
			abort();
		for (i = 0; i < n; i++) {
			if (expr_atom_text(e, i)[0] == '\0')
				abort();
		}
		if (expr_eval(e, value_cb, NULL) != expr_eval(e, value_cb, NULL))
			abort();
		expr_free(&e);
	}
	free(text);
	return 0;
}
