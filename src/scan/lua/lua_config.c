/*
 * lua_config.c - the `rspamd_config` object the rule files see, and the
 * hand-over of config['regexp'] to the regexp module.
 *
 * rspamd_config is a userdata whose __newindex turns
 * `rspamd_config.SYM = function ... end` and `rspamd_config.SYM = {...}`
 * into symbol definitions; its methods (register_symbol,
 * register_dependency, set_metric_symbol, get_all_opt, ...) collect into
 * the same table in struct lua_engine. Nothing reaches the engine until
 * every file is loaded (lua_engine.c).
 */
#include "scan/lua/lua_internal.h"

#include "config/config.h"
#include "core/obj.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/engine.h"
#include "scan/re/re_engine.h"
#include "scan/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct lua_engine *
check_config(lua_State *L, int idx)
{
	struct lua_engine **p = luaL_checkudata(L, idx, LUA_CLASS_CONFIG);

	return *p;
}

static void
replace_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s != NULL ? xstrdup(s) : NULL;
}

static void
set_ref(lua_State *L, int *ref, int idx)
{
	luaL_unref(L, LUA_REGISTRYINDEX, *ref);
	lua_pushvalue(L, idx);
	*ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static int
parse_type(const char *s, enum lua_sym_type *t_r)
{
	static const struct {
		const char *name;
		enum lua_sym_type t;
	} types[] = {
		{ "normal", LUA_SYM_NORMAL }, { "prefilter", LUA_SYM_PREFILTER },
		{ "postfilter", LUA_SYM_POSTFILTER },
		{ "idempotent", LUA_SYM_IDEMPOTENT },
		{ "callback", LUA_SYM_CALLBACK }, { "virtual", LUA_SYM_VIRTUAL },
	};
	size_t n = strcspn(s, ",");

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strlen(types[i].name) == n &&
		    strncmp(types[i].name, s, n) == 0) {
			*t_r = types[i].t;
			return 0;
		}
	}
	return -1;
}

static unsigned
parse_flags(const char *s)
{
	unsigned flags = 0;

	if (s == NULL)
		return 0;
	if (strstr(s, "one_shot") != NULL)
		flags |= SYMBOL_FLAG_ONE_SHOT;
	if (strstr(s, "ignore") != NULL)
		flags |= SYMBOL_FLAG_IGNORE;
	return flags;
}

static const char *
field_string(lua_State *L, int t, const char *key)
{
	const char *s;

	lua_getfield(L, t, key);
	s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	lua_pop(L, 1);
	/* The string stays referenced by the table at t. */
	return s;
}

/* Common fields of table definitions; the table is at t. */
static void
sym_from_table(lua_State *L, struct lua_sym *sym, int t)
{
	const char *s;

	lua_getfield(L, t, "score");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_getfield(L, t, "weight");
	}
	if (lua_isnumber(L, -1)) {
		sym->score = lua_tonumber(L, -1);
		sym->has_score = true;
	}
	lua_pop(L, 1);
	if ((s = field_string(L, t, "description")) != NULL)
		replace_str(&sym->description, s);
	if ((s = field_string(L, t, "group")) != NULL)
		replace_str(&sym->group, s);
	sym->flags |= parse_flags(field_string(L, t, "flags"));
	lua_getfield(L, t, "one_shot");
	if (lua_toboolean(L, -1))
		sym->flags |= SYMBOL_FLAG_ONE_SHOT;
	lua_pop(L, 1);
	lua_getfield(L, t, "priority");
	if (lua_isnumber(L, -1))
		sym->priority = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, t, "condition");
	if (lua_isfunction(L, -1))
		set_ref(L, &sym->cond_ref, -1);
	lua_pop(L, 1);
}

/* Table form shared by __newindex and register_symbol; returns the sym. */
static struct lua_sym *
define_from_table(lua_State *L, struct lua_engine *le, const char *name, int t)
{
	enum lua_sym_type type = LUA_SYM_NORMAL;
	const char *ts = field_string(L, t, "type");
	struct lua_sym *sym;

	if (ts != NULL && parse_type(ts, &type) < 0)
		luaL_error(L, "symbol %s: unknown type '%s'", name, ts);
	lua_getfield(L, t, "callback");
	if (!lua_isfunction(L, -1) && type != LUA_SYM_VIRTUAL) {
		lua_pop(L, 1);
		log_error("lua", NULL, "symbol %s has no callback, ignored", name);
		return NULL;
	}
	sym = lua_sym_new(le, name);
	if (lua_isfunction(L, -1))
		set_ref(L, &sym->cb_ref, -1);
	lua_pop(L, 1);
	sym->type = type;
	sym_from_table(L, sym, t);
	return sym;
}

static int
config_newindex(lua_State *L)
{
	struct lua_engine *le = check_config(L, 1);
	const char *name = luaL_checkstring(L, 2);
	struct lua_sym *sym;

	if (lua_isfunction(L, 3)) {
		sym = lua_sym_new(le, name);
		sym->type = LUA_SYM_NORMAL;
		set_ref(L, &sym->cb_ref, 3);
	} else if (lua_istable(L, 3)) {
		define_from_table(L, le, name, 3);
	} else {
		return luaL_error(L, "rspamd_config.%s: expected a function or "
		    "a table, got %s", name, luaL_typename(L, 3));
	}
	return 0;
}

static int
sym_id(struct lua_engine *le, const struct lua_sym *sym)
{
	for (size_t i = 0; i < le->n_syms; i++) {
		if (le->syms[i] == sym)
			return (int)i + 1;
	}
	return -1;
}

/* register_symbol('NAME', weight, callback [, flags]) */
static int
register_positional(lua_State *L, struct lua_engine *le, int first,
    enum lua_sym_type type)
{
	const char *name = luaL_checkstring(L, first);
	struct lua_sym *sym;
	int cb = first + 2;

	if (!lua_isfunction(L, cb))
		return luaL_error(L, "register_symbol %s: no callback", name);
	sym = lua_sym_new(le, name);
	sym->type = type;
	if (lua_isnumber(L, first + 1)) {
		sym->score = lua_tonumber(L, first + 1);
		sym->has_score = true;
	}
	set_ref(L, &sym->cb_ref, cb);
	if (lua_type(L, cb + 1) == LUA_TSTRING)
		sym->flags |= parse_flags(lua_tostring(L, cb + 1));
	lua_pushinteger(L, sym_id(le, sym));
	return 1;
}

static int
config_register_symbol(lua_State *L)
{
	struct lua_engine *le = check_config(L, 1);
	struct lua_sym *sym;
	const char *name;

	if (!lua_istable(L, 2))
		return register_positional(L, le, 2, LUA_SYM_NORMAL);
	name = field_string(L, 2, "name");
	if (name == NULL)
		return luaL_error(L, "register_symbol: no name");
	sym = define_from_table(L, le, name, 2);
	lua_pushinteger(L, sym != NULL ? sym_id(le, sym) : -1);
	return 1;
}

static int
config_register_virtual(lua_State *L)
{
	struct lua_engine *le = check_config(L, 1);
	struct lua_sym *sym = lua_sym_new(le, luaL_checkstring(L, 2));

	sym->type = LUA_SYM_VIRTUAL;
	if (lua_isnumber(L, 3)) {
		sym->score = lua_tonumber(L, 3);
		sym->has_score = true;
	}
	lua_pushinteger(L, sym_id(le, sym));
	return 1;
}

static int
config_register_callback(lua_State *L)
{
	return register_positional(L, check_config(L, 1), 2, LUA_SYM_CALLBACK);
}

/* register_pre_filter(fn [, priority]) and the postfilter twin. */
static int
register_filter(lua_State *L, enum lua_sym_type type, const char *prefix)
{
	struct lua_engine *le = check_config(L, 1);
	struct lua_sym *sym;
	char name[64];

	luaL_checktype(L, 2, LUA_TFUNCTION);
	(void)snprintf(name, sizeof(name), "%s_%zu", prefix, le->n_syms + 1);
	sym = lua_sym_new(le, name);
	sym->type = type;
	sym->priority = (int)luaL_optinteger(L, 3, 0);
	set_ref(L, &sym->cb_ref, 2);
	lua_pushinteger(L, sym_id(le, sym));
	return 1;
}

static int
config_register_prefilter(lua_State *L)
{
	return register_filter(L, LUA_SYM_PREFILTER, "PREFILTER");
}

static int
config_register_postfilter(lua_State *L)
{
	return register_filter(L, LUA_SYM_POSTFILTER, "POSTFILTER");
}

static const char *
sym_name_arg(lua_State *L, struct lua_engine *le, int idx)
{
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Integer id = lua_tointeger(L, idx);

		if (id < 1 || (size_t)id > le->n_syms)
			luaL_error(L, "unknown symbol id %d", (int)id);
		return le->syms[id - 1]->name;
	}
	return luaL_checkstring(L, idx);
}

static int
config_register_dependency(lua_State *L)
{
	struct lua_engine *le = check_config(L, 1);
	const char *rule = sym_name_arg(L, le, 2);
	const char *dep = sym_name_arg(L, le, 3);

	le->deps = xgrow(le->deps, &le->cap_deps, le->n_deps + 2,
	    sizeof(*le->deps));
	le->deps[le->n_deps++] = xstrdup(rule);
	le->deps[le->n_deps++] = xstrdup(dep);
	return 0;
}

/* set_metric_symbol{name=, score=, description=, group=} or positional. */
static int
config_set_metric_symbol(lua_State *L)
{
	struct lua_engine *le = check_config(L, 1);
	struct lua_sym *sym;

	if (lua_istable(L, 2)) {
		const char *name = field_string(L, 2, "name");

		if (name == NULL)
			return luaL_error(L, "set_metric_symbol: no name");
		sym = lua_sym_new(le, name);
		sym_from_table(L, sym, 2);
		return 0;
	}
	sym = lua_sym_new(le, luaL_checkstring(L, 2));
	if (lua_isnumber(L, 3)) {
		sym->score = lua_tonumber(L, 3);
		sym->has_score = true;
	}
	if (lua_type(L, 4) == LUA_TSTRING)
		replace_str(&sym->description, lua_tostring(L, 4));
	if (lua_type(L, 5) == LUA_TSTRING)
		replace_str(&sym->group, lua_tostring(L, 5));
	if (lua_toboolean(L, 6))
		sym->flags |= SYMBOL_FLAG_ONE_SHOT;
	return 0;
}

static void
push_obj(lua_State *L, const struct obj *o, int depth)
{
	const struct obj *c;
	int i = 1;

	luaL_checkstack(L, 4, "config too deep");
	switch (o->type) {
	case OBJ_BOOL:
		lua_pushboolean(L, o->v.b);
		return;
	case OBJ_INT:
		lua_pushnumber(L, (lua_Number)o->v.i);
		return;
	case OBJ_FLOAT:
		lua_pushnumber(L, o->v.f);
		return;
	case OBJ_STRING:
		lua_pushlstring(L, o->v.s.ptr, o->v.s.len);
		return;
	case OBJ_ARRAY:
	case OBJ_OBJECT:
		lua_newtable(L);
		if (depth > 64)
			return;
		for (c = obj_first(o); c != NULL; c = c->next) {
			if (c->type == OBJ_NULL)
				continue;
			push_obj(L, c, depth + 1);
			if (o->type == OBJ_ARRAY)
				lua_rawseti(L, -2, i++);
			else
				lua_setfield(L, -2, c->key);
		}
		return;
	default:
		lua_pushnil(L);
		return;
	}
}

static int
config_get_all_opt(lua_State *L)
{
	struct lua_engine *le = check_config(L, 1);
	const struct obj *o = obj_lookup(le->cfg->root, luaL_checkstring(L, 2));

	if (o == NULL || o->type != OBJ_OBJECT) {
		lua_pushnil(L);
		return 1;
	}
	push_obj(L, o, 0);
	return 1;
}

static int
config_tostring(lua_State *L)
{
	lua_pushliteral(L, "rspamd{config}");
	return 1;
}

void
lua_config_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "register_symbol", config_register_symbol },
		{ "register_virtual_symbol", config_register_virtual },
		{ "register_callback_symbol", config_register_callback },
		{ "register_pre_filter", config_register_prefilter },
		{ "register_post_filter", config_register_postfilter },
		{ "register_dependency", config_register_dependency },
		{ "set_metric_symbol", config_set_metric_symbol },
		{ "get_all_opt", config_get_all_opt },
		{ NULL, NULL },
	};
	static const luaL_Reg meta[] = {
		{ "__newindex", config_newindex },
		{ "__tostring", config_tostring },
		{ NULL, NULL },
	};
	struct lua_engine **p;

	lua_class_register(L, LUA_CLASS_CONFIG, methods, meta);
	p = lua_newuserdata(L, sizeof(*p));
	*p = lua_engine_get(L);
	luaL_getmetatable(L, LUA_CLASS_CONFIG);
	lua_setmetatable(L, -2);
	lua_setglobal(L, "rspamd_config");
}

/* --- config['regexp'] ----------------------------------------------------- */

/* Gate for a regexp rule: the Lua condition under pcall; errors = false. */
static bool
regexp_condition(struct scan_task *task, void *ud)
{
	struct lua_cond *c = ud;
	lua_State *L = c->le->L;
	int top = lua_gettop(L);
	bool ok;

	lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
	lua_task_push(L, c->le, task);
	if (lua_call_logged(L, 1, 1, c->name, task->id) < 0) {
		lua_settop(L, top);
		return false;
	}
	ok = lua_toboolean(L, -1);
	lua_settop(L, top);
	return ok;
}

static struct lua_cond *
cond_new(lua_State *L, struct lua_engine *le, const char *name, int idx)
{
	struct lua_cond *c = xcalloc(1, sizeof(*c));
	size_t n = strlen(name) + sizeof(" condition");

	c->le = le;
	c->name = xmalloc(n);
	(void)snprintf(c->name, n, "%s condition", name);
	lua_pushvalue(L, idx);
	c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	le->conds = xgrow(le->conds, &le->cap_conds, le->n_conds + 1,
	    sizeof(*le->conds));
	le->conds[le->n_conds++] = c;
	return c;
}

/* One entry of config['regexp']: key at -2, value at -1. */
static int
regexp_rule(lua_State *L, struct lua_engine *le, char **error_r)
{
	const char *name = lua_tostring(L, -2), *expr;
	struct symbol_info si = { .name = name };
	struct lua_sym tmp = { .name = NULL };
	struct lua_cond *cond = NULL;
	int t = lua_gettop(L);

	if (lua_type(L, t) == LUA_TSTRING) {
		expr = lua_tostring(L, t);
	} else if (lua_istable(L, t)) {
		expr = field_string(L, t, "re");
		if (expr == NULL) {
			log_error("lua", NULL, "config['regexp']['%s'] has no re",
			    name);
			return 0;
		}
		tmp.cond_ref = LUA_NOREF;
		sym_from_table(L, &tmp, t);
		si.weight = tmp.has_score ? tmp.score : 0;
		si.description = tmp.description;
		si.group = tmp.group;
		si.flags = tmp.flags;
		if (tmp.cond_ref != LUA_NOREF) {
			lua_rawgeti(L, LUA_REGISTRYINDEX, tmp.cond_ref);
			cond = cond_new(L, le, name, -1);
			lua_pop(L, 1);
			luaL_unref(L, LUA_REGISTRYINDEX, tmp.cond_ref);
		}
	} else {
		log_error("lua", NULL, "config['regexp']['%s']: expected a string "
		    "or a table", name);
		return 0;
	}
	if (re_engine_add_rule(le->eng, name, expr, &si,
	    cond != NULL ? regexp_condition : NULL, cond, error_r) < 0) {
		free(tmp.description);
		free(tmp.group);
		return -1;
	}
	free(tmp.description);
	free(tmp.group);
	return 0;
}

int
lua_regexp_rules(struct lua_engine *le, char **error_r)
{
	lua_State *L = le->L;

	lua_settop(L, 0);
	lua_getglobal(L, "config");
	if (!lua_istable(L, 1))
		return 0;
	lua_getfield(L, 1, "regexp");
	if (!lua_istable(L, 2))
		return 0;
	lua_pushnil(L);
	while (lua_next(L, 2) != 0) {
		if (lua_type(L, -2) == LUA_TSTRING &&
		    regexp_rule(L, le, error_r) < 0) {
			lua_settop(L, 0);
			return -1;
		}
		lua_settop(L, 3);
	}
	lua_settop(L, 0);
	return 0;
}
