/*
 * lua_regexp.c - the `rspamd_regexp` module on PCRE2: create_cached,
 * create, re:match, re:search, re:get_pattern, re:split.
 *
 * A pattern is either '/re/flags' or a bare pattern with an optional
 * flags argument. Flags: i m s x u (UTF-8 mode, invalid input tolerated),
 * r (raw, the default here), O and L and o accepted and ignored.
 * Patterns are JIT-compiled when PCRE2 supports it. The cache of
 * create_cached lives in the registry for the life of the state, so rules
 * that call it per task compile once (at load time, in the main process,
 * when called at file level as usual).
 */
#include "scan/lua/lua_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#define RE_MAX_SEARCH_RESULTS 1024

struct lua_regexp {
	pcre2_code *code;
	pcre2_match_data *md;
	size_t plen;    /* the source pattern follows the struct */
};

static char cache_key;

static int
parse_flags(const char *f, size_t n, uint32_t *opts_r)
{
	for (size_t i = 0; i < n; i++) {
		switch (f[i]) {
		case 'i':
			*opts_r |= PCRE2_CASELESS;
			break;
		case 'm':
			*opts_r |= PCRE2_MULTILINE;
			break;
		case 's':
			*opts_r |= PCRE2_DOTALL;
			break;
		case 'x':
			*opts_r |= PCRE2_EXTENDED;
			break;
		case 'u':
			*opts_r |= PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
			break;
		case 'r': case 'O': case 'L': case 'o':
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/* Pushes a regexp object or nil + error message; returns 1 or 2. */
static int
compile(lua_State *L, const char *pat, size_t plen, const char *flags)
{
	uint32_t opts = 0;
	const char *body = pat;
	size_t blen = plen;
	struct lua_regexp *re;
	int err;
	PCRE2_SIZE off;

	if (plen >= 2 && pat[0] == '/') {
		const char *last = pat + plen - 1;

		while (last > pat && *last != '/')
			last--;
		if (last > pat) {
			body = pat + 1;
			blen = (size_t)(last - pat - 1);
			if (parse_flags(last + 1, (size_t)(pat + plen - last - 1),
			    &opts) < 0)
				goto bad_flags;
		}
	}
	if (flags != NULL && parse_flags(flags, strlen(flags), &opts) < 0)
		goto bad_flags;
	re = lua_newuserdata(L, sizeof(*re) + plen + 1);
	re->code = NULL;
	re->md = NULL;
	re->plen = plen;
	memcpy(re + 1, pat, plen);
	((char *)(re + 1))[plen] = '\0';
	luaL_getmetatable(L, LUA_CLASS_REGEXP);
	lua_setmetatable(L, -2);
	re->code = pcre2_compile((PCRE2_SPTR)body, blen, opts, &err, &off, NULL);
	if (re->code == NULL) {
		PCRE2_UCHAR msg[128];

		pcre2_get_error_message(err, msg, sizeof(msg));
		lua_pushnil(L);
		lua_pushfstring(L, "cannot compile /%s/: %s at offset %d", pat,
		    (const char *)msg, (int)off);
		return 2;
	}
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
	if (re->md == NULL)
		return luaL_error(L, "out of memory");
	return 1;

bad_flags:
	lua_pushnil(L);
	lua_pushfstring(L, "bad regexp flags in '%s'", pat);
	return 2;
}

static int
re_create(lua_State *L)
{
	size_t plen;
	const char *pat = luaL_checklstring(L, 1, &plen);

	return compile(L, pat, plen, luaL_optstring(L, 2, NULL));
}

static int
re_create_cached(lua_State *L)
{
	size_t plen;
	const char *pat = luaL_checklstring(L, 1, &plen);
	const char *flags = luaL_optstring(L, 2, NULL);
	int n;

	lua_pushlightuserdata(L, &cache_key);
	lua_rawget(L, LUA_REGISTRYINDEX);
	lua_pushfstring(L, "%s\001%s", pat, flags != NULL ? flags : "");
	lua_pushvalue(L, -1);
	lua_rawget(L, -3);
	if (!lua_isnil(L, -1))
		return 1;
	lua_pop(L, 1);
	n = compile(L, pat, plen, flags);
	if (n == 1) {
		lua_pushvalue(L, -2);    /* key */
		lua_pushvalue(L, -2);    /* regexp */
		lua_rawset(L, -5);
	}
	return n;
}

static struct lua_regexp *
check_re(lua_State *L)
{
	struct lua_regexp *re = luaL_checkudata(L, 1, LUA_CLASS_REGEXP);

	if (re->code == NULL)
		luaL_error(L, "invalid regexp object");
	return re;
}

static const char *
subject_arg(lua_State *L, int idx, size_t *len_r)
{
	const char *s = lua_to_bytes(L, idx, len_r);

	if (s == NULL)
		luaL_argerror(L, idx, "string or rspamd_text expected");
	return s;
}

static int
re_match(lua_State *L)
{
	struct lua_regexp *re = check_re(L);
	size_t len;
	const char *s;

	if (lua_isnoneornil(L, 2)) {
		lua_pushboolean(L, 0);
		return 1;
	}
	s = subject_arg(L, 2, &len);
	lua_pushboolean(L, pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0,
	    re->md, NULL) >= 0);
	return 1;
}

/* Pushes the captures of the current match as an array. */
static void
push_captures(lua_State *L, struct lua_regexp *re, const char *s, int rc)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);

	lua_createtable(L, rc, 0);
	for (int i = 0; i < rc; i++) {
		if (ov[2 * i] == PCRE2_UNSET)
			lua_pushliteral(L, "");
		else
			lua_pushlstring(L, s + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
		lua_rawseti(L, -2, i + 1);
	}
}

/* re:search(s [, raw [, captures]]) -> array of matches or nil. */
static int
re_search(lua_State *L)
{
	struct lua_regexp *re = check_re(L);
	bool caps = lua_toboolean(L, 4);
	size_t len, start = 0;
	const char *s = subject_arg(L, 2, &len);
	int n = 0;

	lua_newtable(L);
	while (start <= len && n < RE_MAX_SEARCH_RESULTS) {
		int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, 0,
		    re->md, NULL);
		PCRE2_SIZE *ov;

		if (rc < 0)
			break;
		ov = pcre2_get_ovector_pointer(re->md);
		if (caps)
			push_captures(L, re, s, rc);
		else
			lua_pushlstring(L, s + ov[0], ov[1] - ov[0]);
		lua_rawseti(L, -2, ++n);
		start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
	}
	if (n == 0)
		lua_pushnil(L);
	return 1;
}

static int
re_split(lua_State *L)
{
	struct lua_regexp *re = check_re(L);
	size_t len, start = 0, from = 0;
	const char *s = subject_arg(L, 2, &len);
	int n = 0;

	lua_newtable(L);
	while (start <= len && n < RE_MAX_SEARCH_RESULTS) {
		int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, 0,
		    re->md, NULL);
		PCRE2_SIZE *ov;

		if (rc < 0)
			break;
		ov = pcre2_get_ovector_pointer(re->md);
		if (ov[0] > from) {
			lua_pushlstring(L, s + from, ov[0] - from);
			lua_rawseti(L, -2, ++n);
		}
		from = ov[1];
		start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
	}
	if (from < len) {
		lua_pushlstring(L, s + from, len - from);
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

static int
re_get_pattern(lua_State *L)
{
	struct lua_regexp *re = check_re(L);

	lua_pushlstring(L, (const char *)(re + 1), re->plen);
	return 1;
}

static int
re_gc(lua_State *L)
{
	struct lua_regexp *re = luaL_checkudata(L, 1, LUA_CLASS_REGEXP);

	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	re->md = NULL;
	re->code = NULL;
	return 0;
}

void
lua_regexp_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "match", re_match },
		{ "search", re_search },
		{ "split", re_split },
		{ "get_pattern", re_get_pattern },
		{ NULL, NULL },
	};
	static const luaL_Reg meta[] = {
		{ "__gc", re_gc },
		{ NULL, NULL },
	};

	lua_class_register(L, LUA_CLASS_REGEXP, methods, meta);
	lua_pushlightuserdata(L, &cache_key);
	lua_newtable(L);
	lua_rawset(L, LUA_REGISTRYINDEX);
}

int
lua_regexp_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "create", re_create },
		{ "create_cached", re_create_cached },
		{ NULL, NULL },
	};

	lua_newtable(L);
	luaL_register(L, NULL, fns);
	return 1;
}
