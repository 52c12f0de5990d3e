/*
 * lua_rule.c - running one Lua rule on a task: the optional condition,
 * the callback under pcall, and Rspamd's callback return convention
 * (spec lua-api.md §1.3):
 *
 *   nil / false / nothing      -> not inserted
 *   true | n (truncated int)   -> inserted when non-zero; multiplier is the
 *                                 next value if it is a number, else n (1
 *                                 for true); the rest are options (strings,
 *                                 rspamd_text or arrays of them)
 *
 * The fast path touches only registry slots (the callback, the handler,
 * the task userdata cached for the task) and creates no tables.
 */
#include "scan/lua/lua_internal.h"

#include "core/pool.h"
#include "log/log.h"
#include "scan/task.h"

#include <math.h>

static void
add_option(struct scan_task *task, struct scan_symbol *sym, lua_State *L,
    int idx)
{
	const char *s;
	size_t len;

	if (lua_type(L, idx) == LUA_TSTRING) {
		scan_symbol_add_option(task, sym, lua_tostring(L, idx));
		return;
	}
	s = lua_to_bytes(L, idx, &len);
	if (s != NULL) {
		char *copy = pool_strndup(task->pool, s, len);

		if (copy != NULL)
			scan_symbol_add_option(task, sym, copy);
	}
}

static void
add_options(struct scan_task *task, struct scan_symbol *sym, lua_State *L,
    int first, int last)
{
	for (int i = first; i <= last; i++) {
		if (lua_istable(L, i)) {
			size_t n = lua_objlen(L, i);

			for (size_t j = 1; j <= n; j++) {
				lua_rawgeti(L, i, (int)j);
				add_option(task, sym, L, -1);
				lua_pop(L, 1);
			}
		} else {
			add_option(task, sym, L, i);
		}
	}
}

/* Values at first..first+n-1 are what the callback returned. */
static void
apply_return(lua_State *L, int first, int n, struct scan_task *task,
    const char *name)
{
	struct scan_symbol *sym;
	double flag;
	int res, opt = first + 1;

	if (n < 1)
		return;
	if (lua_type(L, first) == LUA_TBOOLEAN)
		res = lua_toboolean(L, first);
	else
		res = (int)trunc(lua_tonumber(L, first));
	if (res == 0)
		return;
	flag = res;
	if (n >= 2 && lua_type(L, first + 1) == LUA_TNUMBER) {
		flag = lua_tonumber(L, first + 1);
		opt++;
	}
	sym = scan_task_insert(task, name, flag, NULL);
	if (sym != NULL && opt < first + n)
		add_options(task, sym, L, opt, first + n - 1);
}

/* True when there is no condition or it returned a true value. */
static bool
condition_ok(lua_State *L, struct lua_sym *sym, struct scan_task *task,
    int handler)
{
	bool ok;

	if (sym->cond_ref == LUA_NOREF)
		return true;
	lua_rawgeti(L, LUA_REGISTRYINDEX, sym->cond_ref);
	lua_task_push(L, sym->le, task);
	if (lua_pcall(L, 1, 1, handler) != 0) {
		log_error("lua", task->id, "condition of %s failed: %s",
		    sym->name, lua_tostring(L, -1));
		lua_pop(L, 1);
		return false;
	}
	ok = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return ok;
}

void
lua_rule_run(struct scan_task *task, void *ud)
{
	struct lua_sym *sym = ud;
	lua_State *L = sym->le->L;
	int base = lua_gettop(L), handler = base + 1;

	if (!lua_checkstack(L, 8))
		return;
	lua_rawgeti(L, LUA_REGISTRYINDEX, sym->le->traceback_ref);
	if (!condition_ok(L, sym, task, handler)) {
		lua_settop(L, base);
		return;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, sym->cb_ref);
	lua_task_push(L, sym->le, task);
	if (lua_pcall(L, 1, LUA_MULTRET, handler) != 0) {
		log_error("lua", task->id, "rule %s failed: %s", sym->name,
		    lua_tostring(L, -1));
		lua_settop(L, base);
		return;
	}
	apply_return(L, handler + 1, lua_gettop(L) - handler, task, sym->name);
	lua_settop(L, base);
}
