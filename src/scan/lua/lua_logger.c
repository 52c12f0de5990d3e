/*
 * lua_logger.c - the `rspamd_logger` module: infox/warnx/errx/messagex/
 * debugm with Rspamd's formatting (`%s` takes the next argument, `%N`
 * the N-th; tables print as `{[k] = v, ...}`, userdata through
 * __tostring), the plain info/warn/err/message/debug, and slog (format
 * without logging).
 *
 * Lines go to our logger under component "lua" with the task id when the
 * object argument is a task. Output is capped so a huge table cannot
 * produce a huge log line.
 */
#include "scan/lua/lua_internal.h"

#include "core/buf.h"
#include "log/log.h"
#include "scan/task.h"

#include <math.h>
#include <string.h>

#define LOGGER_MAX_LINE (16 * 1024)
#define LOGGER_MAX_DEPTH 8

static void format_value(lua_State *L, struct buf *out, int idx, int depth);

static void
format_table(lua_State *L, struct buf *out, int idx, int depth)
{
	bool first = true;

	if (depth >= LOGGER_MAX_DEPTH) {
		buf_append_cstr(out, "{...}");
		return;
	}
	buf_putc(out, '{');
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		int top = lua_gettop(L);

		if (!first)
			buf_append_cstr(out, ", ");
		first = false;
		buf_putc(out, '[');
		format_value(L, out, top - 1, depth + 1);
		buf_append_cstr(out, "] = ");
		format_value(L, out, top, depth + 1);
		lua_settop(L, top - 1);
	}
	buf_putc(out, '}');
}

static void
format_value(lua_State *L, struct buf *out, int idx, int depth)
{
	const char *s;
	size_t len;
	double d;

	if (idx < 0)
		idx = lua_gettop(L) + idx + 1;
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
	case LUA_TNONE:
		buf_append_cstr(out, "nil");
		return;
	case LUA_TBOOLEAN:
		buf_append_cstr(out, lua_toboolean(L, idx) ? "true" : "false");
		return;
	case LUA_TNUMBER:
		d = lua_tonumber(L, idx);
		if (isfinite(d) && d == floor(d) && fabs(d) < 1e15)
			buf_printf(out, "%lld", (long long)d);
		else
			buf_printf(out, "%f", d);
		return;
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		buf_append(out, s, len);
		return;
	case LUA_TTABLE:
		format_table(L, out, idx, depth);
		return;
	default:
		if ((s = lua_to_bytes(L, idx, &len)) != NULL) {
			buf_append(out, s, len);
			return;
		}
		if (luaL_callmeta(L, idx, "__tostring") &&
		    (s = lua_tolstring(L, -1, &len)) != NULL) {
			buf_append(out, s, len);
			lua_pop(L, 1);
			return;
		}
		buf_printf(out, "%s: %p", luaL_typename(L, idx),
		    lua_topointer(L, idx));
		return;
	}
}

/* Formats fmt (at fmt_idx) with args from first_arg; pushes the string. */
void
lua_logger_format(lua_State *L, int fmt_idx, int first_arg)
{
	size_t flen;
	const char *fmt = luaL_checklstring(L, fmt_idx, &flen);
	int top = lua_gettop(L), next = first_arg;
	struct buf out;

	buf_init(&out, LOGGER_MAX_LINE);
	for (size_t i = 0; i < flen; i++) {
		int arg = -1;

		if (fmt[i] != '%' || i + 1 >= flen) {
			buf_putc(&out, fmt[i]);
			continue;
		}
		if (fmt[i + 1] == 's') {
			arg = next++;
			i++;
		} else if (fmt[i + 1] >= '0' && fmt[i + 1] <= '9') {
			int n = 0;

			while (i + 1 < flen && fmt[i + 1] >= '0' && fmt[i + 1] <= '9' &&
			    n < 1000)
				n = n * 10 + (fmt[++i] - '0');
			arg = first_arg + n - 1;
		} else if (fmt[i + 1] == '%') {
			buf_putc(&out, '%');
			i++;
			continue;
		} else {
			buf_putc(&out, '%');
			continue;
		}
		if (arg >= first_arg && arg <= top)
			format_value(L, &out, arg, 0);
		else
			buf_append_cstr(&out, "<MISSING ARGUMENT>");
	}
	lua_pushlstring(L, out.data != NULL ? out.data : "", out.len);
	buf_deinit(&out);
}

/* Task id when `idx` is a live task, else NULL. */
static const char *
obj_id(lua_State *L, int idx)
{
	struct lua_task_ud *ud = luaL_testudata(L, idx, LUA_CLASS_TASK);

	return ud != NULL && ud->task != NULL ? ud->task->id : NULL;
}

/* fn(obj, fmt, ...) or fn(fmt, ...). */
static int
logx(lua_State *L, enum log_level level)
{
	const char *id = NULL;
	int fmt = 1;

	if (lua_type(L, 1) != LUA_TSTRING) {
		id = obj_id(L, 1);
		fmt = 2;
	}
	if (!log_enabled(level))
		return 0;
	lua_logger_format(L, fmt, fmt + 1);
	log_msg(level, "lua", id, "%s", lua_tostring(L, -1));
	return 0;
}

static int
l_infox(lua_State *L)
{
	return logx(L, LOG_LEVEL_INFO);
}

static int
l_warnx(lua_State *L)
{
	return logx(L, LOG_LEVEL_WARN);
}

static int
l_errx(lua_State *L)
{
	return logx(L, LOG_LEVEL_ERR);
}

static int
l_messagex(lua_State *L)
{
	return logx(L, LOG_LEVEL_NOTICE);
}

/* debugm(module, obj, fmt, ...) */
static int
l_debugm(lua_State *L)
{
	const char *module = luaL_checkstring(L, 1);
	const char *id = obj_id(L, 2);
	int fmt = lua_type(L, 2) == LUA_TSTRING ? 2 : 3;

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return 0;
	lua_logger_format(L, fmt, fmt + 1);
	log_msg(LOG_LEVEL_DEBUG, "lua", id, "%s: %s", module,
	    lua_tostring(L, -1));
	return 0;
}

static int
plain(lua_State *L, enum log_level level)
{
	struct buf out;

	if (!log_enabled(level))
		return 0;
	buf_init(&out, LOGGER_MAX_LINE);
	for (int i = 1; i <= lua_gettop(L); i++)
		format_value(L, &out, i, 0);
	log_msg(level, "lua", NULL, "%s", out.data != NULL ? out.data : "");
	buf_deinit(&out);
	return 0;
}

static int
l_info(lua_State *L)
{
	return plain(L, LOG_LEVEL_INFO);
}

static int
l_warn(lua_State *L)
{
	return plain(L, LOG_LEVEL_WARN);
}

static int
l_err(lua_State *L)
{
	return plain(L, LOG_LEVEL_ERR);
}

static int
l_message(lua_State *L)
{
	return plain(L, LOG_LEVEL_NOTICE);
}

static int
l_debug(lua_State *L)
{
	return plain(L, LOG_LEVEL_DEBUG);
}

static int
l_slog(lua_State *L)
{
	lua_logger_format(L, 1, 2);
	return 1;
}

int
lua_logger_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "infox", l_infox },
		{ "warnx", l_warnx },
		{ "errx", l_errx },
		{ "messagex", l_messagex },
		{ "debugm", l_debugm },
		{ "info", l_info },
		{ "warn", l_warn },
		{ "err", l_err },
		{ "message", l_message },
		{ "debug", l_debug },
		{ "slog", l_slog },
		{ NULL, NULL },
	};

	lua_newtable(L);
	luaL_register(L, NULL, fns);
	return 1;
}
