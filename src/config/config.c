/*
 * config.c - config_load(): sets up the path variables, parses the main
 * file with its includes into one merged tree, then builds the typed parts
 * of struct config from it (config_sections.c).
 *
 * Loading touches the filesystem only to read: directories named by
 * DBDIR, RUNDIR and LOGDIR are computed, never created (the daemon does
 * that after dropping privileges). A loaded config is immutable and
 * refcounted, so a reload can swap in a new one while tasks finish on the
 * old.
 */
#include "config/config_private.h"
#include "config/config_mta.h"
#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_DEFAULT_STATE_DIR "/var/lib/rspamd-mail"
#define CONFIG_DEFAULT_SHARE_DIR "/usr/share/rspamd-mail"

int
config_error(const struct config *cfg, const struct obj *o, char **error_r,
    const char *fmt, ...)
{
	const char *file = o != NULL && o->file != NULL ? o->file : cfg->path;
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	if (o != NULL && o->file != NULL && o->line != 0)
		(void)buf_printf(&b, "%s:%u: ", file, o->line);
	else
		(void)buf_printf(&b, "%s: ", file);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*error_r = buf_steal(&b, NULL);
	return -1;
}

static char *
join(const char *a, const char *b)
{
	struct buf buf;

	buf_init(&buf, 0);
	(void)buf_printf(&buf, "%s/%s", a, b);
	return buf_steal(&buf, NULL);
}

/*
 * Absolute directory of path: include paths built from $CONFDIR must not
 * be taken as relative to the including file's directory a second time.
 */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *abs;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	abs = realpath(dir, NULL);
	if (abs == NULL)
		return dir;
	free(dir);
	return abs;
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* RSPAMD_<NAME> from the environment wins over the computed value. */
static char *
path_var(struct ucl_vars *vars, const char *name, char *computed)
{
	char envname[64];
	const char *env;

	if (str_format(envname, sizeof(envname), "RSPAMD_%s", name) >= 0 &&
	    (env = getenv(envname)) != NULL && env[0] != '\0') {
		free(computed);
		computed = xstrdup(env);
	}
	ucl_vars_set(vars, name, computed);
	return computed;
}

static void
setup_paths(struct config *cfg, const char *state_dir, struct ucl_vars *vars)
{
	char *repo, *probe, *share;

	cfg->confdir = path_var(vars, "CONFDIR", dir_of(cfg->path));
	cfg->local_confdir = path_var(vars, "LOCAL_CONFDIR",
	    xstrdup(cfg->confdir));
	cfg->state_dir = xstrdup(state_dir != NULL ? state_dir :
	    CONFIG_DEFAULT_STATE_DIR);
	cfg->dbdir = path_var(vars, "DBDIR", join(cfg->state_dir, "db"));
	cfg->rundir = path_var(vars, "RUNDIR", join(cfg->state_dir, "run"));
	cfg->logdir = path_var(vars, "LOGDIR", join(cfg->state_dir, "log"));
	/* A source checkout keeps rules/ and lualib/ next to conf/. */
	repo = join(cfg->confdir, "..");
	probe = join(repo, "rules");
	share = path_var(vars, "SHAREDIR",
	    xstrdup(is_dir(probe) ? repo : CONFIG_DEFAULT_SHARE_DIR));
	free(probe);
	free(repo);
	cfg->rulesdir = path_var(vars, "RULESDIR", join(share, "rules"));
	cfg->lualibdir = path_var(vars, "LUALIBDIR", join(share, "lualib"));
	free(path_var(vars, "PLUGINSDIR", join(share, "plugins")));
	/* the web UI: interface/ in a checkout and in the shared dir */
	free(path_var(vars, "WWWDIR", join(share, "interface")));
	free(share);
}

static void
set_defaults(struct config *cfg)
{
	cfg->logging.type = LOG_TYPE_CONSOLE;
	cfg->logging.level = LOG_LEVEL_INFO;
	cfg->actions.reject = NAN;
	cfg->actions.add_header = NAN;
	cfg->actions.greylist = NAN;
	cfg->actions.rewrite_subject = NAN;
	cfg->actions.subject = xstrdup("***SPAM*** %s");
	cfg->task_timeout = 8.0;
	cfg->soft_reject_on_timeout = false;
	cfg->max_message = 50u * 1024 * 1024;
}

int
config_load(const char *path, const char *state_dir, struct config **cfg_r,
    char **error_r)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct ucl_vars vars = { 0 };

	*cfg_r = NULL;
	*error_r = NULL;
	cfg->refcount = 1;
	cfg->path = xstrdup(path);
	set_defaults(cfg);
	setup_paths(cfg, state_dir, &vars);
	cfg->root = ucl_parse_file(path, &vars, 0, error_r);
	ucl_vars_free(&vars);
	if (cfg->root == NULL || config_parse_logging(cfg, error_r) < 0 ||
	    config_parse_actions(cfg, error_r) < 0 ||
	    config_parse_options(cfg, error_r) < 0 ||
	    config_parse_workers(cfg, error_r) < 0 ||
	    mta_settings_load(cfg, &cfg->mta, error_r) < 0) {
		config_unref(&cfg);
		return -1;
	}
	*cfg_r = cfg;
	return 0;
}

struct config *
config_ref(struct config *cfg)
{
	cfg->refcount++;
	return cfg;
}

void
config_unref(struct config **cfgp)
{
	struct config *cfg = *cfgp;

	if (cfg == NULL)
		return;
	*cfgp = NULL;
	ASSERT(cfg->refcount > 0);
	if (--cfg->refcount > 0)
		return;
	config_free_workers(cfg);
	mta_settings_free(&cfg->mta);
	obj_free(&cfg->root);
	free((char *)cfg->logging.filename);
	free((char *)cfg->logging.facility);
	free(cfg->actions.subject);
	free(cfg->path);
	free(cfg->confdir);
	free(cfg->local_confdir);
	free(cfg->state_dir);
	free(cfg->dbdir);
	free(cfg->rundir);
	free(cfg->logdir);
	free(cfg->rulesdir);
	free(cfg->lualibdir);
	free(cfg);
}

const struct config_worker *
config_find_worker(const struct config *cfg, const char *type)
{
	for (size_t i = 0; i < cfg->n_workers; i++) {
		if (strcmp(cfg->workers[i].type, type) == 0)
			return &cfg->workers[i];
	}
	return NULL;
}
