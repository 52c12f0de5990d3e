/*
 * re_engine.h - regexp rules (`regexp { SYM { re = "..."; } }` and
 * config['regexp'] from Lua) compiled into Hyperscan databases, one per
 * scan kind (header, body, mime, url, ...), with a PCRE2 fallback for
 * patterns Hyperscan rejects and a disk cache of compiled databases.
 *
 * Life cycle (inside scan_engine_new, declared in scan/engine.h):
 * re_engine_init() reads the `regexp` section of cfg->root; Lua files may
 * then add rules with re_engine_add_rule(); re_engine_finalize() parses
 * every expression, compiles (or loads from <dbdir>/hs_cache) the
 * databases and registers one FILTER rule per symbol. Nothing per-process
 * is built there: the Hyperscan scratch is allocated on first scan in each
 * worker.
 */
#ifndef SCAN_RE_ENGINE_H
#define SCAN_RE_ENGINE_H

#include <stdbool.h>

struct scan_engine;
struct scan_task;
struct symbol_info;

/* Optional gate evaluated before the expression; false = rule skipped. */
typedef bool re_condition_fn(struct scan_task *task, void *ud);

/*
 * Adds (or replaces) the regexp rule `name` with expression `expr` and the
 * symbol's weight/group/description/flags from `si` (si->name is ignored;
 * `si` may be NULL for weight 0). Strings are copied; `cond_ud` is borrowed
 * and must outlive the engine. Only valid before re_engine_finalize().
 * The expression is checked in finalize; returns -1 with a heap *error_r
 * only for an obviously bad call (empty name or expression, after
 * finalize).
 */
int re_engine_add_rule(struct scan_engine *eng, const char *name, const char *expr,
    const struct symbol_info *si, re_condition_fn *condition, void *cond_ud,
    char **error_r);

struct re_engine_stats {
	unsigned rules;         /* regexp symbols registered */
	unsigned atoms;         /* distinct regexp atoms */
	unsigned hs_patterns;   /* compiled into Hyperscan databases */
	unsigned pcre_patterns; /* fell back to PCRE2 */
	unsigned dbs_compiled;  /* databases compiled in finalize */
	unsigned dbs_loaded;    /* databases loaded from the disk cache */
	unsigned dbs_cache_bad; /* cache files present but unusable */
	double finalize_seconds;
};

/* Figures from the last finalize; zeros when the module is absent. */
void re_engine_stats(const struct scan_engine *eng, struct re_engine_stats *stats_r);

#endif
