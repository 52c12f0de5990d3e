/*
 * engine.h - the rule engine of one worker: every symbol the scanner knows
 * (weight, group, description, flags), every rule that can insert symbols
 * (C checks, regexp rules, Lua callbacks, maps), their stages, order and
 * dependencies, groups with score caps, and composites.
 *
 * An engine is built once per config in each worker (scan_engine_new) and
 * shared read-only by all tasks of that worker; a reload builds a new one.
 * Modules plug in at build time through the register functions below;
 * the order of registration does not matter, scan_engine_finalize() sorts
 * rules into stages, then priority (higher first), then dependencies.
 *
 * Per-symbol and per-group overrides come from the config after modules
 * registered their defaults: `symbols { NAME { weight; description; group;
 * one_shot; } }` and `group "G" { max_score = N; symbols { ... } }` (as
 * Rspamd's groups.conf and local.d/groups.conf write them), so a site's
 * local.d wins over a rule's own score.
 */
#ifndef SCAN_ENGINE_H
#define SCAN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct scan_engine;
struct scan_task;

enum rule_stage {
	RULE_STAGE_PREFILTER,   /* settings, white/black lists: may set a pre-result */
	RULE_STAGE_FILTER,      /* normal rules */
	RULE_STAGE_CLASSIFIER,  /* statistics (Bayes), after the filters */
	RULE_STAGE_POSTFILTER,  /* after composites: signing, history */
	RULE_STAGE_IDEMPOTENT,  /* must not change the result */
};

#define SYMBOL_FLAG_ONE_SHOT (1u << 0)  /* inserting again never raises the score */
#define SYMBOL_FLAG_MULTI    (1u << 1)  /* each insertion adds up */
#define SYMBOL_FLAG_IGNORE   (1u << 2)  /* test rule: inserted with score 0 */
#define SYMBOL_FLAG_VIRTUAL  (1u << 3)  /* inserted by another rule's callback */

struct symbol_info {
	const char *name;
	double weight;
	const char *group;        /* NULL = "ungrouped" */
	const char *description;  /* or NULL */
	unsigned flags;           /* SYMBOL_FLAG_* */
};

/*
 * A rule runs once per task in its stage and inserts whatever symbols it
 * finds with scan_task_insert(). `fn` must not block; it gets the task and
 * the `ud` given at registration. A rule is skipped when the task already
 * has a pre-result (unless pass_all) for FILTER rules, or when the task's
 * time budget is spent.
 */
typedef void rule_fn(struct scan_task *task, void *ud);

struct rule_def {
	const char *name;         /* usually the symbol it inserts */
	enum rule_stage stage;
	int priority;             /* higher runs first within a stage */
	rule_fn *fn;
	void *ud;
};

/*
 * Builds the engine for `cfg`: the built-in checks, then every module
 * (regexp, Lua, maps) that registered a builder below, then config
 * overrides. On error (a rule that does not compile, a Lua file with a
 * syntax error) returns NULL with a heap "FILE:LINE: reason" in *error_r.
 */
struct scan_engine *scan_engine_new(struct config *cfg, char **error_r);
void scan_engine_free(struct scan_engine **eng);

/* Registration (during scan_engine_new only). Strings are copied. */
void scan_engine_add_symbol(struct scan_engine *eng, const struct symbol_info *si);
void scan_engine_add_rule(struct scan_engine *eng, const struct rule_def *rd);
/* `rule` runs after the rule named `dep` (both by rule name). */
void scan_engine_add_dependency(struct scan_engine *eng, const char *rule, const char *dep);
/* Composite: `expr` over symbol names, e.g. "SYM_A & !SYM_B" (prefixes ~ - ^ as Rspamd). */
int scan_engine_add_composite(struct scan_engine *eng, const char *name, const char *expr,
    double weight, const char *description, const char *group, char **error_r);
/* Group settings (max_score <= 0 = no cap). */
void scan_engine_set_group(struct scan_engine *eng, const char *group, double max_score,
    const char *description);

/* Module data hung on the engine, freed with it: one slot per module. */
enum engine_slot { ENGINE_SLOT_LUA, ENGINE_SLOT_RE, ENGINE_SLOT_MAPS, ENGINE_SLOT_STAT,
	ENGINE_SLOT_GREYLIST, ENGINE_SLOT_COUNT };
void scan_engine_set_module(struct scan_engine *eng, enum engine_slot slot, void *data,
    void (*free_fn)(void *data));
void *scan_engine_get_module(const struct scan_engine *eng, enum engine_slot slot);

/* Lookups (used while scanning). NULL when unknown. */
const struct symbol_info *scan_engine_symbol(const struct scan_engine *eng, const char *name);
struct config *scan_engine_config(const struct scan_engine *eng);
/* Iterate symbols: i from 0 until NULL (for the controller's /symbols). */
const struct symbol_info *scan_engine_symbol_at(const struct scan_engine *eng, size_t i);

/*
 * Module builders, called by scan_engine_new in this order after the
 * built-in checks: maps (prefilters), regexp, Lua. Each returns 0 or -1
 * with a heap *error_r. The Lua builder may add regexp rules (config
 * ['regexp'] is filled by Lua files), so the regexp module compiles its
 * databases in a finalize hook called after all builders.
 */
int multimap_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);
int re_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);
int lua_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);
int re_engine_finalize(struct scan_engine *eng, char **error_r);

/*
 * Runs the stages on the task, in order; a stage whose rules started
 * asynchronous work (scan_task_pending_add) is complete only when that work
 * is done or the time budget ends it. Calls scan_task_finished() at the
 * end, possibly before returning (called by scan_task_process*).
 */
void scan_engine_start(const struct scan_engine *eng, struct scan_task *task);

/* Statistics (Bayes): registers the classifier; see src/scan/bayes/. */
int bayes_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);
/* Greylisting: see src/scan/greylist/. */
int greylist_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);

#endif
