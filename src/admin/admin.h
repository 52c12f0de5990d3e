/*
 * admin.h - the rspamadm subcommands. Each one is a function in
 * src/admin/cmd_<name>.c listed in the table in rspamadm_main.c.
 */
#ifndef ADMIN_ADMIN_H
#define ADMIN_ADMIN_H

/* Global options, parsed before the subcommand name. */
struct admin_ctx {
	const char *conf_path; /* -c, or the default */
	const char *state_dir; /* --state-dir, or NULL */
	const char *progname;
};

struct admin_cmd {
	const char *name;
	const char *usage; /* arguments, e.g. "[-j] [section...]" */
	const char *help;  /* one line */
	/* argv[0] is the subcommand name. Returns the exit status. */
	int (*run)(const struct admin_ctx *ctx, int argc, char **argv);
};

int admin_cmd_configtest(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_configdump(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_pw(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_dkim_keygen(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_spf_check(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_dmarc_report(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_dnscheck(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_domain(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_user(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_alias(const struct admin_ctx *ctx, int argc, char **argv);
int admin_cmd_queue(const struct admin_ctx *ctx, int argc, char **argv);

/*
 * The default configuration: conf/rspamd.conf of the source tree when the
 * binary runs from <repo>/build-X/bin, else /etc/rspamd/rspamd.conf.
 * Returns a heap string.
 */
char *admin_default_conf(void);

#endif
