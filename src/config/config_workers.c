/*
 * config_workers.c - the worker list from `worker "type" { }` sections.
 *
 * Named sections collect under one `worker` object keyed by type; two
 * sections of the same type at the same priority become an implicit
 * array, i.e. two workers of that type (say, on different sockets). Only
 * the basics every worker shares are read here (bind_socket, count,
 * enabled); the section itself is handed over for type-specific options.
 */
#include "config/config_private.h"
#include "core/xmalloc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned
cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 && n < 4096 ? (unsigned)n : 1;
}

static int
worker_binds(struct config *cfg, struct config_worker *w, const struct obj *o,
    char **error_r)
{
	const struct obj *it = NULL, *v;
	size_t cap = 0;

	while ((v = obj_iter_values(o, &it)) != NULL) {
		if (v->type != OBJ_STRING || v->v.s.len == 0)
			return config_error(cfg, v, error_r,
			    "bind_socket must be a non-empty string");
		w->bind = xgrow(w->bind, &cap, w->n_bind + 1, sizeof(*w->bind));
		w->bind[w->n_bind++] = xstrdup(v->v.s.ptr);
	}
	return 0;
}

static int
worker_basics(struct config *cfg, struct config_worker *w, char **error_r)
{
	const struct obj *m;
	int64_t count;

	w->enabled = true;
	w->count = strcmp(w->type, "normal") == 0 ? cpu_count() : 1;
	if ((m = obj_lookup(w->obj, "bind_socket")) != NULL &&
	    worker_binds(cfg, w, m, error_r) < 0)
		return -1;
	if ((m = obj_lookup(w->obj, "count")) != NULL) {
		if (obj_get_int(m, &count) < 0 || count < 1 || count > 1024)
			return config_error(cfg, m, error_r,
			    "count must be a number of processes (1..1024)");
		w->count = (unsigned)count;
	}
	if ((m = obj_lookup(w->obj, "enabled")) != NULL &&
	    obj_get_bool(m, &w->enabled) < 0)
		return config_error(cfg, m, error_r, "enabled must be a boolean");
	return 0;
}

static int
add_worker(struct config *cfg, size_t *cap, const char *type,
    const struct obj *sec, char **error_r)
{
	struct config_worker *w;

	if (sec->type != OBJ_OBJECT)
		return config_error(cfg, sec, error_r,
		    "worker \"%s\" must be a section (worker \"%s\" { ... })",
		    type, type);
	cfg->workers = xgrow(cfg->workers, cap, cfg->n_workers + 1,
	    sizeof(*cfg->workers));
	w = &cfg->workers[cfg->n_workers++];
	memset(w, 0, sizeof(*w));
	w->type = xstrdup(type);
	w->obj = sec;
	return worker_basics(cfg, w, error_r);
}

int
config_parse_workers(struct config *cfg, char **error_r)
{
	const struct obj *all = obj_lookup(cfg->root, "worker");
	const struct obj *it = NULL, *group, *m, *it2, *sec;
	size_t cap = 0;

	/* `worker { }` written twice gives an implicit array of groups */
	while ((group = obj_iter_values(all, &it)) != NULL) {
		if (group->type != OBJ_OBJECT)
			return config_error(cfg, group, error_r,
			    "worker must be a section");
		for (m = obj_first(group); m != NULL; m = m->next) {
			for (it2 = NULL; (sec = obj_iter_values(m, &it2)) != NULL;) {
				if (add_worker(cfg, &cap, m->key, sec, error_r) < 0)
					return -1;
			}
		}
	}
	return 0;
}

void
config_free_workers(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_workers; i++) {
		for (size_t j = 0; j < cfg->workers[i].n_bind; j++)
			free(cfg->workers[i].bind[j]);
		free(cfg->workers[i].bind);
		free(cfg->workers[i].type);
	}
	free(cfg->workers);
	cfg->workers = NULL;
	cfg->n_workers = 0;
}
