/*
 * lua_engine.c - the Lua rule module: one LuaJIT state per engine, the
 * sandbox, loading the rule files, and turning what they defined into
 * engine symbols, rules and regexp rules.
 *
 * The state is built in the main process together with the rest of the
 * engine and inherited by each worker on fork, so the files are parsed
 * once. Rule callbacks run in the worker; every call goes through
 * lua_pcall with a traceback handler and the stack is reset afterwards,
 * so a failing rule is logged and costs nothing else.
 *
 * Definitions made by the files (rspamd_config.X = ..., register_symbol,
 * config['regexp']) are only collected while loading; lua_engine_init
 * hands them to the engine after the last file ran, so a later file may
 * override an earlier one.
 */
#include "scan/lua/lua_internal.h"

#include "config/config.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/engine.h"
#include "scan/re/re_engine.h"

#include <glob.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char engine_key;

struct lua_engine *
lua_engine_get(lua_State *L)
{
	struct lua_engine *le;

	lua_pushlightuserdata(L, &engine_key);
	lua_rawget(L, LUA_REGISTRYINDEX);
	le = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return le;
}

void
lua_class_register(lua_State *L, const char *name, const luaL_Reg *methods,
    const luaL_Reg *meta)
{
	luaL_newmetatable(L, name);
	lua_newtable(L);
	if (methods != NULL)
		luaL_register(L, NULL, methods);
	lua_setfield(L, -2, "__index");
	if (meta != NULL)
		luaL_register(L, NULL, meta);
	lua_pushstring(L, name);
	lua_setfield(L, -2, "class");
	lua_pop(L, 1);
}

/*
 * Message handler: the error text plus a one-line traceback, so the log
 * shows where the failing call came from without multi-line entries.
 */
static int
traceback_handler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	const char *tb;
	luaL_Buffer b;

	if (msg == NULL)
		msg = lua_pushfstring(L, "(error object is a %s value)",
		    luaL_typename(L, 1));
	luaL_traceback(L, L, NULL, 1);
	tb = lua_tostring(L, -1);
	luaL_buffinit(L, &b);
	luaL_addstring(&b, msg);
	luaL_addstring(&b, "; trace:");
	for (const char *p = tb; p != NULL && *p != '\0'; p++) {
		if (*p == '\n' || *p == '\t') {
			if (p[1] != '\t')
				luaL_addchar(&b, ' ');
			continue;
		}
		luaL_addchar(&b, *p);
	}
	luaL_pushresult(&b);
	return 1;
}

int
lua_push_traceback(lua_State *L)
{
	struct lua_engine *le = lua_engine_get(L);

	lua_rawgeti(L, LUA_REGISTRYINDEX, le->traceback_ref);
	return lua_gettop(L);
}

int
lua_call_logged(lua_State *L, int nargs, int nres, const char *what,
    const char *task_id)
{
	int fn = lua_gettop(L) - nargs;
	int h;

	lua_push_traceback(L);
	lua_insert(L, fn);
	h = fn;
	if (lua_pcall(L, nargs, nres, h) != 0) {
		log_error("lua", task_id, "%s failed: %s", what,
		    lua_tostring(L, -1));
		lua_settop(L, h - 1);
		return -1;
	}
	lua_remove(L, h);
	return 0;
}

/* --- symbol table collected while loading ---------------------------- */

struct lua_sym *
lua_sym_get(struct lua_engine *le, const char *name)
{
	for (size_t i = 0; i < le->n_syms; i++) {
		if (strcmp(le->syms[i]->name, name) == 0)
			return le->syms[i];
	}
	return NULL;
}

struct lua_sym *
lua_sym_new(struct lua_engine *le, const char *name)
{
	struct lua_sym *sym = lua_sym_get(le, name);

	if (sym != NULL)
		return sym;
	sym = xcalloc(1, sizeof(*sym));
	sym->le = le;
	sym->name = xstrdup(name);
	sym->cb_ref = LUA_NOREF;
	sym->cond_ref = LUA_NOREF;
	sym->type = LUA_SYM_METRIC;
	le->syms = xgrow(le->syms, &le->cap_syms, le->n_syms + 1,
	    sizeof(*le->syms));
	le->syms[le->n_syms++] = sym;
	return sym;
}

static void
sym_free(lua_State *L, struct lua_sym *sym)
{
	if (L != NULL) {
		luaL_unref(L, LUA_REGISTRYINDEX, sym->cb_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, sym->cond_ref);
	}
	free(sym->name);
	free(sym->description);
	free(sym->group);
	free(sym);
}

static void
lua_engine_free(void *data)
{
	struct lua_engine *le = data;

	if (le == NULL)
		return;
	for (size_t i = 0; i < le->n_syms; i++)
		sym_free(NULL, le->syms[i]);
	free(le->syms);
	for (size_t i = 0; i < le->n_deps; i++)
		free(le->deps[i]);
	free(le->deps);
	for (size_t i = 0; i < le->n_conds; i++) {
		free(le->conds[i]->name);
		free(le->conds[i]);
	}
	free(le->conds);
	if (le->L != NULL)
		lua_close(le->L);
	free(le);
}

/* --- sandbox and globals --------------------------------------------- */

static void
nil_field(lua_State *L, const char *table, const char *field)
{
	lua_getglobal(L, table);
	if (lua_istable(L, -1)) {
		lua_pushnil(L);
		lua_setfield(L, -2, field);
	}
	lua_pop(L, 1);
}

/*
 * Rules get the standard library minus what can run programs, touch
 * arbitrary files destructively, load native code or break the sandbox
 * (debug); debug.traceback stays because rules use it in xpcall.
 */
static void
sandbox(lua_State *L, const struct config *cfg)
{
	static const char *const os_fn[] = { "execute", "exit", "remove",
		"rename", "tmpname", "setlocale" };

	for (size_t i = 0; i < sizeof(os_fn) / sizeof(os_fn[0]); i++)
		nil_field(L, "os", os_fn[i]);
	nil_field(L, "io", "popen");
	nil_field(L, "package", "loadlib");
	lua_getglobal(L, "debug");
	lua_getfield(L, -1, "traceback");
	lua_newtable(L);
	lua_pushvalue(L, -2);
	lua_setfield(L, -2, "traceback");
	lua_setglobal(L, "debug");
	lua_pop(L, 2);

	lua_getglobal(L, "package");
	/* Keep only the preload and Lua-file searchers. */
	lua_getfield(L, -1, "loaders");
	for (int i = (int)lua_objlen(L, -1); i > 2; i--) {
		lua_pushnil(L);
		lua_rawseti(L, -2, i);
	}
	lua_pop(L, 1);
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "cpath");
	lua_pushfstring(L, "%s/?.lua;%s/?.lua", cfg->lualibdir != NULL ?
	    cfg->lualibdir : ".", cfg->rulesdir != NULL ? cfg->rulesdir : ".");
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

static void
set_path(lua_State *L, const char *key, const char *value)
{
	if (value == NULL)
		return;
	lua_pushstring(L, value);
	lua_setfield(L, -2, key);
}

static void
preload(lua_State *L, const char *name, lua_CFunction fn)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, fn);
	lua_setfield(L, -2, name);
	lua_pop(L, 2);
}

static void
globals(lua_State *L, const struct config *cfg)
{
	lua_newtable(L);
	set_path(L, "CONFDIR", cfg->confdir);
	set_path(L, "LOCAL_CONFDIR", cfg->local_confdir);
	set_path(L, "RULESDIR", cfg->rulesdir);
	set_path(L, "LUALIBDIR", cfg->lualibdir);
	set_path(L, "DBDIR", cfg->dbdir);
	set_path(L, "RUNDIR", cfg->rundir);
	set_path(L, "LOGDIR", cfg->logdir);
	lua_setglobal(L, "rspamd_paths");

	lua_newtable(L);
	lua_newtable(L);
	lua_setfield(L, -2, "regexp");
	lua_setglobal(L, "config");

	preload(L, "rspamd_logger", lua_logger_open);
	preload(L, "rspamd_regexp", lua_regexp_open);
	preload(L, "rspamd_util", lua_util_open);
}

static lua_State *
state_new(struct lua_engine *le)
{
	lua_State *L = luaL_newstate();

	if (L == NULL)
		return NULL;
	luaL_openlibs(L);
	lua_pushlightuserdata(L, &engine_key);
	lua_pushlightuserdata(L, le);
	lua_rawset(L, LUA_REGISTRYINDEX);
	sandbox(L, le->cfg);
	lua_pushcfunction(L, traceback_handler);
	le->traceback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_text_register(L);
	lua_ip_register(L);
	lua_regexp_register(L);
	lua_task_register(L);
	lua_config_register(L);
	globals(L, le->cfg);
	return L;
}

/* --- loading files ----------------------------------------------------- */

static int
load_file(struct lua_engine *le, const char *path, char **error_r)
{
	lua_State *L = le->L;
	struct stat st;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	if (luaL_loadfile(L, path) != 0 || lua_pcall(L, 0, 0, 0) != 0) {
		const char *msg = lua_tostring(L, -1);

		if (msg == NULL)
			msg = "(error object is not a string)";
		/* Lua already prefixes "FILE:LINE:" for syntax and runtime
		 * errors raised in the file; add the file for the rest. */
		if (strncmp(msg, path, strlen(path)) == 0)
			*error_r = xstrdup(msg);
		else
			*error_r = xasprintf("%s: %s", path, msg);
		lua_settop(L, 0);
		return -1;
	}
	lua_settop(L, 0);
	log_debug("lua", NULL, "loaded %s", path);
	return 0;
}

static int
load_glob(struct lua_engine *le, const char *dir, const char *pattern,
    char **error_r)
{
	char path[4096];
	glob_t g;
	int ret = 0;

	if (dir == NULL || snprintf(path, sizeof(path), "%s/%s", dir,
	    pattern) >= (int)sizeof(path))
		return 0;
	memset(&g, 0, sizeof(g));
	/* glob() sorts its results by name. */
	if (glob(path, 0, NULL, &g) != 0) {
		globfree(&g);
		return 0;
	}
	for (size_t i = 0; i < g.gl_pathc && ret == 0; i++)
		ret = load_file(le, g.gl_pathv[i], error_r);
	globfree(&g);
	return ret;
}

static int
load_all(struct lua_engine *le, char **error_r)
{
	static const char *const local_files[] = { "rspamd.local.lua",
		"local.d/rspamd.lua", "local.d/local.lua" };
	const char *lc = le->cfg->local_confdir;
	char path[4096];

	if (load_glob(le, le->cfg->rulesdir, "*.lua", error_r) < 0)
		return -1;
	for (size_t i = 0; lc != NULL && i < 3; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", lc,
		    local_files[i]) >= (int)sizeof(path))
			continue;
		if (load_file(le, path, error_r) < 0)
			return -1;
	}
	return load_glob(le, lc, "lua.local.d/*.lua", error_r);
}

/* --- handing definitions to the engine --------------------------------- */

static enum rule_stage
sym_stage(enum lua_sym_type t)
{
	switch (t) {
	case LUA_SYM_PREFILTER:
		return RULE_STAGE_PREFILTER;
	case LUA_SYM_POSTFILTER:
		return RULE_STAGE_POSTFILTER;
	case LUA_SYM_IDEMPOTENT:
		return RULE_STAGE_IDEMPOTENT;
	default:
		return RULE_STAGE_FILTER;
	}
}

static void
register_syms(struct lua_engine *le)
{
	for (size_t i = 0; i < le->n_syms; i++) {
		struct lua_sym *sym = le->syms[i];
		struct symbol_info si = {
			.name = sym->name,
			.weight = sym->has_score ? sym->score : 0,
			.group = sym->group,
			.description = sym->description,
			.flags = sym->flags,
		};
		struct rule_def rd = {
			.name = sym->name,
			.stage = sym_stage(sym->type),
			.priority = sym->priority,
			.fn = lua_rule_run,
			.ud = sym,
		};

		if (sym->type == LUA_SYM_VIRTUAL)
			si.flags |= SYMBOL_FLAG_VIRTUAL;
		scan_engine_add_symbol(le->eng, &si);
		if (sym->type != LUA_SYM_VIRTUAL && sym->type != LUA_SYM_METRIC &&
		    sym->cb_ref != LUA_NOREF)
			scan_engine_add_rule(le->eng, &rd);
	}
	for (size_t i = 0; i + 1 < le->n_deps; i += 2)
		scan_engine_add_dependency(le->eng, le->deps[i], le->deps[i + 1]);
}

int
lua_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	struct lua_engine *le = xcalloc(1, sizeof(*le));

	le->eng = eng;
	le->cfg = cfg;
	le->next_serial = 1;
	le->L = state_new(le);
	if (le->L == NULL) {
		*error_r = xstrdup("lua: cannot create a Lua state");
		lua_engine_free(le);
		return -1;
	}
	if (load_all(le, error_r) < 0) {
		lua_engine_free(le);
		return -1;
	}
	register_syms(le);
	if (lua_regexp_rules(le, error_r) < 0) {
		lua_engine_free(le);
		return -1;
	}
	lua_settop(le->L, 0);
	lua_gc(le->L, LUA_GCCOLLECT, 0);
	scan_engine_set_module(eng, ENGINE_SLOT_LUA, le, lua_engine_free);
	log_info("lua", NULL, "lua rules: %zu symbols", le->n_syms);
	return 0;
}
