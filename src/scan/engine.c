/*
 * engine.c - the symbol registry and rule runner.
 *
 * Built once per config in the main process (workers inherit it through
 * fork) and read-only afterwards, so tasks in all workers share it without
 * locks. Registration collects symbols and rules from the built-in checks
 * and the modules; finalize applies the site's overrides from the config
 * and orders rules: by stage, then dependencies, then priority, then the
 * order they were registered in, so a run is deterministic.
 */
#include "scan/engine.h"
#include "auth/auth.h"
#include "config/config.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/strmap.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/checks.h"
#include "scan/engine_internal.h"
#include "scan/symbols.h"
#include "scan/task.h"

#include <ev.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
xstrdup_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
scan_engine_add_symbol(struct scan_engine *eng, const struct symbol_info *si)
{
	size_t idx = (size_t)(uintptr_t)strmap_get(eng->symbol_index, si->name);
	struct symbol_info *s;

	if (idx != 0) {
		/* A later registration refines an earlier one (e.g. a score). */
		s = &eng->symbols[idx - 1];
		s->weight = si->weight;
		s->flags |= si->flags;
		if (si->description != NULL) {
			free((char *)s->description);
			s->description = xstrdup(si->description);
		}
		if (si->group != NULL) {
			free((char *)s->group);
			s->group = xstrdup(si->group);
		}
		return;
	}
	eng->symbols = xgrow(eng->symbols, &eng->cap_symbols, eng->n_symbols + 1,
	    sizeof(*eng->symbols));
	s = &eng->symbols[eng->n_symbols++];
	s->name = xstrdup(si->name);
	s->weight = si->weight;
	s->group = xstrdup_null(si->group);
	s->description = xstrdup_null(si->description);
	s->flags = si->flags;
	strmap_put(eng->symbol_index, s->name, (void *)(uintptr_t)eng->n_symbols);
}

void
scan_engine_add_rule(struct scan_engine *eng, const struct rule_def *rd)
{
	struct engine_rule *r;

	eng->rules = xgrow(eng->rules, &eng->cap_rules, eng->n_rules + 1, sizeof(*eng->rules));
	r = &eng->rules[eng->n_rules];
	memset(r, 0, sizeof(*r));
	r->def = *rd;
	r->def.name = xstrdup(rd->name);
	r->seq = eng->n_rules++;
}

void
scan_engine_add_dependency(struct scan_engine *eng, const char *rule, const char *dep)
{
	for (size_t i = 0; i < eng->n_rules; i++) {
		struct engine_rule *r = &eng->rules[i];

		if (strcmp(r->def.name, rule) == 0) {
			r->deps = xrealloc(r->deps, (r->n_deps + 1) * sizeof(*r->deps));
			r->deps[r->n_deps++] = xstrdup(dep);
			return;
		}
	}
	log_warn("engine", NULL, "dependency of unknown rule %s on %s ignored", rule, dep);
}

void
scan_engine_set_group(struct scan_engine *eng, const char *group, double max_score,
    const char *description)
{
	struct engine_group *g = (struct engine_group *)engine_group_find(eng, group);

	if (g == NULL) {
		eng->groups = xgrow(eng->groups, &eng->cap_groups, eng->n_groups + 1,
		    sizeof(*eng->groups));
		g = &eng->groups[eng->n_groups++];
		g->name = xstrdup(group);
		g->description = NULL;
	}
	g->max_score = max_score;
	if (description != NULL) {
		free(g->description);
		g->description = xstrdup(description);
	}
}

const struct engine_group *
engine_group_find(const struct scan_engine *eng, const char *name)
{
	for (size_t i = 0; i < eng->n_groups; i++) {
		if (strcmp(eng->groups[i].name, name) == 0)
			return &eng->groups[i];
	}
	return NULL;
}

void
scan_engine_set_module(struct scan_engine *eng, enum engine_slot slot, void *data,
    void (*free_fn)(void *data))
{
	eng->modules[slot] = data;
	eng->module_free[slot] = free_fn;
}

void *
scan_engine_get_module(const struct scan_engine *eng, enum engine_slot slot)
{
	return eng->modules[slot];
}

const struct symbol_info *
scan_engine_symbol(const struct scan_engine *eng, const char *name)
{
	size_t idx = (size_t)(uintptr_t)strmap_get(eng->symbol_index, name);

	return idx != 0 ? &eng->symbols[idx - 1] : NULL;
}

const struct symbol_info *
scan_engine_symbol_at(const struct scan_engine *eng, size_t i)
{
	return i < eng->n_symbols ? &eng->symbols[i] : NULL;
}

struct config *
scan_engine_config(const struct scan_engine *eng)
{
	return eng->cfg;
}

/* Built-in checks: the table in symbols.c and the functions in checks.c. */
static void
gtube_rule(struct scan_task *task, void *ud)
{
	(void)ud;
	check_gtube(task);
}

static void
message_rule(struct scan_task *task, void *ud)
{
	void (*fn)(struct scan_task *) = (void (*)(struct scan_task *))ud;

	if (task->msg != NULL)
		fn(task);
}

static void
register_builtin(struct scan_engine *eng)
{
	const struct symbol_def *d;
	const struct rule_def rules[] = {
		{ "GTUBE", RULE_STAGE_PREFILTER, 100, gtube_rule, NULL },
		{ "HEADER_CHECKS", RULE_STAGE_FILTER, 0, message_rule, (void *)check_headers },
		{ "MIME_CHECKS", RULE_STAGE_FILTER, 0, message_rule, (void *)check_mime },
		{ "URL_HTML_CHECKS", RULE_STAGE_FILTER, 0, message_rule, (void *)check_urls_html },
	};

	for (size_t i = 0; (d = symbol_builtin_at(i)) != NULL; i++) {
		struct symbol_info si = { d->name, d->weight, d->group, d->description, 0 };

		scan_engine_add_symbol(eng, &si);
	}
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		scan_engine_add_rule(eng, &rules[i]);
}

/* `NAME { weight|score; description; group; one_shot; }` over a symbol. */
static void
apply_symbol_override(struct scan_engine *eng, const char *name, const struct obj *o,
    const char *group)
{
	struct symbol_info si = { name, 0.0, group, NULL, 0 };
	const struct symbol_info *cur = scan_engine_symbol(eng, name);
	bool b;

	si.weight = cur != NULL ? cur->weight : 0.0;
	if (obj_get_double(obj_lookup(o, "weight"), &si.weight) < 0)
		obj_get_double(obj_lookup(o, "score"), &si.weight);
	si.description = obj_get_string(obj_lookup(o, "description"));
	if (obj_get_string(obj_lookup(o, "group")) != NULL)
		si.group = obj_get_string(obj_lookup(o, "group"));
	if (obj_get_bool(obj_lookup(o, "one_shot"), &b) == 0 && b)
		si.flags |= SYMBOL_FLAG_ONE_SHOT;
	if (obj_get_double(o, &si.weight) == 0)
		si.description = NULL; /* short form: SYM = 3.5; */
	scan_engine_add_symbol(eng, &si);
}

/*
 * A section written twice at one priority is an implicit array of objects:
 * visit the members of each. Members without a key are not sections.
 */
static void
each_member(const struct obj *section, void (*fn)(struct scan_engine *, const struct obj *),
    struct scan_engine *eng)
{
	const struct obj *it = NULL, *v;

	while ((v = obj_iter_values(section, &it)) != NULL) {
		for (const struct obj *m = obj_first(v); m != NULL; m = m->next) {
			if (m->key != NULL && v->type == OBJ_OBJECT)
				fn(eng, m);
		}
	}
}

static void
apply_group(struct scan_engine *eng, const struct obj *g)
{
	double max_score = 0.0;
	const struct obj *it = NULL, *syms;

	obj_get_double(obj_lookup(g, "max_score"), &max_score);
	scan_engine_set_group(eng, g->key, max_score,
	    obj_get_string(obj_lookup(g, "description")));
	while ((syms = obj_iter_values(obj_lookup(g, "symbols"), &it)) != NULL) {
		for (const struct obj *s = obj_first(syms); s != NULL; s = s->next) {
			if (s->key != NULL)
				apply_symbol_override(eng, s->key, s, g->key);
		}
	}
}

static void
apply_symbol(struct scan_engine *eng, const struct obj *s)
{
	apply_symbol_override(eng, s->key, s, NULL);
}

static void
apply_overrides(struct scan_engine *eng)
{
	const struct obj *root = eng->cfg->root;

	each_member(obj_lookup(root, "group"), apply_group, eng);
	each_member(obj_lookup(root, "symbols"), apply_symbol, eng);
}

static struct engine_rule *
rule_find(struct scan_engine *eng, const char *name)
{
	for (size_t i = 0; i < eng->n_rules; i++) {
		if (strcmp(eng->rules[i].def.name, name) == 0)
			return &eng->rules[i];
	}
	return NULL;
}

static int
rule_cmp(const void *a, const void *b)
{
	const struct engine_rule *x = a, *y = b;

	if (x->def.stage != y->def.stage)
		return (int)x->def.stage - (int)y->def.stage;
	if (x->def.priority != y->def.priority)
		return x->def.priority > y->def.priority ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Depth-first: dependencies of a rule are emitted before it (cycles broken). */
static void
topo_visit(struct scan_engine *eng, size_t i, struct engine_rule *out, size_t *n)
{
	struct engine_rule *r = &eng->rules[i];

	if (r->mark != 0)
		return;
	r->mark = 1;
	for (size_t d = 0; d < r->n_deps; d++) {
		struct engine_rule *dep = rule_find(eng, r->deps[d]);

		if (dep == NULL || dep->mark == 1) {
			if (dep != NULL)
				log_warn("engine", NULL, "dependency cycle %s -> %s ignored",
				    r->def.name, r->deps[d]);
			continue;
		}
		if (dep->def.stage == r->def.stage)
			topo_visit(eng, (size_t)(dep - eng->rules), out, n);
	}
	r->mark = 2;
	out[(*n)++] = *r;
}

static void
order_rules(struct scan_engine *eng)
{
	struct engine_rule *sorted;
	size_t n = 0;

	if (eng->n_rules == 0)
		return;
	qsort(eng->rules, eng->n_rules, sizeof(*eng->rules), rule_cmp);
	sorted = xcalloc(eng->n_rules, sizeof(*sorted));
	for (size_t i = 0; i < eng->n_rules; i++)
		topo_visit(eng, i, sorted, &n);
	free(eng->rules);
	eng->rules = sorted;
	eng->cap_rules = eng->n_rules;
}

struct scan_engine *
scan_engine_new(struct config *cfg, char **error_r)
{
	struct scan_engine *eng = xcalloc(1, sizeof(*eng));

	eng->cfg = config_ref(cfg);
	eng->symbol_index = strmap_new(false);
	register_builtin(eng);
	if (multimap_engine_init(eng, cfg, error_r) < 0 ||
	    re_engine_init(eng, cfg, error_r) < 0 ||
	    lua_engine_init(eng, cfg, error_r) < 0 ||
	    bayes_engine_init(eng, cfg, error_r) < 0 ||
	    greylist_engine_init(eng, cfg, error_r) < 0 ||
	    auth_engine_init(eng, cfg, error_r) < 0 ||
	    composites_load_config(eng, error_r) < 0 ||
	    re_engine_finalize(eng, error_r) < 0) {
		scan_engine_free(&eng);
		return NULL;
	}
	apply_overrides(eng);
	order_rules(eng);
	log_info("engine", NULL, "%zu symbols, %zu rules, %zu composites", eng->n_symbols,
	    eng->n_rules, eng->n_composites);
	return eng;
}

void
scan_engine_free(struct scan_engine **engp)
{
	struct scan_engine *eng = *engp;

	if (eng == NULL)
		return;
	*engp = NULL;
	/* Modules first: their data may point at symbols or rules. */
	for (int i = ENGINE_SLOT_COUNT - 1; i >= 0; i--) {
		if (eng->module_free[i] != NULL)
			eng->module_free[i](eng->modules[i]);
	}
	composites_free(eng);
	for (size_t i = 0; i < eng->n_symbols; i++) {
		free((char *)eng->symbols[i].name);
		free((char *)eng->symbols[i].group);
		free((char *)eng->symbols[i].description);
	}
	for (size_t i = 0; i < eng->n_rules; i++) {
		free((char *)eng->rules[i].def.name);
		for (size_t d = 0; d < eng->rules[i].n_deps; d++)
			free(eng->rules[i].deps[d]);
		free(eng->rules[i].deps);
	}
	for (size_t i = 0; i < eng->n_groups; i++) {
		free(eng->groups[i].name);
		free(eng->groups[i].description);
	}
	free(eng->groups);
	free(eng->symbols);
	free(eng->rules);
	strmap_free(&eng->symbol_index);
	config_unref(&eng->cfg);
	free(eng);
}

static void engine_wait(struct scan_task *task);

static void
engine_timer_stop_cb(void *arg)
{
	struct scan_task *task = arg;

	if (task->timer != NULL)
		ev_timer_stop(task->loop, task->timer);
}

static void
run_stage(const struct scan_engine *eng, struct scan_task *task, enum rule_stage stage)
{
	for (size_t i = 0; i < eng->n_rules; i++) {
		const struct engine_rule *r = &eng->rules[i];

		if (r->def.stage != stage)
			continue;
		if ((stage == RULE_STAGE_FILTER || stage == RULE_STAGE_CLASSIFIER) &&
		    task->pre_action != NULL && !task->env.pass_all)
			continue;
		/* An empty body has no content to judge (Rspamd answers {}). */
		if ((stage == RULE_STAGE_FILTER || stage == RULE_STAGE_CLASSIFIER) && task->len == 0)
			continue;
		if (scan_task_out_of_time(task)) {
			task->rules_skipped++;
			continue;
		}
		r->def.fn(task, r->def.ud);
	}
}

/* Pseudo stage between classifiers and postfilters. */
#define STAGE_COMPOSITES (RULE_STAGE_CLASSIFIER + 100)

static int
stage_after(int stage)
{
	switch (stage) {
	case RULE_STAGE_PREFILTER: return RULE_STAGE_FILTER;
	case RULE_STAGE_FILTER: return RULE_STAGE_CLASSIFIER;
	case RULE_STAGE_CLASSIFIER: return STAGE_COMPOSITES;
	case STAGE_COMPOSITES: return RULE_STAGE_POSTFILTER;
	case RULE_STAGE_POSTFILTER: return RULE_STAGE_IDEMPOTENT;
	default: return -1;
	}
}

static void
finish(const struct scan_engine *eng, struct scan_task *task)
{
	if (task->rules_skipped != 0) {
		char opt[32];

		snprintf(opt, sizeof(opt), "%u rules skipped", task->rules_skipped);
		scan_task_insert(task, "TASK_TIMEOUT", 1.0, opt);
		log_warn("task", task->id, "time budget of %.1f s spent, %u rules skipped",
		    eng->cfg->task_timeout, task->rules_skipped);
		if (eng->cfg->soft_reject_on_timeout)
			scan_task_set_pre_result(task, "soft reject", "Processing timeout", "engine");
	}
	scan_task_finished(task);
}

/* Runs stages until one waits for asynchronous work or all are done. */
static void
advance(const struct scan_engine *eng, struct scan_task *task)
{
	while (task->next_stage >= 0) {
		int stage = task->next_stage;

		task->next_stage = stage_after(stage);
		if (stage == STAGE_COMPOSITES)
			composites_run(eng, task);
		else
			run_stage(eng, task, (enum rule_stage)stage);
		if (task->n_pending != 0) {
			task->waiting = true;
			engine_wait(task);
			return;
		}
	}
	finish(eng, task);
}

void
scan_engine_start(const struct scan_engine *eng, struct scan_task *task)
{
	task->next_stage = RULE_STAGE_PREFILTER;
	advance(eng, task);
}

struct scan_pending {
	struct scan_pending *next;
	const char *subsystem;
	void (*cancel)(void *ud);
	void *ud;
};

struct scan_pending *
scan_task_pending_add(struct scan_task *task, const char *subsystem,
    void (*cancel)(void *ud), void *ud)
{
	struct scan_pending *p = pool_alloc(task->pool, sizeof(*p));

	ASSERT(task->loop != NULL);
	if (p == NULL)
		return NULL;
	p->subsystem = subsystem;
	p->cancel = cancel;
	p->ud = ud;
	p->next = task->pending;
	task->pending = p;
	task->n_pending++;
	return p;
}

static void
engine_stop_timer(struct scan_task *task)
{
	if (task->timer != NULL)
		ev_timer_stop(task->loop, task->timer);
}

void
scan_task_pending_done(struct scan_task *task, struct scan_pending *p)
{
	struct scan_pending **pp;

	for (pp = &task->pending; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			task->n_pending--;
			break;
		}
	}
	if (task->n_pending == 0 && task->waiting) {
		task->waiting = false;
		engine_stop_timer(task);
		advance(task->engine, task);
	}
}

/* The time budget ran out while waiting: give up on what is outstanding. */
static void
budget_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct scan_task *task = w->data;

	(void)loop;
	(void)revents;
	for (struct scan_pending *p = task->pending; p != NULL; p = p->next) {
		log_warn("task", task->id, "%s request still pending at the time budget, dropped",
		    p->subsystem);
		task->rules_skipped++;
		if (p->cancel != NULL)
			p->cancel(p->ud);
	}
	task->pending = NULL;
	task->n_pending = 0;
	task->waiting = false;
	advance(task->engine, task);
}

static void
engine_wait(struct scan_task *task)
{
	ev_timer *t = task->timer;
	double left = task->deadline - ev_now(task->loop);

	if (t == NULL) {
		t = pool_alloc(task->pool, sizeof(*t));
		if (t == NULL)
			return;
		task->timer = t;
		/* Freed with the pool: make sure it is never left running. */
		pool_add_destructor(task->pool, engine_timer_stop_cb, task);
	}
	ev_timer_init(t, budget_expired, left > 0.001 ? left : 0.001, 0.);
	t->data = task;
	ev_timer_start(task->loop, t);
}
