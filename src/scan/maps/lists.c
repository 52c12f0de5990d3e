/*
 * lists.c - the tutorial's white and black lists, as multimap rules.
 *
 *   local.d/whitelist.conf:  whitelist_domains = [...]; whitelist_ip = [...];
 *                            (also whitelist_from / whitelist_emails)
 *   local.d/blacklist.conf:  blacklist_domains, blacklist_ip, blacklist_from
 *
 * Each list becomes one prefilter rule (config.md section 4): a match on a
 * whitelist sets the pre-result "no action" and scores -20, so the message
 * ends clean even when every rule runs (pass_all); a blacklist match sets
 * "reject" with "Blocked by local blacklist" and scores 20. Domain and
 * address lists match both the envelope sender and the header From.
 *
 * The first pre-result stands, so the order decides conflicts: the client
 * IP (which cannot be forged) before the sender (which can), and within
 * each the blacklist before the whitelist, so a blocked host stays blocked
 * even when it claims a whitelisted sender domain:
 *   BLACKLIST_IP 40 > WHITELIST_IP 30 > BLACKLIST_DOMAIN/FROM 20 >
 *   WHITELIST_DOMAIN/FROM 10 (all below GTUBE's 100).
 *
 * whitelist.conf may also hold Rspamd's whitelist module syntax,
 * `rules { NAME { domains = [...]; score = N; blacklist = bool; } }`: each
 * rule is a plain (non-prefilter) rule NAME matching the envelope or header
 * From domain, with weight `score` (default -1, or +1 with blacklist =
 * true). Rules that ask for valid_spf/valid_dkim/valid_dmarc are
 * registered but never match until those checks exist: whitelisting on an
 * unverified, forgeable domain is not what such a rule asks for.
 */
#include "core/obj.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/engine.h"
#include "scan/maps/multimap_internal.h"

#include <string.h>

struct list_def {
	const char *section;
	const char *keys[2];     /* accepted spellings */
	const char *symbol;
	const char *type;
	const char *filter;
	const char *action;
	double score;
	int priority;
	const char *description;
};

static const struct list_def list_defs[] = {
	{ "whitelist", { "whitelist_ip", NULL }, "WHITELIST_IP", "ip", NULL,
	  "accept", -20, 30, "Client IP is on the local whitelist" },
	{ "whitelist", { "whitelist_domains", NULL }, "WHITELIST_DOMAIN", "from",
	  "email:domain", "accept", -20, 10, "Sender domain is on the local whitelist" },
	{ "whitelist", { "whitelist_from", "whitelist_emails" }, "WHITELIST_FROM",
	  "from", "email:addr", "accept", -20, 10,
	  "Sender address is on the local whitelist" },
	{ "blacklist", { "blacklist_ip", NULL }, "BLACKLIST_IP", "ip", NULL,
	  "reject", 20, 40, "Client IP is on the local blacklist" },
	{ "blacklist", { "blacklist_domains", NULL }, "BLACKLIST_DOMAIN", "from",
	  "email:domain", "reject", 20, 20, "Sender domain is on the local blacklist" },
	{ "blacklist", { "blacklist_from", "blacklist_emails" }, "BLACKLIST_FROM",
	  "from", "email:addr", "reject", 20, 20,
	  "Sender address is on the local blacklist" },
};

#define LIST_MESSAGE "Blocked by local blacklist"

/* The values of every spelling of a list, as one array (caller frees). */
static struct obj *
list_values(const struct obj *sect, const struct list_def *d,
    const struct obj **where_r)
{
	struct obj *all = obj_new_array();

	*where_r = NULL;
	for (size_t k = 0; k < ARRAY_SIZE(d->keys) && d->keys[k] != NULL; k++) {
		const struct obj *o = obj_lookup(sect, d->keys[k]), *it = NULL, *v;

		if (o == NULL)
			continue;
		if (*where_r == NULL)
			*where_r = o;
		while ((v = obj_iter_values(o, &it)) != NULL)
			obj_array_append(all, obj_copy(v));
	}
	return all;
}

static int
add_list(struct scan_engine *eng, struct mm_module *mod, const struct obj *sect,
    const struct list_def *d, char **error_r)
{
	const struct obj *where;
	struct obj *values = list_values(sect, d, &where);
	struct mm_spec s = { 0 };
	int ret = 0;

	if (where != NULL) {
		s.symbol = d->symbol;
		s.type = d->type;
		s.filter = d->filter;
		s.extract_from = strcmp(d->type, "from") == 0 ? "both" : NULL;
		s.action = d->action;
		s.message = strcmp(d->action, "reject") == 0 ? LIST_MESSAGE : NULL;
		s.description = d->description;
		s.group = d->section;
		s.score = d->score;
		s.priority = d->priority;
		s.prefilter = true;
		s.map = values;
		s.where = where;
		ret = mm_add_rule(eng, mod, &s, error_r);
	}
	obj_free(&values);
	return ret;
}

static bool
wants_verification(const struct obj *rule)
{
	static const char *const keys[] = { "valid_spf", "valid_dkim", "valid_dmarc" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		bool b = false;

		if (obj_get_bool(obj_lookup(rule, keys[i]), &b) == 0 && b)
			return true;
	}
	return false;
}

/* whitelist { rules { NAME { domains = ...; } } } (Rspamd's module form). */
static int
add_rules(struct scan_engine *eng, struct mm_module *mod, const struct obj *rules,
    char **error_r)
{
	for (const struct obj *r = obj_first(rules); r != NULL; r = r->next) {
		struct mm_spec s = { 0 };
		bool black = false;

		if (r->type != OBJ_OBJECT || r->key == NULL)
			continue;
		s.map = obj_lookup(r, "domains");
		if (s.map == NULL) {
			log_warn("maps", NULL, "%swhitelist rule %s has no domains; skipped",
			    mm_where(r), r->key);
			continue;
		}
		(void)obj_get_bool(obj_lookup(r, "blacklist"), &black);
		s.score = black ? 1.0 : -1.0;
		(void)obj_get_double(obj_lookup(r, "score"), &s.score);
		s.symbol = r->key;
		s.type = "from";
		s.filter = "email:domain";
		s.extract_from = "both";
		s.description = obj_get_string(obj_lookup(r, "description"));
		s.group = "whitelist";
		s.where = r;
		s.inactive = wants_verification(r);
		if (s.inactive)
			log_warn("maps", NULL, "%swhitelist rule %s needs SPF/DKIM/DMARC "
			    "verification, which is not available yet; it will not match",
			    mm_where(r), r->key);
		if (mm_add_rule(eng, mod, &s, error_r) < 0)
			return -1;
	}
	return 0;
}

/* Keys that look like a list but are none of ours: probably a typo. */
static void
warn_unknown(const struct obj *sect, const char *section)
{
	for (const struct obj *o = obj_first(sect); o != NULL; o = o->next) {
		bool known = false;

		if (o->key == NULL || strncmp(o->key, section, strlen(section)) != 0)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(list_defs); i++) {
			for (size_t k = 0; k < 2 && list_defs[i].keys[k] != NULL; k++)
				known |= strcmp(o->key, list_defs[i].keys[k]) == 0;
		}
		if (!known)
			log_warn("maps", NULL, "%s%s: unknown key %s ignored",
			    mm_where(o), section, o->key);
	}
}

int
mm_lists_init(struct scan_engine *eng, struct mm_module *mod,
    const struct obj *root, char **error_r)
{
	static const char *const sections[] = { "whitelist", "blacklist" };

	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		const struct obj *sect = obj_lookup(root, sections[i]), *rules;
		bool enabled = true;

		if (sect == NULL || sect->type != OBJ_OBJECT)
			continue;
		(void)obj_get_bool(obj_lookup(sect, "enabled"), &enabled);
		if (!enabled)
			continue;
		warn_unknown(sect, sections[i]);
		for (size_t d = 0; d < ARRAY_SIZE(list_defs); d++) {
			if (strcmp(list_defs[d].section, sections[i]) == 0 &&
			    add_list(eng, mod, sect, &list_defs[d], error_r) < 0)
				return -1;
		}
		rules = obj_lookup(sect, "rules");
		if (rules != NULL && rules->type == OBJ_OBJECT &&
		    add_rules(eng, mod, rules, error_r) < 0)
			return -1;
	}
	return 0;
}
