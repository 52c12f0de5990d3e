/*
 * symbols.h - the registry of symbols the built-in checks can insert:
 * name, default weight, group and description.
 *
 * Weights may be overridden from the config: a `symbols { NAME { weight =
 * N; } }` section, or `group "NAME" { symbols { ... } }` as Rspamd's
 * groups.conf and scores.d files write them.
 */
#ifndef SCAN_SYMBOLS_H
#define SCAN_SYMBOLS_H

struct config;

struct symbol_def {
	const char *name;
	double weight;
	const char *group;
	const char *description;
};

/* Built-in definition, or NULL. */
const struct symbol_def *symbol_def_find(const char *name);

/* Weight for `name` under `cfg` (config override, else built-in, else 0). */
double symbol_weight(const struct config *cfg, const char *name);
/* Description (config, else built-in), or NULL. */
const char *symbol_description(const struct config *cfg, const char *name);

#endif
