/*
 * rspamc_main.c - entry point of our rspamc, the command-line client of
 * the scan and controller HTTP interfaces, compatible with Debian's
 * rspamc 3.4 (options, requests, output formats and exit codes).
 *
 * All the work is in rspamc_opts.c (command line), rspamc_request.c
 * (requests) and rspamc_output.c (formats); this file only wires them.
 */
#include "client/rspamc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	struct rspamc_opts opts;
	char *error = NULL;
	int r;

	/* A server closing early or a dying -e child must give an error
	 * code, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	r = rspamc_opts_parse(argc, argv, &opts, &error);
	if (r < 0) {
		fprintf(stderr, "%s\n", error);
		free(error);
		rspamc_opts_deinit(&opts);
		return 1;
	}
	if (r > 0) {
		rspamc_opts_deinit(&opts);
		return 0;
	}
	r = rspamc_run(&opts);
	rspamc_opts_deinit(&opts);
	return r;
}
