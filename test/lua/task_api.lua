-- task_api.lua - the task API checked from Lua. Loaded as a rules file by
-- test/unit/scan/test_lua.c (RSPAMD_RULESDIR points here) and run on the
-- message of that test carrying "X-Lua-Test: api". Each failed check is an
-- option of LUA_API_FAIL; LUA_API_OK means every check passed.

local fails = {}

local function check(name, cond)
  if not cond then
    table.insert(fails, name)
  end
end

local function headers(task)
  check('get_header', task:get_header('Subject') == 'Buy viagra now')
  check('get_header case-insensitive', task:get_header('subject') == 'Buy viagra now')
  check('get_header case-sensitive', task:get_header('subject', true) == nil)
  check('get_header absent', task:get_header('X-Absent') == nil)
  check('get_header_raw', task:get_header_raw('X-Encoded') == '=?UTF-8?B?SGVsbG8=?=')
  check('get_header decoded', task:get_header('X-Encoded') == 'Hello')
  check('get_header_count', task:get_header_count('X-Multi') == 2)
  local full = task:get_header_full('X-Multi')
  check('get_header_full n', type(full) == 'table' and #full == 2)
  if type(full) == 'table' and #full == 2 then
    check('full name', full[1].name == 'X-Multi')
    check('full value', full[1].value == 'one' and full[2].value == 'two')
    check('full decoded', full[2].decoded == 'two')
    check('full raw', full[1].raw == 'X-Multi: one\n')
    check('full separator', full[1].separator == ' ' and not full[1].tab_separated)
    check('full tab', full[2].tab_separated == true)
    check('full order', type(full[1].order) == 'number' and full[2].order > full[1].order)
    check('full empty_separator', full[1].empty_separator == false)
  end
  check('get_subject', task:get_subject() == 'Buy viagra now')
  check('get_message_id', task:get_message_id() == 'abc123@example.net')
  check('get_date message', task:get_date({format = 'message'}) == 1796119200)
  check('get_date default', task:get_date() > 1700000000)
end

local function addresses(task)
  local f = task:get_from('mime')
  check('from mime', f and #f == 1 and f[1].addr == 'sender@example.net')
  if f and f[1] then
    check('from mime name', f[1].name == 'Cheap Meds')
    check('from mime user/domain', f[1].user == 'sender' and f[1].domain == 'example.net')
    check('from mime raw', f[1].raw == 'Cheap Meds <sender@example.net>')
    check('from mime flags', f[1].flags.valid == true)
  end
  local s = task:get_from('smtp')
  check('from smtp', s and s[1].addr == 'env@example.net' and s[1].raw == '<env@example.net>')
  check('from smtp braced', s and s[1].flags.braced == true)
  check('from any = smtp', task:get_from()[1].addr == 'env@example.net')
  local r = task:get_recipients('mime')
  check('rcpt mime', r and #r == 3 and r[1].addr == 'bob@example.org'
    and r[2].addr == 'carol@example.org' and r[3].addr == 'dave@example.com')
  local rs = task:get_recipients('smtp')
  check('rcpt smtp', rs and #rs == 2 and rs[2].domain == 'example.com')
  check('rcpt any', #task:get_recipients() == 2)
end

local function envelope(task)
  local ip = task:get_ip()
  check('ip valid', ip:is_valid())
  check('ip string', ip:to_string() == '192.168.1.10' and tostring(ip) == '192.168.1.10')
  check('ip version', ip:get_version() == 4)
  check('ip local', ip:is_local())
  check('from_ip', task:get_from_ip():to_string() == '192.168.1.10')
  check('helo', task:get_helo() == 'mx.example.net')
  check('hostname', task:get_hostname() == 'rdns.example.net')
  check('user nil', task:get_user() == nil)
  check('queue id', task:get_queue_id() == 'Q123')
  local rh = task:get_request_header('x-test-header')
  check('request header', rh and tostring(rh) == 'hv')
  check('request header absent', task:get_request_header('nope') == nil)
end

local function content(task)
  local c = task:get_content()
  check('content type', type(c) == 'userdata')
  check('content len', #c == task:get_size() and #c > 100)
  check('content tostring', tostring(c):sub(1, 12) == 'Return-Path:')
  check('content sub', tostring(c:sub(1, 6)) == 'Return')
  check('content find', c:find('viagra') ~= nil and c:find('zzzz') == nil)
  local tp = task:get_text_parts()
  check('text parts', #tp == 2)
  if #tp == 2 then
    local plain, html = tp[1], tp[2]
    check('is_html', not plain:is_html() and html:is_html())
    check('is_empty', not plain:is_empty())
    check('part content', tostring(plain:get_content()):find('Cheap pills', 1, true) ~= nil)
    check('part length', plain:get_length() == #plain:get_content())
    check('part oneline', not tostring(plain:get_content('content_oneline')):find('\n'))
    check('html stripped', not tostring(html:get_content()):find('<a', 1, true))
    check('html raw', tostring(html:get_content('raw')):find('<a', 1, true) ~= nil)
    check('lines', plain:get_lines_count() == 2)
    local words = plain:get_words()
    check('words', words[1] == 'cheap' and words[2] == 'pills')
    check('words count', plain:get_words_count() == #words)
    check('language', plain:get_language() == nil)
    local mp = plain:get_mimepart()
    local t, st = mp:get_type()
    check('mimepart type', t == 'text' and st == 'plain')
  end
  local parts = task:get_parts()
  check('parts', #parts == 3)
  check('parts multipart', parts[1]:is_multipart())
  check('parts attachment', not parts[2]:is_attachment())
end

local function urls(task)
  local u = task:get_urls()
  local by_host = {}
  for _, x in ipairs(u) do
    by_host[x:get_host()] = x
  end
  local b = by_host['bit.ly']
  check('url bit.ly', b and b:get_text() == 'http://bit.ly/xyz' and tostring(b) == 'http://bit.ly/xyz')
  check('url bit.ly tld', b and b:get_tld() == 'bit.ly')
  local s = by_host['www.shop.example.co.uk']
  check('url co.uk', s ~= nil)
  if s then
    check('url tld co.uk', s:get_tld() == 'example.co.uk')
    check('url scheme', s:get_scheme() == 'https')
    check('url path', s:get_path() == 'buy/now')
    check('url query', s:get_query() == 'x=1')
    check('url not phished', not s:is_phished())
  end
  local p = by_host['paypal.com.example.biz']
  check('url phished', p and p:is_phished())
  local emails = task:get_emails()
  check('emails', #emails >= 1 and emails[1]:get_host() == 'example.biz'
    and emails[1]:get_user() == 'contact')
end

local function results(task)
  task:insert_result('LUA_API_INSERTED', 0.5, 'opt1', 'opt2')
  check('has_symbol', task:has_symbol('LUA_API_INSERTED'))
  local sym = task:get_symbol('LUA_API_INSERTED')
  check('get_symbol', sym and sym[1].score == 1.0 and sym[1].options[2] == 'opt2')
  check('get_symbol group', sym and sym[1].group == 'api' and sym[1].groups[1] == 'api')
  check('get_symbol absent', task:get_symbol('NOPE') == nil)
  local names, scores = task:get_symbols()
  local found = false
  for i, n in ipairs(names) do
    if n == 'LUA_API_INSERTED' and scores[i] == 1.0 then found = true end
  end
  check('get_symbols', found)
  local ms = task:get_metric_score()
  check('metric score', type(ms[1]) == 'number' and ms[2] == 15)
  check('metric action', type(task:get_metric_action()) == 'string')
end

rspamd_config:set_metric_symbol({name = 'LUA_API_INSERTED', score = 2.0, group = 'api'})

rspamd_config.LUA_API_TESTS = {
  callback = function(task)
    if task:get_header('X-Lua-Test') ~= 'api' then
      return false
    end
    fails = {}
    headers(task)
    addresses(task)
    envelope(task)
    content(task)
    urls(task)
    results(task)
    if #fails > 0 then
      task:insert_result('LUA_API_FAIL', 1.0, fails)
      return false
    end
    task:insert_result('LUA_API_OK', 1.0)
    return false
  end,
  score = 0.0,
  description = 'task API tests',
}
