/*
 * re_scan.c - evaluating regexp rules on a task.
 *
 * Atoms are resolved lazily through a per-task cache (task->re_task, in
 * the task pool): the first time any atom of a kind is needed, that kind's
 * Hyperscan database is run once over each of the kind's inputs (each
 * header instance, each text part, each URL ...), recording every atom
 * that matched, then the kind's PCRE2 fallbacks run over the same inputs.
 * Every later atom of the kind is a table lookup, which is what makes
 * thousands of regexps cost about one pass over the message per kind.
 *
 * Header kinds share one database for all header names: a header instance
 * is scanned only when some atom names it (a map lookup), and matches of
 * atoms for other names are dropped in the match callback. Headers with
 * no rule are never scanned, and a message has few headers with rules, so
 * one database beats one per name (which would need a scratch per name and
 * a lookup per instance anyway) while keeping one cache file per kind.
 *
 * The Hyperscan scratch and the PCRE2 match data are per process and made
 * on first use: the engine is built in the parent and forked.
 */
#include "scan/re/re_internal.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/strmap.h"
#include "log/log.h"
#include "mime/html.h"
#include "mime/message.h"
#include "scan/expr.h"
#include "scan/task.h"

#define HITS_MAX 100000u
#define PCRE_MATCH_LIMIT 200000u

struct re_task {
	bool scanned[RE_KIND_COUNT];
	unsigned *hits;   /* per atom */
	double *rule_val; /* per rule; NAN until evaluated */
};

struct match_ctx {
	struct re_module *mod;
	struct re_task *rt;
	const struct str *header; /* header kinds: the instance's name */
};

struct eval_ctx {
	struct re_module *mod;
	struct scan_task *task;
};

static bool
header_fits(const struct re_atom *a, const struct str *name)
{
	if (name == NULL || a->header == NULL)
		return true;
	if (a->flags & RE_F_STRONG)
		return str_eq_cstr(*name, a->header);
	return str_case_eq_cstr(*name, a->header);
}

static void
record_hit(struct match_ctx *c, unsigned id)
{
	if (c->rt->hits[id] < HITS_MAX)
		c->rt->hits[id]++;
}

static int
on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
    void *ud)
{
	struct match_ctx *c = ud;

	(void)from;
	(void)to;
	(void)flags;
	if (id < c->mod->n_atoms && header_fits(&c->mod->atoms[id], c->header))
		record_hit(c, id);
	return 0;
}

static bool
process_ready(struct re_module *mod)
{
	pid_t pid = getpid();

	if (mod->scratch_pid == pid && mod->match_data != NULL)
		return true;
	/* a copy inherited from the parent is ours to drop */
	if (mod->scratch != NULL)
		hs_free_scratch((hs_scratch_t *)mod->scratch);
	pcre2_match_data_free(mod->match_data);
	pcre2_match_context_free(mod->match_ctx);
	mod->scratch = NULL;
	for (int k = 0; k < RE_KIND_COUNT; k++) {
		hs_scratch_t *s = (hs_scratch_t *)mod->scratch;
		if (mod->kinds[k].db != NULL &&
		    hs_alloc_scratch((hs_database_t *)mod->kinds[k].db, &s) == HS_SUCCESS)
			mod->scratch = (struct hs_scratch *)s;
	}
	mod->match_data = pcre2_match_data_create(1, NULL);
	mod->match_ctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(mod->match_ctx, PCRE_MATCH_LIMIT);
	pcre2_set_depth_limit(mod->match_ctx, PCRE_MATCH_LIMIT);
	mod->scratch_pid = pid;
	return mod->match_data != NULL;
}

static void
pcre_scan(struct match_ctx *c, size_t atom, const char *data, size_t len)
{
	const struct re_atom *a = &c->mod->atoms[atom];
	PCRE2_SIZE off = 0;

	if (!header_fits(a, c->header))
		return;
	while (off <= len) {
		int rc = pcre2_match(a->code, (PCRE2_SPTR)data, len, off, 0,
		    c->mod->match_data, c->mod->match_ctx);
		if (rc < 0)
			break;
		record_hit(c, (unsigned)atom);
		if (!(a->flags & RE_F_COUNT) || c->rt->hits[atom] >= HITS_MAX)
			break;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->mod->match_data);
		off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
	}
}

static void
scan_input(struct match_ctx *c, enum re_kind kind, const char *data, size_t len)
{
	const struct re_kind_db *kd = &c->mod->kinds[kind];

	if (data == NULL)
		return;
	if (kd->db != NULL && c->mod->scratch != NULL)
		hs_scan((const hs_database_t *)kd->db, data, (unsigned)MIN(len, 0xffffffffu), 0,
		    (hs_scratch_t *)c->mod->scratch, on_match, c);
	for (size_t i = 0; i < kd->n_pcre; i++)
		pcre_scan(c, kd->pcre_atoms[i], data, len);
}

static void
scan_headers(struct match_ctx *c, enum re_kind kind, const struct mime_headers *hs)
{
	char name[256];

	for (const struct mime_header *h = hs->first; h != NULL; h = h->next) {
		if (h->name.len == 0 || h->name.len >= sizeof(name))
			continue;
		memcpy(name, h->name.ptr, h->name.len);
		name[h->name.len] = '\0';
		if (strmap_get(c->mod->header_names, name) == NULL)
			continue;
		c->header = &h->name;
		if (kind == RE_KIND_RAW_HEADER)
			scan_input(c, kind, h->raw.ptr, h->raw.len);
		else
			scan_input(c, kind, h->value, strlen(h->value));
	}
	c->header = NULL;
}

/* Subject and every text part, line breaks turned into spaces. */
static void
scan_sa_body(struct match_ctx *c, struct scan_task *task)
{
	const struct mime_message *m = task->msg;
	size_t total = (m->subject != NULL ? strlen(m->subject) : 0) + 2;
	char *buf, *p;

	for (unsigned i = 0; i < m->n_text_parts; i++)
		total += m->text_parts[i]->utf8_len + 1;
	buf = pool_alloc(task->pool, total);
	if (buf == NULL)
		return;
	p = buf;
	if (m->subject != NULL) {
		memcpy(p, m->subject, strlen(m->subject));
		p += strlen(m->subject);
		*p++ = ' ';
	}
	for (unsigned i = 0; i < m->n_text_parts; i++) {
		const struct mime_part *mp = m->text_parts[i];
		if (mp->utf8 != NULL)
			memcpy(p, mp->utf8, mp->utf8_len);
		p += mp->utf8 != NULL ? mp->utf8_len : 0;
		*p++ = ' ';
	}
	/* a line break (CRLF, CR or LF) becomes one space */
	char *w = buf;
	for (const char *q = buf; q < p; q++) {
		if (*q == '\r' && q + 1 < p && q[1] == '\n')
			continue;
		*w++ = (*q == '\r' || *q == '\n') ? ' ' : *q;
	}
	scan_input(c, RE_KIND_SA_BODY, buf, (size_t)(w - buf));
}

static void
scan_parts(struct match_ctx *c, enum re_kind kind, const struct mime_message *m)
{
	for (unsigned i = 0; i < m->n_text_parts; i++) {
		const struct mime_part *p = m->text_parts[i];
		if (kind == RE_KIND_MIME)
			scan_input(c, kind, p->utf8, p->utf8_len);
		else
			scan_input(c, kind, p->decoded, p->decoded_len);
	}
}

static void
scan_kind(struct match_ctx *c, struct scan_task *task, enum re_kind kind)
{
	const struct mime_message *m = task->msg;

	if (kind == RE_KIND_BODY) {
		scan_input(c, kind, task->data, task->len);
		return;
	}
	if (m == NULL)
		return;
	switch (kind) {
	case RE_KIND_HEADER:
	case RE_KIND_RAW_HEADER:
		scan_headers(c, kind, &m->headers);
		break;
	case RE_KIND_MIME_HEADER:
		for (unsigned i = 0; i < m->n_parts; i++) {
			if (m->parts[i] != m->root)
				scan_headers(c, kind, &m->parts[i]->headers);
		}
		break;
	case RE_KIND_ALL_HEADER: {
		size_t hl = task->len;
		if (m->body.ptr != NULL && m->body.ptr >= task->data &&
		    m->body.ptr <= task->data + task->len)
			hl = (size_t)(m->body.ptr - task->data);
		scan_input(c, kind, task->data, hl);
		break;
	}
	case RE_KIND_MIME:
	case RE_KIND_RAW_MIME:
	case RE_KIND_SA_RAW_BODY:
		scan_parts(c, kind, m);
		break;
	case RE_KIND_SA_BODY:
		scan_sa_body(c, task);
		break;
	case RE_KIND_URL:
		for (size_t i = 0; i < m->n_urls; i++)
			scan_input(c, kind, m->urls[i].url, strlen(m->urls[i].url));
		break;
	case RE_KIND_EMAIL:
		for (size_t i = 0; i < m->n_emails; i++)
			scan_input(c, kind, m->emails[i].addr, strlen(m->emails[i].addr));
		break;
	default:
		break;
	}
}

static struct re_task *
task_state(struct re_module *mod, struct scan_task *task)
{
	struct re_task *rt = task->re_task;

	if (rt != NULL)
		return rt;
	rt = pool_alloc(task->pool, sizeof(*rt));
	if (rt == NULL)
		return NULL;
	rt->hits = pool_calloc(task->pool, mod->n_atoms + 1, sizeof(*rt->hits));
	rt->rule_val = pool_calloc(task->pool, mod->n_rules + 1, sizeof(*rt->rule_val));
	if (rt->hits == NULL || rt->rule_val == NULL)
		return NULL;
	for (size_t i = 0; i < mod->n_rules; i++)
		rt->rule_val[i] = NAN;
	task->re_task = rt;
	return rt;
}

static double
atom_value(struct re_module *mod, struct scan_task *task, size_t atom)
{
	struct re_task *rt = task->re_task;
	const struct re_atom *a = &mod->atoms[atom];

	if (!rt->scanned[a->kind]) {
		struct match_ctx c = { mod, rt, NULL };
		rt->scanned[a->kind] = true;
		if (process_ready(mod))
			scan_kind(&c, task, a->kind);
	}
	if (a->flags & RE_F_COUNT)
		return rt->hits[atom];
	return rt->hits[atom] != 0;
}

static bool
part_type_is(const struct mime_part *p, const char *want)
{
	const char *slash = strchr(want, '/');

	if (slash == NULL)
		return str_case_eq_cstr(str_from_cstr(p->type), want);
	return str_case_eq(str_from_cstr(p->type), str_make(want, (size_t)(slash - want))) &&
	    str_case_eq_cstr(str_from_cstr(p->subtype), slash + 1);
}

static bool
html_has_tag(const struct html_info *h, const char *tag)
{
	if (str_case_eq_cstr(str_from_cstr(tag), "img"))
		return h->n_images > 0;
	if (str_case_eq_cstr(str_from_cstr(tag), "a"))
		return h->n_links > 0;
	if (str_case_eq_cstr(str_from_cstr(tag), "form"))
		return (h->flags & HTML_FLAG_HAS_FORM) != 0;
	if (str_case_eq_cstr(str_from_cstr(tag), "script"))
		return (h->flags & HTML_FLAG_HAS_SCRIPT) != 0;
	if (str_case_eq_cstr(str_from_cstr(tag), "iframe"))
		return (h->flags & HTML_FLAG_HAS_IFRAME) != 0;
	return false;
}

/* Functions that look at one part at a time: true when any part fits. */
static bool
any_part(const struct mime_message *m, const struct re_operand *op)
{
	for (unsigned i = 0; i < m->n_parts; i++) {
		const struct mime_part *p = m->parts[i];
		switch (op->func) {
		case RE_FN_HAS_CONTENT_PART:
			if (part_type_is(p, op->arg))
				return true;
			break;
		case RE_FN_CONTENT_TYPE_IS_TYPE:
			if (str_case_eq_cstr(str_from_cstr(p->type), op->arg))
				return true;
			break;
		case RE_FN_CONTENT_TYPE_IS_SUBTYPE:
			if (str_case_eq_cstr(str_from_cstr(p->subtype), op->arg))
				return true;
			break;
		case RE_FN_HAS_HTML_TAG:
			if (p->html != NULL && html_has_tag(p->html, op->arg))
				return true;
			break;
		case RE_FN_IS_HTML_BALANCED:
			if (p->html != NULL && (p->html->flags & HTML_FLAG_UNBALANCED))
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

static double
func_value(const struct re_operand *op, struct scan_task *task)
{
	const struct mime_message *m = task->msg;
	unsigned html = 0;

	if (m == NULL)
		return op->func == RE_FN_IS_HTML_BALANCED;
	switch (op->func) {
	case RE_FN_HEADER_EXISTS:
		return mime_headers_find(&m->headers, op->arg) != NULL;
	case RE_FN_IS_HTML_BALANCED:
		return !any_part(m, op);
	case RE_FN_HAS_ONLY_HTML_PART:
		for (unsigned i = 0; i < m->n_text_parts; i++) {
			if (!m->text_parts[i]->is_html)
				return 0;
			html++;
		}
		return html > 0;
	default:
		return any_part(m, op);
	}
}

static double
value_cb(void *data, void *ud)
{
	const struct re_operand *op = data;
	struct eval_ctx *ec = ud;

	switch (op->type) {
	case RE_OP_REGEXP:
		return atom_value(ec->mod, ec->task, op->index);
	case RE_OP_FUNC:
		return func_value(op, ec->task);
	case RE_OP_RULE:
		return re_rule_eval(ec->mod, &ec->mod->rules[op->index], ec->task);
	case RE_OP_SYMBOL:
		return scan_task_find_symbol(ec->task, op->arg) != NULL;
	}
	return 0;
}

double
re_rule_eval(struct re_module *mod, struct re_rule *rule, struct scan_task *task)
{
	struct re_task *rt = task_state(mod, task);
	struct eval_ctx ec = { mod, task };
	double v;

	if (rt == NULL)
		return 0;
	if (!isnan(rt->rule_val[rule->index]))
		return rt->rule_val[rule->index];
	/* a referenced rule gated off counts as not matching */
	rt->rule_val[rule->index] = 0;
	if (rule->condition != NULL && !rule->condition(task, rule->cond_ud))
		return 0;
	v = expr_eval(rule->expr, value_cb, &ec);
	rt->rule_val[rule->index] = v;
	return v;
}
