/*
 * cmd_users.c - `rspamadm domain|user|alias ...`: manage the virtual
 * domains, mailboxes and aliases of the mail core in the database that
 * local.d/mta.conf's `users {}` names (SQLite under the state dir by
 * default, or PostgreSQL), plus `user check` and `user auth`, which run
 * the same resolution and password check the SMTP/IMAP workers do, for
 * operators debugging a delivery or a login.
 *
 * Passwords never come from argv unless --password is given explicitly
 * (argv is visible in ps): they are read from a terminal without echo
 * (asked twice) or, with --password-stdin, from the first line of stdin.
 * The plain text is wiped from memory once hashed.
 */
#include "admin/admin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "config/config.h"
#include "core/obj.h"
#include "users/users.h"

#define PASSWORD_MAX 1024

struct users_cli {
	struct config *cfg;
	struct users *u;
};

static int
cli_open(const struct admin_ctx *ctx, struct users_cli *cli)
{
	char *error = NULL;

	memset(cli, 0, sizeof(*cli));
	if (config_load(ctx->conf_path, ctx->state_dir, &cli->cfg, &error) < 0) {
		fprintf(stderr, "%s\n", error != NULL ? error : "cannot load config");
		free(error);
		return -1;
	}
	cli->u = users_open(obj_lookup_path(cli->cfg->root, "mta.users"),
	    cli->cfg->state_dir, NULL, &error);
	if (cli->u == NULL) {
		fprintf(stderr, "%s\n", error != NULL ? error : "cannot open users");
		free(error);
		config_unref(&cli->cfg);
		return -1;
	}
	return 0;
}

static void
cli_close(struct users_cli *cli)
{
	users_close(&cli->u);
	config_unref(&cli->cfg);
}

/* Prints the error of an admin call; returns the exit status. The
 * error is passed by address so it is read after the call fills it. */
static int
report(int rc, char **error)
{
	if (rc < 0) {
		fprintf(stderr, "rspamadm: %s\n", *error != NULL ? *error :
		    "failed");
		free(*error);
		*error = NULL;
		return 1;
	}
	return 0;
}

/* Reads one line into buf (without the newline); -1 at EOF. */
static int
read_line(FILE *f, char *buf, size_t size)
{
	size_t len;

	if (fgets(buf, (int)size, f) == NULL)
		return -1;
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return 0;
}

/* Prompts on the terminal with echo off. */
static int
prompt_tty(const char *prompt, char *buf, size_t size)
{
	struct termios old, noecho;
	FILE *tty = fopen("/dev/tty", "r+");
	int rc;

	if (tty == NULL)
		return -1;
	fputs(prompt, tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) < 0) {
		fclose(tty);
		return -1;
	}
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	(void)tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
	rc = read_line(tty, buf, size);
	(void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	return rc;
}

enum pw_source {
	PW_NONE,
	PW_STDIN,
	PW_ARG,
};

/* Gets the password per the options; 0 or -1 (message printed). */
static int
get_password(enum pw_source src, const char *arg, bool confirm, char *buf,
    size_t size)
{
	char again[PASSWORD_MAX];

	if (src == PW_ARG) {
		if (strlen(arg) >= size)
			goto too_long;
		memcpy(buf, arg, strlen(arg) + 1);
		return 0;
	}
	if (src == PW_STDIN) {
		if (read_line(stdin, buf, size) < 0 || buf[0] == '\0') {
			fprintf(stderr, "rspamadm: no password on stdin\n");
			return -1;
		}
		return 0;
	}
	if (!isatty(STDIN_FILENO) || prompt_tty("Password: ", buf, size) < 0) {
		fprintf(stderr, "rspamadm: no terminal to ask for the password; "
		    "use --password-stdin\n");
		return -1;
	}
	if (confirm && (prompt_tty("Again: ", again, sizeof(again)) < 0 ||
	    strcmp(buf, again) != 0)) {
		explicit_bzero(again, sizeof(again));
		fprintf(stderr, "rspamadm: the passwords differ\n");
		return -1;
	}
	explicit_bzero(again, sizeof(again));
	if (buf[0] == '\0') {
		fprintf(stderr, "rspamadm: empty password\n");
		return -1;
	}
	return 0;
too_long:
	fprintf(stderr, "rspamadm: password too long\n");
	return -1;
}

/* Options after the positional arguments of user add/passwd/auth. */
struct user_opts {
	enum pw_source pw;
	const char *pw_arg;
	uint64_t quota;
	bool has_quota;
};

static int
parse_user_opts(int argc, char **argv, int first, struct user_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0) {
			o->pw = PW_STDIN;
		} else if (strcmp(argv[i], "--password") == 0 && i + 1 < argc) {
			o->pw = PW_ARG;
			o->pw_arg = argv[++i];
		} else if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc) {
			if (users_parse_size(argv[++i], &o->quota) < 0) {
				fprintf(stderr, "rspamadm: bad size \"%s\" "
				    "(e.g. 1G, 500M, 0 = unlimited)\n", argv[i]);
				return -1;
			}
			o->has_quota = true;
		} else {
			fprintf(stderr, "rspamadm: unexpected argument \"%s\"\n",
			    argv[i]);
			return -1;
		}
	}
	return 0;
}

int
admin_cmd_domain(const struct admin_ctx *ctx, int argc, char **argv)
{
	struct users_cli cli;
	char *error = NULL, **names;
	const char *op = argc > 1 ? argv[1] : "";
	int rc;

	if (!((strcmp(op, "add") == 0 && argc == 3) ||
	    (strcmp(op, "del") == 0 && argc == 3) ||
	    (strcmp(op, "list") == 0 && argc == 2))) {
		fprintf(stderr, "usage: rspamadm domain add|del NAME | list\n");
		return 1;
	}
	if (cli_open(ctx, &cli) < 0)
		return 1;
	if (strcmp(op, "add") == 0) {
		rc = report(users_admin_domain_add(cli.u, argv[2], &error), &error);
	} else if (strcmp(op, "del") == 0) {
		rc = report(users_admin_domain_del(cli.u, argv[2], &error), &error);
	} else {
		rc = report(users_admin_domain_list(cli.u, &names, &error), &error);
		for (size_t i = 0; rc == 0 && names[i] != NULL; i++)
			printf("%s\n", names[i]);
		if (rc == 0)
			users_list_free(names);
	}
	cli_close(&cli);
	return rc;
}

static void
print_size(uint64_t b)
{
	if (b == 0)
		printf("unlimited");
	else if (b % (1ull << 30) == 0)
		printf("%lluG", (unsigned long long)(b >> 30));
	else if (b % (1ull << 20) == 0)
		printf("%lluM", (unsigned long long)(b >> 20));
	else
		printf("%llu", (unsigned long long)b);
}

static int
user_list(struct users *u, int argc, char **argv)
{
	struct users_entry *ents;
	char *error = NULL;
	size_t n;

	if (users_admin_user_list(u, argc > 2 ? argv[2] : NULL, &ents, &n,
	    &error) < 0)
		return report(-1, &error);
	for (size_t i = 0; i < n; i++) {
		printf("%s\tquota=", ents[i].email);
		print_size(ents[i].quota_bytes);
		putchar('\n');
	}
	users_entries_free(ents, n);
	return 0;
}

static const char *const status_names[] = {
	[USERS_FOUND] = "found",
	[USERS_NOT_LOCAL] = "not-local",
	[USERS_UNKNOWN] = "unknown",
	[USERS_INVALID] = "invalid",
	[USERS_TEMPFAIL] = "tempfail",
};

static void
check_cb(const struct users_resolution *r, void *ud)
{
	int *status = ud;

	printf("address: %s\nstatus: %s\n", r->address, status_names[r->status]);
	for (size_t i = 0; i < r->n_mailboxes; i++) {
		printf("mailbox: %s quota=", r->mailboxes[i].email);
		print_size(r->mailboxes[i].quota_bytes);
		putchar('\n');
	}
	for (size_t i = 0; i < r->n_remote; i++)
		printf("remote: %s\n", r->remote[i]);
	if (r->catchall)
		printf("catchall: yes\n");
	if (r->truncated)
		printf("truncated: yes\n");
	if (r->error != NULL)
		printf("error: %s\n", r->error);
	*status = r->status == USERS_FOUND ? 0 :
	    r->status == USERS_TEMPFAIL ? 2 : 1;
}

static void
auth_cb(int result, void *ud)
{
	*(int *)ud = result;
}

/* user auth EMAIL [pw opts]: 0 good, 1 bad, 2 temporary failure. */
static int
user_auth(struct users *u, const char *email, const struct user_opts *o)
{
	char pw[PASSWORD_MAX];
	int result = -1;

	if (get_password(o->pw, o->pw_arg, false, pw, sizeof(pw)) < 0)
		return 1;
	(void)users_authenticate(u, email, pw, auth_cb, &result);
	explicit_bzero(pw, sizeof(pw));
	printf("%s\n", result == 1 ? "ok" : result == 0 ? "fail" : "tempfail");
	return result == 1 ? 0 : result == 0 ? 1 : 2;
}

/* user add/passwd: hash a password from the chosen source and store. */
static int
user_set(struct users *u, bool add, const char *email,
    const struct user_opts *o)
{
	char pw[PASSWORD_MAX], *error = NULL;
	int rc;

	if (get_password(o->pw, o->pw_arg, true, pw, sizeof(pw)) < 0)
		return 1;
	if (add)
		rc = users_admin_user_add(u, email, pw, o->quota, &error);
	else
		rc = users_admin_user_passwd(u, email, pw, &error);
	explicit_bzero(pw, sizeof(pw));
	if (rc == 0 && !add && o->has_quota)
		rc = users_admin_user_quota(u, email, o->quota, &error);
	return report(rc, &error);
}

static int
user_dispatch(struct users *u, int argc, char **argv)
{
	const char *op = argv[1];
	struct user_opts o;
	char *error = NULL;
	int status = 1;

	if (strcmp(op, "list") == 0)
		return user_list(u, argc, argv);
	if (strcmp(op, "sender") == 0) {
		int result = -1;

		if (argc != 4) {
			fprintf(stderr, "usage: rspamadm user sender AUTH_USER "
			    "MAIL_FROM\n");
			return 1;
		}
		(void)users_sender_allowed(u, argv[2], argv[3],
		    auth_cb, &result);
		printf("%s\n", result == 1 ? "allowed" : result == 0 ?
		    "denied" : "tempfail");
		return result == 1 ? 0 : result == 0 ? 1 : 2;
	}
	if (parse_user_opts(argc, argv, 3, &o) < 0)
		return 1;
	if (strcmp(op, "add") == 0)
		return user_set(u, true, argv[2], &o);
	if (strcmp(op, "passwd") == 0)
		return user_set(u, false, argv[2], &o);
	if (strcmp(op, "auth") == 0)
		return user_auth(u, argv[2], &o);
	if (strcmp(op, "quota") == 0 && o.has_quota)
		return report(users_admin_user_quota(u, argv[2], o.quota,
		    &error), &error);
	if (strcmp(op, "del") == 0)
		return report(users_admin_user_del(u, argv[2], &error), &error);
	(void)users_resolve(u, argv[2], check_cb, &status);
	return status;
}

int
admin_cmd_user(const struct admin_ctx *ctx, int argc, char **argv)
{
	static const char *const ops[] = {
		"add", "del", "list", "passwd", "quota", "check", "auth", "sender",
	};
	struct users_cli cli;
	bool known = false;
	int rc;

	for (size_t i = 0; argc > 1 && i < sizeof(ops) / sizeof(ops[0]); i++)
		known |= strcmp(argv[1], ops[i]) == 0;
	if (!known || (strcmp(argv[1], "list") != 0 && argc < 3) ||
	    (strcmp(argv[1], "list") == 0 && argc > 3)) {
		fprintf(stderr, "usage: rspamadm user add EMAIL [--quota SIZE] "
		    "[--password-stdin | --password PW]\n"
		    "       rspamadm user passwd EMAIL [--password-stdin | "
		    "--password PW]\n"
		    "       rspamadm user del EMAIL | list [DOMAIN] | "
		    "quota EMAIL --quota SIZE\n"
		    "       rspamadm user check ADDRESS | auth EMAIL "
		    "[--password-stdin] | sender AUTH_USER MAIL_FROM\n");
		return 1;
	}
	if (cli_open(ctx, &cli) < 0)
		return 1;
	rc = user_dispatch(cli.u, argc, argv);
	cli_close(&cli);
	return rc;
}

static int
alias_list(struct users *u, const char *domain)
{
	struct users_alias *als;
	char *error = NULL;
	size_t n;

	if (users_admin_alias_list(u, domain, &als, &n, &error) < 0)
		return report(-1, &error);
	for (size_t i = 0; i < n; i++)
		printf("%s\t%s\n", als[i].source, als[i].dest);
	users_aliases_free(als, n);
	return 0;
}

int
admin_cmd_alias(const struct admin_ctx *ctx, int argc, char **argv)
{
	struct users_cli cli;
	const char *op = argc > 1 ? argv[1] : "";
	char *error = NULL;
	int rc;

	if (!((strcmp(op, "add") == 0 && argc == 4) ||
	    (strcmp(op, "del") == 0 && (argc == 3 || argc == 4)) ||
	    (strcmp(op, "list") == 0 && argc <= 3))) {
		fprintf(stderr, "usage: rspamadm alias add SOURCE DEST | "
		    "del SOURCE [DEST] | list [DOMAIN]\n"
		    "  (SOURCE \"@domain\" is the domain's catch-all)\n");
		return 1;
	}
	if (cli_open(ctx, &cli) < 0)
		return 1;
	if (strcmp(op, "add") == 0)
		rc = report(users_admin_alias_add(cli.u, argv[2], argv[3],
		    &error), &error);
	else if (strcmp(op, "del") == 0)
		rc = report(users_admin_alias_del(cli.u, argv[2],
		    argc == 4 ? argv[3] : NULL, &error), &error);
	else
		rc = alias_list(cli.u, argc == 3 ? argv[2] : NULL);
	cli_close(&cli);
	return rc;
}
