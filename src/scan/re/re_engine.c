/*
 * re_engine.c - the regexp module's glue to the rule engine: reading the
 * `regexp` config section, collecting rules added from Lua, and at
 * finalize turning every rule expression into operands (regexp atoms,
 * functions, other rules, plain symbols), compiling the atoms and
 * registering one FILTER rule per symbol.
 *
 * Identical regexp atoms of different rules are merged (same kind, flags,
 * header and pattern), so a pattern used by ten rules is scanned once.
 * Rules may name other regexp rules as atoms; a reference cycle would
 * recurse forever at scan time, so finalize rejects it.
 */
#include "scan/re/re_engine.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/strmap.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/expr.h"
#include "scan/re/re_internal.h"
#include "scan/task.h"

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
module_free(void *data)
{
	struct re_module *mod = data;

	if (mod == NULL)
		return;
	re_compile_free(mod);
	for (size_t i = 0; i < mod->n_rules; i++) {
		struct re_rule *r = &mod->rules[i];
		expr_free(&r->expr);
		free(r->name);
		free(r->expr_text);
		free(r->group);
		free(r->description);
	}
	for (size_t i = 0; i < mod->n_atoms; i++) {
		free(mod->atoms[i].pattern);
		free(mod->atoms[i].header);
	}
	for (size_t i = 0; i < mod->n_ops; i++) {
		free(mod->ops[i]->arg);
		free(mod->ops[i]);
	}
	free(mod->ops);
	free(mod->rules);
	free(mod->atoms);
	strmap_free(&mod->atom_index);
	strmap_free(&mod->rule_index);
	strmap_free(&mod->header_names);
	free(mod);
}

static struct re_module *
module_get(struct scan_engine *eng)
{
	struct re_module *mod = scan_engine_get_module(eng, ENGINE_SLOT_RE);

	if (mod != NULL)
		return mod;
	mod = xcalloc(1, sizeof(*mod));
	mod->eng = eng;
	mod->atom_index = strmap_new(false);
	mod->rule_index = strmap_new(false);
	mod->header_names = strmap_new(true);
	scan_engine_set_module(eng, ENGINE_SLOT_RE, mod, module_free);
	return mod;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

int
re_engine_add_rule(struct scan_engine *eng, const char *name, const char *expr,
    const struct symbol_info *si, re_condition_fn *condition, void *cond_ud,
    char **error_r)
{
	struct re_module *mod = module_get(eng);
	struct re_rule *r;
	size_t idx;

	if (name == NULL || name[0] == '\0' || expr == NULL || expr[0] == '\0') {
		*error_r = xasprintf("regexp rule %s: empty name or expression",
		    name != NULL ? name : "");
		return -1;
	}
	if (mod->finalized) {
		*error_r = xasprintf("regexp rule %s: added after the engine was built", name);
		return -1;
	}
	idx = (size_t)(uintptr_t)strmap_get(mod->rule_index, name);
	if (idx != 0) {
		r = &mod->rules[idx - 1];
		free(r->expr_text);
		free(r->group);
		free(r->description);
	} else {
		mod->rules = xgrow(mod->rules, &mod->cap_rules, mod->n_rules + 1,
		    sizeof(*mod->rules));
		r = &mod->rules[mod->n_rules];
		memset(r, 0, sizeof(*r));
		r->name = xstrdup(name);
		r->index = mod->n_rules++;
		strmap_put(mod->rule_index, name, (void *)(uintptr_t)mod->n_rules);
	}
	r->expr_text = xstrdup(expr);
	r->weight = si != NULL ? si->weight : 0;
	r->group = dup_or_null(si != NULL ? si->group : NULL);
	r->description = dup_or_null(si != NULL ? si->description : NULL);
	r->symbol_flags = si != NULL ? si->flags : 0;
	r->condition = condition;
	r->cond_ud = cond_ud;
	return 0;
}

/* One member of `regexp { }`: SYM = "expr" or SYM { re = ...; score = ...; }. */
static int
load_member(struct scan_engine *eng, const struct obj *o, char **error_r)
{
	struct symbol_info si = { .name = o->key };
	const char *re;
	double d;
	bool b;

	if (o->type == OBJ_STRING)
		return re_engine_add_rule(eng, o->key, o->v.s.ptr, NULL, NULL, NULL, error_r);
	if (o->type != OBJ_OBJECT)
		return 0;
	re = obj_get_string(obj_lookup(o, "re"));
	if (re == NULL) {
		*error_r = xasprintf("%s:%u: regexp rule %s has no string 're'",
		    o->file != NULL ? o->file : "config", o->line, o->key);
		return -1;
	}
	if (obj_get_double(obj_lookup(o, "score"), &d) == 0 ||
	    obj_get_double(obj_lookup(o, "weight"), &d) == 0)
		si.weight = d;
	si.description = obj_get_string(obj_lookup(o, "description"));
	si.group = obj_get_string(obj_lookup(o, "group"));
	if (obj_get_bool(obj_lookup(o, "one_shot"), &b) == 0 && b)
		si.flags |= SYMBOL_FLAG_ONE_SHOT;
	return re_engine_add_rule(eng, o->key, re, &si, NULL, NULL, error_r);
}

int
re_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	const struct obj *sec = cfg != NULL ? obj_lookup(cfg->root, "regexp") : NULL;

	(void)module_get(eng);
	if (sec == NULL || sec->type != OBJ_OBJECT)
		return 0;
	for (const struct obj *o = obj_first(sec); o != NULL; o = o->next) {
		if (o->key == NULL)
			continue;
		if (load_member(eng, o, error_r) < 0)
			return -1;
	}
	return 0;
}

struct parse_ctx {
	struct re_module *mod;
	struct re_rule *rule;
};

static struct re_operand *
new_op(struct re_module *mod, enum re_operand_type type)
{
	struct re_operand *op = xcalloc(1, sizeof(*op));

	op->type = type;
	mod->ops = xgrow(mod->ops, &mod->cap_ops, mod->n_ops + 1, sizeof(*mod->ops));
	mod->ops[mod->n_ops++] = op;
	return op;
}

static int
regexp_operand(struct parse_ctx *pc, const char *atom, size_t len, void **data_r,
    char **error_r)
{
	struct re_module *mod = pc->mod;
	struct re_atom a;
	char *key;
	size_t idx;

	if (re_atom_parse(atom, len, &a, error_r) < 0)
		return -1;
	key = re_atom_key(&a);
	idx = (size_t)(uintptr_t)strmap_get(mod->atom_index, key);
	if (idx == 0) {
		a.rule = pc->rule->name;
		mod->atoms = xgrow(mod->atoms, &mod->cap_atoms, mod->n_atoms + 1,
		    sizeof(*mod->atoms));
		mod->atoms[mod->n_atoms++] = a;
		idx = mod->n_atoms;
		strmap_put(mod->atom_index, key, (void *)(uintptr_t)idx);
		if (a.header != NULL)
			strmap_put(mod->header_names, a.header, (void *)1);
	} else {
		free(a.pattern);
		free(a.header);
	}
	free(key);
	struct re_operand *op = new_op(mod, RE_OP_REGEXP);
	op->index = idx - 1;
	*data_r = op;
	return 0;
}

static int
atom_cb(const char *atom, size_t len, void *ud, void **data_r, char **error_r)
{
	struct parse_ctx *pc = ud;
	size_t i = 0;
	struct re_operand tmp;

	while (i < len && atom[i] != '=' && atom[i] != '(' && atom[i] != '/')
		i++;
	if (i < len && (atom[i] == '/' || atom[i] == '='))
		return regexp_operand(pc, atom, len, data_r, error_r);
	if (i < len) {
		if (re_func_parse(atom, len, &tmp, error_r) < 0)
			return -1;
		struct re_operand *op = new_op(pc->mod, RE_OP_FUNC);
		*op = tmp;
		*data_r = op;
		return 0;
	}
	char *name = xstrndup(atom, len);
	size_t r = (size_t)(uintptr_t)strmap_get(pc->mod->rule_index, name);
	struct re_operand *op = new_op(pc->mod, r != 0 ? RE_OP_RULE : RE_OP_SYMBOL);
	if (r != 0) {
		op->index = r - 1;
		free(name);
	} else {
		op->arg = name;
	}
	*data_r = op;
	return 0;
}

/* Depth-first walk over rule references; -1 on a cycle. */
static int
check_cycles(struct re_module *mod, struct re_rule *r, char **error_r)
{
	if (r->mark == 2)
		return 0;
	if (r->mark == 1) {
		*error_r = xasprintf("regexp rule %s: refers to itself through other rules",
		    r->name);
		return -1;
	}
	r->mark = 1;
	for (size_t i = 0; i < expr_atom_count(r->expr); i++) {
		const struct re_operand *op = expr_atom_data(r->expr, i);
		if (op->type == RE_OP_RULE &&
		    check_cycles(mod, &mod->rules[op->index], error_r) < 0)
			return -1;
	}
	r->mark = 2;
	return 0;
}

static void
rule_run(struct scan_task *task, void *ud)
{
	struct re_rule *r = ud;

	if (re_rule_eval(r->mod, r, task) != 0)
		scan_task_insert(task, r->name, 1.0, NULL);
}

static void
register_rules(struct re_module *mod)
{
	for (size_t i = 0; i < mod->n_rules; i++) {
		struct re_rule *r = &mod->rules[i];
		struct symbol_info si = { r->name, r->weight, r->group, r->description,
			r->symbol_flags };
		struct rule_def rd = { r->name, RULE_STAGE_FILTER, 0, rule_run, r };

		r->mod = mod;
		scan_engine_add_symbol(mod->eng, &si);
		scan_engine_add_rule(mod->eng, &rd);
	}
}

static int
parse_rules(struct re_module *mod, char **error_r)
{
	for (size_t i = 0; i < mod->n_rules; i++) {
		struct re_rule *r = &mod->rules[i];
		struct parse_ctx pc = { mod, r };
		char *err = NULL;

		r->mod = mod;
		r->expr = expr_parse(r->expr_text, atom_cb, &pc, &err);
		if (r->expr == NULL) {
			*error_r = xasprintf("regexp rule %s: %s", r->name, err);
			free(err);
			return -1;
		}
	}
	for (size_t i = 0; i < mod->n_rules; i++) {
		if (check_cycles(mod, &mod->rules[i], error_r) < 0)
			return -1;
	}
	return 0;
}

int
re_engine_finalize(struct scan_engine *eng, char **error_r)
{
	struct re_module *mod = module_get(eng);
	double t0 = now_mono();

	if (mod->finalized)
		return 0;
	mod->finalized = true;
	if (parse_rules(mod, error_r) < 0 || re_compile_all(mod, error_r) < 0)
		return -1;
	register_rules(mod);
	mod->stats.rules = (unsigned)mod->n_rules;
	mod->stats.atoms = (unsigned)mod->n_atoms;
	mod->stats.finalize_seconds = now_mono() - t0;
	if (mod->n_rules > 0)
		log_info("re", NULL, "%zu regexp rules, %zu regexps (%u Hyperscan, %u PCRE2), "
		    "%u databases compiled, %u loaded from cache, %.3f s", mod->n_rules,
		    mod->n_atoms, mod->stats.hs_patterns, mod->stats.pcre_patterns,
		    mod->stats.dbs_compiled, mod->stats.dbs_loaded, mod->stats.finalize_seconds);
	return 0;
}

void
re_engine_stats(const struct scan_engine *eng, struct re_engine_stats *stats_r)
{
	const struct re_module *mod = scan_engine_get_module(eng, ENGINE_SLOT_RE);

	memset(stats_r, 0, sizeof(*stats_r));
	if (mod != NULL)
		*stats_r = mod->stats;
}
