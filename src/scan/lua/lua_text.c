/*
 * lua_text.c - rspamd_text: a byte string that is not copied into Lua.
 *
 * task:get_content() and part:get_content() return views of task memory
 * rather than Lua strings, so a 20 MB message is not interned per call.
 * A borrowed text carries the serial of the task owning its bytes and
 * refuses access once that task has ended; a copied text owns its bytes
 * (stored right after the header in the userdata).
 *
 * Methods: #t, tostring(t), t:len(), t:str([i [, j]]), t:sub(i [, j])
 * (a new text, Lua index rules), t:find(pattern [, init]) (plain search,
 * 1-based start and end or nil), t:lower(), .., ==.
 */
#include "scan/lua/lua_internal.h"

#include <string.h>

struct lua_text {
	const char *ptr;
	size_t len;
	uint64_t serial;  /* 0: not tied to a task */
	bool owned;
};

void
lua_text_push(lua_State *L, const char *ptr, size_t len, uint64_t serial)
{
	struct lua_text *t = lua_newuserdata(L, sizeof(*t));

	t->ptr = ptr != NULL ? ptr : "";
	t->len = ptr != NULL ? len : 0;
	t->serial = serial;
	t->owned = false;
	luaL_getmetatable(L, LUA_CLASS_TEXT);
	lua_setmetatable(L, -2);
}

void
lua_text_push_copy(lua_State *L, const char *ptr, size_t len)
{
	struct lua_text *t = lua_newuserdata(L, sizeof(*t) + len + 1);
	char *data = (char *)(t + 1);

	if (len > 0)
		memcpy(data, ptr, len);
	data[len] = '\0';
	t->ptr = data;
	t->len = len;
	t->serial = 0;
	t->owned = true;
	luaL_getmetatable(L, LUA_CLASS_TEXT);
	lua_setmetatable(L, -2);
}

static struct lua_text *
text_at(lua_State *L, int idx)
{
	struct lua_text *t = lua_touserdata(L, idx);

	if (t == NULL || !lua_getmetatable(L, idx))
		return NULL;
	luaL_getmetatable(L, LUA_CLASS_TEXT);
	if (!lua_rawequal(L, -1, -2))
		t = NULL;
	lua_pop(L, 2);
	return t;
}

static bool
text_alive(lua_State *L, const struct lua_text *t)
{
	return t->serial == 0 || lua_task_serial_alive(lua_engine_get(L),
	    t->serial);
}

/* Never raises: NULL for other types and for texts of ended tasks. */
const char *
lua_to_bytes(lua_State *L, int idx, size_t *len_r)
{
	struct lua_text *t;

	if (lua_type(L, idx) == LUA_TSTRING)
		return lua_tolstring(L, idx, len_r);
	t = text_at(L, idx);
	if (t == NULL || !text_alive(L, t))
		return NULL;
	*len_r = t->len;
	return t->ptr;
}

static struct lua_text *
check_text(lua_State *L, int idx)
{
	struct lua_text *t = luaL_checkudata(L, idx, LUA_CLASS_TEXT);

	if (!text_alive(L, t))
		luaL_error(L, "rspamd_text used after its task ended");
	return t;
}

static int
text_len(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)check_text(L, 1)->len);
	return 1;
}

static int
text_tostring(lua_State *L)
{
	struct lua_text *t = check_text(L, 1);

	lua_pushlstring(L, t->ptr, t->len);
	return 1;
}

/* Lua's string.sub index rules: negative from the end, clamped. */
static void
sub_range(lua_State *L, size_t len, int i_idx, size_t *start_r, size_t *end_r)
{
	lua_Integer i = luaL_optinteger(L, i_idx, 1);
	lua_Integer j = luaL_optinteger(L, i_idx + 1, -1);
	lua_Integer l = (lua_Integer)len;

	if (i < 0)
		i = l + i + 1;
	if (j < 0)
		j = l + j + 1;
	if (i < 1)
		i = 1;
	if (j > l)
		j = l;
	*start_r = (size_t)(i - 1);
	*end_r = i > j ? (size_t)(i - 1) : (size_t)j;
}

static int
text_str(lua_State *L)
{
	struct lua_text *t = check_text(L, 1);
	size_t s, e;

	sub_range(L, t->len, 2, &s, &e);
	lua_pushlstring(L, t->ptr + s, e - s);
	return 1;
}

static int
text_sub(lua_State *L)
{
	struct lua_text *t = check_text(L, 1);
	size_t s, e;

	sub_range(L, t->len, 2, &s, &e);
	lua_text_push(L, t->ptr + s, e - s, t->serial);
	if (t->owned) {
		/* The new view would outlive nothing it can check: copy. */
		lua_pop(L, 1);
		lua_text_push_copy(L, t->ptr + s, e - s);
	}
	return 1;
}

static int
text_find(lua_State *L)
{
	struct lua_text *t = check_text(L, 1);
	size_t nlen, start;
	const char *needle = luaL_checklstring(L, 2, &nlen);
	lua_Integer init = luaL_optinteger(L, 3, 1);
	const char *p;

	if (init < 0)
		init = (lua_Integer)t->len + init + 1;
	if (init < 1)
		init = 1;
	start = (size_t)init - 1;
	if (start > t->len || nlen > t->len - start) {
		lua_pushnil(L);
		return 1;
	}
	p = nlen == 0 ? t->ptr + start :
	    memmem(t->ptr + start, t->len - start, needle, nlen);
	if (p == NULL) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushinteger(L, (lua_Integer)(p - t->ptr) + 1);
	lua_pushinteger(L, (lua_Integer)(p - t->ptr + (ptrdiff_t)nlen));
	return 2;
}

static int
text_lower(lua_State *L)
{
	struct lua_text *t = check_text(L, 1);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (size_t i = 0; i < t->len; i++) {
		char c = t->ptr[i];

		luaL_addchar(&b, (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c);
	}
	luaL_pushresult(&b);
	{
		size_t n;
		const char *s = lua_tolstring(L, -1, &n);

		lua_text_push_copy(L, s, n);
	}
	return 1;
}

static int
text_concat(lua_State *L)
{
	size_t la, lb;
	const char *a = lua_to_bytes(L, 1, &la);
	const char *b = lua_to_bytes(L, 2, &lb);

	if (a == NULL)
		a = luaL_checklstring(L, 1, &la);
	if (b == NULL)
		b = luaL_checklstring(L, 2, &lb);
	lua_pushlstring(L, a, la);
	lua_pushlstring(L, b, lb);
	lua_concat(L, 2);
	return 1;
}

static int
text_eq(lua_State *L)
{
	size_t la, lb;
	const char *a = lua_to_bytes(L, 1, &la);
	const char *b = lua_to_bytes(L, 2, &lb);

	lua_pushboolean(L, a != NULL && b != NULL && la == lb &&
	    memcmp(a, b, la) == 0);
	return 1;
}

void
lua_text_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "len", text_len },
		{ "str", text_str },
		{ "sub", text_sub },
		{ "span", text_sub },
		{ "find", text_find },
		{ "lower", text_lower },
		{ NULL, NULL },
	};
	static const luaL_Reg meta[] = {
		{ "__len", text_len },
		{ "__tostring", text_tostring },
		{ "__concat", text_concat },
		{ "__eq", text_eq },
		{ NULL, NULL },
	};

	lua_class_register(L, LUA_CLASS_TEXT, methods, meta);
}
