/*
 * Unit tests for the Lua rule module (src/scan/lua/): the tutorial rule,
 * the callback return convention, error isolation, register_symbol forms,
 * prefilters, config['regexp'], load errors, and the Lua-written API tests
 * in test/lua/ (loaded as the rules directory).
 */
#include "config/config.h"
#include "log/log.h"
#include "scan/engine.h"
#include "scan/task.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


static char dir[] = "/tmp/test_lua_XXXXXX";
static char logpath[700];

static const char tutorial[] =
    "rspamd_config.MY_RULE = {\n"
    "  callback = function(task)\n"
    "    local subject = task:get_header('Subject')\n"
    "    if subject and subject:find('viagra') then return true end\n"
    "    return false\n"
    "  end,\n"
    "  score = 5.0,\n"
    "  description = 'Contains suspicious keyword'\n"
    "}\n";

static const char local_lua[] =
    "local function R(name, fn) rspamd_config[name] = {callback = fn, score = 4.0} end\n"
    "R('RET_NIL', function() return nil end)\n"
    "R('RET_NOTHING', function() return end)\n"
    "R('RET_FALSE', function() return false, 1 end)\n"
    "R('RET_TRUE', function() return true end)\n"
    "R('RET_HALF', function() return true, 0.5 end)\n"
    "R('RET_HALF_OPTS', function() return true, 0.5, 'o1', 'o2' end)\n"
    "R('RET_OPTS', function() return true, 'o1', 'o2' end)\n"
    "R('RET_TABLE', function() return true, {'a', 'b'} end)\n"
    "R('RET_NUM', function() return 2 end)\n"
    "R('RET_NUM_HALF', function() return 0.5 end)\n"
    "R('RET_NUM_MULT', function() return 1, 0.25 end)\n"
    "R('RET_TEXT_OPT', function(task) return true, task:get_content():sub(1, 4) end)\n"
    "R('RET_DUP', function() return true, 'x', 'x' end)\n"
    "rspamd_config.ERR_RULE = function(task)\n"
    "  local t = nil\n"
    "  return t.field -- ERR_MARKER\n"
    "end\n"
    "rspamd_config.AFTER_ERR = {callback = function() return true end, score = 1.0}\n"
    "rspamd_config:register_symbol('POS_SYM', 3.0, function() return true end)\n"
    "local id = rspamd_config:register_symbol{name = 'TBL_SYM', score = 2.0,\n"
    "  description = 'table form', group = 'grp', callback = function() return true end}\n"
    "assert(type(id) == 'number')\n"
    "rspamd_config:register_symbol{name = 'VIRT_SYM', type = 'virtual', score = 1.5}\n"
    "rspamd_config:register_symbol{name = 'PARENT_SYM', type = 'callback',\n"
    "  callback = function(task) task:insert_result('VIRT_SYM', 1.0, 'v') end}\n"
    "rspamd_config.DEP_SYM = {score = 1.0, callback = function(task)\n"
    "  return task:has_symbol('TBL_SYM') end}\n"
    "rspamd_config:register_dependency('DEP_SYM', 'TBL_SYM')\n"
    "rspamd_config.COND_NO = {score = 1.0, condition = function() return false end,\n"
    "  callback = function() return true end}\n"
    "rspamd_config.COND_YES = {score = 1.0, condition = function() return true end,\n"
    "  callback = function() return true end}\n"
    "rspamd_config:set_metric_symbol{name = 'METRIC_SYM', score = 1.25, description = 'm'}\n"
    "rspamd_config.INSERT_METRIC = function(task) task:insert_result('METRIC_SYM', 1.0) end\n"
    "rspamd_config:register_symbol{name = 'PRE_SYM', type = 'prefilter', priority = 10,\n"
    "  callback = function(task)\n"
    "    if task:get_header('X-Force-Reject') then task:set_pre_result('reject', 'go away') end\n"
    "    if task:get_header('X-Force-Accept') then\n"
    "      task:set_pre_result{action = 'accept', message = 'ok', module = 'mine'} end\n"
    "  end}\n"
    "config['regexp']['LUA_RE'] = {re = 'Subject=/viagra/i{header}', score = 1.0,\n"
    "  description = 're from lua'}\n"
    "config['regexp']['LUA_RE_SHORT'] = '/cheap\\\\s+pills/i{mime}'\n"
    "config['regexp']['LUA_RE_COND'] = {re = 'Subject=/viagra/i{header}', score = 1.0,\n"
    "  condition = function(task) return false end}\n"
    "rspamd_config.STASH = function(task)\n"
    "  local fired = false\n"
    "  if stash_task then\n"
    "    local ok, err = pcall(function() return stash_task:get_subject() end)\n"
    "    local ok2, err2 = pcall(function() return tostring(stash_text) end)\n"
    "    fired = not ok and err:find('ended') ~= nil and not ok2\n"
    "  end\n"
    "  stash_task = task\n"
    "  stash_text = task:get_content()\n"
    "  return fired\n"
    "end\n";

static const char spam[] =
    "Return-Path: <env@example.net>\r\n"
    "From: Cheap Meds <sender@example.net>\r\n"
    "To: Bob <bob@example.org>, carol@example.org\r\n"
    "Cc: dave@example.com\r\n"
    "Subject: Buy viagra now\r\n"
    "Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <abc123@example.net>\r\n"
    "X-Lua-Test: api\r\n"
    "X-Encoded: =?UTF-8?B?SGVsbG8=?=\r\n"
    "X-Multi: one\r\n"
    "X-Multi:\ttwo\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"BB\"\r\n"
    "\r\n"
    "--BB\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Cheap pills at http://bit.ly/xyz and https://www.shop.example.co.uk/buy/now?x=1\r\n"
    "Write to contact@example.biz\r\n"
    "\r\n"
    "--BB\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<html><body><a href=\"http://paypal.com.example.biz/login\">http://paypal.com</a>"
    " cheap pills</body></html>\r\n"
    "--BB--\r\n";

static const char ham[] =
    "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
    "Subject: lunch\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nSee you at noon.\r\n";

static int
write_file(const char *rel, const char *text)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	fclose(f);
	return 0;
}

static void
remove_file(const char *rel)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	unlink(path);
}

static struct scan_engine *
build(char **error_r)
{
	struct config *cfg = NULL;
	struct scan_engine *eng;

	*error_r = NULL;
	if (config_load("conf/rspamd.conf", dir, &cfg, error_r) < 0) {
		printf("  config: %s\n", *error_r);
		return NULL;
	}
	eng = scan_engine_new(cfg, error_r);
	config_unref(&cfg);
	return eng;
}

static const struct scan_kv req_headers[] = { { "X-Test-Header", "hv" } };
static const char *rcpts[] = { "bob@example.org", "x@example.com" };

static struct scan_task *
scan(struct scan_engine *eng, const char *msg)
{
	struct scan_task *t = scan_task_new(eng, msg, strlen(msg));

	t->env.ip = "192.168.1.10";
	t->env.helo = "mx.example.net";
	t->env.hostname = "rdns.example.net";
	t->env.from = "env@example.net";
	t->env.rcpts = rcpts;
	t->env.n_rcpts = 2;
	t->env.queue_id = "Q123";
	t->env.req_headers = req_headers;
	t->env.n_req_headers = 1;
	scan_task_process(t);
	return t;
}

static double
score_of(const struct scan_task *t, const char *name)
{
	const struct scan_symbol *s = scan_task_find_symbol(t, name);

	return s != NULL ? s->score : NAN;
}

static bool
has_options(const struct scan_task *t, const char *name, const char *a,
    const char *b)
{
	const struct scan_symbol *s = scan_task_find_symbol(t, name);
	size_t want = (a != NULL) + (b != NULL);

	if (s == NULL || s->n_options != want)
		return false;
	return (a == NULL || strcmp(s->options[0], a) == 0) &&
	    (b == NULL || strcmp(s->options[1], b) == 0);
}

static void
print_options(const struct scan_task *t, const char *name)
{
	const struct scan_symbol *s = scan_task_find_symbol(t, name);

	for (size_t i = 0; s != NULL && i < s->n_options; i++)
		printf("  %s: %s\n", name, s->options[i]);
}

static bool
log_contains(const char *needle)
{
	size_t len;
	char *text = test_read_file(logpath, &len);
	bool found = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return found;
}

/* Line number of the first line of local_lua containing marker. */
static int
marker_line(const char *marker)
{
	const char *p = strstr(local_lua, marker);
	int line = 1;

	for (const char *q = local_lua; p != NULL && q < p; q++)
		line += *q == '\n';
	return line;
}

static bool
near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

static void
test_tutorial(struct scan_engine *eng)
{
	struct scan_task *t;

	test_begin("tutorial rule fires on 'viagra' with 5.0, not otherwise");
	t = scan(eng, spam);
	test_assert(near(score_of(t, "MY_RULE"), 5.0));
	scan_task_free(&t);
	t = scan(eng, ham);
	test_assert(scan_task_find_symbol(t, "MY_RULE") == NULL);
	scan_task_free(&t);
	test_end();
}

static void
test_returns(struct scan_engine *eng)
{
	struct scan_task *t = scan(eng, ham);

	test_begin("callback return convention (spec 1.3)");
	test_assert(scan_task_find_symbol(t, "RET_NIL") == NULL);
	test_assert(scan_task_find_symbol(t, "RET_NOTHING") == NULL);
	test_assert(scan_task_find_symbol(t, "RET_FALSE") == NULL);
	test_assert(near(score_of(t, "RET_TRUE"), 4.0));
	test_assert(has_options(t, "RET_TRUE", NULL, NULL));
	test_assert(near(score_of(t, "RET_HALF"), 2.0));
	test_assert(near(score_of(t, "RET_HALF_OPTS"), 2.0));
	test_assert(has_options(t, "RET_HALF_OPTS", "o1", "o2"));
	test_assert(near(score_of(t, "RET_OPTS"), 4.0));
	test_assert(has_options(t, "RET_OPTS", "o1", "o2"));
	test_assert(has_options(t, "RET_TABLE", "a", "b"));
	test_assert(near(score_of(t, "RET_NUM"), 8.0));
	test_assert(scan_task_find_symbol(t, "RET_NUM_HALF") == NULL);
	test_assert(near(score_of(t, "RET_NUM_MULT"), 1.0));
	test_assert(has_options(t, "RET_TEXT_OPT", "From", NULL));
	test_assert(has_options(t, "RET_DUP", "x", NULL));
	scan_task_free(&t);
	test_end();
}

static void
test_isolation(struct scan_engine *eng)
{
	struct scan_task *t = scan(eng, ham);
	char want[128];

	test_begin("a Lua error is isolated and logged with rule name and line");
	test_assert(scan_task_find_symbol(t, "ERR_RULE") == NULL);
	test_assert(near(score_of(t, "AFTER_ERR"), 1.0));
	test_assert(near(score_of(t, "RET_TRUE"), 4.0));
	test_assert(log_contains("rule ERR_RULE failed"));
	snprintf(want, sizeof(want), "rspamd.local.lua:%d:", marker_line("ERR_MARKER"));
	test_assert(log_contains(want));
	scan_task_free(&t);
	/* The state is still usable for the next task. */
	t = scan(eng, spam);
	test_assert(near(score_of(t, "MY_RULE"), 5.0));
	scan_task_free(&t);
	test_end();
}

static void
test_register(struct scan_engine *eng)
{
	struct scan_task *t = scan(eng, ham);
	const struct symbol_info *si;

	test_begin("register_symbol forms, virtual, dependency, condition, metric");
	test_assert(near(score_of(t, "POS_SYM"), 3.0));
	test_assert(near(score_of(t, "TBL_SYM"), 2.0));
	si = scan_engine_symbol(eng, "TBL_SYM");
	test_assert(si != NULL && si->description != NULL &&
	    strcmp(si->description, "table form") == 0);
	test_assert(si != NULL && si->group != NULL && strcmp(si->group, "grp") == 0);
	test_assert(near(score_of(t, "VIRT_SYM"), 1.5));
	test_assert(has_options(t, "VIRT_SYM", "v", NULL));
	test_assert(scan_task_find_symbol(t, "PARENT_SYM") == NULL);
	test_assert(near(score_of(t, "DEP_SYM"), 1.0));
	test_assert(scan_task_find_symbol(t, "COND_NO") == NULL);
	test_assert(near(score_of(t, "COND_YES"), 1.0));
	test_assert(near(score_of(t, "METRIC_SYM"), 1.25));
	si = scan_engine_symbol(eng, "MY_RULE");
	test_assert(si != NULL && si->description != NULL &&
	    strcmp(si->description, "Contains suspicious keyword") == 0);
	scan_task_free(&t);
	test_end();
}

static void
test_prefilter(struct scan_engine *eng)
{
	static const char rej[] = "Subject: x\r\nX-Force-Reject: 1\r\n\r\nbody\r\n";
	static const char acc[] = "Subject: x\r\nX-Force-Accept: 1\r\n\r\nbody\r\n";
	struct scan_task *t;

	test_begin("prefilter set_pre_result (string and table forms)");
	t = scan(eng, rej);
	test_assert(t->pre_action != NULL && strcmp(t->pre_action, "reject") == 0);
	test_assert(t->pre_message != NULL && strcmp(t->pre_message, "go away") == 0);
	test_assert(strcmp(t->action, "reject") == 0);
	scan_task_free(&t);
	t = scan(eng, acc);
	test_assert(t->pre_action != NULL && strcmp(t->pre_action, "no action") == 0);
	test_assert(t->pre_module != NULL && strcmp(t->pre_module, "mine") == 0);
	scan_task_free(&t);
	test_end();
}

static void
test_regexp(struct scan_engine *eng)
{
	struct scan_task *t = scan(eng, spam);

	test_begin("config['regexp'] from Lua (table, short form, condition)");
	test_assert(near(score_of(t, "LUA_RE"), 1.0));
	test_assert(scan_task_find_symbol(t, "LUA_RE_SHORT") != NULL);
	test_assert(scan_task_find_symbol(t, "LUA_RE_COND") == NULL);
	scan_task_free(&t);
	t = scan(eng, ham);
	test_assert(scan_task_find_symbol(t, "LUA_RE") == NULL);
	scan_task_free(&t);
	test_end();
}

static void
test_lua_api(struct scan_engine *eng)
{
	struct scan_task *t = scan(eng, spam);

	test_begin("Lua-written API tests (test/lua/*.lua)");
	print_options(t, "LUA_API_FAIL");
	print_options(t, "LUA_MOD_FAIL");
	test_assert(scan_task_find_symbol(t, "LUA_API_OK") != NULL);
	test_assert(scan_task_find_symbol(t, "LUA_API_FAIL") == NULL);
	test_assert(has_options(t, "LUA_MOD_TESTS", "ok", NULL));
	test_assert(scan_task_find_symbol(t, "LUA_MOD_FAIL") == NULL);
	scan_task_free(&t);
	t = scan(eng, ham);
	test_assert(scan_task_find_symbol(t, "LUA_API_OK") == NULL);
	test_assert(has_options(t, "LUA_MOD_TESTS", "ok", NULL));
	/* The previous task's objects kept in globals now refuse access. */
	test_assert(scan_task_find_symbol(t, "STASH") != NULL);
	scan_task_free(&t);
	test_end();
}

static void
test_load_errors(void)
{
	struct scan_engine *eng;
	char *err = NULL;

	test_begin("syntax and runtime errors in rspamd.local.lua fail the build");
	write_file("rspamd.local.lua", "-- ok\nlocal x = 1\nlocal y = = 2\n");
	eng = build(&err);
	test_assert(eng == NULL);
	test_assert(err != NULL && strstr(err, "rspamd.local.lua:3:") != NULL);
	free(err);
	write_file("rspamd.local.lua", "local x = 1\nerror('boom')\n");
	eng = build(&err);
	test_assert(eng == NULL);
	test_assert(err != NULL && strstr(err, "rspamd.local.lua:2: boom") != NULL);
	free(err);
	write_file("rspamd.local.lua", "rspamd_config:register_symbol{name = 'X', type = 'bogus',\n"
	    "  callback = function() end}\n");
	eng = build(&err);
	test_assert(eng == NULL && err != NULL && strstr(err, "unknown type") != NULL);
	free(err);
	remove_file("rspamd.local.lua");
	eng = build(&err);
	test_assert(eng != NULL);
	scan_engine_free(&eng);
	test_end();
}

/* Figures for the report, not asserted: cost of one trivial Lua rule. */
static void
bench(struct scan_engine *eng)
{
	struct timespec a, b;
	int n = 2000;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		struct scan_task *t = scan(eng, ham);

		scan_task_free(&t);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("  %d small tasks with ~35 Lua rules: %.1f us/task\n", n,
	    ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / n);
}

int
main(void)
{
	struct log_settings ls = { .type = LOG_TYPE_FILE, .level = LOG_LEVEL_INFO };
	struct scan_engine *eng;
	char path[700], cwd[512], *err = NULL;

	if (mkdtemp(dir) == NULL || getcwd(cwd, sizeof(cwd)) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/local.d", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/test/lua", cwd);
	setenv("RSPAMD_RULESDIR", path, 1);
	setenv("RSPAMD_LOCAL_CONFDIR", dir, 1);
	snprintf(logpath, sizeof(logpath), "%s/test.log", dir);
	ls.filename = logpath;
	if (log_configure(&ls, &err) < 0) {
		printf("log: %s\n", err);
		return 1;
	}
	write_file("local.d/local.lua", tutorial);
	write_file("rspamd.local.lua", local_lua);
	eng = build(&err);
	test_begin("engine builds with the Lua files");
	test_assert(eng != NULL);
	if (eng == NULL)
		printf("  error: %s\n", err);
	test_end();
	if (eng != NULL) {
		test_tutorial(eng);
		test_returns(eng);
		test_isolation(eng);
		test_register(eng);
		test_prefilter(eng);
		test_regexp(eng);
		test_lua_api(eng);
		bench(eng);
		scan_engine_free(&eng);
	}
	free(err);
	test_load_errors();
	remove_file("local.d/local.lua");
	remove_file("test.log");
	snprintf(path, sizeof(path), "%s/local.d", dir);
	rmdir(path);
	rmdir(dir);
	return test_exit();
}
