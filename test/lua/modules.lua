-- modules.lua - rspamd_logger, rspamd_regexp, rspamd_util and the sandbox,
-- checked from Lua at load time and from a callback. Failures become
-- options of LUA_MOD_FAIL; LUA_MOD_OK means everything passed.

local logger = require "rspamd_logger"
local rspamd_regexp = require "rspamd_regexp"
local util = require "rspamd_util"

local fails = {}
local function check(name, cond)
  if not cond then table.insert(fails, name) end
end

-- Compiled once at load time, used per task.
local re_viagra = rspamd_regexp.create_cached('/viagra/i')

local function logger_checks()
  check('slog %s', logger.slog('a %s b %s', 1, 'x') == 'a 1 b x')
  check('slog positional', logger.slog('%2 %1', 'a', 'b') == 'b a')
  check('slog table', logger.slog('%s', {1, 2}) == '{[1] = 1, [2] = 2}')
  check('slog nested', logger.slog('%s', {k = {true}}) == '{[k] = {[1] = true}}')
  check('slog float', logger.slog('%s', 0.5) == '0.500000')
  check('slog missing', logger.slog('%s') == '<MISSING ARGUMENT>')
  check('slog nil', logger.slog('%s %s', nil, 'x') == 'nil x')
  logger.infox(rspamd_config, 'logger works: %s', {a = 1})
  logger.info('plain info')
end

local function regexp_checks()
  local re = rspamd_regexp.create('/^b.*z$/i')
  check('re create', re ~= nil)
  check('re match', re:match('BuZZ') and not re:match('abz'))
  local bare = rspamd_regexp.create_cached('cheap\\s+pills')
  check('re bare', bare:match('very cheap  pills'))
  check('re cached same', rspamd_regexp.create_cached('cheap\\s+pills') == bare)
  local m = rspamd_regexp.create('/\\d+/'):search('a1b22c333')
  check('re search', m and #m == 3 and m[3] == '333')
  local caps = rspamd_regexp.create('/(\\w)=(\\d)/'):search('a=1 b=2', false, true)
  check('re captures', caps and caps[2][1] == 'b=2' and caps[2][3] == '2')
  check('re search none', rspamd_regexp.create('/zzz/'):search('abc') == nil)
  local bad, err = rspamd_regexp.create('/(/')
  check('re bad', bad == nil and type(err) == 'string')
  check('re pattern', re:get_pattern() == '/^b.*z$/i')
  local parts = rspamd_regexp.create('/,\\s*/'):split('a, b,c')
  check('re split', #parts == 3 and parts[3] == 'c')
end

local function util_checks()
  check('b64', util.encode_base64('hello') == 'aGVsbG8=')
  check('b64 dec', util.decode_base64('aGVsbG8=') == 'hello')
  local b32 = util.encode_base32('\001\002\003')
  check('b32 roundtrip', util.decode_base32(b32) == '\001\002\003')
  -- LSB-first: byte 0x01 -> low 5 bits 00001 -> 'b', then 0 -> 'y'.
  check('b32 lsb first', util.encode_base32('\001') == 'by')
  check('b32 bad', util.decode_base32('!!') == nil)
  check('strlen_utf8', util.strlen_utf8('héllo') == 5)
  check('lower_utf8', util.lower_utf8('HÉLLO Привет') == 'héllo привет')
  check('strequal_caseless', util.strequal_caseless('AbC', 'aBc'))
  check('valid utf8', util.is_valid_utf8('héllo') and not util.is_valid_utf8('\255abc'))
  check('tld', util.get_tld('a.b.example.com') == 'example.com')
  check('tld co.uk', util.get_tld('www.example.co.uk') == 'example.co.uk')
  check('tld ip', util.get_tld('192.0.2.1') == '192.0.2.1')
  check('levenshtein', util.levenshtein_distance('kitten', 'sitting') == 3)
  local a = util.parse_mail_address('Joe <joe@example.com>, x@y.org')
  check('parse_mail_address', a and #a == 2 and a[1].name == 'Joe' and a[2].domain == 'y.org')
  check('get_time', util.get_time() > 1700000000)
  check('hostname', type(util.get_hostname()) == 'string')
  check('file_exists', util.file_exists(rspamd_paths.RULESDIR .. '/modules.lua')
    and not util.file_exists('/nonexistent/x'))
  check('glob', #util.glob(rspamd_paths.RULESDIR .. '/*.lua') >= 2)
end

local function sandbox_checks()
  check('no os.execute', os.execute == nil)
  check('no os.exit', os.exit == nil)
  check('no io.popen', io.popen == nil)
  check('no loadlib', package.loadlib == nil)
  check('debug.traceback only', type(debug.traceback) == 'function' and debug.getinfo == nil)
  check('no C loaders', #package.loaders == 2 and package.cpath == '')
  check('config table', type(config) == 'table' and type(config['regexp']) == 'table')
  check('paths', type(rspamd_paths.LOCAL_CONFDIR) == 'string')
  local opts = rspamd_config:get_all_opt('actions')
  check('get_all_opt', opts and opts.reject == 15)
  check('get_all_opt absent', rspamd_config:get_all_opt('no_such_module') == nil)
end

sandbox_checks()
logger_checks()
regexp_checks()
util_checks()
local load_fails = fails

rspamd_config.LUA_MOD_TESTS = function(task)
  fails = {}
  for _, f in ipairs(load_fails) do table.insert(fails, 'load: ' .. f) end
  local in_subject = (task:get_header('Subject') or ''):lower():find('viagra') ~= nil
  check('cached re in callback', re_viagra:match(task:get_content()) == in_subject)
  if #fails > 0 then
    task:insert_result('LUA_MOD_FAIL', 1.0, fails)
    return false
  end
  return true, 'ok'
end
