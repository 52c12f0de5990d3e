/*
 * arc_check.c - the ARC scan rule: verifies the message's ARC chain
 * (arc.c) with one DNS lookup per key and inserts ARC_ALLOW (cv=pass),
 * ARC_REJECT (a signature or seal fails, or the chain already failed),
 * ARC_INVALID (broken structure), ARC_DNSFAIL (a key lookup failed for
 * now) or ARC_NA (no ARC headers). The option is "domain:s=N" style:
 * the newest sealer's domain and the number of instances.
 *
 * All key lookups start at once; the verification state lives in the task
 * pool and is settled when the last answer arrives. The time budget
 * cancels outstanding lookups through dns_task_resolve's own pending
 * entries, after which no callback touches the state.
 *
 * Sealing (arc.h's arc_seal) is not wired in yet: see arc.conf.
 */
#include "auth/arc.h"
#include "auth/auth.h"
#include "auth/dns.h"

#include <string.h>

#include "core/obj.h"
#include "core/pool.h"
#include "config/config.h"
#include "scan/engine.h"
#include "scan/task.h"

#define ARC_GROUP "arc"
#define ARC_RULE "ARC_CALLBACK"

static const struct symbol_info arc_symbols[] = {
	{ "ARC_ALLOW", -1.0, ARC_GROUP, "ARC checks success", 0 },
	{ "ARC_REJECT", 1.0, ARC_GROUP, "ARC checks failed", 0 },
	{ "ARC_INVALID", 0.5, ARC_GROUP, "ARC structure invalid", 0 },
	{ "ARC_DNSFAIL", 0.0, ARC_GROUP, "DNS error while verifying ARC", 0 },
	{ "ARC_NA", 0.0, ARC_GROUP, "ARC signature absent", 0 },
};

struct arc_task {
	struct scan_task *task;
	struct arc_verify av;
	size_t outstanding;
};

struct arc_lookup {
	struct arc_task *at;
	size_t k;
};

static void
arc_report(struct arc_task *at)
{
	struct scan_task *task = at->task;
	const struct arc_verify *av = &at->av;
	const char *dom = arc_verify_last_domain(av);
	char opt[300];

	str_format(opt, sizeof(opt), "%s:s=%u", dom != NULL ? dom : "unknown",
	    av->n_sets);
	switch (av->result) {
	case ARC_RESULT_NONE:
		scan_task_insert(task, "ARC_NA", 1.0, NULL);
		break;
	case ARC_RESULT_PASS:
		scan_task_insert(task, "ARC_ALLOW", 1.0, opt);
		break;
	case ARC_RESULT_INVALID:
		scan_task_insert(task, "ARC_INVALID", 1.0, av->reason);
		break;
	case ARC_RESULT_TEMPERROR:
		scan_task_insert(task, "ARC_DNSFAIL", 1.0, opt);
		break;
	case ARC_RESULT_FAIL:
	case ARC_RESULT_PENDING:
		scan_task_insert(task, "ARC_REJECT", 1.0, av->reason);
		break;
	}
}

static void
arc_dns_cb(const struct dns_reply *reply, void *ud)
{
	struct arc_lookup *l = ud;
	struct arc_task *at = l->at;
	bool found = false;

	if (reply->rcode == DNS_RC_NOERROR) {
		for (size_t i = 0; i < reply->n_rr && !found; i++) {
			if (reply->rr[i].type != DNS_T_TXT)
				continue;
			arc_verify_key_record(&at->av, l->k, str_make(
			    reply->rr[i].v.txt.data, reply->rr[i].v.txt.len));
			found = true;
		}
	}
	if (!found)
		arc_verify_key_missing(&at->av, l->k,
		    reply->rcode != DNS_RC_NOERROR &&
		    reply->rcode != DNS_RC_NXDOMAIN);
	if (--at->outstanding == 0) {
		arc_verify_finish(&at->av);
		arc_report(at);
	}
}

static void
arc_rule(struct scan_task *task, void *ud)
{
	const struct obj *en = task->cfg->root != NULL ?
	    obj_lookup_path(task->cfg->root, "arc.enabled") : NULL;
	struct arc_task *at;
	size_t n;
	bool enabled = true;

	(void)ud;
	if (en != NULL && obj_get_bool(en, &enabled) == 0 && !enabled)
		return;
	if (task->msg == NULL || task->loop == NULL ||
	    (at = pool_calloc(task->pool, 1, sizeof(*at))) == NULL)
		return;
	at->task = task;
	if (arc_verify_init(&at->av, task->pool, task->data, task->len) < 0)
		return;
	n = arc_verify_n_keys(&at->av);
	if (n == 0) {
		arc_report(at);
		return;
	}
	/* counted up front: a cache hit answers inside dns_task_resolve */
	at->outstanding = n + 1;
	for (size_t k = 0; k < n; k++) {
		struct arc_lookup *l = pool_alloc(task->pool, sizeof(*l));
		const char *name = arc_verify_key_name(&at->av, k);
		if (l == NULL || name == NULL) {
			arc_verify_key_missing(&at->av, k, true);
			at->outstanding--;
			continue;
		}
		l->at = at;
		l->k = k;
		if (dns_task_resolve(task, name, DNS_T_TXT, arc_dns_cb, l) < 0) {
			arc_verify_key_missing(&at->av, k, true);
			at->outstanding--;
		}
	}
	if (--at->outstanding == 0) {
		arc_verify_finish(&at->av);
		arc_report(at);
	}
}

int
arc_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	static const struct rule_def rd = {
		ARC_RULE, RULE_STAGE_FILTER, 0, arc_rule, NULL,
	};

	(void)cfg;
	(void)error_r;
	for (size_t i = 0; i < ARRAY_SIZE(arc_symbols); i++)
		scan_engine_add_symbol(eng, &arc_symbols[i]);
	scan_engine_add_rule(eng, &rd);
	return 0;
}
