/*
 * test_spf_cli.c - our SPF evaluator as a command for the RFC 7208 test
 * suite (test/functional/test_spf_suite.py), and the ctest entry that runs
 * that suite.
 *
 * With --ns HOST:PORT it reads lines "id TAB ip TAB sender TAB helo" on
 * stdin, evaluates each on a private resolver pointed at that server and
 * prints "id TAB result TAB explanation TAB mechanism" (explanation and
 * mechanism "-" when none). --ip/--sender/--helo do a single check.
 * Without arguments (as ctest runs it) it runs the suite script with
 * itself as the evaluator and returns its status.
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>

#include "auth/dns.h"
#include "auth/spf.h"
#include "core/pool.h"

struct cli {
	struct ev_loop *loop;
	struct dns_resolver *r;
	const struct spf_result *res;
};

static int
cli_resolve(void *rctx, const char *name, int qtype, dns_cb *cb, void *ud)
{
	struct cli *c = rctx;

	dns_resolve(c->r, name, qtype, cb, ud);
	return 0;
}

static void
cli_done(const struct spf_result *res, void *ud)
{
	struct cli *c = ud;

	c->res = res;
}

static void
print_clean(const char *s)
{
	if (s == NULL || *s == '\0') {
		fputs("-", stdout);
		return;
	}
	for (; *s != '\0'; s++)
		putchar(*s == '\t' || *s == '\n' ? ' ' : *s);
}

static void
check_one(struct cli *c, const char *id, const char *ip, const char *sender, const char *helo)
{
	struct pool *pool = pool_new(0);
	struct spf_query q = { .ip = ip, .sender = sender, .helo = helo };

	c->res = NULL;
	spf_check(pool, &q, cli_resolve, c, cli_done, c);
	while (c->res == NULL)
		ev_run(c->loop, EVRUN_ONCE);
	printf("%s\t%s\t", id, spf_result_name(c->res->result));
	print_clean(c->res->explanation);
	putchar('\t');
	print_clean(c->res->mechanism);
	putchar('\t');
	print_clean(c->res->reason);
	putchar('\n');
	fflush(stdout);
	pool_free(&pool);
}

/* Splits "a\tb\tc\td" in place; missing fields are "". */
static void
split_tabs(char *line, char **f, int n)
{
	for (int i = 0; i < n; i++) {
		char *tab;

		f[i] = line;
		if ((tab = strchr(line, '\t')) != NULL) {
			*tab = '\0';
			line = tab + 1;
		} else {
			line += strlen(line);
		}
	}
}

static int
run_suite(const char *argv0)
{
	char cmd[4096], self[2048];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0)
		self[n] = '\0';
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 test/functional/test_spf_suite.py --binary '%s'",
	    n > 0 ? self : argv0);
	return system(cmd) == 0 ? 0 : 1;
}

static int
cli_main(int argc, char **argv)
{
	struct dns_settings s = { .timeout = 0.3, .retransmits = 1, .cache_entries = 1024 };
	const char *ip = NULL, *sender = "", *helo = "";
	char *ns = NULL, *error = NULL, line[4096];
	struct cli c = { .loop = ev_default_loop(0) };
	int opt;

	while ((opt = getopt(argc, argv, "n:i:s:h:t:")) != -1) {
		switch (opt) {
		case 'n': ns = optarg; break;
		case 'i': ip = optarg; break;
		case 's': sender = optarg; break;
		case 'h': helo = optarg; break;
		case 't': s.timeout = strtod(optarg, NULL); break;
		default:
			fprintf(stderr, "usage: %s -n HOST:PORT [-t timeout] [-i ip -s sender -h helo]\n",
			    argv[0]);
			return 2;
		}
	}
	if (ns != NULL) {
		s.nameservers = &ns;
		s.n_nameservers = 1;
	}
	if ((c.r = dns_resolver_new(c.loop, &s, &error)) == NULL) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return 1;
	}
	if (ip != NULL) {
		check_one(&c, "-", ip, sender, helo);
	} else {
		while (fgets(line, sizeof(line), stdin) != NULL) {
			char *f[4];

			line[strcspn(line, "\r\n")] = '\0';
			split_tabs(line, f, 4);
			check_one(&c, f[0], f[1], f[2], f[3]);
		}
	}
	dns_resolver_free(&c.r);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 1)
		return run_suite(argv[0]);
	return cli_main(argc, argv);
}
