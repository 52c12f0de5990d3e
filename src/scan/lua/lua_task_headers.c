/*
 * lua_task_headers.c - task methods over the message headers and the
 * addresses: get_header, get_header_raw, get_header_full,
 * get_header_count, get_from, get_recipients.
 *
 * Address tables have Rspamd's shape {addr, user, domain, name, raw,
 * flags = {valid, braced, empty}}. The MIME parser does not keep the raw
 * text of each address, so `raw` of a header address is rebuilt as
 * `name <addr>` (or `addr`), which equals the source for usual forms.
 */
#include "scan/lua/lua_internal.h"

#include "core/pool.h"
#include "core/str.h"
#include "mime/message.h"
#include "scan/task.h"

#include <string.h>

static bool
name_matches(const struct mime_header *h, const char *name, bool cs)
{
	return cs ? str_eq_cstr(h->name, name) : str_case_eq_cstr(h->name, name);
}

static const struct mime_header *
find_header(struct scan_task *task, const char *name, bool cs)
{
	if (task->msg == NULL)
		return NULL;
	for (const struct mime_header *h = task->msg->headers.first; h != NULL;
	    h = h->next) {
		if (name_matches(h, name, cs))
			return h;
	}
	return NULL;
}

static int
task_get_header(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	const struct mime_header *h = find_header(task, luaL_checkstring(L, 2),
	    lua_toboolean(L, 3));

	if (h == NULL)
		lua_pushnil(L);
	else
		lua_pushstring(L, h->value);
	return 1;
}

static int
task_get_header_raw(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	const struct mime_header *h = find_header(task, luaL_checkstring(L, 2),
	    lua_toboolean(L, 3));

	if (h == NULL)
		lua_pushnil(L);
	else
		lua_pushlstring(L, h->raw.ptr, h->raw.len);
	return 1;
}

static int
task_get_header_count(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	const char *name = luaL_checkstring(L, 2);
	bool cs = lua_toboolean(L, 3);
	int n = 0;

	if (task->msg != NULL) {
		for (const struct mime_header *h = task->msg->headers.first;
		    h != NULL; h = h->next)
			n += name_matches(h, name, cs);
	}
	lua_pushinteger(L, n);
	return 1;
}

/* One entry of get_header_full; `order` counts from 0 over all headers. */
static void
push_header_full(lua_State *L, const struct mime_header *h, int order)
{
	const char *colon = h->name.ptr + h->name.len;
	const char *sep;

	/* The separator is what lies between the colon and the value. */
	while (colon < h->raw.ptr && *colon != ':')
		colon++;
	sep = colon < h->raw.ptr ? colon + 1 : h->raw.ptr;
	lua_createtable(L, 0, 8);
	lua_pushlstring(L, h->name.ptr, h->name.len);
	lua_setfield(L, -2, "name");
	lua_pushlstring(L, h->raw.ptr, h->raw.len);
	lua_setfield(L, -2, "value");
	lua_pushstring(L, h->value);
	lua_setfield(L, -2, "decoded");
	lua_pushlstring(L, h->name.ptr,
	    (size_t)(h->raw.ptr + h->raw.len - h->name.ptr));
	lua_pushliteral(L, "\n");
	lua_concat(L, 2);
	lua_setfield(L, -2, "raw");
	lua_pushinteger(L, order);
	lua_setfield(L, -2, "order");
	lua_pushlstring(L, sep, (size_t)(h->raw.ptr - sep));
	lua_setfield(L, -2, "separator");
	lua_pushboolean(L, memchr(sep, '\t', (size_t)(h->raw.ptr - sep)) != NULL);
	lua_setfield(L, -2, "tab_separated");
	lua_pushboolean(L, sep == h->raw.ptr);
	lua_setfield(L, -2, "empty_separator");
}

static int
task_get_header_full(lua_State *L)
{
	struct scan_task *task = lua_task_check(L, 1);
	const char *name = luaL_checkstring(L, 2);
	bool cs = lua_toboolean(L, 3);
	int order = 0, n = 0;

	if (find_header(task, name, cs) == NULL) {
		lua_pushnil(L);
		return 1;
	}
	lua_newtable(L);
	for (const struct mime_header *h = task->msg->headers.first; h != NULL;
	    h = h->next, order++) {
		if (!name_matches(h, name, cs))
			continue;
		push_header_full(L, h, order);
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

static void
push_address(lua_State *L, const char *name, const char *addr,
    const char *user, const char *domain, bool smtp)
{
	lua_createtable(L, 0, 6);
	lua_pushstring(L, addr);
	lua_setfield(L, -2, "addr");
	lua_pushstring(L, user);
	lua_setfield(L, -2, "user");
	lua_pushstring(L, domain);
	lua_setfield(L, -2, "domain");
	lua_pushstring(L, name != NULL ? name : "");
	lua_setfield(L, -2, "name");
	if (smtp || name != NULL)
		lua_pushfstring(L, "%s%s<%s>", name != NULL ? name : "",
		    name != NULL ? " " : "", addr);
	else
		lua_pushstring(L, addr);
	lua_setfield(L, -2, "raw");
	lua_createtable(L, 0, 3);
	lua_pushboolean(L, addr[0] == '\0' || (user[0] != '\0' &&
	    domain[0] != '\0'));
	lua_setfield(L, -2, "valid");
	if (smtp || name != NULL) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "braced");
	}
	if (addr[0] == '\0') {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "empty");
	}
	lua_setfield(L, -2, "flags");
}

/* Appends the list to the array on top of the stack. */
static void
append_addresses(lua_State *L, const struct mime_address *a, bool smtp)
{
	int n = (int)lua_objlen(L, -1);

	for (; a != NULL; a = a->next) {
		push_address(L, a->name, a->addr, a->user != NULL ? a->user : "",
		    a->domain != NULL ? a->domain : "", smtp);
		lua_rawseti(L, -2, ++n);
	}
}

void
lua_push_addresses(lua_State *L, const struct mime_address *a, bool smtp)
{
	lua_newtable(L);
	append_addresses(L, a, smtp);
}

/* An envelope address "user@domain" ("" = null sender). */
static void
append_smtp(lua_State *L, struct scan_task *task, const char *addr)
{
	const char *at = strrchr(addr, '@');
	char *user = at != NULL ? pool_strndup(task->pool, addr,
	    (size_t)(at - addr)) : (char *)addr;
	int n = (int)lua_objlen(L, -1);

	if (user == NULL)
		return;
	push_address(L, NULL, addr, user, at != NULL ? at + 1 : "", true);
	lua_rawseti(L, -2, n + 1);
}

/* Every instance of each header in `names`, parsed as address lists. */
static int
push_mime(lua_State *L, struct scan_task *task, const char *const *names)
{
	lua_newtable(L);
	if (task->msg == NULL)
		return 0;
	for (const struct mime_header *h = task->msg->headers.first; h != NULL;
	    h = h->next) {
		for (size_t i = 0; names[i] != NULL; i++) {
			if (str_case_eq_cstr(h->name, names[i])) {
				append_addresses(L, mime_parse_addresses(
				    task->pool, h->value, strlen(h->value)),
				    false);
				break;
			}
		}
	}
	return (int)lua_objlen(L, -1);
}

/* 'smtp', 'mime' or 'any' (default: smtp when present, else mime). */
static int
addr_type(lua_State *L, int idx)
{
	const char *t;

	if (lua_type(L, idx) == LUA_TNUMBER)
		return (int)lua_tointeger(L, idx) == 1 ? 1 :
		    (int)lua_tointeger(L, idx) == 2 ? 2 : 0;
	t = luaL_optstring(L, idx, "any");
	if (strcmp(t, "smtp") == 0 || strcmp(t, "envelope") == 0)
		return 1;
	if (strcmp(t, "mime") == 0 || strcmp(t, "header") == 0)
		return 2;
	return 0;
}

static int
finish(lua_State *L)
{
	if (lua_objlen(L, -1) == 0) {
		lua_pop(L, 1);
		lua_pushnil(L);
	}
	return 1;
}

static int
task_get_from(lua_State *L)
{
	static const char *const names[] = { "From", NULL };
	struct scan_task *task = lua_task_check(L, 1);
	int type = addr_type(L, 2);

	if (type != 2 && task->env.from != NULL) {
		lua_newtable(L);
		append_smtp(L, task, task->env.from);
		return 1;
	}
	if (type == 1) {
		lua_pushnil(L);
		return 1;
	}
	push_mime(L, task, names);
	return finish(L);
}

static int
task_get_recipients(lua_State *L)
{
	static const char *const names[] = { "To", "Cc", NULL };
	struct scan_task *task = lua_task_check(L, 1);
	int type = addr_type(L, 2);

	if (type != 2 && task->env.n_rcpts > 0) {
		lua_newtable(L);
		for (size_t i = 0; i < task->env.n_rcpts; i++) {
			if (task->env.rcpts[i] != NULL)
				append_smtp(L, task, task->env.rcpts[i]);
		}
		return 1;
	}
	if (type == 1) {
		lua_pushnil(L);
		return 1;
	}
	push_mime(L, task, names);
	return finish(L);
}

void
lua_task_headers_methods(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "get_header", task_get_header },
		{ "get_header_raw", task_get_header_raw },
		{ "get_header_full", task_get_header_full },
		{ "get_header_count", task_get_header_count },
		{ "get_from", task_get_from },
		{ "get_recipients", task_get_recipients },
		{ NULL, NULL },
	};

	luaL_register(L, NULL, methods);
}
