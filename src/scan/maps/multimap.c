/*
 * multimap.c - Rspamd's multimap module: rules that look a value of the
 * message (client IP, envelope or header sender, recipients, a header,
 * URL hosts, HELO, hostname) up in a map and insert a symbol when it is
 * listed.
 *
 *   multimap { NAME { type = "from"; filter = "email:domain";
 *                     map = [...] or "/path"; score = -5;
 *                     prefilter = true; action = "accept"; message = ...; } }
 *
 * A rule with an action (which makes it a prefilter) also sets the task's
 * pre-result: "accept" means "no action", and the SMTP message defaults to
 * "Matched map: NAME" as in Rspamd. The symbol's option is the value that
 * matched. Types Rspamd has and we do not (asn, content, selector, ...)
 * are logged and skipped, so a site's existing multimap.conf still loads.
 *
 * Matching is exact and case-insensitive for strings: a domain map entry
 * "example.com" does not match "mail.example.com" (as in Rspamd), except
 * for url rules with filter "tld", which also try each parent domain of
 * the host (we have no public suffix list; walking the parents gives what
 * such rules are written for).
 *
 * The module's state (rules and their maps) lives in ENGINE_SLOT_MAPS and
 * is inherited by workers; maps reload themselves lazily in each worker.
 */
#include "scan/engine.h"
#include "config/config.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "mime/message.h"
#include "scan/actions.h"
#include "scan/maps/map.h"
#include "scan/maps/multimap_internal.h"
#include "scan/task.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Default seconds between stats of a map file (options.map_watch_interval). */
#define MM_DEFAULT_WATCH 5.0

enum mm_type { MM_IP, MM_FROM, MM_RCPT, MM_HEADER, MM_URL, MM_HELO, MM_HOSTNAME };
enum mm_filter { MMF_NONE, MMF_ADDR, MMF_DOMAIN, MMF_USER, MMF_NAME, MMF_TLD, MMF_FULL };
enum mm_source { MMS_SMTP, MMS_MIME, MMS_BOTH, MMS_AUTO };

struct mm_rule {
	char *symbol;
	enum mm_type type;
	enum mm_filter filter;
	enum mm_source source;
	char *header;
	const char *action;   /* canonical (static) or NULL */
	char *message;
	bool inactive;
	struct map *map;
};

struct mm_module {
	struct mm_rule **rules;
	size_t n, cap;
	double interval;
};

static const struct {
	const char *name;
	enum mm_type type;
} mm_types[] = {
	{ "ip", MM_IP }, { "from", MM_FROM }, { "rcpt", MM_RCPT },
	{ "header", MM_HEADER }, { "url", MM_URL }, { "helo", MM_HELO },
	{ "hostname", MM_HOSTNAME },
};

static const struct {
	const char *name;
	enum mm_filter filter;
} mm_filters[] = {
	{ "email", MMF_ADDR }, { "email:addr", MMF_ADDR },
	{ "email:domain", MMF_DOMAIN }, { "email:user", MMF_USER },
	{ "email:name", MMF_NAME }, { "tld", MMF_TLD }, { "full", MMF_FULL },
};

const char *
mm_where(const struct obj *o)
{
	static char buf[512];

	if (o == NULL || o->file == NULL)
		return "config: ";
	if (str_format(buf, sizeof(buf), "%s:%u: ", o->file, o->line) < 0)
		return "config: ";
	return buf;
}

/* ---- looking values up ---- */

static void
hit(struct scan_task *task, const struct mm_rule *r, const char *value,
    bool *matched)
{
	scan_task_insert(task, r->symbol, 1.0, value);
	*matched = true;
}

static void
try_value(struct scan_task *task, const struct mm_rule *r, const char *value,
    bool *matched)
{
	if (value != NULL && value[0] != '\0' && map_lookup_cstr(r->map, value, NULL))
		hit(task, r, value, matched);
}

/* url filter "tld": the host, then each parent domain. */
static void
try_host_parents(struct scan_task *task, const struct mm_rule *r,
    const char *host, bool *matched)
{
	for (const char *p = host; p != NULL && *p != '\0';) {
		if (map_lookup_cstr(r->map, p, NULL)) {
			hit(task, r, p, matched);
			return;
		}
		p = strchr(p, '.');
		if (p != NULL)
			p++;
	}
}

/* Splits "user@domain" (envelope form) by the filter. */
static void
try_email(struct scan_task *task, const struct mm_rule *r, const char *user,
    size_t ulen, const char *domain, const char *full, bool *matched)
{
	char *v;

	switch (r->filter) {
	case MMF_DOMAIN: {
		size_t dl = strlen(domain);

		/* "example.com." is the same domain */
		while (dl > 0 && domain[dl - 1] == '.')
			dl--;
		v = pool_strndup(task->pool, domain, dl);
		break;
	}
	case MMF_USER:
		v = pool_strndup(task->pool, user, ulen);
		break;
	default:
		v = (char *)full;
		break;
	}
	try_value(task, r, v, matched);
}

static void
try_envelope_addr(struct scan_task *task, const struct mm_rule *r,
    const char *addr, bool *matched)
{
	const char *at;

	if (addr == NULL || addr[0] == '\0')
		return;
	at = strrchr(addr, '@');
	if (r->filter == MMF_NAME)
		return; /* the envelope has no display name */
	if (at == NULL) {
		if (r->filter != MMF_DOMAIN)
			try_email(task, r, addr, strlen(addr), "", addr, matched);
		return;
	}
	try_email(task, r, addr, (size_t)(at - addr), at + 1, addr, matched);
}

static void
try_header_addrs(struct scan_task *task, const struct mm_rule *r,
    const char *name, bool *matched)
{
	if (task->msg == NULL)
		return;
	for (const struct mime_header *h = task->msg->headers.first; h != NULL;
	    h = h->next) {
		const struct mime_address *a;

		if (!str_case_eq_cstr(h->name, name) || h->value == NULL)
			continue;
		a = mime_parse_addresses(task->pool, h->value, strlen(h->value));
		for (; a != NULL; a = a->next) {
			if (r->filter == MMF_NAME)
				try_value(task, r, a->name, matched);
			else if (a->user != NULL && a->domain != NULL)
				try_email(task, r, a->user, strlen(a->user), a->domain,
				    a->addr, matched);
		}
	}
}

static void
run_from(struct scan_task *task, const struct mm_rule *r, bool *matched)
{
	bool smtp = task->env.from != NULL && task->env.from[0] != '\0';

	if (r->source == MMS_SMTP || r->source == MMS_BOTH ||
	    (r->source == MMS_AUTO && smtp))
		try_envelope_addr(task, r, task->env.from, matched);
	if (r->source == MMS_MIME || r->source == MMS_BOTH ||
	    (r->source == MMS_AUTO && !smtp))
		try_header_addrs(task, r, "From", matched);
}

static void
run_rcpt(struct scan_task *task, const struct mm_rule *r, bool *matched)
{
	bool smtp = task->env.n_rcpts > 0;

	if (r->source == MMS_SMTP || r->source == MMS_BOTH ||
	    (r->source == MMS_AUTO && smtp)) {
		for (size_t i = 0; i < task->env.n_rcpts; i++)
			try_envelope_addr(task, r, task->env.rcpts[i], matched);
	}
	if (r->source == MMS_MIME || r->source == MMS_BOTH ||
	    (r->source == MMS_AUTO && !smtp)) {
		try_header_addrs(task, r, "To", matched);
		try_header_addrs(task, r, "Cc", matched);
	}
}

static void
run_header(struct scan_task *task, const struct mm_rule *r, bool *matched)
{
	if (task->msg == NULL)
		return;
	if (r->filter != MMF_NONE) {
		try_header_addrs(task, r, r->header, matched);
		return;
	}
	for (const struct mime_header *h = task->msg->headers.first; h != NULL;
	    h = h->next) {
		struct str v;

		if (!str_case_eq_cstr(h->name, r->header) || h->value == NULL)
			continue;
		v = str_trim(str_from_cstr(h->value));
		try_value(task, r, pool_strndup(task->pool, v.ptr, v.len), matched);
	}
}

static void
run_url(struct scan_task *task, const struct mm_rule *r, bool *matched)
{
	if (task->msg == NULL)
		return;
	for (size_t i = 0; i < task->msg->n_urls; i++) {
		const struct mime_url *u = &task->msg->urls[i];

		if (r->filter == MMF_FULL)
			try_value(task, r, u->url, matched);
		else if (r->filter == MMF_TLD)
			try_host_parents(task, r, u->host, matched);
		else
			try_value(task, r, u->host, matched);
	}
}

static void
mm_rule_run(struct scan_task *task, void *ud)
{
	const struct mm_rule *r = ud;
	bool matched = false;

	if (r->inactive)
		return;
	switch (r->type) {
	case MM_IP: try_value(task, r, task->env.ip, &matched); break;
	case MM_HELO: try_value(task, r, task->env.helo, &matched); break;
	case MM_HOSTNAME: try_value(task, r, task->env.hostname, &matched); break;
	case MM_FROM: run_from(task, r, &matched); break;
	case MM_RCPT: run_rcpt(task, r, &matched); break;
	case MM_HEADER: run_header(task, r, &matched); break;
	case MM_URL: run_url(task, r, &matched); break;
	}
	if (matched && r->action != NULL)
		scan_task_set_pre_result(task, r->action, r->message, "multimap");
}

/* ---- building rules ---- */

static void
mm_rule_free(struct mm_rule *r)
{
	map_free(&r->map);
	free(r->symbol);
	free(r->header);
	free(r->message);
	free(r);
}

static void
mm_module_free(void *data)
{
	struct mm_module *mod = data;

	for (size_t i = 0; i < mod->n; i++)
		mm_rule_free(mod->rules[i]);
	free(mod->rules);
	free(mod);
}

static const char *
parse_action(const char *name)
{
	if (strcmp(name, "accept") == 0)
		return action_canonical_name("no action");
	return action_canonical_name(name);
}

/* Type, filter, source and action of a spec; -1 with *error_r. */
static int
mm_rule_settings(struct mm_rule *r, const struct mm_spec *s, char **error_r)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mm_filters) && s->filter != NULL; i++) {
		if (strcmp(s->filter, mm_filters[i].name) == 0)
			break;
	}
	if (i == ARRAY_SIZE(mm_filters)) {
		*error_r = xasprintf("%smultimap %s: unknown filter \"%s\"",
		    mm_where(s->where), s->symbol, s->filter);
		return -1;
	}
	r->filter = s->filter != NULL ? mm_filters[i].filter : MMF_NONE;
	if ((r->type == MM_FROM || r->type == MM_RCPT) && r->filter == MMF_NONE)
		r->filter = MMF_ADDR;
	if (s->extract_from == NULL || strcmp(s->extract_from, "smtp") == 0 ||
	    strcmp(s->extract_from, "envelope") == 0)
		r->source = MMS_SMTP;
	else if (strcmp(s->extract_from, "mime") == 0 ||
	    strcmp(s->extract_from, "header") == 0)
		r->source = MMS_MIME;
	else if (strcmp(s->extract_from, "both") == 0)
		r->source = MMS_BOTH;
	else if (strcmp(s->extract_from, "auto") == 0)
		r->source = MMS_AUTO;
	else {
		*error_r = xasprintf("%smultimap %s: extract_from must be smtp, mime, "
		    "both or auto", mm_where(s->where), s->symbol);
		return -1;
	}
	if (s->action != NULL && (r->action = parse_action(s->action)) == NULL) {
		*error_r = xasprintf("%smultimap %s: unknown action \"%s\"",
		    mm_where(s->where), s->symbol, s->action);
		return -1;
	}
	if (r->type == MM_HEADER && s->header == NULL) {
		*error_r = xasprintf("%smultimap %s: type header needs header = \"Name\"",
		    mm_where(s->where), s->symbol);
		return -1;
	}
	return 0;
}

static void
mm_register(struct scan_engine *eng, struct mm_module *mod, struct mm_rule *r,
    const struct mm_spec *s)
{
	struct symbol_info si = { r->symbol, s->score,
		s->group != NULL ? s->group : "multimap", s->description, 0 };
	struct rule_def rd = { r->symbol,
		s->prefilter || r->action != NULL ? RULE_STAGE_PREFILTER : RULE_STAGE_FILTER,
		s->priority, mm_rule_run, r };

	mod->rules = xgrow(mod->rules, &mod->cap, mod->n + 1, sizeof(*mod->rules));
	mod->rules[mod->n++] = r;
	scan_engine_add_symbol(eng, &si);
	scan_engine_add_rule(eng, &rd);
}

int
mm_add_rule(struct scan_engine *eng, struct mm_module *mod,
    const struct mm_spec *s, char **error_r)
{
	struct mm_rule *r = xcalloc(1, sizeof(*r));
	enum map_kind kind;
	char *err = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mm_types); i++) {
		if (s->type != NULL && strcmp(s->type, mm_types[i].name) == 0)
			break;
	}
	if (i == ARRAY_SIZE(mm_types)) {
		log_warn("maps", NULL, "%smultimap %s: type \"%s\" is not supported; "
		    "rule skipped", mm_where(s->where), s->symbol,
		    s->type != NULL ? s->type : "(none)");
		free(r);
		return 0;
	}
	r->type = mm_types[i].type;
	r->symbol = xstrdup(s->symbol);
	r->header = s->header != NULL ? xstrdup(s->header) : NULL;
	r->inactive = s->inactive;
	r->message = s->message != NULL ? xstrdup(s->message) :
	    xasprintf("Matched map: %s", s->symbol);
	if (mm_rule_settings(r, s, error_r) < 0) {
		mm_rule_free(r);
		return -1;
	}
	kind = s->regexp ? MAP_KIND_REGEXP : s->glob ? MAP_KIND_GLOB :
	    r->type == MM_IP ? MAP_KIND_IP : MAP_KIND_STRING;
	r->map = map_new(s->symbol, kind, 0, s->map, mod->interval, &err);
	if (r->map == NULL) {
		/* Errors about one source carry its position already. */
		*error_r = xasprintf("%s%s", strncmp(err, "map ", 4) == 0 ?
		    mm_where(s->where) : "", err);
		free(err);
		mm_rule_free(r);
		return -1;
	}
	mm_register(eng, mod, r, s);
	return 0;
}

static bool
key_bool(const struct obj *o, const char *key, bool def)
{
	bool b = def;

	(void)obj_get_bool(obj_lookup(o, key), &b);
	return b;
}

/* One multimap { NAME { ... } } entry. */
static int
mm_parse_rule(struct scan_engine *eng, struct mm_module *mod,
    const struct obj *o, char **error_r)
{
	struct mm_spec s = { 0 };
	int64_t prio = 0;

	if (o->type != OBJ_OBJECT) {
		*error_r = xasprintf("%smultimap %s: must be a section", mm_where(o), o->key);
		return -1;
	}
	if (!key_bool(o, "enabled", true))
		return 0;
	s.symbol = obj_get_string(obj_lookup(o, "symbol"));
	if (s.symbol == NULL)
		s.symbol = o->key;
	s.type = obj_get_string(obj_lookup(o, "type"));
	s.filter = obj_get_string(obj_lookup(o, "filter"));
	s.extract_from = obj_get_string(obj_lookup(o, "extract_from"));
	s.header = obj_get_string(obj_lookup(o, "header"));
	s.action = obj_get_string(obj_lookup(o, "action"));
	s.message = obj_get_string(obj_lookup(o, "message"));
	s.description = obj_get_string(obj_lookup(o, "description"));
	s.group = obj_get_string(obj_lookup(o, "group"));
	(void)obj_get_double(obj_lookup(o, "score"), &s.score);
	(void)obj_get_int(obj_lookup(o, "priority"), &prio);
	s.priority = (int)MAX(MIN(prio, 1000), -1000);
	s.prefilter = key_bool(o, "prefilter", false);
	s.regexp = key_bool(o, "regexp", false);
	s.glob = key_bool(o, "glob", false);
	s.map = obj_lookup(o, "map");
	s.where = o;
	if (s.map == NULL) {
		*error_r = xasprintf("%smultimap %s: no map", mm_where(o), s.symbol);
		return -1;
	}
	return mm_add_rule(eng, mod, &s, error_r);
}

static double
watch_interval(const struct config *cfg)
{
	double d = MM_DEFAULT_WATCH;

	if (obj_get_double(obj_lookup_path(cfg->root, "options.map_watch_interval"),
	    &d) < 0 || d < 0)
		d = MM_DEFAULT_WATCH;
	return d;
}

int
multimap_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	struct mm_module *mod = xcalloc(1, sizeof(*mod));
	const struct obj *sect = obj_lookup(cfg->root, "multimap");
	int ret = 0;

	mod->interval = watch_interval(cfg);
	scan_engine_set_module(eng, ENGINE_SLOT_MAPS, mod, mm_module_free);
	if (sect != NULL && sect->type == OBJ_OBJECT &&
	    key_bool(sect, "enabled", true)) {
		for (const struct obj *o = obj_first(sect); ret == 0 && o != NULL;
		    o = o->next) {
			if (o->key != NULL && strcmp(o->key, "enabled") == 0)
				continue;
			ret = mm_parse_rule(eng, mod, o, error_r);
		}
	}
	if (ret == 0)
		ret = mm_lists_init(eng, mod, cfg->root, error_r);
	return ret;
}
