/*
 * engine_internal.h - the engine's data, shared by engine.c (registry,
 * ordering, running) and composites.c. Nothing outside src/scan/ includes it.
 */
#ifndef SCAN_ENGINE_INTERNAL_H
#define SCAN_ENGINE_INTERNAL_H

#include "scan/engine.h"

struct strmap;

struct engine_rule {
	struct rule_def def;     /* name copied */
	char **deps;
	size_t n_deps;
	size_t seq;              /* registration order, the last tie-break */
	int mark;                /* topological sort state */
};

struct engine_group {
	char *name;
	char *description;
	double max_score;        /* <= 0: no cap */
};

struct engine_composite;

struct scan_engine {
	struct config *cfg;
	struct symbol_info *symbols;   /* strings owned */
	size_t n_symbols, cap_symbols;
	struct strmap *symbol_index;   /* name -> index + 1 */
	struct engine_rule *rules;     /* sorted by finalize */
	size_t n_rules, cap_rules;
	struct engine_group *groups;
	size_t n_groups, cap_groups;
	struct engine_composite *composites;
	size_t n_composites, cap_composites;
	void *modules[ENGINE_SLOT_COUNT];
	void (*module_free[ENGINE_SLOT_COUNT])(void *);
};

const struct engine_group *engine_group_find(const struct scan_engine *eng, const char *name);

/* composites.c */
int composites_load_config(struct scan_engine *eng, char **error_r);
void composites_run(const struct scan_engine *eng, struct scan_task *task);
void composites_free(struct scan_engine *eng);

#endif
