/*
 * lua_task_parts.c - message content for Lua: task:get_content(),
 * get_text_parts(), get_parts(), get_urls(), get_emails(), and the text
 * part, MIME part and URL objects they return.
 *
 * The objects point into the task's parsed message; each carries the
 * task's serial and checks it is still live (lua_internal.h), so they
 * cost one small userdata each and no copies of the message.
 */
#include "scan/lua/lua_internal.h"

#include "core/pool.h"
#include "core/str.h"
#include "mime/message.h"
#include "scan/task.h"

#include <string.h>

struct lua_part_ud {
	const struct mime_part *part;
	struct lua_engine *le;
	uint64_t serial;
};

struct lua_url_ud {
	const struct mime_url *url;     /* or NULL for an e-mail */
	const struct mime_email *email;
	struct lua_engine *le;
	uint64_t serial;
};

static void
push_part(lua_State *L, struct lua_task_state *ts, const struct mime_part *p,
    const char *cls)
{
	struct lua_part_ud *ud = lua_newuserdata(L, sizeof(*ud));

	ud->part = p;
	ud->le = ts->le;
	ud->serial = ts->serial;
	luaL_getmetatable(L, cls);
	lua_setmetatable(L, -2);
}

static const struct lua_part_ud *
check_part(lua_State *L, const char *cls)
{
	struct lua_part_ud *ud = luaL_checkudata(L, 1, cls);

	if (!lua_task_serial_alive(ud->le, ud->serial))
		luaL_error(L, "part used after its task ended");
	return ud;
}

/* --- text parts ------------------------------------------------------ */

static bool
word_byte(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* Calls fn for each word (run of letters/digits/non-ASCII); returns count. */
static size_t
each_word(const char *s, size_t len, void (*fn)(lua_State *, const char *,
    size_t, size_t), lua_State *L)
{
	size_t n = 0, i = 0;

	while (i < len) {
		size_t start;

		while (i < len && !word_byte((unsigned char)s[i]))
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && word_byte((unsigned char)s[i]))
			i++;
		n++;
		if (fn != NULL)
			fn(L, s + start, i - start, n);
	}
	return n;
}

static void
push_word(lua_State *L, const char *w, size_t len, size_t n)
{
	char buf[256];

	if (len > sizeof(buf))
		len = sizeof(buf);
	len = lua_util_lower(w, len, buf);
	lua_pushlstring(L, buf, len);
	lua_rawseti(L, -2, (int)n);
}

static int
tp_get_words(lua_State *L)
{
	const struct mime_part *p = check_part(L, LUA_CLASS_TEXTPART)->part;

	lua_newtable(L);
	each_word(p->utf8, p->utf8_len, push_word, L);
	return 1;
}

static int
tp_get_words_count(lua_State *L)
{
	const struct mime_part *p = check_part(L, LUA_CLASS_TEXTPART)->part;

	lua_pushinteger(L, (lua_Integer)each_word(p->utf8, p->utf8_len, NULL, L));
	return 1;
}

static int
tp_is_html(lua_State *L)
{
	lua_pushboolean(L, check_part(L, LUA_CLASS_TEXTPART)->part->is_html);
	return 1;
}

static int
tp_is_empty(lua_State *L)
{
	const struct mime_part *p = check_part(L, LUA_CLASS_TEXTPART)->part;
	size_t i = 0;

	while (i < p->utf8_len && ascii_isspace(p->utf8[i]))
		i++;
	lua_pushboolean(L, i == p->utf8_len);
	return 1;
}

static int
tp_get_length(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)check_part(L,
	    LUA_CLASS_TEXTPART)->part->utf8_len);
	return 1;
}

static int
tp_get_lines_count(lua_State *L)
{
	const struct mime_part *p = check_part(L, LUA_CLASS_TEXTPART)->part;
	lua_Integer n = 0;

	for (size_t i = 0; i < p->decoded_len; i++)
		n += p->decoded[i] == '\n';
	lua_pushinteger(L, n);
	return 1;
}

/* Whitespace runs (newlines included) as one space, trimmed. */
static int
push_oneline(lua_State *L, const struct lua_part_ud *ud)
{
	const struct mime_part *p = ud->part;
	struct lua_task_state *ts = NULL;
	char *out;
	size_t n = 0;
	bool space = false;

	for (ts = ud->le->live; ts != NULL && ts->serial != ud->serial;
	    ts = ts->next)
		;
	out = ts != NULL ? pool_alloc(ts->task->pool, p->utf8_len + 1) : NULL;
	if (out == NULL)
		return luaL_error(L, "out of task memory");
	for (size_t i = 0; i < p->utf8_len; i++) {
		if (ascii_isspace(p->utf8[i])) {
			space = n > 0;
			continue;
		}
		if (space)
			out[n++] = ' ';
		space = false;
		out[n++] = p->utf8[i];
	}
	lua_text_push(L, out, n, ud->serial);
	return 1;
}

static int
tp_get_content(lua_State *L)
{
	const struct lua_part_ud *ud = check_part(L, LUA_CLASS_TEXTPART);
	const struct mime_part *p = ud->part;
	const char *type = luaL_optstring(L, 2, "content");

	if (strcmp(type, "raw") == 0)
		lua_text_push(L, p->raw_body.ptr, p->raw_body.len, ud->serial);
	else if (strcmp(type, "raw_parsed") == 0)
		lua_text_push(L, p->decoded, p->decoded_len, ud->serial);
	else if (strcmp(type, "content_oneline") == 0)
		return push_oneline(L, ud);
	else
		lua_text_push(L, p->utf8, p->utf8_len, ud->serial);
	return 1;
}

static int
tp_get_language(lua_State *L)
{
	check_part(L, LUA_CLASS_TEXTPART);
	lua_pushnil(L);
	return 1;
}

static int
tp_get_mimepart(lua_State *L)
{
	const struct lua_part_ud *ud = check_part(L, LUA_CLASS_TEXTPART);
	struct lua_part_ud *m = lua_newuserdata(L, sizeof(*m));

	*m = *ud;
	luaL_getmetatable(L, LUA_CLASS_MIMEPART);
	lua_setmetatable(L, -2);
	return 1;
}

/* --- MIME parts ---------------------------------------------------------- */

static int
mp_get_type(lua_State *L)
{
	const struct mime_part *p = check_part(L, LUA_CLASS_MIMEPART)->part;

	lua_pushstring(L, p->type != NULL ? p->type : "text");
	lua_pushstring(L, p->subtype != NULL ? p->subtype : "plain");
	return 2;
}

static int
mp_get_filename(lua_State *L)
{
	const struct mime_part *p = check_part(L, LUA_CLASS_MIMEPART)->part;

	if (p->filename == NULL)
		lua_pushnil(L);
	else
		lua_pushstring(L, p->filename);
	return 1;
}

static int
mp_is_attachment(lua_State *L)
{
	lua_pushboolean(L, check_part(L, LUA_CLASS_MIMEPART)->part->is_attachment);
	return 1;
}

static int
mp_is_text(lua_State *L)
{
	lua_pushboolean(L, check_part(L, LUA_CLASS_MIMEPART)->part->is_text);
	return 1;
}

static int
mp_is_multipart(lua_State *L)
{
	const struct mime_part *p = check_part(L, LUA_CLASS_MIMEPART)->part;

	lua_pushboolean(L, p->type != NULL && strcmp(p->type, "multipart") == 0);
	return 1;
}

static int
mp_get_length(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)check_part(L,
	    LUA_CLASS_MIMEPART)->part->decoded_len);
	return 1;
}

static int
mp_get_content(lua_State *L)
{
	const struct lua_part_ud *ud = check_part(L, LUA_CLASS_MIMEPART);

	lua_text_push(L, ud->part->decoded, ud->part->decoded_len, ud->serial);
	return 1;
}

static int
mp_get_raw_content(lua_State *L)
{
	const struct lua_part_ud *ud = check_part(L, LUA_CLASS_MIMEPART);

	lua_text_push(L, ud->part->raw_body.ptr, ud->part->raw_body.len,
	    ud->serial);
	return 1;
}

static int
mp_get_header(lua_State *L)
{
	const struct mime_part *p = check_part(L, LUA_CLASS_MIMEPART)->part;
	const char *v = mime_headers_get(&p->headers, luaL_checkstring(L, 2));

	if (v == NULL)
		lua_pushnil(L);
	else
		lua_pushstring(L, v);
	return 1;
}

static int
mp_get_text(lua_State *L)
{
	const struct lua_part_ud *ud = check_part(L, LUA_CLASS_MIMEPART);
	struct lua_part_ud *t;

	if (!ud->part->is_text) {
		lua_pushnil(L);
		return 1;
	}
	t = lua_newuserdata(L, sizeof(*t));
	*t = *ud;
	luaL_getmetatable(L, LUA_CLASS_TEXTPART);
	lua_setmetatable(L, -2);
	return 1;
}

/* --- URLs and e-mails ------------------------------------------------ */

static void
push_url(lua_State *L, struct lua_task_state *ts, const struct mime_url *u,
    const struct mime_email *e)
{
	struct lua_url_ud *ud = lua_newuserdata(L, sizeof(*ud));

	ud->url = u;
	ud->email = e;
	ud->le = ts->le;
	ud->serial = ts->serial;
	luaL_getmetatable(L, LUA_CLASS_URL);
	lua_setmetatable(L, -2);
}

static const struct lua_url_ud *
check_url(lua_State *L)
{
	struct lua_url_ud *ud = luaL_checkudata(L, 1, LUA_CLASS_URL);

	if (!lua_task_serial_alive(ud->le, ud->serial))
		luaL_error(L, "url used after its task ended");
	return ud;
}

static const char *
url_host(const struct lua_url_ud *ud)
{
	return ud->url != NULL ? ud->url->host : ud->email->domain;
}

static int
url_get_text(lua_State *L)
{
	const struct lua_url_ud *ud = check_url(L);

	lua_pushstring(L, ud->url != NULL ? ud->url->url : ud->email->addr);
	return 1;
}

static int
url_get_host(lua_State *L)
{
	lua_pushstring(L, url_host(check_url(L)));
	return 1;
}

static int
url_get_tld(lua_State *L)
{
	const char *host = url_host(check_url(L)), *tld;
	size_t len;

	lua_util_tld(host, strlen(host), &tld, &len);
	lua_pushlstring(L, tld, len);
	return 1;
}

static int
url_get_user(lua_State *L)
{
	const struct lua_url_ud *ud = check_url(L);

	if (ud->email != NULL)
		lua_pushstring(L, ud->email->user);
	else
		lua_pushnil(L);
	return 1;
}

/* Start of the part after "scheme://authority" (or the whole URL). */
static const char *
after_authority(const char *u)
{
	const char *p = strstr(u, "://");

	p = p != NULL ? p + 3 : u;
	return p + strcspn(p, "/?#");
}

static int
url_get_scheme(lua_State *L)
{
	const struct lua_url_ud *ud = check_url(L);
	const char *u = ud->url != NULL ? ud->url->url : "mailto:";
	size_t n = strcspn(u, ":/");
	char buf[32];

	if (u[n] != ':' || n == 0 || n >= sizeof(buf) ||
	    (ud->url != NULL && (ud->url->flags & MIME_URL_SCHEMELESS))) {
		lua_pushstring(L, ud->url != NULL &&
		    (ud->url->flags & MIME_URL_MAILTO) ? "mailto" : "http");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = ascii_tolower(u[i]);
	lua_pushlstring(L, buf, n);
	return 1;
}

static int
url_get_path(lua_State *L)
{
	const struct lua_url_ud *ud = check_url(L);
	const char *p;

	if (ud->url == NULL || (ud->url->flags & MIME_URL_MAILTO)) {
		lua_pushliteral(L, "");
		return 1;
	}
	p = after_authority(ud->url->url);
	if (*p == '/')
		p++;
	else if (*p == '?' || *p == '#')
		p += strlen(p);
	lua_pushlstring(L, p, strcspn(p, "?#"));
	return 1;
}

static int
url_get_query(lua_State *L)
{
	const struct lua_url_ud *ud = check_url(L);
	const char *q = ud->url != NULL ? strchr(after_authority(ud->url->url),
	    '?') : NULL;

	if (q == NULL)
		lua_pushnil(L);
	else
		lua_pushlstring(L, q + 1, strcspn(q + 1, "#"));
	return 1;
}

static int
url_flag(lua_State *L, unsigned flag)
{
	const struct lua_url_ud *ud = check_url(L);

	lua_pushboolean(L, ud->url != NULL && (ud->url->flags & flag) != 0);
	return 1;
}

static int
url_is_phished(lua_State *L)
{
	return url_flag(L, MIME_URL_PHISHED);
}

static int
url_is_obscured(lua_State *L)
{
	return url_flag(L, MIME_URL_OBFUSCATED);
}

static int
url_is_html_displayed(lua_State *L)
{
	return url_flag(L, MIME_URL_FROM_HTML);
}

static int
url_is_image(lua_State *L)
{
	return url_flag(L, MIME_URL_IMAGE);
}

static int
url_get_displayed(lua_State *L)
{
	const struct lua_url_ud *ud = check_url(L);

	if (ud->url == NULL || ud->url->displayed == NULL)
		lua_pushnil(L);
	else
		lua_pushstring(L, ud->url->displayed);
	return 1;
}

/* --- task methods ------------------------------------------------------- */

static int
task_get_content(lua_State *L)
{
	struct lua_task_state *ts = lua_task_state_of(L, 1);

	lua_text_push(L, ts->task->data, ts->task->len, ts->serial);
	return 1;
}

static int
task_get_text_parts(lua_State *L)
{
	struct lua_task_state *ts = lua_task_state_of(L, 1);
	const struct mime_message *m = ts->task->msg;
	unsigned n = m != NULL ? m->n_text_parts : 0;

	lua_createtable(L, (int)n, 0);
	for (unsigned i = 0; i < n; i++) {
		push_part(L, ts, m->text_parts[i], LUA_CLASS_TEXTPART);
		lua_rawseti(L, -2, (int)i + 1);
	}
	return 1;
}

static int
task_get_parts(lua_State *L)
{
	struct lua_task_state *ts = lua_task_state_of(L, 1);
	const struct mime_message *m = ts->task->msg;
	unsigned n = m != NULL ? m->n_parts : 0;

	lua_createtable(L, (int)n, 0);
	for (unsigned i = 0; i < n; i++) {
		push_part(L, ts, m->parts[i], LUA_CLASS_MIMEPART);
		lua_rawseti(L, -2, (int)i + 1);
	}
	return 1;
}

static int
task_get_urls(lua_State *L)
{
	struct lua_task_state *ts = lua_task_state_of(L, 1);
	const struct mime_message *m = ts->task->msg;
	bool emails = lua_toboolean(L, 2);
	int n = 0;

	lua_newtable(L);
	for (size_t i = 0; m != NULL && i < m->n_urls; i++) {
		if (!emails && (m->urls[i].flags & MIME_URL_MAILTO))
			continue;
		push_url(L, ts, &m->urls[i], NULL);
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

static int
task_get_emails(lua_State *L)
{
	struct lua_task_state *ts = lua_task_state_of(L, 1);
	const struct mime_message *m = ts->task->msg;
	size_t n = m != NULL ? m->n_emails : 0;

	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		push_url(L, ts, NULL, &m->emails[i]);
		lua_rawseti(L, -2, (int)i + 1);
	}
	return 1;
}

void
lua_task_parts_methods(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "get_content", task_get_content },
		{ "get_rawbody", task_get_content },
		{ "get_text_parts", task_get_text_parts },
		{ "get_parts", task_get_parts },
		{ "get_urls", task_get_urls },
		{ "get_emails", task_get_emails },
		{ NULL, NULL },
	};

	luaL_register(L, NULL, methods);
}

void
lua_task_parts_register(lua_State *L)
{
	static const luaL_Reg text_methods[] = {
		{ "is_html", tp_is_html },
		{ "is_empty", tp_is_empty },
		{ "get_content", tp_get_content },
		{ "get_length", tp_get_length },
		{ "get_lines_count", tp_get_lines_count },
		{ "get_words_count", tp_get_words_count },
		{ "get_words", tp_get_words },
		{ "get_language", tp_get_language },
		{ "get_mimepart", tp_get_mimepart },
		{ NULL, NULL },
	};
	static const luaL_Reg mime_methods[] = {
		{ "get_type", mp_get_type },
		{ "get_filename", mp_get_filename },
		{ "is_attachment", mp_is_attachment },
		{ "is_text", mp_is_text },
		{ "is_multipart", mp_is_multipart },
		{ "get_length", mp_get_length },
		{ "get_content", mp_get_content },
		{ "get_raw_content", mp_get_raw_content },
		{ "get_header", mp_get_header },
		{ "get_text", mp_get_text },
		{ NULL, NULL },
	};
	static const luaL_Reg url_methods[] = {
		{ "get_text", url_get_text },
		{ "get_host", url_get_host },
		{ "get_tld", url_get_tld },
		{ "get_user", url_get_user },
		{ "get_scheme", url_get_scheme },
		{ "get_path", url_get_path },
		{ "get_query", url_get_query },
		{ "is_phished", url_is_phished },
		{ "is_obscured", url_is_obscured },
		{ "is_html_displayed", url_is_html_displayed },
		{ "is_image", url_is_image },
		{ "get_displayed", url_get_displayed },
		{ NULL, NULL },
	};
	static const luaL_Reg url_meta[] = {
		{ "__tostring", url_get_text },
		{ NULL, NULL },
	};

	lua_class_register(L, LUA_CLASS_TEXTPART, text_methods, NULL);
	lua_class_register(L, LUA_CLASS_MIMEPART, mime_methods, NULL);
	lua_class_register(L, LUA_CLASS_URL, url_methods, url_meta);
}
