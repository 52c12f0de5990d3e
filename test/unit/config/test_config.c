/*
 * Unit tests for config_load(): the shipped conf/ tree, local.d and
 * override.d on a copy of it, path variables, and errors with file:line
 * for syntax and semantic problems.
 */
#include "config/config.h"
#include "config/config_mta.h"
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];
static char confpath[256];

static void
write_file(const char *rel, const char *content)
{
	char path[512];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static void
remove_file(const char *rel)
{
	char path[512];

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	(void)unlink(path);
}

/* Copies the regular files of conf/ into tmpdir (local.d/override.d empty). */
static void
copy_conf(void)
{
	DIR *d = opendir("conf");
	struct dirent *de;
	char src[512];
	size_t len;
	char *data;

	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		struct stat st;

		(void)snprintf(src, sizeof(src), "conf/%s", de->d_name);
		if (stat(src, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (data = test_read_file(src, &len)) == NULL)
			continue;
		write_file(de->d_name, data);
		free(data);
	}
	closedir(d);
	(void)snprintf(src, sizeof(src), "%s/local.d", tmpdir);
	(void)mkdir(src, 0700);
	(void)snprintf(src, sizeof(src), "%s/override.d", tmpdir);
	(void)mkdir(src, 0700);
	(void)snprintf(confpath, sizeof(confpath), "%s/rspamd.conf", tmpdir);
}

static bool
bind_is(const struct config_worker *w, const char *addr)
{
	return w != NULL && w->n_bind == 1 && strcmp(w->bind[0], addr) == 0;
}

static void
test_shipped(void)
{
	struct config *cfg = NULL, *ref;
	const struct config_worker *w;
	const struct obj *ips;
	char *err = NULL;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	test_begin("config: shipped conf/rspamd.conf");
	test_assert(config_load("conf/rspamd.conf", NULL, &cfg, &err) == 0);
	if (cfg == NULL) {
		fprintf(stderr, "  %s\n", err);
		free(err);
		test_end();
		return;
	}
	test_assert(cfg->n_workers == 11);
	w = config_find_worker(cfg, "smtp");
	test_assert(bind_is(w, "*:25"));
	w = config_find_worker(cfg, "submission");
	test_assert(bind_is(w, "*:587"));
	w = config_find_worker(cfg, "smtps");
	test_assert(bind_is(w, "*:465"));
	w = config_find_worker(cfg, "qmgr");
	test_assert(w != NULL && w->n_bind == 0 && w->count == 1);
	test_assert(cfg->mta != NULL && cfg->mta->message_size_limit == 10240000 &&
	    cfg->mta->smtpd_timeout == 300 && cfg->mta->maximal_queue_lifetime == 5 * 86400 &&
	    cfg->mta->smtpd_tls_auth_only && !cfg->mta->smtpd_tls_auth_loopback);
	test_assert(cfg->mta != NULL && mta_in_mynetworks(cfg->mta, "127.0.0.1") &&
	    mta_in_mynetworks(cfg->mta, "::1") && !mta_in_mynetworks(cfg->mta, "192.0.2.1"));
	w = config_find_worker(cfg, "rspamd_proxy");
	test_assert(bind_is(w, "localhost:11332"));
	test_assert(w != NULL && w->enabled && w->count == 1);
	w = config_find_worker(cfg, "normal");
	test_assert(bind_is(w, "localhost:11333"));
	test_assert(w != NULL && w->enabled && w->count == (unsigned)(cpus > 0 ? cpus : 1));
	w = config_find_worker(cfg, "controller");
	test_assert(bind_is(w, "localhost:11334"));
	test_assert(w != NULL && w->count == 1);
	ips = w != NULL ? obj_lookup(w->obj, "secure_ip") : NULL;
	test_assert(ips != NULL && ips->implicit && obj_count(ips) == 2);
	test_assert(cfg->actions.reject == 15 && cfg->actions.add_header == 6 &&
	    cfg->actions.greylist == 4 && isnan(cfg->actions.rewrite_subject));
	test_assert(strcmp(cfg->actions.subject, "***SPAM*** %s") == 0);
	test_assert(cfg->logging.type == LOG_TYPE_CONSOLE);
	test_assert(cfg->logging.level == LOG_LEVEL_INFO);
	test_assert(cfg->task_timeout == 8.0);
	test_assert(!cfg->soft_reject_on_timeout);
	test_assert(cfg->max_message == 50u * 1024 * 1024);
	test_assert(cfg->confdir[0] == '/' &&
	    strcmp(cfg->confdir + strlen(cfg->confdir) - 5, "/conf") == 0);
	test_assert(strstr(cfg->rulesdir, "/conf/../rules") != NULL ||
	    strcmp(cfg->rulesdir, "/usr/share/rspamd-mail/rules") == 0);
	test_assert(strcmp(cfg->dbdir, "/var/lib/rspamd-mail/db") == 0);
	ref = config_ref(cfg);
	test_assert(ref->refcount == 2);
	config_unref(&ref);
	test_assert(ref == NULL && cfg->refcount == 1);
	config_unref(&cfg);
	test_assert(cfg == NULL);
	test_end();
}

static struct config *
load_copy(char **err)
{
	struct config *cfg = NULL;
	char state[128];

	(void)snprintf(state, sizeof(state), "%s/state", tmpdir);
	*err = NULL;
	if (config_load(confpath, state, &cfg, err) < 0)
		return NULL;
	return cfg;
}

static void
test_local_override(void)
{
	struct config *cfg;
	const struct config_worker *w;
	const struct obj *dns;
	char *err;

	test_begin("config: local.d merges, override.d replaces");
	write_file("local.d/actions.conf", "reject = 20;\ngreylist = null;\n");
	write_file("local.d/worker-controller.inc", "secure_ip = \"10.1.1.1\";\n");
	write_file("local.d/worker-normal.inc", "bind_socket = \"*:11333\";\ncount = 2;\n");
	write_file("local.d/options.inc", "dns { timeout = 3s; }\ntask_timeout = 20s;\n");
	write_file("local.d/logging.inc", "level = \"debug\";\n");
	cfg = load_copy(&err);
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		test_assert(cfg->actions.reject == 20 && cfg->actions.add_header == 6);
		test_assert(isnan(cfg->actions.greylist));
		w = config_find_worker(cfg, "controller");
		test_assert(w != NULL && obj_lookup(w->obj, "secure_ip")->type == OBJ_STRING);
		w = config_find_worker(cfg, "normal");
		test_assert(bind_is(w, "*:11333") && w->count == 2);
		dns = obj_lookup_path(cfg->root, "options.dns");
		test_assert(obj_count(dns) == 3);
		test_assert(obj_lookup(dns, "timeout")->v.f == 3.0);
		test_assert(cfg->task_timeout == 20.0);
		test_assert(cfg->logging.level == LOG_LEVEL_DEBUG);
		test_assert(strstr(cfg->dbdir, "/state/db") != NULL);
	} else {
		fprintf(stderr, "  %s\n", err);
		free(err);
	}
	config_unref(&cfg);
	test_end();

	test_begin("config: override.d object replaces wholesale and beats local.d");
	write_file("override.d/options.inc", "dns { timeout = 2s; }\n");
	write_file("override.d/actions.conf", "reject = 30;\n");
	cfg = load_copy(&err);
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		dns = obj_lookup_path(cfg->root, "options.dns");
		test_assert(obj_count(dns) == 1 && obj_lookup(dns, "timeout")->v.f == 2.0);
		test_assert(cfg->actions.reject == 30);
	}
	config_unref(&cfg);
	remove_file("override.d/options.inc");
	remove_file("override.d/actions.conf");
	test_end();

	test_begin("config: enabled = false and a second controller-less setup");
	write_file("local.d/worker-controller.inc", "enabled = false;\n");
	cfg = load_copy(&err);
	test_assert(cfg != NULL && !config_find_worker(cfg, "controller")->enabled);
	config_unref(&cfg);
	remove_file("local.d/worker-controller.inc");
	test_end();
}

static bool
load_fails_with(const char *expect)
{
	char *err = NULL;
	struct config *cfg = load_copy(&err);
	bool ok = cfg == NULL && err != NULL && strstr(err, expect) != NULL;

	if (!ok)
		fprintf(stderr, "  got: %s (expected %s)\n", err != NULL ? err : "(none)",
		    expect);
	config_unref(&cfg);
	free(err);
	return ok;
}

static void
test_errors(void)
{
	char expect[256];

	test_begin("config: syntax error in local.d names that file and line");
	write_file("local.d/actions.conf", "# mine\nadd_header = 7;\nreject = ;\n");
	(void)snprintf(expect, sizeof(expect), "%s/local.d/actions.conf:3: ", tmpdir);
	test_assert(load_fails_with(expect));
	test_end();

	test_begin("config: semantic errors carry file:line");
	write_file("local.d/actions.conf", "# mine\n\nreject = \"lots\";\n");
	(void)snprintf(expect, sizeof(expect),
	    "%s/local.d/actions.conf:3: reject must be a number", tmpdir);
	test_assert(load_fails_with(expect));
	write_file("local.d/actions.conf", "rejetc = 10;\n");
	test_assert(load_fails_with("local.d/actions.conf:1: unknown action 'rejetc'"));
	remove_file("local.d/actions.conf");
	write_file("local.d/logging.inc", "\nlevle = \"debug\";\n");
	test_assert(load_fails_with("local.d/logging.inc:2: unknown logging option 'levle'"));
	write_file("local.d/logging.inc", "level = \"loud\";\n");
	test_assert(load_fails_with("local.d/logging.inc:1: unknown logging level"));
	write_file("local.d/logging.inc", "type = \"file\";\n");
	test_assert(load_fails_with("needs a filename"));
	remove_file("local.d/logging.inc");
	write_file("local.d/worker-normal.inc", "count = -1;\n");
	test_assert(load_fails_with("local.d/worker-normal.inc:1: count must be"));
	write_file("local.d/worker-normal.inc", "bind_socket = [1];\n");
	test_assert(load_fails_with("bind_socket must be a non-empty string"));
	remove_file("local.d/worker-normal.inc");
	write_file("local.d/options.inc", "task_timeout = soon;\n");
	test_assert(load_fails_with("local.d/options.inc:1: task_timeout must be"));
	remove_file("local.d/options.inc");
	test_end();

	test_begin("config: missing main file");
	{
		struct config *cfg = NULL;
		char *err = NULL;

		test_assert(config_load("/nonexistent/rspamd.conf", NULL, &cfg, &err) < 0);
		test_assert(cfg == NULL && err != NULL && strstr(err, "/nonexistent/rspamd.conf") != NULL);
		free(err);
	}
	test_end();
}

/* local.d/mta.conf takes main.cf values as written. */
static void
test_mta(void)
{
	struct config *cfg;
	char *err = NULL;

	test_begin("config: mta.conf with Postfix-style values");
	write_file("local.d/mta.conf",
	    "myhostname = \"mail.example.org\";\n"
	    "mynetworks = \"127.0.0.0/8 [::1]/128, 192.0.2.0/24\";\n"
	    "smtpd_timeout = \"2m\";\nmaximal_queue_lifetime = \"1d\";\n"
	    "message_size_limit = \"52428800\";\nsmtpd_client_connection_rate_limit = 10;\n");
	cfg = load_copy(&err);
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		test_assert(strcmp(cfg->mta->myhostname, "mail.example.org") == 0);
		test_assert(strcmp(cfg->mta->mydomain, "example.org") == 0);
		test_assert(cfg->mta->n_mynetworks == 3);
		test_assert(mta_in_mynetworks(cfg->mta, "192.0.2.77"));
		test_assert(!mta_in_mynetworks(cfg->mta, "198.51.100.1"));
		test_assert(cfg->mta->smtpd_timeout == 120);
		test_assert(cfg->mta->maximal_queue_lifetime == 86400);
		test_assert(cfg->mta->message_size_limit == 52428800);
		test_assert(cfg->mta->smtpd_client_connection_rate_limit == 10);
		config_unref(&cfg);
	}
	free(err);
	test_end();

	test_begin("config: mta.conf errors carry file:line");
	write_file("local.d/mta.conf", "\nmessage_size_limt = 10;\n");
	test_assert(load_fails_with("local.d/mta.conf:2: mta: unknown parameter 'message_size_limt'"));
	write_file("local.d/mta.conf", "smtpd_timeout = \"soon\";\n");
	test_assert(load_fails_with("local.d/mta.conf:1: smtpd_timeout must be a time"));
	write_file("local.d/mta.conf", "mynetworks = \"10.0.0.0/33\";\n");
	test_assert(load_fails_with("local.d/mta.conf:1: mynetworks"));
	remove_file("local.d/mta.conf");
	test_end();
}

static void
test_env_override(void)
{
	struct config *cfg;
	char *err;

	test_begin("config: RSPAMD_<NAME> environment overrides");
	setenv("RSPAMD_DBDIR", "/srv/db", 1);
	cfg = load_copy(&err);
	test_assert(cfg != NULL && strcmp(cfg->dbdir, "/srv/db") == 0);
	test_assert(cfg != NULL && strcmp(obj_get_string(obj_lookup_path(cfg->root,
	    "options.stats_file")), "/srv/db/stats.ucl") == 0);
	config_unref(&cfg);
	unsetenv("RSPAMD_DBDIR");
	test_end();
}

int
main(void)
{
	char cmd[128];

	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	copy_conf();
	test_shipped();
	test_local_override();
	test_errors();
	test_mta();
	test_env_override();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return test_exit();
}
