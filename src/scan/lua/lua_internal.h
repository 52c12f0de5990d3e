/*
 * lua_internal.h - shared between the files of src/scan/lua/ only: the Lua
 * engine state, per-task state, and the helpers each binding file exports
 * to the others. Nothing outside src/scan/lua/ includes this.
 */
#ifndef SCAN_LUA_INTERNAL_H
#define SCAN_LUA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

struct config;
struct mime_address;
struct scan_engine;
struct scan_task;

/* Metatable names of our userdata classes. */
#define LUA_CLASS_CONFIG   "rspamd{config}"
#define LUA_CLASS_TASK     "rspamd{task}"
#define LUA_CLASS_TEXT     "rspamd{text}"
#define LUA_CLASS_TEXTPART "rspamd{textpart}"
#define LUA_CLASS_MIMEPART "rspamd{mimepart}"
#define LUA_CLASS_URL      "rspamd{url}"
#define LUA_CLASS_IP       "rspamd{ip}"
#define LUA_CLASS_REGEXP   "rspamd{regexp}"

enum lua_sym_type {
	LUA_SYM_NORMAL,
	LUA_SYM_PREFILTER,
	LUA_SYM_POSTFILTER,
	LUA_SYM_IDEMPOTENT,
	LUA_SYM_CALLBACK,  /* a rule whose own symbol is not a result */
	LUA_SYM_VIRTUAL,   /* symbol only, inserted by some other callback */
	LUA_SYM_METRIC,    /* set_metric_symbol: score/description only */
};

/* One symbol or rule defined from Lua; heap, lives as long as the engine. */
struct lua_sym {
	struct lua_engine *le;
	char *name;
	char *description;
	char *group;
	double score;
	bool has_score;
	int cb_ref;        /* callback in the registry, or LUA_NOREF */
	int cond_ref;      /* condition function, or LUA_NOREF */
	enum lua_sym_type type;
	int priority;
	unsigned flags;    /* SYMBOL_FLAG_* */
};

/* A Lua condition handed to the regexp module with a regexp rule. */
struct lua_cond {
	struct lua_engine *le;
	char *name;
	int ref;
};

struct lua_task_state;

struct lua_engine {
	lua_State *L;
	struct scan_engine *eng;
	struct config *cfg;
	struct lua_sym **syms;
	size_t n_syms, cap_syms;
	char **deps;       /* pairs: rule, dependency */
	size_t n_deps, cap_deps;
	struct lua_cond **conds;
	size_t n_conds, cap_conds;
	int traceback_ref; /* message handler used for every pcall */
	struct lua_task_state *live; /* tasks with Lua state, newest first */
	uint64_t next_serial;
};

/*
 * Per-task state, created on first use by a Lua callback and freed by a
 * destructor on the task pool. Objects that point into task memory (texts,
 * parts, URLs) carry the task's serial and check it is still live before
 * touching the memory, so a script that keeps one in a global gets an error
 * instead of a use-after-free.
 */
struct lua_task_state {
	struct lua_engine *le;
	struct scan_task *task;
	uint64_t serial;
	int ud_ref;        /* the task userdata in the registry */
	struct lua_task_state *prev, *next;
};

struct lua_task_ud {
	struct scan_task *task; /* NULL once the task has ended */
	struct lua_task_state *ts;
};

/* lua_engine.c */
struct lua_engine *lua_engine_get(lua_State *L);
void lua_class_register(lua_State *L, const char *name, const luaL_Reg *methods,
    const luaL_Reg *meta);
/* Pushes the message handler; returns its stack index. */
int lua_push_traceback(lua_State *L);
/* Runs a Lua function already on the stack (with nargs args) under pcall
 * with the traceback handler; logs failures with `what`. Returns 0/-1. */
int lua_call_logged(lua_State *L, int nargs, int nres, const char *what,
    const char *task_id);
struct lua_sym *lua_sym_get(struct lua_engine *le, const char *name);
struct lua_sym *lua_sym_new(struct lua_engine *le, const char *name);
void lua_config_register(lua_State *L);
/* Hands config['regexp'] to the regexp module (lua_config.c). */
int lua_regexp_rules(struct lua_engine *le, char **error_r);
/* The engine rule_fn of every Lua symbol; ud is its struct lua_sym. */
void lua_rule_run(struct scan_task *task, void *ud);

/* lua_task.c / lua_task_headers.c / lua_task_parts.c */
void lua_task_register(lua_State *L);
/* Pushes the (cached) task userdata; creates per-task state on first use. */
void lua_task_push(lua_State *L, struct lua_engine *le, struct scan_task *task);
struct scan_task *lua_task_check(lua_State *L, int idx);
struct lua_task_state *lua_task_state_of(lua_State *L, int idx);
bool lua_task_serial_alive(struct lua_engine *le, uint64_t serial);
void lua_task_headers_methods(lua_State *L);
void lua_task_parts_methods(lua_State *L);
void lua_task_parts_register(lua_State *L);
void lua_push_addresses(lua_State *L, const struct mime_address *a,
    bool smtp);

/* lua_date.c: RFC 5322 date (also tolerant of common variants). */
int lua_parse_rfc5322_date(const char *s, size_t len, int64_t *time_r);

/* lua_text.c */
void lua_text_register(lua_State *L);
/* Borrowed text (serial 0 = static/engine-lifetime memory). */
void lua_text_push(lua_State *L, const char *ptr, size_t len, uint64_t serial);
void lua_text_push_copy(lua_State *L, const char *ptr, size_t len);
/* String or rspamd_text at idx (NULL otherwise); errors on a dead text. */
const char *lua_to_bytes(lua_State *L, int idx, size_t *len_r);

/* lua_logger.c */
int lua_logger_open(lua_State *L);
/* Appends a printable form of the value at idx to the buffer on the stack. */
void lua_logger_format(lua_State *L, int fmt_idx, int first_arg);

/* lua_regexp.c */
int lua_regexp_open(lua_State *L);
void lua_regexp_register(lua_State *L);

/* lua_util.c */
int lua_util_open(lua_State *L);
/* Lowercases ASCII and the common 2-byte UTF-8 letters (Latin-1, Greek,
 * Cyrillic) into out (room for len bytes); returns the length. */
size_t lua_util_lower(const char *in, size_t len, char *out);
/* eSLD of a host name (see lua_util.c for the limitation). */
void lua_util_tld(const char *host, size_t len, const char **tld_r,
    size_t *tld_len_r);

/* lua_ip.c */
void lua_ip_register(lua_State *L);
void lua_ip_push(lua_State *L, const char *text);

#endif
