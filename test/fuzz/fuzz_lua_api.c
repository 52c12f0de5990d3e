/*
 * fuzz_lua_api.c - libFuzzer target for the Lua API boundary
 * (src/scan/lua/): every C function a rule can reach through the task,
 * its parts and URLs, rspamd_text, rspamd_regexp, rspamd_util,
 * rspamd_logger.slog and the rspamd_ip of task:get_ip().
 *
 * Input: line 1 is a parameter P (header name, regexp pattern, format
 * string, text for the util helpers), line 2 a client IP text (used when
 * inet_pton takes it: the envelope promises a validated IP), the rest the
 * message (at most 64 KiB). P reaches Lua as the HELO and as a request
 * header. One engine is built on the first call from a scratch config
 * and a single rules file (fuzz_lua below) and reused; each run is one
 * task. The rule wraps every API call in pcall, so Lua errors (bad
 * arguments, bad patterns) are expected and only C-level faults crash.
 * The rule always inserts FUZZ_API (an empty message runs no filters, so
 * not then): a run without it means a Lua error escaped the rule's own
 * pcall. A full Lua GC after each task runs the __gc of what the rule
 * made (the PCRE2 code behind a regexp userdata is referenced only from
 * LuaJIT memory, which LeakSanitizer does not scan), so a leak report
 * means a real leak. Regexps run on the first 4 KiB of the message only,
 * bounding PCRE2 backtracking per run.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "log/log.h"
#include "scan/engine.h"
#include "scan/lua/lua_internal.h"
#include "scan/task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MESSAGE (64 * 1024)
#define FUZZ_MAX_PARAM 256

static const char fuzz_lua[] =
    "local re_mod = require 'rspamd_regexp'\n"
    "local util = require 'rspamd_util'\n"
    "local logger = require 'rspamd_logger'\n"
    "local function touch(v, depth)\n"
    "  local t = type(v)\n"
    "  if t == 'string' then return #v end\n"
    "  if t == 'userdata' then\n"
    "    local ok, s = pcall(tostring, v)\n"
    "    return ok and type(s) == 'string' and #s or 0\n"
    "  end\n"
    "  if t ~= 'table' or depth > 4 then return 0 end\n"
    "  local n = 0\n"
    "  for k, x in pairs(v) do n = n + touch(k, depth + 1) + touch(x, depth + 1) end\n"
    "  return n\n"
    "end\n"
    "local n = 0\n"
    "local function T(f, ...)\n"
    "  if type(f) ~= 'function' then return nil end\n"
    "  local ok, r = pcall(f, ...)\n"
    "  if ok then n = n + touch(r, 0); return r end\n"
    "  return nil\n"
    "end\n"
    "local function all(obj, methods, ...)\n"
    "  for _, m in ipairs(methods) do T(obj[m], obj, ...) end\n"
    "end\n"
    "local part_m = {'is_html', 'is_empty', 'get_content', 'get_length',\n"
    "  'get_lines_count', 'get_words_count', 'get_words', 'get_language'}\n"
    "local mime_m = {'get_type', 'get_filename', 'is_attachment', 'is_text',\n"
    "  'is_multipart', 'get_length', 'get_content', 'get_raw_content', 'get_text'}\n"
    "local url_m = {'get_text', 'get_host', 'get_tld', 'get_user', 'get_scheme',\n"
    "  'get_path', 'get_query', 'is_phished', 'is_obscured', 'is_html_displayed',\n"
    "  'is_image', 'get_displayed'}\n"
    "local task_m = {'get_helo', 'get_hostname', 'get_user', 'get_queue_id',\n"
    "  'get_size', 'get_subject', 'get_message_id', 'get_date', 'get_from',\n"
    "  'get_recipients', 'get_content', 'get_emails', 'get_symbols',\n"
    "  'get_metric_score', 'get_metric_action', 'has_pre_result'}\n"
    "local function headers(task, p)\n"
    "  T(task.get_header, task, p); T(task.get_header, task, p, true)\n"
    "  T(task.get_header_raw, task, p); T(task.get_header_full, task, p)\n"
    "  T(task.get_header_count, task, p); T(task.get_request_header, task, p)\n"
    "  for _, h in ipairs{'From', 'To', 'Subject', 'Received', 'Content-Type'} do\n"
    "    T(task.get_header_full, task, h); T(task.get_header_raw, task, h)\n"
    "  end\n"
    "  for _, k in ipairs{'mime', 'smtp', 'any', 1, 2} do\n"
    "    T(task.get_from, task, k); T(task.get_recipients, task, k)\n"
    "  end\n"
    "  T(task.get_date, task, {format = 'message'}); T(task.get_date, task, {format = 'connect'})\n"
    "  T(task.has_symbol, task, p); T(task.get_symbol, task, p)\n"
    "end\n"
    "local function parts(task, p)\n"
    "  for _, tp in ipairs(T(task.get_text_parts, task) or {}) do\n"
    "    all(tp, part_m)\n"
    "    local mp = T(tp.get_mimepart, tp)\n"
    "    if mp then all(mp, mime_m); T(mp.get_header, mp, p) end\n"
    "  end\n"
    "  for _, mp in ipairs(T(task.get_parts, task) or {}) do\n"
    "    all(mp, mime_m); T(mp.get_header, mp, p); T(mp.get_header, mp, 'Content-Type')\n"
    "  end\n"
    "  for _, k in ipairs{false, true} do\n"
    "    for _, u in ipairs(T(task.get_urls, task, k) or {}) do all(u, url_m) end\n"
    "  end\n"
    "end\n"
    "local function text(task, p)\n"
    "  local c = T(task.get_content, task)\n"
    "  if not c then return nil end\n"
    "  T(c.len, c); T(c.str, c); T(c.lower, c); T(c.find, c, p); T(c.find, c, p, 3)\n"
    "  T(c.sub, c, 2, 40); T(c.sub, c, -10); T(c.span, c, #p, #p * 2); T(c.sub, c, 0, -1)\n"
    "  T(function() return tostring(c) .. p end); T(function() return c .. p end)\n"
    "  T(function() return c == p end); T(function() return #c end)\n"
    "  return T(c.sub, c, 1, 4096)\n"
    "end\n"
    "local function regexps(p, sample)\n"
    "  for _, f in ipairs{false, 'i', 'u', 'is', 'x'} do\n"
    "    local re = T(re_mod.create, p, f or nil)\n"
    "    if re then\n"
    "      T(re.match, re, sample); T(re.match, re, p); T(re.search, re, sample)\n"
    "      T(re.search, re, sample, true); T(re.split, re, sample); T(re.get_pattern, re)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local function utils(p, sample)\n"
    "  for _, s in ipairs{p, sample} do\n"
    "    for _, f in ipairs{'encode_base64', 'decode_base64', 'encode_base32',\n"
    "        'decode_base32', 'is_valid_utf8', 'strlen_utf8', 'lower_utf8',\n"
    "        'parse_mail_address', 'get_tld'} do T(util[f], s) end\n"
    "    T(util.strequal_caseless, s, 'Subject'); T(util.levenshtein_distance, s, 'example.com')\n"
    "    T(util.decode_base64, T(util.encode_base64, s)); T(util.decode_base32, T(util.encode_base32, s))\n"
    "  end\n"
    "  T(logger.slog, p, sample, 1, {a = p}, true, nil)\n"
    "end\n"
    "rspamd_config.FUZZ_API = {score = 1.0, callback = function(task)\n"
    "  n = 0\n"
    "  local p = task:get_helo() or ''\n"
    "  all(task, task_m)\n"
    "  local ip = T(task.get_ip, task)\n"
    "  if ip then all(ip, {'to_string', 'is_valid', 'get_version', 'is_local'})\n"
    "    T(function() return ip == T(task.get_from_ip, task) end) end\n"
    "  headers(task, p)\n"
    "  parts(task, p)\n"
    "  local sample = text(task, p) or ''\n"
    "  sample = T(tostring, sample) or ''\n"
    "  regexps(p, sample)\n"
    "  utils(p, sample)\n"
    "  T(task.insert_result, task, 'FUZZ_VIRT', 1.0, p)\n"
    "  return true, tostring(n % 7)\n"
    "end}\n"
    "rspamd_config:register_symbol{name = 'FUZZ_VIRT', type = 'virtual', score = 0.5}\n";

static struct scan_engine *fuzz_engine;

static int
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Scratch dir with an empty config and the one rules file; removed again. */
static struct scan_engine *
engine_build(void)
{
	static const struct log_settings ls = { .type = LOG_TYPE_CONSOLE,
		.level = LOG_LEVEL_SILENT };
	char dir[] = "/tmp/fuzz_lua_api_XXXXXX", conf[64], rules[64], rule[80];
	struct config *cfg = NULL;
	struct scan_engine *eng = NULL;
	char *err = NULL;

	if (log_configure(&ls, &err) < 0 || mkdtemp(dir) == NULL)
		abort();
	snprintf(conf, sizeof(conf), "%s/rspamd.conf", dir);
	snprintf(rules, sizeof(rules), "%s/rules", dir);
	snprintf(rule, sizeof(rule), "%s/fuzz.lua", rules);
	if (write_text(conf, "") < 0 || mkdir(rules, 0700) < 0 ||
	    write_text(rule, fuzz_lua) < 0)
		abort();
	setenv("RSPAMD_RULESDIR", rules, 1);
	setenv("RSPAMD_LOCAL_CONFDIR", dir, 1);
	if (config_load(conf, NULL, &cfg, &err) == 0)
		eng = scan_engine_new(cfg, &err);
	config_unref(&cfg);
	unlink(rule);
	rmdir(rules);
	unlink(conf);
	rmdir(dir);
	if (eng == NULL) {
		fprintf(stderr, "fuzz_lua_api: engine: %s\n", err ? err : "?");
		abort();
	}
	return eng;
}

/* Copies the next line (without CR/LF, NULs cut it short) into a heap string. */
static char *
take_line(const uint8_t **p, const uint8_t *end, size_t max)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl != NULL ? nl : end) - *p);
	char *s;

	s = strndup((const char *)*p, n < max ? n : max);
	if (s[0] != '\0' && s[strlen(s) - 1] == '\r')
		s[strlen(s) - 1] = '\0';
	*p = nl != NULL ? nl + 1 : end;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *rcpts[] = { "bob@example.org", "x@example.com" };
	const uint8_t *p = data, *end = data + size;
	unsigned char addr[16];
	struct scan_kv req;
	struct scan_task *t;
	char *param, *ip;

	if (size > FUZZ_MAX_MESSAGE + 2 * FUZZ_MAX_PARAM)
		return 0;
	if (fuzz_engine == NULL)
		fuzz_engine = engine_build();
	param = take_line(&p, end, FUZZ_MAX_PARAM);
	ip = take_line(&p, end, 64);
	if ((size_t)(end - p) > FUZZ_MAX_MESSAGE)
		end = p + FUZZ_MAX_MESSAGE;
	t = scan_task_new(fuzz_engine, (const char *)p, (size_t)(end - p));
	if (inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1)
		t->env.ip = ip;
	t->env.helo = param;
	t->env.from = "env@example.net";
	t->env.rcpts = rcpts;
	t->env.n_rcpts = 2;
	t->env.queue_id = "Q1";
	req.name = param;
	req.value = param;
	t->env.req_headers = &req;
	t->env.n_req_headers = 1;
	scan_task_process(t);
	/* An empty message runs no filters (engine.c), so no FUZZ_API then. */
	if (end > p && scan_task_find_symbol(t, "FUZZ_API") == NULL)
		__builtin_trap();
	scan_task_free(&t);
	lua_gc(((struct lua_engine *)scan_engine_get_module(fuzz_engine,
	    ENGINE_SLOT_LUA))->L, LUA_GCCOLLECT, 0);
	free(param);
	free(ip);
	return 0;
}
