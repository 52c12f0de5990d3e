/*
 * dkim_signing.c - the DKIM signing rule (POSTFILTER): for mail from an
 * authenticated user, or from local_addrs / sign_networks, picks the
 * signing domain (header or envelope From, optionally reduced to its
 * eSLD), finds the key(s) configured for it and stores each
 * DKIM-Signature value in task->dkim_signatures, which the reply sends as
 * "dkim-signature" and in its milter block. DKIM_SIGNED gets the option
 * "domain:s=selector" as Rspamd writes it.
 *
 * Config (dkim_signing {}) is Rspamd's: enabled, path and selector
 * templates ($domain, $selector), domain { d { selector; path; selectors
 * = [...] } }, use_domain, use_esld, allow_username_mismatch,
 * allow_hdrfrom_mismatch, allow_hdrfrom_multiple, allow_envfrom_empty,
 * sign_authenticated, sign_local, sign_networks, try_fallback, symbol,
 * sign_headers (or dkim { sign_headers }). The tutorial's sign_alg is not
 * an Rspamd option; it is accepted and only checked against the key type.
 *
 * Keys are cached per process by path and reloaded when the file
 * changes. Keys named by explicit domain entries are loaded at engine
 * init (in the main process, plain memory inherited by workers), so a
 * missing or unreadable key file is a config error naming the path;
 * template keys are loaded on first use.
 */
#include "auth/auth.h"
#include "auth/dkim.h"
#include "auth/dkim_internal.h"
#include "auth/psl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/strmap.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "mime/message.h"
#include "scan/engine.h"
#include "scan/task.h"

#define SIGN_RULE "DKIM_SIGN"
#define SEC "dkim_signing"

struct cached_key {
	struct dkim_privkey *key;
	time_t mtime;
	off_t size;
	ino_t ino;
};

/* path -> struct cached_key; process-wide, lives as long as the process */
static struct strmap *key_cache;

const struct dkim_privkey *
dkim_key_cached(const char *path, char **error_r)
{
	struct cached_key *ck;
	struct stat st;

	if (stat(path, &st) < 0) {
		*error_r = xasprintf("%s: cannot read DKIM key: %s", path, strerror(errno));
		return NULL;
	}
	if (key_cache == NULL)
		key_cache = strmap_new(false);
	ck = strmap_get(key_cache, path);
	if (ck != NULL && ck->mtime == st.st_mtime && ck->size == st.st_size &&
	    ck->ino == st.st_ino)
		return ck->key;
	if (ck == NULL) {
		ck = xcalloc(1, sizeof(*ck));
		strmap_put(key_cache, path, ck);
	}
	dkim_privkey_free(&ck->key);
	ck->mtime = st.st_mtime;
	ck->size = st.st_size;
	ck->ino = st.st_ino;
	if (dkim_privkey_load(path, &ck->key, error_r) < 0) {
		ck->mtime = 0;
		return NULL;
	}
	return ck->key;
}

static const char *
conf_str(const struct config *cfg, const char *path, const char *def)
{
	const char *s = obj_get_string(dkim_conf(cfg, SEC, path));

	return s != NULL ? s : def;
}

char *
dkim_expand_key_path(struct pool *pool, const struct config *cfg, const char *tpl,
    const char *domain, const char *selector)
{
	struct buf b;
	char *out;

	buf_init(&b, 4096);
	for (const char *p = tpl; *p != '\0'; p++) {
		int r;

		if (strncmp(p, "$domain", 7) == 0) {
			r = buf_append_cstr(&b, domain);
			p += 6;
		} else if (strncmp(p, "$selector", 9) == 0) {
			r = buf_append_cstr(&b, selector);
			p += 8;
		} else if (strncmp(p, "$DBDIR", 6) == 0 && cfg->dbdir != NULL) {
			r = buf_append_cstr(&b, cfg->dbdir);
			p += 5;
		} else
			r = buf_putc(&b, *p);
		if (r < 0) {
			buf_deinit(&b);
			return NULL;
		}
	}
	out = pool_strndup(pool, b.data != NULL ? b.data : "", b.len);
	buf_deinit(&b);
	return out;
}

/* sign_alg (tutorial) must agree with the key type when given */
static const char *
alg_mismatch(const struct config *cfg, const struct dkim_privkey *key)
{
	const char *alg = conf_str(cfg, "sign_alg", NULL);
	bool ed;

	if (alg == NULL)
		return NULL;
	ed = strncmp(alg, "ed25519", 7) == 0;
	if (!ed && strncmp(alg, "rsa", 3) != 0)
		return "unknown sign_alg (rsa-sha256 or ed25519-sha256)";
	if (ed != (key->type == DKIM_KEY_ED25519))
		return "sign_alg does not match the key type";
	return NULL;
}

/* The domain of an address ("Name <u@d>", "u@d"), lowercased; or NULL */
static char *
addr_domain(struct pool *pool, const char *addr)
{
	const char *lt, *at, *end;
	char *d;

	if (addr == NULL)
		return NULL;
	lt = strrchr(addr, '<');
	if (lt != NULL)
		addr = lt + 1;
	end = addr + strcspn(addr, ">");
	at = memrchr(addr, '@', (size_t)(end - addr));
	if (at == NULL)
		return NULL;
	at++;
	while (end > at && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '.'))
		end--;
	if (end == at)
		return NULL;
	d = pool_strndup(pool, at, (size_t)(end - at));
	for (char *p = d; p != NULL && *p != '\0'; p++) {
		*p = ascii_tolower(*p);
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		    *p == '-' || *p == '_'))
			return NULL;
	}
	return d;
}

static const char *
esld(const struct config *cfg, const char *domain)
{
	const char *r;

	if (domain == NULL || !dkim_conf_bool(cfg, SEC, "use_esld", true))
		return domain;
	r = psl_registrable_domain(psl_default(), domain);
	return r != NULL ? r : domain;
}

static bool
should_sign(const struct scan_task *task)
{
	const struct config *cfg = task->cfg;

	if (!dkim_conf_bool(cfg, SEC, "enabled", true) || task->msg == NULL)
		return false;
	if (task->env.user != NULL && dkim_conf_bool(cfg, SEC, "sign_authenticated", true))
		return true;
	if (task->env.ip == NULL)
		return false;
	if (dkim_conf_bool(cfg, SEC, "sign_local", true) && dkim_ip_is_local(cfg, task->env.ip))
		return true;
	return dkim_ip_in_list(dkim_conf(cfg, SEC, "sign_networks"), task->env.ip);
}

/* Header, envelope and user domains checked against each other */
static const char *
signing_domain(struct scan_task *task)
{
	const struct config *cfg = task->cfg;
	const char *use = conf_str(cfg, "use_domain", "header");
	const char *hdr = esld(cfg, addr_domain(task->pool,
	    mime_headers_get(&task->msg->headers, "From")));
	const char *env = esld(cfg, addr_domain(task->pool, task->env.from));
	const char *user = task->env.user;
	const char *dom;

	if (mime_headers_count(&task->msg->headers, "From") > 1 &&
	    !dkim_conf_bool(cfg, SEC, "allow_hdrfrom_multiple", false))
		return NULL;
	if (env == NULL && task->env.from != NULL && *task->env.from == '\0' &&
	    !dkim_conf_bool(cfg, SEC, "allow_envfrom_empty", true))
		return NULL;
	if (hdr != NULL && env != NULL && strcmp(hdr, env) != 0 &&
	    !dkim_conf_bool(cfg, SEC, "allow_hdrfrom_mismatch", false))
		return NULL;
	if (strcmp(use, "envelope") == 0)
		dom = env;
	else if (strcmp(use, "auth") == 0)
		dom = esld(cfg, addr_domain(task->pool, user));
	else if (strcmp(use, "recipient") == 0 && task->env.n_rcpts > 0)
		dom = esld(cfg, addr_domain(task->pool, task->env.rcpts[0]));
	else
		dom = hdr;
	if (dom == NULL || user == NULL || dkim_conf_bool(cfg, SEC, "allow_username_mismatch",
	    false))
		return dom;
	user = esld(cfg, addr_domain(task->pool, user));
	return user != NULL && strcmp(user, dom) == 0 ? dom : NULL;
}

/* sign_headers from dkim_signing {} (string or list) or dkim {} */
static const char *
sign_headers(struct pool *pool, const struct config *cfg)
{
	const struct obj *o = dkim_conf(cfg, SEC, "sign_headers");
	const struct obj *it = NULL, *v;
	struct buf b;
	char *out;

	if (o == NULL)
		o = dkim_conf(cfg, "dkim", "sign_headers");
	if (o == NULL)
		return NULL;
	if (obj_get_string(o) != NULL)
		return obj_get_string(o);
	buf_init(&b, 8192);
	while ((v = obj_iter_values(o, &it)) != NULL) {
		if (obj_get_string(v) != NULL)
			buf_printf(&b, "%s%s", b.len > 0 ? ":" : "", obj_get_string(v));
	}
	out = b.len > 0 ? pool_strndup(pool, b.data, b.len) : NULL;
	buf_deinit(&b);
	return out;
}

static void
add_signature(struct scan_task *task, const char *value)
{
	const char **n = pool_calloc(task->pool, task->n_dkim_signatures + 1, sizeof(*n));

	if (n == NULL)
		return;
	if (task->n_dkim_signatures > 0)
		memcpy(n, task->dkim_signatures, task->n_dkim_signatures * sizeof(*n));
	n[task->n_dkim_signatures++] = value;
	task->dkim_signatures = n;
}

/* One signature with (selector, path template); false when no key */
static void
sign_one(struct scan_task *task, const char *domain, const char *selector,
    const char *path_tpl, bool quiet_missing)
{
	const struct config *cfg = task->cfg;
	struct dkim_sign_params p = { .domain = domain, .selector = selector,
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED, .now = time(NULL) };
	const struct dkim_privkey *key;
	char *path = dkim_expand_key_path(task->pool, cfg, path_tpl, domain, selector);
	char *error = NULL;
	const char *err = NULL, *value;

	if (path == NULL)
		return;
	if ((key = dkim_key_cached(path, &error)) == NULL) {
		if (!quiet_missing || access(path, F_OK) == 0)
			log_error("dkim", task->id, "%s", error);
		free(error);
		return;
	}
	if ((err = alg_mismatch(cfg, key)) != NULL) {
		log_error("dkim", task->id, "%s: %s", path, err);
		return;
	}
	p.sign_headers = sign_headers(task->pool, cfg);
	value = dkim_sign(task->pool, task->data, task->len, &p, key, &err);
	if (value == NULL) {
		log_error("dkim", task->id, "signing for %s failed: %s", domain, err);
		return;
	}
	add_signature(task, value);
	scan_task_insert(task, conf_str(cfg, "symbol", "DKIM_SIGNED"), 1.0,
	    pool_printf(task->pool, "%s:s=%s", domain, selector));
}

/* Each (selector, path) of a domain entry */
static void
sign_entry(struct scan_task *task, const char *domain, const struct obj *entry)
{
	const struct obj *sels = obj_lookup(entry, "selectors"), *it = NULL, *s;
	const char *defpath = conf_str(task->cfg, "path", NULL);
	const char *defsel = conf_str(task->cfg, "selector", "dkim");

	if (sels == NULL) {
		const char *sel = obj_get_string(obj_lookup(entry, "selector"));
		const char *path = obj_get_string(obj_lookup(entry, "path"));

		if ((path != NULL ? path : defpath) != NULL)
			sign_one(task, domain, sel != NULL ? sel : defsel,
			    path != NULL ? path : defpath, false);
		return;
	}
	while ((s = obj_iter_values(sels, &it)) != NULL) {
		const char *sel = obj_get_string(obj_lookup(s, "selector"));
		const char *path = obj_get_string(obj_lookup(s, "path"));

		if ((path != NULL ? path : defpath) != NULL)
			sign_one(task, domain, sel != NULL ? sel : defsel,
			    path != NULL ? path : defpath, false);
	}
}

static void
dkim_sign_rule(struct scan_task *task, void *ud)
{
	const struct config *cfg = task->cfg;
	const struct obj *domains, *entry = NULL;
	const char *domain;

	(void)ud;
	if (!should_sign(task))
		return;
	if ((domain = signing_domain(task)) == NULL) {
		log_debug("dkim", task->id, "no signing domain (From/user mismatch or none)");
		return;
	}
	domains = dkim_conf(cfg, SEC, "domain");
	if (domains != NULL)
		entry = obj_lookup(domains, domain);
	if (entry != NULL)
		sign_entry(task, domain, entry);
	else if (dkim_conf_bool(cfg, SEC, "try_fallback", true) &&
	    conf_str(cfg, "path", NULL) != NULL)
		sign_one(task, domain, conf_str(cfg, "selector", "dkim"),
		    conf_str(cfg, "path", NULL), true);
}

/* Loads the keys of explicit domain entries now: errors name the file */
static int
preload_entry(const struct config *cfg, const char *domain, const struct obj *e,
    char **error_r)
{
	const char *tpl = obj_get_string(obj_lookup(e, "path"));
	const char *sel = obj_get_string(obj_lookup(e, "selector"));
	const struct dkim_privkey *key;
	struct pool *pool;
	const char *err;
	char *path;

	if (tpl == NULL)
		return 0;  /* global template, loaded on use */
	pool = pool_new(0);
	path = dkim_expand_key_path(pool, cfg, tpl, domain, sel != NULL ? sel :
	    conf_str(cfg, "selector", "dkim"));
	key = dkim_key_cached(path, error_r);
	if (key != NULL && (err = alg_mismatch(cfg, key)) != NULL)
		*error_r = xasprintf("%s: %s", path, err);
	pool_free(&pool);
	return key != NULL && *error_r == NULL ? 0 : -1;
}

static int
preload_keys(const struct config *cfg, char **error_r)
{
	const struct obj *domains = dkim_conf(cfg, SEC, "domain");

	*error_r = NULL;
	for (const struct obj *d = obj_first(domains); d != NULL; d = d->next) {
		const struct obj *sels = obj_lookup(d, "selectors"), *it = NULL, *s;

		if (d->type != OBJ_OBJECT)
			continue;
		if (sels == NULL && preload_entry(cfg, d->key, d, error_r) < 0)
			return -1;
		while (sels != NULL && (s = obj_iter_values(sels, &it)) != NULL) {
			if (preload_entry(cfg, d->key, s, error_r) < 0)
				return -1;
		}
	}
	return 0;
}

int
dkim_signing_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	static const struct rule_def rd = {
		SIGN_RULE, RULE_STAGE_POSTFILTER, 0, dkim_sign_rule, NULL,
	};
	struct symbol_info si = { "DKIM_SIGNED", 0.0, "dkim", "Message has been signed", 0 };
	char *error = NULL;

	if (!dkim_conf_bool(cfg, SEC, "enabled", true))
		return 0;
	si.name = conf_str(cfg, "symbol", "DKIM_SIGNED");
	if (preload_keys(cfg, &error) < 0) {
		*error_r = xasprintf("dkim_signing: %s", error);
		free(error);
		return -1;
	}
	if (dkim_conf_bool(cfg, SEC, "use_esld", true) && psl_default_load(&error) < 0) {
		log_warn("dkim", NULL, "public suffix list not loaded (%s): use_esld "
		    "keeps the From domain as it is", error);
		free(error);
	}
	scan_engine_add_symbol(eng, &si);
	scan_engine_add_rule(eng, &rd);
	return 0;
}
