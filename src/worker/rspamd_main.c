/*
 * rspamd_main.c - the daemon's entry point: `rspamd -f -c CONF
 * [--state-dir DIR]`.
 *
 * Parses the command line, loads the config (a config error prints
 * "FILE:LINE: reason" and exits 1 before anything is bound or forked, so
 * the daemon never starts half-configured), prepares the state dir,
 * switches logging to the configured sink and hands over to the supervisor.
 */
#include "config/config.h"
#include "core/str.h"
#include "log/log.h"
#include "scan/engine.h"
#include "worker/state_dir.h"
#include "worker/supervisor.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RSPAMD_VERSION "3.4-compat"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: rspamd [-f] [-c CONF] [--state-dir DIR] [-t] [-v]\n"
	    "  -f, --no-fork        stay in the foreground\n"
	    "  -c, --config CONF    main config file (default conf/rspamd.conf)\n"
	    "  --state-dir DIR      where databases, spool, mail and logs live\n"
	    "  -t, --config-test    check the config and exit\n"
	    "  -u, --user / -g, --group  accepted for compatibility\n"
	    "  -i, --insecure       accepted for compatibility\n"
	    "  -v, --version        print the version\n");
}

struct options {
	const char *conf;
	const char *state_dir;
	bool foreground;
	bool config_test;
};

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "no-fork", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "config-test", no_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ "group", required_argument, NULL, 'g' },
		{ "insecure", no_argument, NULL, 'i' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "fc:tu:g:ivh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = true; break;
		case 'c': o->conf = optarg; break;
		case 'S': o->state_dir = optarg; break;
		case 't': o->config_test = true; break;
		case 'u': case 'g': case 'i': break;
		case 'v':
			printf("Rspamd daemon version " RSPAMD_VERSION "\n");
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int
start(struct config *cfg, struct scan_engine *engine, const struct options *o)
{
	char pidpath[4096];
	char *err = NULL;

	if (log_configure(&cfg->logging, &err) < 0) {
		fprintf(stderr, "rspamd: %s\n", err);
		free(err);
		return 1;
	}
	if (!o->foreground && daemon(1, 0) < 0) {
		perror("rspamd: daemon");
		return 1;
	}
	if (cfg->rundir != NULL && cfg->state_dir != NULL) {
		if (str_format(pidpath, sizeof(pidpath), "%s/rspamd.pid", cfg->rundir) < 0 ||
		    pidfile_write(pidpath, &err) < 0) {
			fprintf(stderr, "rspamd: %s\n", err != NULL ? err : "pid file path too long");
			log_error("main", NULL, "%s", err != NULL ? err : "pid file path too long");
			free(err);
			return 1;
		}
	}
	return supervisor_run(cfg, engine, o->conf, o->state_dir);
}

int
main(int argc, char **argv)
{
	struct options o = { "conf/rspamd.conf", NULL, false, false };
	struct config *cfg = NULL;
	struct scan_engine *engine;
	char *err = NULL;

	if (parse_options(argc, argv, &o) < 0)
		return 1;
	if (config_load(o.conf, o.state_dir, &cfg, &err) < 0) {
		fprintf(stderr, "rspamd: config error: %s\n", err);
		free(err);
		return 1;
	}
	/* Rules compile into the state dir's caches (Hyperscan, ...). */
	if (cfg->state_dir != NULL && !o.config_test && state_dir_prepare(cfg->state_dir, &err) < 0) {
		fprintf(stderr, "rspamd: %s\n", err);
		free(err);
		config_unref(&cfg);
		return 1;
	}
	/* Rules are part of the config: a broken rule stops the start too. */
	engine = scan_engine_new(cfg, &err);
	if (engine == NULL) {
		fprintf(stderr, "rspamd: config error: %s\n", err);
		free(err);
		config_unref(&cfg);
		return 1;
	}
	if (o.config_test) {
		printf("syntax OK\n");
		scan_engine_free(&engine);
		config_unref(&cfg);
		return 0;
	}
	return start(cfg, engine, &o);
}
