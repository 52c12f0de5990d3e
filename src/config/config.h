/*
 * config.h - the loaded configuration: a merged UCL tree plus the typed
 * pieces the daemon needs before any module runs (paths, logging, workers,
 * actions, global options).
 *
 * A config is immutable once loaded and refcounted: a reload builds a new
 * one, and tasks in flight keep a reference to the old one until they end.
 * Sections we do not interpret here (modules, statistic, ...) stay in
 * `root` for their owners to read.
 */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/obj.h"
#include "log/log.h"

struct config_worker {
	/* "normal", "controller", "rspamd_proxy", later "smtp", "imap", ...
	 * (the name in worker "normal" {}) */
	char *type;
	/* bind_socket values as written: "127.0.0.1:11333", "*:11333",
	 * "/run/x.sock mode=0660" */
	char **bind;
	size_t n_bind;
	/* processes; default: number of CPUs for "normal", 1 otherwise */
	unsigned count;
	/* enabled = false switches a worker off */
	bool enabled;
	/* the whole worker section, for type-specific options (borrowed from
	 * config->root) */
	const struct obj *obj;
};

struct config_actions {
	/* NAN when disabled (absent or null) */
	double reject, add_header, greylist, rewrite_subject;
	/* "***SPAM*** %s" */
	char *subject;
};

struct mta_settings;

struct config {
	unsigned refcount;
	/* the merged tree */
	struct obj *root;
	char *path, *confdir, *local_confdir, *state_dir, *dbdir, *rundir,
	    *logdir, *rulesdir, *lualibdir;
	/* from logging {}; strings owned by the config */
	struct log_settings logging;
	struct config_worker *workers;
	size_t n_workers;
	struct config_actions actions;
	/* options.task_timeout, default 8 s */
	double task_timeout;
	bool soft_reject_on_timeout;
	/* options.max_message, default 50 MiB */
	size_t max_message;
	/* the mail core's mta {} section (config/config_mta.h) */
	struct mta_settings *mta;
};

/*
 * Loads `path` (e.g. conf/rspamd.conf) with its includes. state_dir may be
 * NULL. Variables: CONFDIR = dirname(path), LOCAL_CONFDIR = CONFDIR,
 * DBDIR = state_dir/db, RUNDIR = state_dir/run, LOGDIR = state_dir/log,
 * RULESDIR = <repo>/rules, LUALIBDIR = <repo>/lualib (<repo> is CONFDIR/..
 * when CONFDIR/../rules exists, else /usr/share/rspamd-mail), each
 * overridable by the environment variable RSPAMD_<NAME>. Creates nothing on
 * disk.
 *
 * On error returns -1 and *error_r (heap, caller frees) reads
 * "FILE:LINE: reason", semantic errors included (e.g.
 * "conf/local.d/actions.conf:3: reject must be a number"). Unknown keys in
 * the typed sections (logging, actions, worker basics) are errors.
 * On success *cfg_r holds one reference.
 */
int config_load(const char *path, const char *state_dir, struct config **cfg_r,
    char **error_r);
/* Adds a reference; returns cfg. */
struct config *config_ref(struct config *cfg);
/* Drops a reference, freeing at zero; sets *cfg to NULL. NULL is fine. */
void config_unref(struct config **cfg);

/* The worker of that type, or NULL. Borrowed. */
const struct config_worker *config_find_worker(const struct config *cfg,
    const char *type);

#endif
