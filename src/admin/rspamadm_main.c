/*
 * rspamadm_main.c - entry point of the administration tool: global
 * options, then a subcommand from the table below. New subcommands (pw,
 * dkim_keygen, control, ...) add a row and a cmd_<name>.c file.
 */
#include "admin/admin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct admin_cmd commands[] = {
	{ "configtest", "", "check the configuration and print \"syntax OK\"",
	    admin_cmd_configtest },
	{ "configdump", "[-j] [section...]",
	    "print the merged configuration (-j: as JSON)",
	    admin_cmd_configdump },
	{ "pw", "[-p password] [-t catena|pbkdf2] | -c -p HASH",
	    "hash a controller password (-c: check a password against a hash)",
	    admin_cmd_pw },
	{ "dkim_keygen", "-d DOMAIN -s SELECTOR [-b BITS] [-t rsa|ed25519] [-k KEYFILE [--force]] [-o dns|plain]",
	    "generate a DKIM key and print its DNS TXT record", admin_cmd_dkim_keygen },
	{ "spf_check", "-i IP [-s SENDER] [-H HELO] [-n NAMESERVER] [-t SECONDS]",
	    "evaluate SPF for a client IP and sender as the scanner does", admin_cmd_spf_check },
	{ "dmarc_report", "[YYYYMMDD]",
	    "list a day's DMARC aggregate-report data as JSON", admin_cmd_dmarc_report },
	{ "dnscheck", "DOMAIN [--ip ADDR] [--helo NAME] [--selector S]... [--nameserver IP:PORT]",
	    "check a domain's MX, SPF, DKIM, DMARC and PTR records (PASS/WARN/FAIL)", admin_cmd_dnscheck },
	{ "domain", "add|del NAME | list", "manage the mail core's virtual domains",
	    admin_cmd_domain },
	{ "user", "add|passwd EMAIL [--quota SIZE] [--password-stdin] | del EMAIL | list [DOMAIN] | check ADDR | auth EMAIL",
	    "manage mailboxes; check resolves an address, auth tests a password",
	    admin_cmd_user },
	{ "alias", "add SOURCE DEST | del SOURCE [DEST] | list [DOMAIN]",
	    "manage aliases (SOURCE @domain is a catch-all)", admin_cmd_alias },
	{ "queue", "list [-j] | flush | cat ID | delete ID...|ALL [deferred] | hold ID... | release ID...",
	    "show and manage the mail queue (postqueue/postsuper/postcat)", admin_cmd_queue },
};

static void
usage(FILE *f, const char *progname)
{
	fprintf(f, "usage: %s [-c CONF] [--state-dir DIR] COMMAND [ARGS]\n\n"
	    "options:\n"
	    "  -c, --config CONF   configuration file (default: %s)\n"
	    "  --state-dir DIR     state directory (db/, run/, log/ below it)\n"
	    "  -h, --help          this text\n\ncommands:\n",
	    progname, "conf/rspamd.conf of the source tree, else /etc/rspamd/rspamd.conf");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i].name,
		    commands[i].usage, commands[i].help);
}

/* Global options; returns the index of the subcommand or -1. */
static int
parse_globals(int argc, char **argv, struct admin_ctx *ctx, bool *help_r)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			*help_r = true;
			return -1;
		}
		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) &&
		    i + 1 < argc)
			ctx->conf_path = argv[++i];
		else if (strcmp(a, "--state-dir") == 0 && i + 1 < argc)
			ctx->state_dir = argv[++i];
		else if (strncmp(a, "--config=", 9) == 0)
			ctx->conf_path = a + 9;
		else if (strncmp(a, "--state-dir=", 12) == 0)
			ctx->state_dir = a + 12;
		else {
			fprintf(stderr, "%s: unknown option '%s'\n", argv[0], a);
			return -1;
		}
	}
	return i < argc ? i : -1;
}

int
main(int argc, char **argv)
{
	struct admin_ctx ctx = { .progname = "rspamadm" };
	char *def = NULL;
	bool help = false;
	int cmd, status = 1;

	cmd = parse_globals(argc, argv, &ctx, &help);
	if (cmd < 0) {
		usage(help ? stdout : stderr, ctx.progname);
		return help ? 0 : 1;
	}
	if (ctx.conf_path == NULL)
		ctx.conf_path = def = admin_default_conf();
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[cmd], commands[i].name) == 0) {
			status = commands[i].run(&ctx, argc - cmd, argv + cmd);
			free(def);
			return status;
		}
	}
	fprintf(stderr, "%s: unknown command '%s'\n\n", ctx.progname, argv[cmd]);
	usage(stderr, ctx.progname);
	free(def);
	return 1;
}
