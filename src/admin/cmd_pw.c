/*
 * cmd_pw.c - `rspamadm pw`: hash a controller password into the
 * "$<id>$<salt>$<key>" form that `password` / `enable_password` accept
 * (spec/config.md section 5.1), or check a password against such a hash.
 *
 * The password comes from -p, else from the terminal with echo off, else
 * (stdin not a terminal) from the first line of stdin, so scripts can pipe
 * it in without exposing it in the process list. The options are those of
 * rspamadm 3.4: with -c the -p argument is the hash, and the password to
 * check is read as above.
 */
#include "admin/admin.h"
#include "crypto/pwhash.h"

#include <getopt.h>
#include <stdbool.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PW_MAX 1024

/* One line into buf without its line end; -1 on EOF before any byte. */
static int
pw_read_line(FILE *in, char *buf, size_t size)
{
	size_t n;

	if (fgets(buf, (int)size, in) == NULL)
		return -1;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return 0;
}

static int
pw_read_tty(char *buf, size_t size)
{
	struct termios old, quiet;
	int rc;

	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return pw_read_line(stdin, buf, size);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	fputs("Enter passphrase: ", stderr);
	fflush(stderr);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	rc = pw_read_line(stdin, buf, size);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return rc;
}

static void
pw_usage(FILE *f)
{
	fputs("usage: rspamadm pw [-e] [-p password] [-t catena|pbkdf2]\n"
	    "       rspamadm pw -c -p HASH   (reads the password to check)\n"
	    "  -e, --encrypt      hash a password (the default)\n"
	    "  -c, --check        check a password against the hash given with -p\n"
	    "  -p, --password PW  the password, or the hash with -c\n"
	    "                     (default: ask on the terminal, or read stdin)\n"
	    "  -t, --type TYPE    catena (default, $2$) or pbkdf2 ($1$)\n"
	    "  -q, --quiet        print nothing for -c, only the exit status\n"
	    "  -l, --list         list the algorithms\n", f);
}

static int
pw_check(const char *hash, const char *password, bool quiet)
{
	int rc = pwhash_verify(hash, password, strlen(password));

	if (rc < 0) {
		fprintf(stderr, "rspamadm pw: malformed or unsupported hash\n");
		return 1;
	}
	if (!quiet)
		printf("%s\n", rc == 1 ? "password correct" : "Invalid password");
	return rc == 1 ? 0 : 1;
}

static int
pw_list(void)
{
	printf("pbkdf2: PBKDF2 over keyed BLAKE2b-512, 16000 rounds ($1$)\n"
	    "catena: Catena-Butterfly-Full over BLAKE2b-512, memory hard ($2$, default)\n");
	return 0;
}

/* The secret from -p or, without it, from the terminal or stdin. */
static const char *
pw_input(const char *given, char *buf, size_t size)
{
	if (given != NULL)
		return given;
	if ((isatty(STDIN_FILENO) ? pw_read_tty(buf, size) :
	    pw_read_line(stdin, buf, size)) < 0) {
		fprintf(stderr, "rspamadm pw: no password given\n");
		return NULL;
	}
	return buf;
}

struct pw_opts {
	enum pwhash_type type;
	const char *given;  /* -p */
	bool check;
	bool quiet;
};

/* Returns -1 to go on, else the exit status (help, list, bad option). */
static int
pw_parse(int argc, char **argv, struct pw_opts *o)
{
	static const struct option opts[] = {
		{ "password", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "check", no_argument, NULL, 'c' },
		{ "encrypt", no_argument, NULL, 'e' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0; /* GNU: full reset, the globals were parsed already */
	while ((c = getopt_long(argc, argv, "p:t:ceqlh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->given = optarg;
			break;
		case 't':
			if (pwhash_type_parse(optarg, &o->type) < 0) {
				fprintf(stderr, "rspamadm pw: unknown type '%s'\n", optarg);
				return 1;
			}
			break;
		case 'c':
		case 'e':
			o->check = c == 'c';
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'l':
			return pw_list();
		case 'h':
			pw_usage(stdout);
			return 0;
		default:
			pw_usage(stderr);
			return 1;
		}
	}
	return -1;
}

int
admin_cmd_pw(const struct admin_ctx *ctx, int argc, char **argv)
{
	struct pw_opts o = { .type = PWHASH_CATENA };
	char buf[PW_MAX], out[PWHASH_ENCODED_MAX];
	const char *pw;
	int rc = 1;

	(void)ctx;
	if ((rc = pw_parse(argc, argv, &o)) >= 0)
		return rc;
	rc = 1;
	if (o.check && o.given == NULL) {
		fprintf(stderr, "rspamadm pw: -c needs the hash as -p HASH\n");
		return 1;
	}
	pw = pw_input(o.check ? NULL : o.given, buf, sizeof(buf));
	if (pw == NULL)
		rc = 1;
	else if (o.check)
		rc = pw_check(o.given, pw, o.quiet);
	else if (pwhash_make(o.type, pw, strlen(pw), out, sizeof(out)) < 0)
		fprintf(stderr, "rspamadm pw: hashing failed\n");
	else {
		printf("%s\n", out);
		rc = 0;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}
