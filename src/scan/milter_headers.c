/*
 * milter_headers.c - the milter_headers routines, computed when the reply
 * is built: the action and score are final then, which a rule in the last
 * stage could not promise (the action is settled after every stage).
 *
 * Formats follow Rspamd 3.4 captures (spec/scan-protocol.md §5.1 and
 * spec/milter.md §5): "default: True [17.66 / 15.00];\n\tSYM(3.00)[opt]"
 * with symbols by name and True only for `reject`; "Yes, score=17.66";
 * one star per whole point. Stock default as in Rspamd: no routine
 * enabled (`use = []`), skip_local and skip_authenticated on.
 */
#include "scan/milter_headers.h"
#include "auth/auth_task.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/netaddr.h"
#include "core/obj.h"
#include "scan/actions.h"
#include "scan/task.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_STARS 100

struct mh_ctx {
	const struct scan_task *task;
	const struct obj *conf;
	bool authenticated, local;
};

static bool
list_has(const struct obj *list, const char *name)
{
	const struct obj *it = NULL, *v;

	while ((v = obj_iter_values(list, &it)) != NULL) {
		if (obj_get_string(v) != NULL && strcasecmp(obj_get_string(v), name) == 0)
			return true;
	}
	return false;
}

static bool
conf_bool(const struct obj *conf, const char *key, bool dflt)
{
	bool b;

	return obj_get_bool(obj_lookup(conf, key), &b) == 0 ? b : dflt;
}

static bool
routine_on(const struct mh_ctx *c, const char *name)
{
	bool on = list_has(obj_lookup(c->conf, "use"), name);

	if (!on && conf_bool(c->conf, "extended_spam_headers", false))
		on = strcmp(name, "x-spamd-result") == 0 || strcmp(name, "x-rspamd-server") == 0 ||
		    strcmp(name, "x-rspamd-queue-id") == 0;
	if (on && c->authenticated && conf_bool(c->conf, "skip_authenticated", true))
		on = list_has(obj_lookup(c->conf, "authenticated_headers"), name);
	if (on && c->local && conf_bool(c->conf, "skip_local", true))
		on = list_has(obj_lookup(c->conf, "local_headers"), name);
	return on;
}

/* Loopback, RFC 1918, link-local and ULA addresses count as local. */
static bool
ip_is_local(const char *ip)
{
	static const char *const nets[] = { "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
		"192.168.0.0/16", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10" };
	struct netmask m;

	if (ip == NULL)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(nets); i++) {
		if (netmask_parse(nets[i], &m) == 0 && netmask_match_text(&m, ip))
			return true;
	}
	return false;
}

static void
put(struct obj *add, struct obj *remove, const char *name, const char *value, int order)
{
	struct obj *h = obj_new_object();

	obj_object_append(h, "value", obj_new_string(value));
	obj_object_append(h, "order", obj_new_int(order));
	if (obj_lookup(add, name) == NULL)
		obj_object_append(add, name, h);
	else
		obj_free(&h);
	if (obj_lookup(remove, name) == NULL)
		obj_object_append(remove, name, obj_new_int(0));
}

/* Message-derived text must not break the header into lines. */
static void
append_safe(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_putc(b, (unsigned char)*s < 0x20 ? ' ' : *s);
}

static int
by_name(const void *a, const void *b)
{
	const struct scan_symbol *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static void
spamd_result(const struct scan_task *task, struct buf *b)
{
	const struct scan_symbol **syms = calloc(task->n_symbols + 1, sizeof(*syms));
	size_t n = 0;

	buf_printf(b, "default: %s [%.2f / %.2f]",
	    strcmp(task->action, "reject") == 0 ? "True" : "False", task->score,
	    actions_required_score(&task->cfg->actions));
	if (syms == NULL)
		return;
	for (const struct scan_symbol *s = task->symbols; s != NULL && n < task->n_symbols;
	     s = s->next)
		syms[n++] = s;
	qsort(syms, n, sizeof(*syms), by_name);
	for (size_t i = 0; i < n; i++) {
		buf_printf(b, ";\n\t%s(%.2f)[", syms[i]->name, syms[i]->score);
		for (size_t k = 0; k < syms[i]->n_options; k++) {
			if (k > 0)
				buf_putc(b, ',');
			append_safe(b, syms[i]->options[k]);
		}
		buf_putc(b, ']');
	}
	free(syms);
}

static void
ar_prop(struct buf *b, const char *method, const char *result, const char *ptype,
    const char *value)
{
	buf_printf(b, ";\n\t%s=%s", method, result);
	if (value != NULL && *value != '\0' && strpbrk(value, " \t\r\n;()\"") == NULL)
		buf_printf(b, " %s=%s", ptype, value);
}

/* RFC 8601 results of this scan's SPF, DKIM and DMARC checks. */
static void
auth_results(const struct scan_task *task, struct buf *b)
{
	const struct auth_task *at = task->auth_task;
	const struct spf_result *spf = spf_task_result(task);
	const struct obj *conf = obj_lookup(task->cfg->root, "milter_headers");
	const char *id = obj_get_string(obj_lookup_path(conf,
	    "routines.authentication-results.header_authserv_id"));
	char host[256];

	if (id == NULL) {
		if (gethostname(host, sizeof(host) - 1) != 0)
			str_lcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		id = host;
	}
	append_safe(b, id);
	if (at != NULL && at->dkim != NULL && at->dkim->n_sigs > 0) {
		for (size_t i = 0; i < at->dkim->n_sigs; i++) {
			const struct dkim_task_sig *sig = &at->dkim->sigs[i];

			ar_prop(b, "dkim", sig->result == DKIM_RESULT_NONE ? "neutral" :
			    dkim_result_name(sig->result), "header.d", sig->domain);
		}
	} else {
		ar_prop(b, "dkim", "none", NULL, NULL);
	}
	if (spf != NULL && (spf->reason == NULL || strncmp(spf->reason, "not checked", 11) != 0))
		ar_prop(b, "spf", spf_result_name(spf->result), "smtp.mailfrom", spf->sender);
	if (at != NULL && at->dmarc != NULL && at->dmarc->result != NULL)
		ar_prop(b, "dmarc", at->dmarc->result, "header.from", at->dmarc->domain);
}

static void
emit_scores(const struct mh_ctx *c, struct obj *add, struct obj *remove, struct buf *b)
{
	const struct scan_task *task = c->task;
	bool spam = action_is_spam(task->action);

	if (routine_on(c, "x-spamd-result")) {
		buf_reset(b);
		spamd_result(task, b);
		put(add, remove, "X-Spamd-Result", b->data != NULL ? b->data : "", -1);
	}
	if (routine_on(c, "x-spam-status")) {
		buf_reset(b);
		buf_printf(b, "%s, score=%.2f", spam ? "Yes" : "No", task->score);
		put(add, remove, "X-Spam-Status", b->data, -1);
	}
	if (routine_on(c, "x-spam-level") && task->score >= 1.0) {
		double stars = MIN(floor(task->score), (double)MAX_STARS);

		buf_reset(b);
		for (int i = 0; i < (int)stars; i++)
			buf_putc(b, '*');
		put(add, remove, "X-Spam-Level", b->data, -1);
	}
	if (routine_on(c, "x-spam-flag")) {
		if (spam)
			put(add, remove, "X-Spam-Flag", "YES", -1);
		else if (obj_lookup(remove, "X-Spam-Flag") == NULL)
			obj_object_append(remove, "X-Spam-Flag", obj_new_int(0));
	}
}

void
milter_headers_spamd_result(const struct scan_task *task, struct buf *out)
{
	spamd_result(task, out);
}

void
milter_headers_auth_results(const struct scan_task *task, struct buf *out)
{
	auth_results(task, out);
}

void
milter_headers_emit(const struct scan_task *task, struct obj *add, struct obj *remove)
{
	struct mh_ctx c = { task, obj_lookup(task->cfg->root, "milter_headers"), false, false };
	struct buf b;

	if (c.conf == NULL || task->action == NULL || task->skipped)
		return;
	c.authenticated = task->env.user != NULL && *task->env.user != '\0';
	c.local = ip_is_local(task->env.ip);
	buf_init(&b, 256 * 1024);
	if (routine_on(&c, "authentication-results")) {
		auth_results(task, &b);
		put(add, remove, "Authentication-Results", b.data != NULL ? b.data : "", 1);
	}
	if (routine_on(&c, "x-rspamd-queue-id") && task->env.queue_id != NULL) {
		buf_reset(&b);
		append_safe(&b, task->env.queue_id);
		put(add, remove, "X-Rspamd-Queue-Id", b.data, -1);
	}
	if (routine_on(&c, "x-rspamd-server")) {
		char host[256];

		if (gethostname(host, sizeof(host) - 1) == 0) {
			host[sizeof(host) - 1] = '\0';
			put(add, remove, "X-Rspamd-Server", host, -1);
		}
	}
	emit_scores(&c, add, remove, &b);
	buf_deinit(&b);
}
