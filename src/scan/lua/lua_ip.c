/*
 * lua_ip.c - the rspamd_ip object returned by task:get_ip(): a parsed
 * IPv4/IPv6 address (or an invalid one when the task has no client IP).
 * It owns its bytes, so it may outlive the task.
 *
 * Methods: to_string(), is_valid(), get_version() (4, 6 or nil),
 * is_local() (loopback, RFC 1918, link-local, ULA, CGNAT is not local),
 * __tostring, __eq.
 */
#include "scan/lua/lua_internal.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

struct lua_ip {
	int family;          /* AF_INET, AF_INET6 or 0 (invalid) */
	unsigned char addr[16];
};

void
lua_ip_push(lua_State *L, const char *text)
{
	struct lua_ip *ip = lua_newuserdata(L, sizeof(*ip));

	memset(ip, 0, sizeof(*ip));
	if (text != NULL) {
		if (inet_pton(AF_INET, text, ip->addr) == 1)
			ip->family = AF_INET;
		else if (inet_pton(AF_INET6, text, ip->addr) == 1)
			ip->family = AF_INET6;
	}
	/* v4-mapped v6 behaves as the v4 address, as Rspamd does. */
	if (ip->family == AF_INET6) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(ip->addr, mapped, 12) == 0) {
			memmove(ip->addr, ip->addr + 12, 4);
			memset(ip->addr + 4, 0, 12);
			ip->family = AF_INET;
		}
	}
	luaL_getmetatable(L, LUA_CLASS_IP);
	lua_setmetatable(L, -2);
}

static struct lua_ip *
check_ip(lua_State *L)
{
	return luaL_checkudata(L, 1, LUA_CLASS_IP);
}

static int
ip_to_string(lua_State *L)
{
	struct lua_ip *ip = check_ip(L);
	char buf[INET6_ADDRSTRLEN];

	if (ip->family == 0 ||
	    inet_ntop(ip->family, ip->addr, buf, sizeof(buf)) == NULL) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushstring(L, buf);
	return 1;
}

static int
ip_tostring_meta(lua_State *L)
{
	struct lua_ip *ip = check_ip(L);

	if (ip->family == 0) {
		lua_pushliteral(L, "<invalid ip>");
		return 1;
	}
	return ip_to_string(L);
}

static int
ip_is_valid(lua_State *L)
{
	lua_pushboolean(L, check_ip(L)->family != 0);
	return 1;
}

static int
ip_get_version(lua_State *L)
{
	struct lua_ip *ip = check_ip(L);

	if (ip->family == AF_INET)
		lua_pushinteger(L, 4);
	else if (ip->family == AF_INET6)
		lua_pushinteger(L, 6);
	else
		lua_pushnil(L);
	return 1;
}

static bool
v4_local(const unsigned char *a)
{
	return a[0] == 127 || a[0] == 10 ||
	    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	    (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 169 && a[1] == 254);
}

static bool
v6_local(const unsigned char *a)
{
	static const unsigned char loopback[16] = { [15] = 1 };

	return memcmp(a, loopback, 16) == 0 ||
	    (a[0] & 0xfe) == 0xfc ||                  /* fc00::/7 ULA */
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);  /* fe80::/10 */
}

static int
ip_is_local(lua_State *L)
{
	struct lua_ip *ip = check_ip(L);

	lua_pushboolean(L, (ip->family == AF_INET && v4_local(ip->addr)) ||
	    (ip->family == AF_INET6 && v6_local(ip->addr)));
	return 1;
}

static int
ip_eq(lua_State *L)
{
	struct lua_ip *a = luaL_checkudata(L, 1, LUA_CLASS_IP);
	struct lua_ip *b = luaL_checkudata(L, 2, LUA_CLASS_IP);

	lua_pushboolean(L, a->family == b->family &&
	    memcmp(a->addr, b->addr, sizeof(a->addr)) == 0);
	return 1;
}

void
lua_ip_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "to_string", ip_to_string },
		{ "is_valid", ip_is_valid },
		{ "get_version", ip_get_version },
		{ "is_local", ip_is_local },
		{ NULL, NULL },
	};
	static const luaL_Reg meta[] = {
		{ "__tostring", ip_tostring_meta },
		{ "__eq", ip_eq },
		{ NULL, NULL },
	};

	lua_class_register(L, LUA_CLASS_IP, methods, meta);
}
