/*
 * lua_util.c - the `rspamd_util` module, first set (spec lua-api.md §4):
 * file_exists, glob, get_time, get_hostname, encode/decode_base64,
 * encode/decode_base32 (Rspamd's zbase32 alphabet with bits taken
 * least-significant first, config.md §5.1), strlen_utf8, lower_utf8,
 * strequal_caseless, parse_mail_address, get_tld, levenshtein_distance,
 * is_valid_utf8.
 *
 * get_tld is a heuristic, not the Public Suffix List: the last two labels,
 * or three when the second-level label is a common registry label (co,
 * com, org, net, ac, gov, edu, ...) under a two-letter country code. So
 * "a.b.example.co.uk" gives "example.co.uk" but suffixes such as
 * "github.io" or "s3.amazonaws.com" are not known.
 *
 * The encoders return Lua strings (Rspamd returns rspamd_text; both work
 * with tostring() and the string library).
 */
#include "scan/lua/lua_internal.h"

#include "core/codec.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "mime/message.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static const char b32_alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";

static int
u_file_exists(lua_State *L)
{
	struct stat st;

	if (stat(luaL_checkstring(L, 1), &st) == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushboolean(L, 0);
	lua_pushstring(L, strerror(errno));
	return 2;
}

static int
u_glob(lua_State *L)
{
	glob_t g;

	memset(&g, 0, sizeof(g));
	lua_newtable(L);
	for (int a = 1; a <= lua_gettop(L) - 1; a++) {
		if (glob(luaL_checkstring(L, a), 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc; i++) {
				lua_pushstring(L, g.gl_pathv[i]);
				lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
			}
		}
		globfree(&g);
		memset(&g, 0, sizeof(g));
	}
	return 1;
}

static int
u_get_time(lua_State *L)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	lua_pushnumber(L, (double)tv.tv_sec + (double)tv.tv_usec / 1e6);
	return 1;
}

static int
u_get_hostname(lua_State *L)
{
	char buf[256];

	if (gethostname(buf, sizeof(buf)) != 0)
		lua_pushliteral(L, "localhost");
	else {
		buf[sizeof(buf) - 1] = '\0';
		lua_pushstring(L, buf);
	}
	return 1;
}

static const char *
bytes_arg(lua_State *L, int idx, size_t *len_r)
{
	const char *s = lua_to_bytes(L, idx, len_r);

	if (s == NULL)
		luaL_argerror(L, idx, "string or rspamd_text expected");
	return s;
}

static int
u_encode_base64(lua_State *L)
{
	size_t len;
	const char *s = bytes_arg(L, 1, &len);
	char *out = xmalloc(BASE64_ENCODED_LEN(len) + 1);
	size_t n = base64_encode(s, len, out);

	lua_pushlstring(L, out, n);
	free(out);
	return 1;
}

static int
u_decode_base64(lua_State *L)
{
	size_t len;
	const char *s = bytes_arg(L, 1, &len);
	unsigned char *out = xmalloc(BASE64_DECODED_MAX(len) + 1);
	bool damaged = false;
	size_t n = base64_decode(s, len, out, &damaged);

	lua_pushlstring(L, (const char *)out, n);
	free(out);
	return 1;
}

static int
u_encode_base32(lua_State *L)
{
	size_t len;
	const unsigned char *s = (const unsigned char *)bytes_arg(L, 1, &len);
	luaL_Buffer b;
	unsigned acc = 0, bits = 0;

	luaL_buffinit(L, &b);
	for (size_t i = 0; i < len; i++) {
		acc |= (unsigned)s[i] << bits;
		bits += 8;
		while (bits >= 5) {
			luaL_addchar(&b, b32_alphabet[acc & 31]);
			acc >>= 5;
			bits -= 5;
		}
	}
	if (bits > 0)
		luaL_addchar(&b, b32_alphabet[acc & 31]);
	luaL_pushresult(&b);
	return 1;
}

static int
u_decode_base32(lua_State *L)
{
	size_t len;
	const char *s = bytes_arg(L, 1, &len);
	luaL_Buffer b;
	unsigned acc = 0, bits = 0;

	luaL_buffinit(L, &b);
	for (size_t i = 0; i < len; i++) {
		const char *c = memchr(b32_alphabet, s[i] | 0x20, 32);

		if (c == NULL || s[i] == '\0') {
			lua_pushnil(L);
			return 1;
		}
		acc |= (unsigned)(c - b32_alphabet) << bits;
		bits += 5;
		if (bits >= 8) {
			luaL_addchar(&b, (char)(acc & 0xff));
			acc >>= 8;
			bits -= 8;
		}
	}
	luaL_pushresult(&b);
	return 1;
}

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

static int
u_is_valid_utf8(lua_State *L)
{
	size_t len, i = 0, n;
	const unsigned char *s = (const unsigned char *)bytes_arg(L, 1, &len);

	while (i < len && (n = utf8_seq(s + i, len - i)) != 0)
		i += n;
	lua_pushboolean(L, i == len);
	return 1;
}

static int
u_strlen_utf8(lua_State *L)
{
	size_t len;
	const char *s = bytes_arg(L, 1, &len);
	lua_Integer n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	lua_pushinteger(L, n);
	return 1;
}

/* Lowercase of a 2-byte code point that stays 2 bytes, or cp itself. */
static unsigned
lower_cp(unsigned cp)
{
	if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) ||
	    (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2) ||
	    (cp >= 0x410 && cp <= 0x42f))
		return cp + 0x20;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 0x50;
	if (((cp >= 0x100 && cp <= 0x12f) || (cp >= 0x14a && cp <= 0x177)) &&
	    (cp & 1) == 0)
		return cp + 1;
	return cp;
}

size_t
lua_util_lower(const char *in, size_t len, char *out)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0xc2 && c <= 0xdf && i + 1 < len &&
		    ((unsigned char)in[i + 1] & 0xc0) == 0x80) {
			unsigned cp = lower_cp(((c & 0x1fu) << 6) |
			    ((unsigned char)in[i + 1] & 0x3fu));

			out[i] = (char)(0xc0 | (cp >> 6));
			out[i + 1] = (char)(0x80 | (cp & 0x3f));
			i += 2;
			continue;
		}
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
		i++;
	}
	return len;
}

static int
u_lower_utf8(lua_State *L)
{
	size_t len;
	const char *s = bytes_arg(L, 1, &len);
	char *out = xmalloc(len + 1);

	lua_pushlstring(L, out, lua_util_lower(s, len, out));
	free(out);
	return 1;
}

static int
u_strequal_caseless(lua_State *L)
{
	size_t la, lb;
	const char *a = bytes_arg(L, 1, &la);
	const char *b = bytes_arg(L, 2, &lb);
	char *x, *y;
	bool eq;

	if (la != lb) {
		lua_pushboolean(L, 0);
		return 1;
	}
	x = xmalloc(la + 1);
	y = xmalloc(lb + 1);
	lua_util_lower(a, la, x);
	lua_util_lower(b, lb, y);
	eq = memcmp(x, y, la) == 0;
	free(x);
	free(y);
	lua_pushboolean(L, eq);
	return 1;
}

static int
u_parse_mail_address(lua_State *L)
{
	size_t len;
	const char *s = bytes_arg(L, 1, &len);
	struct pool *pool = pool_new(0);
	struct mime_address *a = mime_parse_addresses(pool, s, len);

	if (a == NULL)
		lua_pushnil(L);
	else
		lua_push_addresses(L, a, false);
	pool_free(&pool);
	return 1;
}

static bool
common_sld(const char *s, size_t n)
{
	static const char *const slds[] = { "co", "com", "org", "net", "ac",
		"gov", "edu", "ne", "or", "go", "gob", "mil", "nic", "ltd",
		"plc", "sch", "nhs", "gv", "in" };

	for (size_t i = 0; i < sizeof(slds) / sizeof(slds[0]); i++) {
		if (strlen(slds[i]) == n && memcmp(slds[i], s, n) == 0)
			return true;
	}
	return false;
}

void
lua_util_tld(const char *host, size_t len, const char **tld_r,
    size_t *tld_len_r)
{
	size_t dots[3] = { len, len, len }, nd = 0, end = len;
	unsigned char a4[4];
	char tmp[64];

	while (end > 0 && host[end - 1] == '.')
		end--;
	*tld_r = host;
	*tld_len_r = end;
	if (end < sizeof(tmp) && (memcpy(tmp, host, end), tmp[end] = '\0',
	    inet_pton(AF_INET, tmp, a4) == 1))
		return;
	if (memchr(host, ':', end) != NULL || (end > 0 && host[0] == '['))
		return;
	/* Positions of the last three dots, right to left. */
	for (size_t i = end; i > 0 && nd < 3; i--) {
		if (host[i - 1] == '.')
			dots[nd++] = i - 1;
	}
	if (nd < 1)
		return;
	if (nd >= 2 && end - dots[0] - 1 == 2 &&
	    common_sld(host + dots[1] + 1, dots[0] - dots[1] - 1)) {
		if (nd < 3)
			return;
		*tld_r = host + dots[2] + 1;
	} else if (nd >= 2) {
		*tld_r = host + dots[1] + 1;
	} else {
		return;
	}
	*tld_len_r = (size_t)(host + end - *tld_r);
}

static int
u_get_tld(lua_State *L)
{
	size_t len, tlen;
	const char *h = luaL_checklstring(L, 1, &len), *tld;

	lua_util_tld(h, len, &tld, &tlen);
	lua_pushlstring(L, tld, tlen);
	return 1;
}

/* Byte-wise edit distance with an optional substitution cost. */
static int
u_levenshtein_distance(lua_State *L)
{
	size_t la, lb;
	const char *a = bytes_arg(L, 1, &la);
	const char *b = bytes_arg(L, 2, &lb);
	lua_Integer rc = luaL_optinteger(L, 3, 1);
	lua_Integer *row;

	if (la > 65536 || lb > 65536)
		return luaL_error(L, "levenshtein_distance: strings too long");
	row = xcalloc(lb + 1, sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = (lua_Integer)j;
	for (size_t i = 1; i <= la; i++) {
		lua_Integer diag = row[0];

		row[0] = (lua_Integer)i;
		for (size_t j = 1; j <= lb; j++) {
			lua_Integer up = row[j];
			lua_Integer best = diag + (a[i - 1] == b[j - 1] ? 0 : rc);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	lua_pushinteger(L, row[lb]);
	free(row);
	return 1;
}

int
lua_util_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "file_exists", u_file_exists },
		{ "glob", u_glob },
		{ "get_time", u_get_time },
		{ "get_hostname", u_get_hostname },
		{ "encode_base64", u_encode_base64 },
		{ "decode_base64", u_decode_base64 },
		{ "encode_base32", u_encode_base32 },
		{ "decode_base32", u_decode_base32 },
		{ "is_valid_utf8", u_is_valid_utf8 },
		{ "strlen_utf8", u_strlen_utf8 },
		{ "lower_utf8", u_lower_utf8 },
		{ "strequal_caseless", u_strequal_caseless },
		{ "parse_mail_address", u_parse_mail_address },
		{ "get_tld", u_get_tld },
		{ "levenshtein_distance", u_levenshtein_distance },
		{ NULL, NULL },
	};

	lua_newtable(L);
	luaL_register(L, NULL, fns);
	return 1;
}
