/*
 * config_sections.c - turns the sections config.c interprets itself
 * (logging, actions, options basics, workers) into typed fields.
 *
 * logging {} and actions {} are closed sets: an unknown key there is a
 * typo that would otherwise be silently ignored, so it is an error with
 * the file and line it came from. options {} and worker sections carry
 * many keys owned by other modules, so only the keys read here are
 * type-checked and the rest stays in the tree for their owners.
 */
#include "config/config_private.h"
#include "core/xmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The section `name` of the root as a single object, or NULL if absent. */
static int
section(struct config *cfg, const char *name, const struct obj **sec_r,
    char **error_r)
{
	const struct obj *o = obj_lookup(cfg->root, name);

	*sec_r = NULL;
	if (o == NULL)
		return 0;
	if (o->type == OBJ_ARRAY && o->implicit)
		return config_error(cfg, obj_first(o)->next, error_r,
		    "section '%s' defined twice at the same priority", name);
	if (o->type != OBJ_OBJECT)
		return config_error(cfg, o, error_r, "'%s' must be a section", name);
	*sec_r = o;
	return 0;
}

static bool
in_list(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(key, list[i]) == 0)
			return true;
	}
	return false;
}

static int
get_string(struct config *cfg, const struct obj *o, const char *what,
    const char **s_r, char **error_r)
{
	*s_r = obj_get_string(o);
	if (*s_r == NULL)
		return config_error(cfg, o, error_r, "%s must be a string", what);
	return 0;
}

/* Keys Rspamd accepts in logging {}; we act on the first four. */
static const char *const logging_keys[] = {
	"type", "filename", "facility", "level", "log_format", "color",
	"log_usec", "log_re_cache", "debug_modules", "debug_ip", "systemd",
	"log_buffer", "log_urls", "log_severity", "error_elts",
	"error_maxlength", "task_max_elts", "encryption_key", "max_tags_len",
};

static int
logging_type(struct config *cfg, const struct obj *o, char **error_r)
{
	static const char *const names[] = { "console", "file", "syslog" };
	const char *s;

	if (get_string(cfg, o, "logging type", &s, error_r) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			cfg->logging.type = (enum log_type)i;
			return 0;
		}
	}
	return config_error(cfg, o, error_r,
	    "logging type must be console, file or syslog, not '%s'", s);
}

static int
logging_member(struct config *cfg, const struct obj *m, char **error_r)
{
	const char *s;

	if (!in_list(m->key, logging_keys, ARRAY_SIZE(logging_keys)))
		return config_error(cfg, m, error_r, "unknown logging option '%s'",
		    m->key);
	if (strcmp(m->key, "type") == 0)
		return logging_type(cfg, m, error_r);
	if (strcmp(m->key, "level") == 0) {
		if (get_string(cfg, m, "logging level", &s, error_r) < 0)
			return -1;
		if (log_level_parse(s, &cfg->logging.level) < 0)
			return config_error(cfg, m, error_r, "unknown logging level '%s'", s);
	} else if (strcmp(m->key, "filename") == 0) {
		if (get_string(cfg, m, "logging filename", &s, error_r) < 0)
			return -1;
		free((char *)cfg->logging.filename);
		cfg->logging.filename = xstrdup(s);
	} else if (strcmp(m->key, "facility") == 0) {
		if (get_string(cfg, m, "logging facility", &s, error_r) < 0)
			return -1;
		free((char *)cfg->logging.facility);
		cfg->logging.facility = xstrdup(s);
	}
	return 0;
}

int
config_parse_logging(struct config *cfg, char **error_r)
{
	const struct obj *sec, *m;

	if (section(cfg, "logging", &sec, error_r) < 0)
		return -1;
	for (m = obj_first(sec); m != NULL; m = m->next) {
		if (logging_member(cfg, m, error_r) < 0)
			return -1;
	}
	if (cfg->logging.type == LOG_TYPE_FILE && cfg->logging.filename == NULL)
		return config_error(cfg, sec, error_r,
		    "logging type \"file\" needs a filename");
	return 0;
}

/* An action score: a number, or null for "disabled". */
static int
action_score(struct config *cfg, const struct obj *m, double *d_r,
    char **error_r)
{
	if (m->type == OBJ_NULL) {
		*d_r = NAN;
		return 0;
	}
	if ((m->type != OBJ_INT && m->type != OBJ_FLOAT &&
	    m->type != OBJ_STRING) || obj_get_double(m, d_r) < 0 || !isfinite(*d_r))
		return config_error(cfg, m, error_r, "%s must be a number", m->key);
	return 0;
}

int
config_parse_actions(struct config *cfg, char **error_r)
{
	/* Names Rspamd accepts; spaces and underscores are interchangeable. */
	static const char *const other[] = {
		"no_action", "no action", "soft_reject", "soft reject",
		"quarantine", "discard", "unknown_weight", "grow_factor",
	};
	const struct obj *sec, *m;
	const char *s;
	double ignored;

	if (section(cfg, "actions", &sec, error_r) < 0)
		return -1;
	for (m = obj_first(sec); m != NULL; m = m->next) {
		const char *k = m->key;

		if (strcmp(k, "reject") == 0) {
			if (action_score(cfg, m, &cfg->actions.reject, error_r) < 0)
				return -1;
		} else if (strcmp(k, "add_header") == 0 || strcmp(k, "add header") == 0) {
			if (action_score(cfg, m, &cfg->actions.add_header, error_r) < 0)
				return -1;
		} else if (strcmp(k, "greylist") == 0) {
			if (action_score(cfg, m, &cfg->actions.greylist, error_r) < 0)
				return -1;
		} else if (strcmp(k, "rewrite_subject") == 0 ||
		    strcmp(k, "rewrite subject") == 0) {
			if (action_score(cfg, m, &cfg->actions.rewrite_subject, error_r) < 0)
				return -1;
		} else if (strcmp(k, "subject") == 0) {
			if (get_string(cfg, m, "subject", &s, error_r) < 0)
				return -1;
			free(cfg->actions.subject);
			cfg->actions.subject = xstrdup(s);
		} else if (in_list(k, other, ARRAY_SIZE(other))) {
			if (action_score(cfg, m, &ignored, error_r) < 0)
				return -1;
		} else {
			return config_error(cfg, m, error_r, "unknown action '%s'", k);
		}
	}
	return 0;
}

int
config_parse_options(struct config *cfg, char **error_r)
{
	const struct obj *sec, *m;
	int64_t i;

	if (section(cfg, "options", &sec, error_r) < 0)
		return -1;
	if ((m = obj_lookup(sec, "task_timeout")) != NULL &&
	    (obj_get_double(m, &cfg->task_timeout) < 0 ||
	    !(cfg->task_timeout > 0 && cfg->task_timeout < 86400)))
		return config_error(cfg, m, error_r,
		    "task_timeout must be a time (e.g. 8s)");
	if ((m = obj_lookup(sec, "soft_reject_on_timeout")) != NULL &&
	    obj_get_bool(m, &cfg->soft_reject_on_timeout) < 0)
		return config_error(cfg, m, error_r,
		    "soft_reject_on_timeout must be a boolean");
	if ((m = obj_lookup(sec, "max_message")) != NULL) {
		if (obj_get_int(m, &i) < 0 || i <= 0 || (uint64_t)i > SIZE_MAX / 2)
			return config_error(cfg, m, error_r,
			    "max_message must be a size (e.g. 50mb)");
		cfg->max_message = (size_t)i;
	}
	return 0;
}
