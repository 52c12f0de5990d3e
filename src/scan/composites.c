/*
 * composites.c - symbols made of other symbols: `NAME { expression =
 * "SYM_A & !SYM_B"; score = N; }`.
 *
 * A composite that matches is inserted and, by default, consumes the
 * symbols it matched on (they leave the result with their scores), as in
 * Rspamd. A prefix on an atom changes that for the symbol: `~` removes only
 * its score, `-` keeps it whole, `^` removes it even if another composite
 * asked to keep it. `g:group` matches when any symbol of the group is in.
 * Composites may use other composites; they are evaluated until nothing
 * changes (bounded by their number).
 */
#include "config/config.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/engine_internal.h"
#include "scan/expr.h"
#include "scan/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct comp_atom {
	char *symbol;    /* or group name when is_group */
	char policy;     /* 0, '~', '-', '^' */
	bool is_group;
};

struct engine_composite {
	char *name;
	struct expr *expr;
};

/* Atoms handed out while parsing, so a failed parse can free them. */
struct comp_parse {
	struct comp_atom **atoms;
	size_t n, cap;
};

static int
comp_atom_parse(const char *atom, size_t len, void *ud, void **data_r, char **error_r)
{
	struct comp_parse *cp = ud;
	struct comp_atom *a = xcalloc(1, sizeof(*a));

	if (len > 0 && (atom[0] == '~' || atom[0] == '-' || atom[0] == '^')) {
		a->policy = atom[0];
		atom++;
		len--;
	}
	if (len > 2 && atom[0] == 'g' && atom[1] == ':') {
		a->is_group = true;
		atom += 2;
		len -= 2;
	}
	if (len == 0 || atom[0] == '/' || memchr(atom, '(', len) != NULL) {
		free(a);
		*error_r = xstrdup("composite atoms must be symbol names");
		return -1;
	}
	a->symbol = xstrndup(atom, len);
	cp->atoms = xgrow(cp->atoms, &cp->cap, cp->n + 1, sizeof(*cp->atoms));
	cp->atoms[cp->n++] = a;
	*data_r = a;
	return 0;
}

static void
composite_free(struct engine_composite *c)
{
	for (size_t i = 0; c->expr != NULL && i < expr_atom_count(c->expr); i++) {
		struct comp_atom *a = expr_atom_data(c->expr, i);

		if (a != NULL) {
			free(a->symbol);
			free(a);
		}
	}
	expr_free(&c->expr);
	free(c->name);
}

int
scan_engine_add_composite(struct scan_engine *eng, const char *name, const char *text,
    double weight, const char *description, const char *group, char **error_r)
{
	struct symbol_info si = { name, weight, group != NULL ? group : "composite", description, 0 };
	struct engine_composite c;
	struct comp_parse cp = { NULL, 0, 0 };
	char *err = NULL;

	c.expr = expr_parse(text, comp_atom_parse, &cp, &err);
	if (c.expr == NULL) {
		for (size_t i = 0; i < cp.n; i++) {
			free(cp.atoms[i]->symbol);
			free(cp.atoms[i]);
		}
		free(cp.atoms);

		*error_r = xasprintf("composite %s: %s", name, err);
		free(err);
		return -1;
	}
	free(cp.atoms);
	c.name = xstrdup(name);
	for (size_t i = 0; i < eng->n_composites; i++) {
		if (strcmp(eng->composites[i].name, name) == 0) {
			composite_free(&eng->composites[i]);
			eng->composites[i] = c;
			scan_engine_add_symbol(eng, &si);
			return 0;
		}
	}
	eng->composites = xgrow(eng->composites, &eng->cap_composites, eng->n_composites + 1,
	    sizeof(*eng->composites));
	eng->composites[eng->n_composites++] = c;
	scan_engine_add_symbol(eng, &si);
	return 0;
}

static int
composite_from_config(struct scan_engine *eng, const struct obj *c, char **error_r)
{
	const char *text = obj_get_string(c);
	double score = 0.0;

	if (text == NULL) {
		text = obj_get_string(obj_lookup(c, "expression"));
		obj_get_double(obj_lookup(c, "score"), &score);
	}
	if (text == NULL) {
		*error_r = xasprintf("%s:%u: composite %s has no expression",
		    c->file != NULL ? c->file : "config", c->line, c->key);
		return -1;
	}
	return scan_engine_add_composite(eng, c->key, text, score,
	    obj_get_string(obj_lookup(c, "description")),
	    obj_get_string(obj_lookup(c, "group")), error_r);
}

int
composites_load_config(struct scan_engine *eng, char **error_r)
{
	const struct obj *it = NULL, *section;

	/* A section written twice at one priority is an implicit array. */
	while ((section = obj_iter_values(obj_lookup(eng->cfg->root, "composites"), &it)) != NULL) {
		for (const struct obj *c = obj_first(section); c != NULL; c = c->next) {
			if (c->key != NULL && composite_from_config(eng, c, error_r) < 0)
				return -1;
		}
	}
	return 0;
}

void
composites_free(struct scan_engine *eng)
{
	for (size_t i = 0; i < eng->n_composites; i++)
		composite_free(&eng->composites[i]);
	free(eng->composites);
	eng->composites = NULL;
	eng->n_composites = 0;
}

struct comp_eval {
	const struct scan_engine *eng;
	struct scan_task *task;
};

static double
comp_value(void *data, void *ud)
{
	const struct comp_atom *a = data;
	struct comp_eval *ev = ud;

	if (!a->is_group)
		return scan_task_find_symbol(ev->task, a->symbol) != NULL;
	for (const struct scan_symbol *s = ev->task->symbols; s != NULL; s = s->next) {
		const struct symbol_info *si = scan_engine_symbol(ev->eng, s->name);

		if (si != NULL && si->group != NULL && strcmp(si->group, a->symbol) == 0)
			return 1;
	}
	return 0;
}

/* What matched composites decided for each symbol they consumed. */
struct removal {
	const char *symbol;
	bool remove_score, remove_symbol, forced, keep;
};

static void
mark(struct removal **list, size_t *n, size_t *cap, const char *symbol, char policy)
{
	struct removal *r = NULL;

	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*list)[i].symbol, symbol) == 0)
			r = &(*list)[i];
	}
	if (r == NULL) {
		*list = xgrow(*list, cap, *n + 1, sizeof(**list));
		r = &(*list)[(*n)++];
		memset(r, 0, sizeof(*r));
		r->symbol = symbol;
	}
	switch (policy) {
	case '-': r->keep = true; break;
	case '~': r->remove_score = true; break;
	case '^': r->forced = true; break;
	default: r->remove_score = r->remove_symbol = true; break;
	}
}

static void
apply_removals(struct scan_task *task, const struct removal *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct removal *r = &list[i];
		struct scan_symbol *s = (struct scan_symbol *)scan_task_find_symbol(task, r->symbol);

		if (s == NULL || (r->keep && !r->forced))
			continue;
		if (r->forced || r->remove_symbol)
			scan_task_remove_symbol(task, r->symbol, false);
		else if (r->remove_score)
			s->score = 0.0;
	}
}

void
composites_run(const struct scan_engine *eng, struct scan_task *task)
{
	struct comp_eval ev = { eng, task };
	struct removal *list = NULL;
	size_t n = 0, cap = 0;
	bool changed = true;

	for (size_t pass = 0; changed && pass <= eng->n_composites; pass++) {
		changed = false;
		for (size_t i = 0; i < eng->n_composites; i++) {
			const struct engine_composite *c = &eng->composites[i];

			if (scan_task_find_symbol(task, c->name) != NULL)
				continue;
			if (expr_eval(c->expr, comp_value, &ev) == 0)
				continue;
			scan_task_insert(task, c->name, 1.0, NULL);
			changed = true;
			for (size_t a = 0; a < expr_atom_count(c->expr); a++) {
				const struct comp_atom *atom = expr_atom_data(c->expr, a);

				if (!atom->is_group && scan_task_find_symbol(task, atom->symbol) != NULL)
					mark(&list, &n, &cap, atom->symbol, atom->policy);
			}
		}
	}
	apply_removals(task, list, n);
	free(list);
}
