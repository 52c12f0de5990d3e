/*
 * dmarc_check.c - the DMARC scan rule: From domain, record discovery over
 * DNS, waiting for SPF and DKIM, symbols, optional action and report row.
 *
 * The rule runs in the FILTER stage beside SPF and DKIM, so its DNS
 * lookup of _dmarc.<From domain> (then of the organizational domain, RFC
 * 7489 6.6.3) overlaps theirs. The engine orders rule starts, not
 * asynchronous completions, so once the record is known the rule waits for
 * the SPF and DKIM results with an ev_prepare watcher (run before the loop
 * blocks, so a completion in the previous iteration is seen at once, where
 * an ev_check started from an I/O callback would wait for the next
 * wake-up): it evaluates as soon
 * as both results are in the task's auth context, or when its own work is
 * the only pending work left (the other modules are done, disabled or had
 * nothing to check). A "dmarc" pending entry holds the stage open while it
 * waits; the time budget cancels it like any other work.
 *
 * Settings are read from the task's config at scan time (the task holds a
 * reference), so the engine keeps no per-module state to free on reload:
 *   dmarc { enabled = true; actions { reject = "reject";
 *           quarantine = "add header"; } reporting = false; }
 */
#include "auth/auth.h"
#include "auth/auth_task.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"
#include "auth/dns.h"
#include "auth/psl.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "core/obj.h"
#include "core/pool.h"
#include "log/log.h"
#include "mime/message.h"
#include "scan/engine.h"
#include "scan/task.h"

#define DMARC_GROUP "dmarc"
#define DMARC_RULE "DMARC_CALLBACK"

static const struct symbol_info dmarc_symbols[] = {
	{ "DMARC_POLICY_ALLOW", -0.5, DMARC_GROUP, "DMARC permit policy", 0 },
	{ "DMARC_POLICY_REJECT", 2.0, DMARC_GROUP, "DMARC reject policy", 0 },
	{ "DMARC_POLICY_QUARANTINE", 1.5, DMARC_GROUP, "DMARC quarantine policy", 0 },
	{ "DMARC_POLICY_SOFTFAIL", 0.1, DMARC_GROUP, "DMARC failed", 0 },
	{ "DMARC_NA", 0.0, DMARC_GROUP, "No DMARC record", 0 },
	{ "DMARC_BAD_POLICY", 0.5, DMARC_GROUP, "DMARC record is invalid", 0 },
	{ "DMARC_DNSFAIL", 0.0, DMARC_GROUP, "DMARC DNS failure", 0 },
};

struct dmarc_task {
	struct scan_task *task;
	struct scan_pending *pending;
	ev_prepare check;
	bool check_active;
	const char *from_domain;
	const char *org_domain;
	bool at_org;               /* the current lookup is the org domain's */
	struct dmarc_record rec;
	const char *rec_text;      /* pool copy the record's views point into */
};

static const struct obj *
dmarc_conf(const struct scan_task *task, const char *path)
{
	const struct obj *sec = obj_lookup(task->cfg->root, "dmarc");

	return sec != NULL ? obj_lookup_path(sec, path) : NULL;
}

static bool
dmarc_conf_bool(const struct scan_task *task, const char *path, bool def)
{
	const struct obj *o = dmarc_conf(task, path);
	bool b;

	if (o == NULL || obj_get_bool(o, &b) < 0)
		return def;
	return b;
}

static bool
dmarc_reporting(const struct scan_task *task)
{
	const struct obj *o = dmarc_conf(task, "reporting");

	if (o != NULL && obj_first(o) != NULL &&
	    obj_lookup(o, "enabled") != NULL)
		return dmarc_conf_bool(task, "reporting.enabled", false);
	return dmarc_conf_bool(task, "reporting", false);
}

/* Lowercases a domain (trailing dot dropped) into the pool; NULL if bad. */
static const char *
dmarc_clean_domain(struct pool *pool, const char *d)
{
	size_t len = d != NULL ? strlen(d) : 0;
	char *out;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c <= ' ' || c == '@' || c == ';' || c == '/' || c == '\\')
			return NULL;
	}
	if ((out = pool_strndup(pool, d, len)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		out[i] = ascii_tolower(out[i]);
	return out;
}

/*
 * The RFC5322.From domain (RFC 7489 6.6.1). Returns 0 with the domain, or
 * inserts DMARC_NA / DMARC_BAD_POLICY itself and returns -1.
 */
static int
dmarc_from_domain(struct scan_task *task, const char **domain_r)
{
	const struct mime_headers *h = &task->msg->headers;
	const char *from = mime_headers_get(h, "From");
	const struct mime_address *a, *first = NULL;

	if (from == NULL) {
		scan_task_insert(task, "DMARC_NA", 1.0, "No From header");
		return -1;
	}
	if (mime_headers_count(h, "From") > 1) {
		scan_task_insert(task, "DMARC_BAD_POLICY", 1.0,
		    "Duplicate From header");
		return -1;
	}
	for (a = mime_parse_addresses(task->pool, from, strlen(from));
	    a != NULL; a = a->next) {
		if (a->domain == NULL || *a->domain == '\0')
			continue;
		if (first == NULL)
			first = a;
		else if (strcasecmp(first->domain, a->domain) != 0) {
			scan_task_insert(task, "DMARC_BAD_POLICY", 1.0,
			    "Multiple different domains in From");
			return -1;
		}
	}
	if (first == NULL ||
	    (*domain_r = dmarc_clean_domain(task->pool, first->domain)) == NULL) {
		scan_task_insert(task, "DMARC_NA", 1.0, "No domain in From header");
		return -1;
	}
	return 0;
}

static void
dmarc_finish(struct dmarc_task *dt)
{
	struct scan_task *task = dt->task;

	if (dt->check_active) {
		ev_prepare_stop(task->loop, &dt->check);
		dt->check_active = false;
	}
	/* last: it may end the stage and free the task */
	scan_task_pending_done(task, dt->pending);
}

static void
dmarc_cancel(void *ud)
{
	struct dmarc_task *dt = ud;

	if (dt->check_active) {
		ev_prepare_stop(dt->task->loop, &dt->check);
		dt->check_active = false;
	}
}

static void
dmarc_publish_result(struct scan_task *task, const char *domain,
    const char *result)
{
	struct auth_task *at = auth_task_get(task);
	struct dmarc_task_result *res;

	if (at == NULL ||
	    (res = pool_calloc(task->pool, 1, sizeof(*res))) == NULL)
		return;
	res->domain = domain;
	res->result = result;
	at->dmarc = res;
}

/* Inserts `sym` with "domain : reason"; the non-policy outcomes are also
 * published as the task's DMARC result. */
static void
dmarc_insert(struct scan_task *task, const char *sym, const char *domain,
    const char *reason)
{
	char opt[384];

	if (strcmp(sym, "DMARC_NA") == 0)
		dmarc_publish_result(task, domain, "none");
	else if (strcmp(sym, "DMARC_BAD_POLICY") == 0)
		dmarc_publish_result(task, domain, "permerror");
	else if (strcmp(sym, "DMARC_DNSFAIL") == 0)
		dmarc_publish_result(task, domain, "temperror");

	if (reason != NULL)
		str_format(opt, sizeof(opt), "%s : %s", domain, reason);
	else
		str_lcpy(opt, domain, sizeof(opt));
	scan_task_insert(task, sym, 1.0, opt);
}

static enum dmarc_auth_result
dmarc_from_dkim(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_PASS:
		return DMARC_AUTH_PASS;
	case DKIM_RESULT_FAIL:
		return DMARC_AUTH_FAIL;
	case DKIM_RESULT_TEMPERROR:
		return DMARC_AUTH_TEMPERROR;
	case DKIM_RESULT_PERMERROR:
		return DMARC_AUTH_PERMERROR;
	case DKIM_RESULT_NONE:
		break;
	}
	return DMARC_AUTH_NONE;
}

/*
 * XXX: filled in when auth/spf.h lands (the SPF helper is writing it in
 * parallel); until then SPF counts as "none" for DMARC.
 */
static void
dmarc_collect_spf(struct scan_task *task, const struct auth_task *at,
    struct dmarc_auth *auth)
{
	const struct spf_result *r = at->spf;

	(void)task;
	if (r == NULL)
		return;
	auth->spf_domain = r->domain;
	switch (r->result) {
	case SPF_RES_PASS: auth->spf = DMARC_AUTH_PASS; break;
	case SPF_RES_FAIL:
	case SPF_RES_SOFTFAIL:
	case SPF_RES_NEUTRAL: auth->spf = DMARC_AUTH_FAIL; break;
	case SPF_RES_TEMPERROR: auth->spf = DMARC_AUTH_TEMPERROR; break;
	case SPF_RES_PERMERROR: auth->spf = DMARC_AUTH_PERMERROR; break;
	default: auth->spf = DMARC_AUTH_NONE; break;
	}
}

static bool
dmarc_spf_done(const struct auth_task *at)
{
	return at != NULL && at->spf != NULL;
}

/* SPF and DKIM results of the task as dmarc_evaluate() wants them. */
static void
dmarc_collect(struct scan_task *task, struct dmarc_auth *auth)
{
	const struct auth_task *at = task->auth_task;
	struct dmarc_dkim_sig *sigs;

	memset(auth, 0, sizeof(*auth));
	if (at == NULL)
		return;
	dmarc_collect_spf(task, at, auth);
	if (at->dkim == NULL || at->dkim->n_sigs == 0)
		return;
	sigs = pool_calloc(task->pool, at->dkim->n_sigs, sizeof(*sigs));
	if (sigs == NULL)
		return;
	for (size_t i = 0; i < at->dkim->n_sigs; i++) {
		sigs[i].domain = at->dkim->sigs[i].domain;
		sigs[i].result = dmarc_from_dkim(at->dkim->sigs[i].result);
	}
	auth->dkim = sigs;
	auth->n_dkim = at->dkim->n_sigs;
}

static const char *
dmarc_disposition_name(enum dmarc_disposition d)
{
	switch (d) {
	case DMARC_DISP_REJECT:
		return "reject";
	case DMARC_DISP_QUARANTINE:
		return "quarantine";
	case DMARC_DISP_NONE:
		break;
	}
	return "none";
}

/* The configured action for a disposition, or NULL (not configured). */
static void
dmarc_apply_action(struct scan_task *task, const struct dmarc_outcome *out)
{
	const char *key = out->disposition == DMARC_DISP_REJECT ?
	    "actions.reject" : out->disposition == DMARC_DISP_QUARANTINE ?
	    "actions.quarantine" : NULL;
	const struct obj *o;
	const char *action;

	if (key == NULL || out->sampled_out ||
	    (o = dmarc_conf(task, key)) == NULL ||
	    (action = obj_get_string(o)) == NULL || *action == '\0')
		return;
	scan_task_set_pre_result(task, action,
	    out->disposition == DMARC_DISP_REJECT ?
	    "Rejected due to DMARC Policy" : "Quarantined due to DMARC Policy",
	    "dmarc");
}

static void
dmarc_store_report(struct dmarc_task *dt, const struct dmarc_outcome *out)
{
	struct scan_task *task = dt->task;
	struct dmarc_report_row row;
	char date[9];
	char *error = NULL;

	if (task->env.ip == NULL || !dmarc_reporting(task))
		return;
	dmarc_report_date((long long)time(NULL), date);
	row.date = date;
	row.domain = dt->from_domain;
	row.ip = task->env.ip;
	row.disposition = out->disposition;
	row.dkim_aligned = out->dkim_aligned;
	row.spf_aligned = out->spf_aligned;
	row.policy = out->policy;
	row.pct = dt->rec.pct;
	if (dmarc_report_store(task->cfg->dbdir, &row, &error) < 0) {
		log_warn("dmarc", task->id, "report data not stored: %s", error);
		free(error);
	}
}

static void
dmarc_publish(struct dmarc_task *dt, const struct dmarc_outcome *out)
{
	struct auth_task *at;
	struct dmarc_task_result *res;

	dmarc_publish_result(dt->task, dt->from_domain,
	    out->pass ? "pass" : out->temperror ? "temperror" : "fail");
	if ((at = dt->task->auth_task) == NULL ||
	    (res = (struct dmarc_task_result *)at->dmarc) == NULL)
		return;
	res->policy = out->policy;
	res->disposition = out->disposition;
}

static void
dmarc_report_outcome(struct dmarc_task *dt, const struct dmarc_outcome *out)
{
	struct scan_task *task = dt->task;
	const char *sym;
	struct scan_symbol *s;

	if (out->pass) {
		s = scan_task_insert(task, "DMARC_POLICY_ALLOW", 1.0,
		    dt->from_domain);
		scan_symbol_add_option(task, s, dmarc_policy_name(out->policy));
		return;
	}
	if (out->temperror) {
		dmarc_insert(task, "DMARC_DNSFAIL", dt->from_domain,
		    "SPF or DKIM temporary error");
		return;
	}
	sym = out->disposition == DMARC_DISP_REJECT ? "DMARC_POLICY_REJECT" :
	    out->disposition == DMARC_DISP_QUARANTINE ?
	    "DMARC_POLICY_QUARANTINE" : "DMARC_POLICY_SOFTFAIL";
	dmarc_insert(task, sym, dt->from_domain, out->reason);
	s = (struct scan_symbol *)scan_task_find_symbol(task, sym);
	if (s == NULL)
		return;
	scan_symbol_add_option(task, s, dmarc_policy_name(out->policy));
	if (out->sampled_out)
		scan_symbol_add_option(task, s, "sampled_out");
	dmarc_apply_action(task, out);
}

static void
dmarc_evaluate_task(struct dmarc_task *dt)
{
	struct scan_task *task = dt->task;
	struct dmarc_auth auth;
	struct dmarc_outcome out;
	const char *msgid = task->msg->message_id;

	dmarc_collect(task, &auth);
	dmarc_evaluate(psl_default(), &dt->rec,
	    dt->at_org && strcmp(dt->org_domain, dt->from_domain) != 0,
	    dt->from_domain, &auth, dmarc_sample(msgid), &out);
	log_debug("dmarc", task->id, "%s: %s (spf %s, dkim %s, policy %s, "
	    "disposition %s)", dt->from_domain, out.pass ? "pass" : "fail",
	    out.spf_aligned ? "aligned" : "no", out.dkim_aligned ? "aligned" :
	    "no", dmarc_policy_name(out.policy),
	    dmarc_disposition_name(out.disposition));
	dmarc_report_outcome(dt, &out);
	dmarc_publish(dt, &out);
	dmarc_store_report(dt, &out);
	dmarc_finish(dt);
}

/* Both results in, or nothing but our own work left in the task. */
static bool
dmarc_ready(const struct dmarc_task *dt)
{
	const struct auth_task *at = dt->task->auth_task;

	if (dmarc_spf_done(at) && at->dkim != NULL)
		return true;
	return dt->task->n_pending <= 1;
}

static void
dmarc_check_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct dmarc_task *dt = w->data;

	(void)loop;
	(void)revents;
	if (dmarc_ready(dt))
		dmarc_evaluate_task(dt);
}

static void
dmarc_wait(struct dmarc_task *dt)
{
	if (dmarc_spf_done(dt->task->auth_task) &&
	    ((const struct auth_task *)dt->task->auth_task)->dkim != NULL) {
		dmarc_evaluate_task(dt);
		return;
	}
	ev_prepare_init(&dt->check, dmarc_check_cb);
	dt->check.data = dt;
	ev_prepare_start(dt->task->loop, &dt->check);
	dt->check_active = true;
}

static void dmarc_lookup(struct dmarc_task *dt, const char *domain);

/*
 * Picks the DMARC record among the TXT strings: 1 found (kept in dt),
 * 0 none, -1 handled here (invalid or several records).
 */
static int
dmarc_pick_record(struct dmarc_task *dt, const struct dns_reply *reply)
{
	struct scan_task *task = dt->task;
	size_t n_found = 0;
	const char *error = NULL;
	int bad = 0;

	for (size_t i = 0; i < reply->n_rr; i++) {
		const struct dns_rr *rr = &reply->rr[i];
		struct dmarc_record rec;
		char *copy;
		int rc;

		if (rr->type != DNS_T_TXT)
			continue;
		copy = pool_strndup(task->pool, rr->v.txt.data, rr->v.txt.len);
		if (copy == NULL)
			continue;
		rc = dmarc_record_parse(copy, rr->v.txt.len, &rec, &error);
		if (rc == 0)
			continue;
		n_found++;
		bad = rc < 0;
		dt->rec = rec;
		dt->rec_text = copy;
	}
	if (n_found > 1) {
		dmarc_insert(task, "DMARC_BAD_POLICY", dt->from_domain,
		    "Multiple policies defined in DNS");
		return -1;
	}
	if (bad) {
		dmarc_insert(task, "DMARC_BAD_POLICY", dt->from_domain, error);
		return -1;
	}
	return n_found == 1 ? 1 : 0;
}

static void
dmarc_dns_cb(const struct dns_reply *reply, void *ud)
{
	struct dmarc_task *dt = ud;
	int rc;

	if (reply->rcode != DNS_RC_NOERROR && reply->rcode != DNS_RC_NXDOMAIN) {
		dmarc_insert(dt->task, "DMARC_DNSFAIL", dt->from_domain,
		    "DNS error looking up the DMARC record");
		dmarc_finish(dt);
		return;
	}
	rc = reply->rcode == DNS_RC_NOERROR ? dmarc_pick_record(dt, reply) : 0;
	if (rc < 0) {
		dmarc_finish(dt);
	} else if (rc > 0) {
		dmarc_wait(dt);
	} else if (!dt->at_org && strcmp(dt->org_domain, dt->from_domain) != 0) {
		dt->at_org = true;
		dmarc_lookup(dt, dt->org_domain);
	} else {
		dmarc_insert(dt->task, "DMARC_NA", dt->from_domain,
		    "No DMARC record");
		dmarc_finish(dt);
	}
}

static void
dmarc_lookup(struct dmarc_task *dt, const char *domain)
{
	char name[300];

	if (str_format(name, sizeof(name), "_dmarc.%s", domain) < 0 ||
	    dns_task_resolve(dt->task, name, DNS_T_TXT, dmarc_dns_cb, dt) < 0) {
		dmarc_insert(dt->task, "DMARC_DNSFAIL", dt->from_domain,
		    "DMARC record lookup not possible");
		dmarc_finish(dt);
	}
}

static void
dmarc_rule(struct scan_task *task, void *ud)
{
	struct dmarc_task *dt;
	const char *domain;

	(void)ud;
	if (task->msg == NULL || task->loop == NULL ||
	    !dmarc_conf_bool(task, "enabled", true))
		return;
	if (dmarc_from_domain(task, &domain) < 0)
		return;
	if ((dt = pool_calloc(task->pool, 1, sizeof(*dt))) == NULL)
		return;
	dt->task = task;
	dt->from_domain = domain;
	dt->org_domain = psl_org_domain(psl_default(), domain);
	dt->pending = scan_task_pending_add(task, "dmarc", dmarc_cancel, dt);
	if (dt->pending == NULL)
		return;
	dmarc_lookup(dt, domain);
}

int
dmarc_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	static const struct rule_def rd = {
		DMARC_RULE, RULE_STAGE_FILTER, 0, dmarc_rule, NULL,
	};
	char *error = NULL;

	(void)cfg;
	(void)error_r;
	if (psl_default_load(&error) < 0) {
		log_warn("dmarc", NULL, "public suffix list not loaded (%s): "
		    "organizational domains fall back to the last two labels",
		    error);
		free(error);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dmarc_symbols); i++)
		scan_engine_add_symbol(eng, &dmarc_symbols[i]);
	scan_engine_add_rule(eng, &rd);
	/* start after SPF and DKIM so their lookups are on the way first */
	scan_engine_add_dependency(eng, DMARC_RULE, "SPF_CHECK");
	scan_engine_add_dependency(eng, DMARC_RULE, "DKIM_CHECK");
	return 0;
}
