/*
 * spf_engine.c - the SPF_CHECK rule: runs check_host() for the client IP
 * and MAIL FROM (postmaster@HELO for the null sender) on the worker's
 * resolver and inserts the R_SPF_* symbol Rspamd would, with the matched
 * mechanism as the option (e.g. "+ip4:192.0.2.0/24").
 *
 * Like Rspamd, mail from authenticated users and from options.local_addrs
 * is not checked unless spf { check_authed = true; } or
 * spf { check_local = true; } say so: their envelope sender says nothing
 * about the path they took. The result is kept in the task's auth context
 * for DMARC (spf_task_result()).
 */
#include "auth/auth.h"
#include "auth/auth_task.h"
#include "auth/dns.h"
#include "auth/spf.h"

#include "config/config.h"
#include "core/common.h"
#include "core/netaddr.h"
#include "core/obj.h"
#include "core/pool.h"
#include "log/log.h"
#include "scan/engine.h"
#include "scan/task.h"

#define SPF_RULE "SPF_CHECK"
#define SPF_GROUP "spf"

static const struct symbol_info spf_symbols[] = {
	{ "R_SPF_ALLOW", -0.2, SPF_GROUP, "SPF verification allows sending", 0 },
	{ "R_SPF_FAIL", 1.0, SPF_GROUP, "SPF verification failed", 0 },
	{ "R_SPF_SOFTFAIL", 0.0, SPF_GROUP, "SPF verification soft-failed", 0 },
	{ "R_SPF_NEUTRAL", 0.0, SPF_GROUP, "SPF policy is neutral", 0 },
	{ "R_SPF_DNSFAIL", 0.0, SPF_GROUP, "SPF DNS failure", 0 },
	{ "R_SPF_PERMFAIL", 0.0, SPF_GROUP, "SPF record is malformed or persistent DNS error", 0 },
	{ "R_SPF_NA", 0.0, SPF_GROUP, "Missing SPF record", 0 },
};

static const char *
spf_symbol(enum spf_res r)
{
	switch (r) {
	case SPF_RES_PASS: return "R_SPF_ALLOW";
	case SPF_RES_FAIL: return "R_SPF_FAIL";
	case SPF_RES_SOFTFAIL: return "R_SPF_SOFTFAIL";
	case SPF_RES_NEUTRAL: return "R_SPF_NEUTRAL";
	case SPF_RES_TEMPERROR: return "R_SPF_DNSFAIL";
	case SPF_RES_PERMERROR: return "R_SPF_PERMFAIL";
	case SPF_RES_NONE: break;
	}
	return "R_SPF_NA";
}

static bool
spf_conf_bool(const struct config *cfg, const char *key, bool dflt)
{
	const struct obj *sec = obj_lookup(cfg->root, "spf");
	const struct obj *o = sec != NULL ? obj_lookup(sec, key) : NULL;
	bool b;

	return o != NULL && obj_get_bool(o, &b) == 0 ? b : dflt;
}

static bool
spf_ip_is_local(const struct config *cfg, const char *ip)
{
	const struct obj *opts = obj_lookup(cfg->root, "options");
	const struct obj *list = opts != NULL ? obj_lookup(opts, "local_addrs") : NULL;
	const struct obj *it = NULL, *o;

	while (list != NULL && (o = obj_iter_values(list, &it)) != NULL) {
		const char *s = obj_get_string(o);
		struct netmask m;

		if (s != NULL && netmask_parse(s, &m) == 0 && netmask_match_text(&m, ip))
			return true;
	}
	return false;
}

static int
spf_task_lookup(void *rctx, const char *name, int qtype, dns_cb *cb, void *ud)
{
	return dns_task_resolve(rctx, name, qtype, cb, ud);
}

static void
spf_done(const struct spf_result *res, void *ud)
{
	struct scan_task *task = ud;
	struct auth_task *at = auth_task_get(task);

	if (at != NULL)
		at->spf = res;
	log_info("spf", task->id, "SPF %s for %s from %s (%s)", spf_result_name(res->result),
	    res->domain ? res->domain : "?", task->env.ip,
	    res->mechanism ? res->mechanism : res->reason ? res->reason : "default");
	scan_task_insert(task, spf_symbol(res->result), 1.0, res->mechanism);
}

/* No check: DMARC still learns that no SPF result is coming. */
static void
spf_skip(struct scan_task *task, const char *why)
{
	struct auth_task *at = auth_task_get(task);
	struct spf_result *res = pool_alloc(task->pool, sizeof(*res));

	if (at == NULL || res == NULL)
		return;
	res->result = SPF_RES_NONE;
	res->reason = why;
	at->spf = res;
}

/* Why this task is not checked, or NULL. */
static const char *
spf_skip_reason(const struct scan_task *task)
{
	if (!spf_conf_bool(task->cfg, "enabled", true))
		return "not checked: disabled";
	if (task->env.ip == NULL || task->loop == NULL)
		return "not checked: no client address or no event loop";
	if (task->env.user != NULL && !spf_conf_bool(task->cfg, "check_authed", false))
		return "not checked: authenticated user";
	if (spf_ip_is_local(task->cfg, task->env.ip) &&
	    !spf_conf_bool(task->cfg, "check_local", false))
		return "not checked: local address";
	return NULL;
}

static void
spf_rule(struct scan_task *task, void *ud)
{
	struct spf_query q;
	const char *why;

	(void)ud;
	if ((why = spf_skip_reason(task)) != NULL) {
		spf_skip(task, why);
		return;
	}
	q.ip = task->env.ip;
	q.sender = task->env.from;
	q.helo = task->env.helo;
	q.receiver = NULL;
	if (spf_check(task->pool, &q, spf_task_lookup, task, spf_done, task) < 0) {
		log_warn("spf", task->id, "task memory cap reached, SPF not checked");
		spf_skip(task, "not checked: task memory cap");
	}
}

const struct spf_result *
spf_task_result(const struct scan_task *task)
{
	const struct auth_task *at = task->auth_task;

	return at != NULL ? at->spf : NULL;
}

int
spf_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	static const struct rule_def rd = {
		SPF_RULE, RULE_STAGE_FILTER, 0, spf_rule, NULL,
	};

	(void)cfg;
	(void)error_r;
	for (size_t i = 0; i < ARRAY_SIZE(spf_symbols); i++)
		scan_engine_add_symbol(eng, &spf_symbols[i]);
	scan_engine_add_rule(eng, &rd);
	return 0;
}
