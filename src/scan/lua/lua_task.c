/*
 * lua_task.c - the `task` object rules receive: its life cycle and the
 * envelope, result and time methods. Header methods are in
 * lua_task_headers.c, parts/URLs/content in lua_task_parts.c.
 *
 * The task userdata is created once per task, on the first Lua call, and
 * cached in the registry; a destructor on the task pool clears it when the
 * task ends, so a script that kept it gets an error, not freed memory.
 */
#include "scan/lua/lua_internal.h"

#include "config/config.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "mime/message.h"
#include "scan/actions.h"
#include "scan/engine.h"
#include "scan/task.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

bool
lua_task_serial_alive(struct lua_engine *le, uint64_t serial)
{
	for (struct lua_task_state *ts = le->live; ts != NULL; ts = ts->next) {
		if (ts->serial == serial)
			return true;
	}
	return false;
}

static void
task_state_free(void *arg)
{
	struct lua_task_state *ts = arg;
	lua_State *L = ts->le->L;
	struct lua_task_ud *ud;

	lua_rawgeti(L, LUA_REGISTRYINDEX, ts->ud_ref);
	ud = lua_touserdata(L, -1);
	if (ud != NULL) {
		ud->task = NULL;
		ud->ts = NULL;
	}
	lua_pop(L, 1);
	luaL_unref(L, LUA_REGISTRYINDEX, ts->ud_ref);
	if (ts->prev != NULL)
		ts->prev->next = ts->next;
	else
		ts->le->live = ts->next;
	if (ts->next != NULL)
		ts->next->prev = ts->prev;
	free(ts);
}

void
lua_task_push(lua_State *L, struct lua_engine *le, struct scan_task *task)
{
	struct lua_task_state *ts = task->lua_task;
	struct lua_task_ud *ud;

	if (ts != NULL) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, ts->ud_ref);
		return;
	}
	ud = lua_newuserdata(L, sizeof(*ud));
	luaL_getmetatable(L, LUA_CLASS_TASK);
	lua_setmetatable(L, -2);
	ts = xcalloc(1, sizeof(*ts));
	ts->le = le;
	ts->task = task;
	ts->serial = le->next_serial++;
	lua_pushvalue(L, -1);
	ts->ud_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	ts->next = le->live;
	if (le->live != NULL)
		le->live->prev = ts;
	le->live = ts;
	ud->task = task;
	ud->ts = ts;
	task->lua_task = ts;
	pool_add_destructor(task->pool, task_state_free, ts);
}

struct scan_task *
lua_task_check(lua_State *L, int idx)
{
	struct lua_task_ud *ud = luaL_checkudata(L, idx, LUA_CLASS_TASK);

	if (ud->task == NULL)
		luaL_error(L, "task used after it ended");
	return ud->task;
}

struct lua_task_state *
lua_task_state_of(lua_State *L, int idx)
{
	struct lua_task_ud *ud = luaL_checkudata(L, idx, LUA_CLASS_TASK);

	if (ud->task == NULL)
		luaL_error(L, "task used after it ended");
	return ud->ts;
}

static int
push_opt_string(lua_State *L, const char *s)
{
	if (s == NULL || s[0] == '\0')
		lua_pushnil(L);
	else
		lua_pushstring(L, s);
	return 1;
}

static int
task_get_helo(lua_State *L)
{
	return push_opt_string(L, lua_task_check(L, 1)->env.helo);
}

static int
task_get_hostname(lua_State *L)
{
	return push_opt_string(L, lua_task_check(L, 1)->env.hostname);
}

static int
task_get_user(lua_State *L)
{
	return push_opt_string(L, lua_task_check(L, 1)->env.user);
}

static int
task_get_queue_id(lua_State *L)
{
	return push_opt_string(L, lua_task_check(L, 1)->env.queue_id);
}

static int
task_get_ip(lua_State *L)
{
	lua_ip_push(L, lua_task_check(L, 1)->env.ip);
	return 1;
}

static int
task_get_size(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)lua_task_check(L, 1)->len);
	return 1;
}

static int
task_get_subject(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);

	if (task->msg == NULL || task->msg->subject == NULL) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushstring(L, task->msg->subject);
	return 1;
}

static int
task_get_message_id(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);

	return push_opt_string(L, task->msg != NULL ? task->msg->message_id :
	    NULL);
}

static int
task_get_request_header(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	const char *name = luaL_checkstring(L, 2);

	for (size_t i = 0; i < task->env.n_req_headers; i++) {
		const struct scan_kv *kv = &task->env.req_headers[i];

		if (kv->name != NULL && kv->value != NULL &&
		    strcasecmp(kv->name, name) == 0) {
			lua_text_push_copy(L, kv->value, strlen(kv->value));
			return 1;
		}
	}
	lua_pushnil(L);
	return 1;
}

/* Local time offset for `t`, for get_date{gmt=false}. */
static long
local_offset(time_t t)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

static int
task_get_date(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	bool message = false, gmt = true;
	const char *v;
	int64_t t;

	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "format");
		v = lua_tostring(L, -1);
		message = v != NULL && strcmp(v, "message") == 0;
		lua_getfield(L, 2, "gmt");
		if (!lua_isnil(L, -1))
			gmt = lua_toboolean(L, -1);
		lua_pop(L, 2);
	}
	if (!message) {
		lua_pushnumber(L, task->start_real);
		return 1;
	}
	v = task->msg != NULL ? mime_headers_get(&task->msg->headers, "Date") :
	    NULL;
	if (v == NULL || lua_parse_rfc5322_date(v, strlen(v), &t) < 0) {
		lua_pushnumber(L, 0);
		return 1;
	}
	if (!gmt)
		t += local_offset((time_t)t);
	lua_pushnumber(L, (lua_Number)t);
	return 1;
}

/* insert_result([enforce,] sym, multiplier, opt...) */
static int
task_insert_result(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	int a = lua_type(L, 2) == LUA_TBOOLEAN ? 3 : 2;
	const char *name = luaL_checkstring(L, a);
	double mult = luaL_optnumber(L, a + 1, 1.0);
	struct scan_symbol *sym;
	int top = lua_gettop(L);

	if (!isfinite(mult))
		return 0;
	/* scan_task_insert copies the name into the task pool. */
	sym = scan_task_insert(task, name, mult, NULL);
	for (int i = a + 2; sym != NULL && i <= top; i++) {
		size_t len;
		const char *s;

		if (lua_istable(L, i)) {
			size_t n = lua_objlen(L, i);

			for (size_t j = 1; j <= n; j++) {
				lua_rawgeti(L, i, (int)j);
				s = lua_to_bytes(L, -1, &len);
				if (s != NULL && (s = pool_strndup(task->pool, s,
				    len)) != NULL)
					scan_symbol_add_option(task, sym, s);
				lua_pop(L, 1);
			}
			continue;
		}
		s = lua_to_bytes(L, i, &len);
		if (s != NULL && (s = pool_strndup(task->pool, s, len)) != NULL)
			scan_symbol_add_option(task, sym, s);
	}
	return 0;
}

static const char *
pre_action_name(lua_State *L, const char *name)
{
	const char *a;

	if (strcmp(name, "accept") == 0)
		return "no action";
	a = action_canonical_name(name);
	if (a == NULL)
		luaL_error(L, "set_pre_result: unknown action '%s'", name);
	return a;
}

/* set_pre_result(action [, message [, module]]) or the table form. */
static int
task_set_pre_result(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	const char *action, *message = NULL, *module = NULL;

	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "action");
		lua_getfield(L, 2, "message");
		lua_getfield(L, 2, "module");
		action = luaL_checkstring(L, -3);
		message = lua_tostring(L, -2);
		module = lua_tostring(L, -1);
	} else {
		action = luaL_checkstring(L, 2);
		message = lua_tostring(L, 3);
		module = lua_tostring(L, 4);
	}
	action = pre_action_name(L, action);
	if (message != NULL)
		message = pool_strdup(task->pool, message);
	module = pool_strdup(task->pool, module != NULL ? module : "lua");
	scan_task_set_pre_result(task, action, message, module);
	return 0;
}

static int
task_has_pre_result(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);

	lua_pushboolean(L, task->pre_action != NULL);
	if (task->pre_action == NULL)
		return 1;
	lua_pushstring(L, task->pre_action);
	return 2;
}

static int
task_has_symbol(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);

	lua_pushboolean(L, scan_task_find_symbol(task, luaL_checkstring(L, 2)) !=
	    NULL);
	return 1;
}

static int
task_get_symbol(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	const struct scan_symbol *s = scan_task_find_symbol(task,
	    luaL_checkstring(L, 2));
	const struct symbol_info *si;
	const char *group;

	if (s == NULL) {
		lua_pushnil(L);
		return 1;
	}
	si = scan_engine_symbol(task->engine, s->name);
	group = si != NULL && si->group != NULL ? si->group : "ungrouped";
	lua_createtable(L, 1, 0);
	lua_createtable(L, 0, 5);
	lua_pushnumber(L, s->score);
	lua_setfield(L, -2, "score");
	lua_pushnumber(L, s->weight);
	lua_setfield(L, -2, "weight");
	lua_pushstring(L, group);
	lua_setfield(L, -2, "group");
	lua_createtable(L, 1, 0);
	lua_pushstring(L, group);
	lua_rawseti(L, -2, 1);
	lua_setfield(L, -2, "groups");
	lua_createtable(L, (int)s->n_options, 0);
	for (size_t i = 0; i < s->n_options; i++) {
		lua_pushstring(L, s->options[i]);
		lua_rawseti(L, -2, (int)i + 1);
	}
	lua_setfield(L, -2, "options");
	lua_rawseti(L, -2, 1);
	return 1;
}

/* Two arrays: names and scores, in insertion order. */
static int
task_get_symbols(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	int i = 1;

	lua_createtable(L, (int)task->n_symbols, 0);
	lua_createtable(L, (int)task->n_symbols, 0);
	for (const struct scan_symbol *s = task->symbols; s != NULL;
	    s = s->next, i++) {
		lua_pushstring(L, s->name);
		lua_rawseti(L, -3, i);
		lua_pushnumber(L, s->score);
		lua_rawseti(L, -2, i);
	}
	return 2;
}

static double
current_score(const struct scan_task *task)
{
	double score = 0;

	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next)
		score += s->score;
	return score;
}

static int
task_get_metric_score(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);

	lua_createtable(L, 2, 0);
	lua_pushnumber(L, current_score(task));
	lua_rawseti(L, -2, 1);
	lua_pushnumber(L, actions_required_score(&task->cfg->actions));
	lua_rawseti(L, -2, 2);
	return 1;
}

static int
task_get_metric_action(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);

	if (task->pre_action != NULL)
		lua_pushstring(L, task->pre_action);
	else
		lua_pushstring(L, actions_for_score(&task->cfg->actions,
		    current_score(task)));
	return 1;
}

static int
task_tostring(lua_State *L)
{
	struct lua_task_ud *ud = luaL_checkudata(L, 1, LUA_CLASS_TASK);

	if (ud->task == NULL)
		lua_pushliteral(L, "rspamd{task}(ended)");
	else
		lua_pushfstring(L, "rspamd{task}(%s)", ud->task->id);
	return 1;
}

void
lua_task_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "get_helo", task_get_helo },
		{ "get_hostname", task_get_hostname },
		{ "get_user", task_get_user },
		{ "get_queue_id", task_get_queue_id },
		{ "get_ip", task_get_ip },
		{ "get_from_ip", task_get_ip },
		{ "get_size", task_get_size },
		{ "get_subject", task_get_subject },
		{ "get_message_id", task_get_message_id },
		{ "get_request_header", task_get_request_header },
		{ "get_date", task_get_date },
		{ "insert_result", task_insert_result },
		{ "set_pre_result", task_set_pre_result },
		{ "has_pre_result", task_has_pre_result },
		{ "has_symbol", task_has_symbol },
		{ "get_symbol", task_get_symbol },
		{ "get_symbols", task_get_symbols },
		{ "get_metric_score", task_get_metric_score },
		{ "get_metric_action", task_get_metric_action },
		{ NULL, NULL },
	};
	static const luaL_Reg meta[] = {
		{ "__tostring", task_tostring },
		{ NULL, NULL },
	};

	lua_class_register(L, LUA_CLASS_TASK, methods, meta);
	luaL_getmetatable(L, LUA_CLASS_TASK);
	lua_getfield(L, -1, "__index");
	lua_task_headers_methods(L);
	lua_task_parts_methods(L);
	lua_pop(L, 2);
	lua_task_parts_register(L);
}
