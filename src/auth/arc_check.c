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
 * Sealing (ARC_SIGN, POSTFILTER, after the verifier and DMARC): mail from
 * an authenticated user or from local_addrs / sign_networks gets the next
 * ARC set (arc_seal.c) when arc {} names a key the dkim_signing way
 * (domain { d { selector; path; } }, or the path/selector templates with
 * try_fallback). The chain verdict comes from the verifier's symbol, the
 * AAR from the SPF, DKIM and DMARC results in the auth context; the three
 * headers go to the reply's milter block. No verdict for a message with
 * ARC headers (DNS failure, time budget, verifier off) means no seal:
 * guessing cv= would vouch for a chain nobody checked.
 */
#include "auth/arc.h"
#include "auth/auth.h"
#include "auth/auth_task.h"
#include "auth/dkim_internal.h"
#include "auth/dmarc.h"
#include "auth/dns.h"
#include "auth/psl.h"
#include "auth/spf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "config/config.h"
#include "log/log.h"
#include "mime/message.h"
#include "scan/engine.h"
#include "scan/task.h"

#define ARC_GROUP "arc"
#define ARC_RULE "ARC_CALLBACK"
#define ARC_SIGN_RULE "ARC_SIGN"
#define ARC_SEC "arc"

static const struct symbol_info arc_symbols[] = {
	{ "ARC_ALLOW", -1.0, ARC_GROUP, "ARC checks success", 0 },
	{ "ARC_REJECT", 1.0, ARC_GROUP, "ARC checks failed", 0 },
	{ "ARC_INVALID", 0.5, ARC_GROUP, "ARC structure invalid", 0 },
	{ "ARC_DNSFAIL", 0.0, ARC_GROUP, "DNS error while verifying ARC", 0 },
	{ "ARC_NA", 0.0, ARC_GROUP, "ARC signature absent", 0 },
	{ "ARC_SIGNED", 0.0, ARC_GROUP, "Message has been ARC sealed", 0 },
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

/* A sealing key; a missing file is quiet when the path is only a fallback. */
static const struct dkim_privkey *
arc_key_get(const char *path, bool quiet_missing, const char *id)
{
	const struct dkim_privkey *key;
	char *error = NULL;

	if (quiet_missing && access(path, F_OK) < 0 && errno == ENOENT)
		return NULL;
	key = dkim_key_cached(path, &error);
	if (key == NULL) {
		log_error("arc", id, "%s", error);
		free(error);
	}
	return key;
}

static const char *
arc_conf_str(const struct config *cfg, const char *path, const char *def)
{
	const char *s = obj_get_string(dkim_conf(cfg, ARC_SEC, path));

	return s != NULL ? s : def;
}


/* Lowercased domain of "Name <u@d>" or "u@d", as its eSLD when asked. */
static const char *
arc_addr_domain(struct scan_task *task, const char *addr)
{
	const char *lt, *at, *end, *r;
	char *d;

	if (addr == NULL)
		return NULL;
	if ((lt = strrchr(addr, '<')) != NULL)
		addr = lt + 1;
	end = addr + strcspn(addr, ">");
	if ((at = memrchr(addr, '@', (size_t)(end - addr))) == NULL)
		return NULL;
	for (at++; end > at && (end[-1] == ' ' || end[-1] == '.'); end--)
		;
	if (end == at || (d = pool_strndup(task->pool, at, (size_t)(end - at))) == NULL)
		return NULL;
	for (char *p = d; *p != '\0'; p++) {
		*p = ascii_tolower(*p);
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-' || *p == '_'))
			return NULL;
	}
	if (!dkim_conf_bool(task->cfg, ARC_SEC, "use_esld", true))
		return d;
	r = psl_registrable_domain(psl_default(), d);
	return r != NULL ? r : d;
}

static bool
arc_should_seal(const struct scan_task *task)
{
	const struct config *cfg = task->cfg;

	if (!dkim_conf_bool(cfg, ARC_SEC, "enabled", true) || task->msg == NULL)
		return false;
	if (task->env.user != NULL &&
	    dkim_conf_bool(cfg, ARC_SEC, "sign_authenticated", true))
		return true;
	if (task->env.ip == NULL)
		return false;
	if (dkim_conf_bool(cfg, ARC_SEC, "sign_local", true) &&
	    dkim_ip_is_local(cfg, task->env.ip))
		return true;
	return dkim_ip_in_list(dkim_conf(cfg, ARC_SEC, "sign_networks"), task->env.ip);
}

/* use_domain (header, envelope, auth, recipient), checked against the user. */
static const char *
arc_seal_domain(struct scan_task *task)
{
	const struct config *cfg = task->cfg;
	const char *use = arc_conf_str(cfg, "use_domain", "header");
	const char *dom, *user;

	if (strcmp(use, "envelope") == 0)
		dom = arc_addr_domain(task, task->env.from);
	else if (strcmp(use, "auth") == 0)
		dom = arc_addr_domain(task, task->env.user);
	else if (strcmp(use, "recipient") == 0)
		dom = task->env.n_rcpts > 0 ?
		    arc_addr_domain(task, task->env.rcpts[0]) : NULL;
	else
		dom = arc_addr_domain(task, mime_headers_get(&task->msg->headers, "From"));
	if (dom == NULL || task->env.user == NULL ||
	    dkim_conf_bool(cfg, ARC_SEC, "allow_username_mismatch", false))
		return dom;
	user = arc_addr_domain(task, task->env.user);
	return user != NULL && strcmp(user, dom) == 0 ? dom : NULL;
}

/*
 * The verifier's verdict as a cv= for the new seal; -1 when there is
 * none to give for a message with ARC headers.
 */
static int
arc_chain_cv(const struct scan_task *task, enum arc_cv *cv_r)
{
	if (scan_task_find_symbol(task, "ARC_ALLOW") != NULL)
		*cv_r = ARC_CV_PASS;
	else if (scan_task_find_symbol(task, "ARC_REJECT") != NULL ||
	    scan_task_find_symbol(task, "ARC_INVALID") != NULL)
		*cv_r = ARC_CV_FAIL;
	else if (scan_task_find_symbol(task, "ARC_NA") != NULL ||
	    (mime_headers_count(&task->msg->headers, "ARC-Seal") == 0 &&
	    mime_headers_count(&task->msg->headers, "ARC-Message-Signature") == 0 &&
	    mime_headers_count(&task->msg->headers, "ARC-Authentication-Results") == 0))
		*cv_r = ARC_CV_NONE;
	else
		return -1;
	return 0;
}

/* Message text may end up in a property value: keep only what RFC 8601
 * allows unquoted, or drop the property. */
static bool
arc_token_ok(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 255)
		return false;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~' || strchr(";()\"\\", *s) != NULL)
			return false;
	return true;
}

static void
arc_aar_prop(struct buf *b, const char *method, const char *result,
    const char *ptype, const char *value)
{
	buf_printf(b, "%s%s=%s", b->len > 0 ? ";\n\t" : "", method, result);
	if (arc_token_ok(value))
		buf_printf(b, " %s=%s", ptype, value);
}

static void
arc_aar_dkim(struct buf *b, const struct dkim_task_result *dk)
{
	if (dk == NULL || dk->n_sigs == 0) {
		arc_aar_prop(b, "dkim", "none", NULL, NULL);
		return;
	}
	for (size_t i = 0; i < dk->n_sigs; i++) {
		const struct dkim_task_sig *s = &dk->sigs[i];
		enum dkim_result r = s->result;

		arc_aar_prop(b, "dkim", r == DKIM_RESULT_PASS ? "pass" :
		    r == DKIM_RESULT_FAIL ? "fail" : r == DKIM_RESULT_TEMPERROR ?
		    "temperror" : r == DKIM_RESULT_PERMERROR ? "permerror" : "neutral",
		    "header.d", s->domain);
		if (arc_token_ok(s->selector))
			buf_printf(b, " header.s=%s", s->selector);
	}
}

/* The RFC 8601 results of our own checks for the AAR. */
static const char *
arc_aar_results(struct scan_task *task, enum arc_cv cv)
{
	struct auth_task *at = auth_task_get(task);
	const struct spf_result *spf = spf_task_result(task);
	struct buf b;
	const char *out;

	buf_init(&b, 16384);
	arc_aar_prop(&b, "arc", cv == ARC_CV_PASS ? "pass" : cv == ARC_CV_FAIL ?
	    "fail" : "none", NULL, NULL);
	if (spf != NULL && (spf->reason == NULL ||
	    strncmp(spf->reason, "not checked", 11) != 0))
		arc_aar_prop(&b, "spf", spf_result_name(spf->result), "smtp.mailfrom",
		    spf->sender);
	arc_aar_dkim(&b, at != NULL ? at->dkim : NULL);
	if (at != NULL && at->dmarc != NULL && arc_token_ok(at->dmarc->result))
		arc_aar_prop(&b, "dmarc", at->dmarc->result, "header.from",
		    at->dmarc->domain);
	out = pool_strndup(task->pool, b.data != NULL ? b.data : "", b.len);
	buf_deinit(&b);
	return out;
}

static const char *
arc_authserv_id(struct scan_task *task)
{
	static char host[256];
	const char *id = arc_conf_str(task->cfg, "authserv_id", NULL);

	if (id == NULL)
		id = arc_conf_str(task->cfg, "hostname", NULL);
	if (id != NULL && arc_token_ok(id))
		return id;
	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) != 0)
		str_lcpy(host, "localhost", sizeof(host));
	return host;
}

static void
arc_seal_one(struct scan_task *task, enum arc_cv cv, const char *domain,
    const char *selector, const char *path)
{
	struct arc_seal_params p = { .domain = domain, .selector = selector,
		.now = time(NULL) };
	const struct dkim_privkey *key;
	struct arc_seal seal;
	const char *err = NULL;

	if (path == NULL || (key = arc_key_get(path, true, task->id)) == NULL)
		return;
	p.authserv_id = arc_authserv_id(task);
	p.results = arc_aar_results(task, cv);
	p.sign_headers = arc_conf_str(task->cfg, "sign_headers", NULL);
	if (arc_seal_message(task->pool, task->data, task->len, cv, &p, key, &seal,
	    &err) < 0) {
		log_info("arc", task->id, "not sealed for %s: %s", domain, err);
		return;
	}
	scan_task_add_header(task, "ARC-Seal", seal.as, 0);
	scan_task_add_header(task, "ARC-Message-Signature", seal.ams, 0);
	scan_task_add_header(task, "ARC-Authentication-Results", seal.aar, 0);
	scan_task_insert(task, "ARC_SIGNED", 1.0, pool_printf(task->pool,
	    "%s:s=%s:i=%u", domain, selector, seal.instance));
}

static void
arc_sign_rule(struct scan_task *task, void *ud)
{
	const struct config *cfg = task->cfg;
	const struct obj *entry;
	const char *domain, *sel, *tpl;
	enum arc_cv cv;

	(void)ud;
	if (!arc_should_seal(task) || (domain = arc_seal_domain(task)) == NULL)
		return;
	if (arc_chain_cv(task, &cv) < 0) {
		log_info("arc", task->id, "not sealed: no verdict on the ARC chain");
		return;
	}
	entry = obj_lookup(dkim_conf(cfg, ARC_SEC, "domain"), domain);
	if (entry == NULL && !dkim_conf_bool(cfg, ARC_SEC, "try_fallback", true))
		return;
	sel = obj_get_string(obj_lookup(entry, "selector"));
	tpl = obj_get_string(obj_lookup(entry, "path"));
	if (sel == NULL)
		sel = arc_conf_str(cfg, "selector", "arc");
	if (tpl == NULL)
		tpl = arc_conf_str(cfg, "path", NULL);
	if (tpl != NULL)
		arc_seal_one(task, cv, domain, sel,
		    dkim_expand_key_path(task->pool, cfg, tpl, domain, sel));
}

int
arc_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	static const struct rule_def rd = {
		ARC_RULE, RULE_STAGE_FILTER, 0, arc_rule, NULL,
	};
	static const struct rule_def sign = {
		ARC_SIGN_RULE, RULE_STAGE_POSTFILTER, 0, arc_sign_rule, NULL,
	};
	char *error = NULL;

	(void)error_r;
	for (size_t i = 0; i < ARRAY_SIZE(arc_symbols); i++)
		scan_engine_add_symbol(eng, &arc_symbols[i]);
	scan_engine_add_rule(eng, &rd);
	scan_engine_add_rule(eng, &sign);
	if (dkim_conf_bool(cfg, ARC_SEC, "use_esld", true) &&
	    psl_default_load(&error) < 0) {
		log_warn("arc", NULL, "public suffix list not loaded (%s)", error);
		free(error);
	}
	return 0;
}
