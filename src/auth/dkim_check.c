/*
 * dkim_check.c - the DKIM verification rule: finds the signatures of the
 * message, looks their keys up over the task's asynchronous resolver and
 * inserts R_DKIM_ALLOW / R_DKIM_REJECT / R_DKIM_TEMPFAIL / R_DKIM_PERMFAIL
 * (option "domain:s=selector", as Rspamd writes them) or R_DKIM_NA.
 *
 * The per-signature results also go to the task's auth context
 * (auth_task->dkim) once every signature is settled, for DMARC; an empty
 * result is published when there is nothing to check, so DMARC never
 * waits for a DKIM result that will not come.
 *
 * Settings are read from the task's config snapshot when the rule runs
 * (dkim { enabled; max_sigs; time_jitter; check_local; check_authed; }),
 * so the engine keeps no DKIM state and a reload needs nothing special.
 */
#include "auth/auth.h"
#include "auth/auth_task.h"
#include "auth/dkim.h"
#include "auth/dkim_internal.h"
#include "auth/dns.h"

#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/netaddr.h"
#include "core/obj.h"
#include "core/pool.h"
#include "log/log.h"
#include "scan/engine.h"
#include "scan/task.h"

#define DKIM_RULE "DKIM_CHECK"
#define DKIM_DEFAULT_MAX_SIGS 5
#define DKIM_DEFAULT_JITTER 3600

static const struct symbol_info dkim_symbols[] = {
	{ "R_DKIM_ALLOW", -0.2, "dkim", "DKIM verification succeed", 0 },
	{ "R_DKIM_REJECT", 1.0, "dkim", "DKIM verification failed", 0 },
	{ "R_DKIM_TEMPFAIL", 0.0, "dkim", "DKIM verification soft-failed", 0 },
	{ "R_DKIM_PERMFAIL", 0.0, "dkim", "DKIM verification hard-failed (invalid)", 0 },
	{ "R_DKIM_NA", 0.0, "dkim", "Missing DKIM signature", 0 },
	{ "R_DKIM_SHA1", 0.0, "dkim", "DKIM signature verified with the weak rsa-sha1", 0 },
};

struct dkim_task {
	struct scan_task *task;
	struct dkim_verify v;
	size_t outstanding;   /* lookups whose answer has not come */
	bool all_started;
	bool finished;
};

struct dkim_lookup {
	struct dkim_task *dt;
	struct dkim_check *check;
};

const struct obj *
dkim_conf(const struct config *cfg, const char *section, const char *path)
{
	const struct obj *sec = obj_lookup(cfg->root, section);

	return sec != NULL ? obj_lookup_path(sec, path) : NULL;
}

bool
dkim_conf_bool(const struct config *cfg, const char *section, const char *path, bool def)
{
	const struct obj *o = dkim_conf(cfg, section, path);
	bool b;

	return o != NULL && obj_get_bool(o, &b) == 0 ? b : def;
}

static double
conf_double(const struct config *cfg, const char *path, double def)
{
	const struct obj *o = dkim_conf(cfg, "dkim", path);
	double d;

	return o != NULL && obj_get_double(o, &d) == 0 ? d : def;
}

bool
dkim_ip_in_list(const struct obj *list, const char *ip)
{
	const struct obj *it = NULL, *o;

	if (list == NULL || ip == NULL)
		return false;
	while ((o = obj_iter_values(list, &it)) != NULL) {
		const char *s = obj_get_string(o);
		struct netmask m;

		if (s != NULL && netmask_parse(s, &m) == 0 && netmask_match_text(&m, ip))
			return true;
	}
	return false;
}

bool
dkim_ip_is_local(const struct config *cfg, const char *ip)
{
	const struct obj *opts = obj_lookup(cfg->root, "options");

	return opts != NULL && dkim_ip_in_list(obj_lookup(opts, "local_addrs"), ip);
}

static const char *
result_symbol(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_PASS: return "R_DKIM_ALLOW";
	case DKIM_RESULT_FAIL: return "R_DKIM_REJECT";
	case DKIM_RESULT_TEMPERROR: return "R_DKIM_TEMPFAIL";
	case DKIM_RESULT_PERMERROR: return "R_DKIM_PERMFAIL";
	case DKIM_RESULT_NONE: break;
	}
	return NULL;
}

static void
dkim_publish(struct dkim_task *dt)
{
	struct scan_task *task = dt->task;
	struct auth_task *at = auth_task_get(task);
	struct dkim_task_result *res = pool_calloc(task->pool, 1, sizeof(*res));
	struct dkim_task_sig *sigs = NULL;

	if (at == NULL || res == NULL)
		return;
	if (dt->v.n_checks > 0)
		sigs = pool_calloc(task->pool, dt->v.n_checks, sizeof(*sigs));
	for (size_t i = 0; sigs != NULL && i < dt->v.n_checks; i++) {
		const struct dkim_check *c = &dt->v.checks[i];

		sigs[i].domain = c->sig.domain;
		sigs[i].selector = c->sig.selector;
		sigs[i].auid = c->sig.auid;
		sigs[i].result = c->result;
		sigs[i].sha1 = c->sig.alg == DKIM_ALG_RSA_SHA1;
		res->n_sigs++;
	}
	res->sigs = sigs;
	at->dkim = res;
}

static void
dkim_finish(struct dkim_task *dt)
{
	struct scan_task *task = dt->task;

	if (dt->finished || !dt->all_started || dt->outstanding > 0)
		return;
	dt->finished = true;
	for (size_t i = 0; i < dt->v.n_checks; i++) {
		const struct dkim_check *c = &dt->v.checks[i];
		const char *sym = result_symbol(c->result);
		char *opt = NULL;

		if (sym == NULL)
			continue;
		if (c->sig.domain != NULL)
			opt = pool_printf(task->pool, "%s:s=%s", c->sig.domain,
			    c->sig.selector != NULL ? c->sig.selector : "");
		scan_task_insert(task, sym, 1.0, opt);
		if (c->result == DKIM_RESULT_PASS && c->sig.alg == DKIM_ALG_RSA_SHA1)
			scan_task_insert(task, "R_DKIM_SHA1", 1.0, opt);
		log_debug("dkim", task->id, "signature %s: %s%s%s", opt != NULL ? opt : "?",
		    dkim_result_name(c->result), c->reason != NULL ? ", " : "",
		    c->reason != NULL ? c->reason : "");
	}
	dkim_publish(dt);
}

/* The key record among the TXT answers: the first that looks like one */
static const struct dns_rr *
pick_record(const struct dns_reply *reply)
{
	for (size_t i = 0; i < reply->n_rr; i++) {
		struct str t = str_make(reply->rr[i].v.txt.data, reply->rr[i].v.txt.len);

		if (reply->rr[i].type == DNS_T_TXT &&
		    (str_has_prefix_case(t, "v=DKIM1") || str_find_case(t, STR_LIT("p=")) >= 0))
			return &reply->rr[i];
	}
	return NULL;
}

static void
dkim_dns_cb(const struct dns_reply *reply, void *ud)
{
	struct dkim_lookup *lk = ud;
	struct dkim_check *c = lk->check;
	const struct dns_rr *rr;

	if (reply->rcode == DNS_RC_NOERROR && (rr = pick_record(reply)) != NULL) {
		dkim_verify_record(&lk->dt->v, c, str_make(rr->v.txt.data, rr->v.txt.len));
	} else if (reply->rcode == DNS_RC_NOERROR || reply->rcode == DNS_RC_NXDOMAIN) {
		c->result = DKIM_RESULT_PERMERROR;
		c->reason = "no key record";
	} else {
		c->result = DKIM_RESULT_TEMPERROR;
		c->reason = "key lookup failed";
	}
	lk->dt->outstanding--;
	dkim_finish(lk->dt);
}

static void
dkim_start_lookups(struct dkim_task *dt)
{
	for (size_t i = 0; i < dt->v.n_checks; i++) {
		struct dkim_check *c = &dt->v.checks[i];
		struct dkim_lookup *lk;
		char *name;

		if (c->result != DKIM_RESULT_NONE)
			continue;
		lk = pool_alloc(dt->task->pool, sizeof(*lk));
		name = dkim_check_key_name(&dt->v, c);
		if (lk == NULL || name == NULL) {
			c->result = DKIM_RESULT_TEMPERROR;
			c->reason = "out of memory";
			continue;
		}
		lk->dt = dt;
		lk->check = c;
		dt->outstanding++;
		if (dns_task_resolve(dt->task, name, DNS_T_TXT, dkim_dns_cb, lk) < 0) {
			dt->outstanding--;
			c->result = DKIM_RESULT_TEMPERROR;
			c->reason = "key lookup not possible";
		}
	}
	dt->all_started = true;
	dkim_finish(dt);
}

static bool
dkim_skipped(const struct scan_task *task)
{
	const struct config *cfg = task->cfg;

	if (!dkim_conf_bool(cfg, "dkim", "enabled", true) || task->msg == NULL)
		return true;
	if (task->env.user != NULL && !dkim_conf_bool(cfg, "dkim", "check_authed", false))
		return true;
	return task->env.ip != NULL && !dkim_conf_bool(cfg, "dkim", "check_local", false) &&
	    dkim_ip_is_local(cfg, task->env.ip);
}

static void
dkim_rule(struct scan_task *task, void *ud)
{
	struct dkim_task *dt;
	double max_sigs = conf_double(task->cfg, "max_sigs", DKIM_DEFAULT_MAX_SIGS);
	double jitter = conf_double(task->cfg, "time_jitter", DKIM_DEFAULT_JITTER);

	(void)ud;
	if (dkim_skipped(task))
		return;
	dt = pool_calloc(task->pool, 1, sizeof(*dt));
	if (dt == NULL || dkim_verify_init(&dt->v, task->pool, task->data, task->len,
	    max_sigs >= 1 ? (size_t)max_sigs : 1, time(NULL),
	    jitter >= 0 ? (unsigned)jitter : 0) < 0)
		return;
	dt->task = task;
	if (dt->v.n_checks == 0) {
		scan_task_insert(task, "R_DKIM_NA", 1.0, NULL);
		dt->all_started = true;
		dkim_finish(dt);
		return;
	}
	if (task->loop == NULL)
		return;  /* synchronous scan: no key lookups possible */
	dkim_start_lookups(dt);
}

int
dkim_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	static const struct rule_def rd = {
		DKIM_RULE, RULE_STAGE_FILTER, 0, dkim_rule, NULL,
	};

	(void)cfg;
	(void)error_r;
	for (size_t i = 0; i < ARRAY_SIZE(dkim_symbols); i++)
		scan_engine_add_symbol(eng, &dkim_symbols[i]);
	scan_engine_add_rule(eng, &rd);
	return 0;
}
