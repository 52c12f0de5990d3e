/*
 * cmd_spf.c - `rspamadm spf_check -i IP [-s SENDER] [-H HELO]
 * [-n NAMESERVER] [-t SECONDS]`: runs the scanner's own SPF evaluation
 * (auth/spf.h) once and prints the result, the matched mechanism, the
 * explanation or error and the lookup counts, so an administrator sees
 * exactly what R_SPF_* a message from that IP would get.
 *
 * DNS settings come from options.dns of the configuration (-c), or from
 * -n/-t when given (then a missing or broken configuration is no error).
 */
#include "admin/admin.h"

#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dns.h"
#include "auth/spf.h"
#include "config/config.h"
#include "core/pool.h"
#include "core/xmalloc.h"

struct spf_cli {
	struct dns_resolver *r;
	const struct spf_result *res;
};

static int
spf_cli_resolve(void *rctx, const char *name, int qtype, dns_cb *cb, void *ud)
{
	struct spf_cli *c = rctx;

	dns_resolve(c->r, name, qtype, cb, ud);
	return 0;
}

static void
spf_cli_done(const struct spf_result *res, void *ud)
{
	struct spf_cli *c = ud;

	c->res = res;
}

static void
spf_cli_print(const struct spf_result *res)
{
	printf("result: %s\n", spf_result_name(res->result));
	printf("domain: %s\n", res->domain ? res->domain : "-");
	printf("sender: %s\n", res->sender ? res->sender : "-");
	if (res->mechanism != NULL)
		printf("mechanism: %s\n", res->mechanism);
	if (res->explanation != NULL)
		printf("explanation: %s\n", res->explanation);
	if (res->reason != NULL)
		printf("reason: %s\n", res->reason);
	printf("lookups: %u (void: %u)\n", res->lookups, res->void_lookups);
}

/* options.dns of the configuration, overridden by -n and -t. */
static int
spf_cli_settings(const struct admin_ctx *ctx, char *ns, double timeout,
    struct dns_settings *s)
{
	struct config *cfg = NULL;
	char *error = NULL;
	int rc;

	if (config_load(ctx->conf_path, ctx->state_dir, &cfg, &error) < 0 && ns == NULL) {
		fprintf(stderr, "%s\n", error != NULL ? error : "cannot load config");
		free(error);
		return -1;
	}
	free(error);
	error = NULL;
	rc = dns_settings_from_config(cfg, s, &error);
	config_unref(&cfg);
	if (rc < 0) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return -1;
	}
	if (ns != NULL) {
		dns_settings_deinit(s);
		s->nameservers = xmalloc(sizeof(char *));
		s->nameservers[0] = xstrdup(ns);
		s->n_nameservers = 1;
	}
	if (timeout > 0)
		s->timeout = timeout;
	return 0;
}

int
admin_cmd_spf_check(const struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ip", required_argument, NULL, 'i' }, { "sender", required_argument, NULL, 's' },
		{ "helo", required_argument, NULL, 'H' },
		{ "nameserver", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
	};
	struct spf_query q = { .sender = "", .helo = "" };
	struct dns_settings s;
	struct spf_cli c = { 0 };
	struct ev_loop *loop = ev_default_loop(0);
	struct pool *pool;
	char *ns = NULL, *error = NULL;
	double timeout = 0;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:s:H:n:t:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': q.ip = optarg; break;
		case 's': q.sender = optarg; break;
		case 'H': q.helo = optarg; break;
		case 'n': ns = optarg; break;
		case 't': timeout = strtod(optarg, NULL); break;
		default: q.ip = NULL; optind = argc + 1; break;
		}
	}
	if (q.ip == NULL || optind != argc) {
		fprintf(stderr, "usage: rspamadm spf_check -i IP [-s SENDER] [-H HELO] "
		    "[-n NAMESERVER] [-t SECONDS]\n");
		return 1;
	}
	if (spf_cli_settings(ctx, ns, timeout, &s) < 0)
		return 1;
	c.r = dns_resolver_new(loop, &s, &error);
	dns_settings_deinit(&s);
	if (c.r == NULL) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return 1;
	}
	pool = pool_new(0);
	spf_check(pool, &q, spf_cli_resolve, &c, spf_cli_done, &c);
	while (c.res == NULL)
		ev_run(loop, EVRUN_ONCE);
	spf_cli_print(c.res);
	pool_free(&pool);
	dns_resolver_free(&c.r);
	return 0;
}
