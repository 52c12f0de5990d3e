/*
 * symbols.h - the symbols the built-in checks insert: name, default weight,
 * group and description. The engine registers them; the config may
 * override them like any other symbol.
 */
#ifndef SCAN_SYMBOLS_H
#define SCAN_SYMBOLS_H

#include <stddef.h>

struct symbol_def {
	const char *name;
	double weight;
	const char *group;
	const char *description;
};

/* Built-in definition, or NULL. */
const struct symbol_def *symbol_def_find(const char *name);
/* The i-th built-in definition, NULL past the end. */
const struct symbol_def *symbol_builtin_at(size_t i);

#endif
