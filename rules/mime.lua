--[[
mime.lua - MIME structure rules of the default rule set: dangerous
attachments, text and HTML alternatives that differ, base64 text, mails
without text, odd charsets. Broken boundaries, bad base64/QP and missing
charsets are built-in checks (MIME_UNTERMINATED, MIME_*_BROKEN, ...).
]]

local reconf = config['regexp']

local bad_ext = {
  exe = true, scr = true, pif = true, bat = true, vbs = true, js = true,
  com = true, cmd = true, lnk = true, vbe = true, jse = true, wsf = true,
  wsh = true, hta = true, cpl = true, msi = true, reg = true, jar = true,
  shs = true, ps1 = true,
}

local doc_ext = {
  pdf = true, doc = true, docx = true, xls = true, txt = true, jpg = true,
  jpeg = true, gif = true, png = true, zip = true, htm = true, html = true,
  mp3 = true, mpg = true, avi = true, rtf = true,
}

local function filenames(task)
  local out = {}
  for _, p in ipairs(task:get_parts() or {}) do
    local fn = p:get_filename()
    if fn and fn ~= '' then out[#out + 1] = fn:lower() end
  end
  return out
end

rspamd_config.MIME_BAD_EXTENSION = {
  callback = function(task)
    for _, fn in ipairs(filenames(task)) do
      local ext = fn:match('%.([%w]+)%s*$')
      if ext and bad_ext[ext] then return true, fn end
    end
    return false
  end,
  score = 4.0,
  description = 'Attachment of a type that runs code (.exe, .scr, .pif, .bat, .vbs, .js, ...)',
  group = 'mime',
}

rspamd_config.MIME_DOUBLE_BAD_EXTENSION = {
  callback = function(task)
    for _, fn in ipairs(filenames(task)) do
      local e1, e2 = fn:match('%.([%w]+)%s*%.([%w]+)%s*$')
      if e1 and doc_ext[e1] and bad_ext[e2] then return true, fn end
      if fn:find('%s%s%s%s+%.%w+$') then return true, fn end
    end
    return false
  end,
  score = 6.0,
  description = 'Attachment name hides a program behind a document extension',
  group = 'mime',
}

-- A text/plain and an HTML alternative whose visible texts differ a lot
-- in size: one of them says something the other does not.
rspamd_config.R_PARTS_DIFFER = {
  callback = function(task)
    local plain, html
    for _, tp in ipairs(task:get_text_parts() or {}) do
      if tp:is_html() then html = html or tp else plain = plain or tp end
    end
    if not plain or not html then return false end
    local a, b = plain:get_words_count(), html:get_words_count()
    if a + b < 20 then return false end
    local ratio = math.min(a, b) / math.max(a, b, 1)
    if ratio < 0.5 then
      return true, string.format('%d/%d words', a, b)
    end
    return false
  end,
  score = 1.0,
  description = 'Text and HTML alternatives differ in length by more than half',
  group = 'mime',
}

rspamd_config.MIME_BASE64_TEXT = {
  callback = function(task)
    for _, tp in ipairs(task:get_text_parts() or {}) do
      local mp = tp:get_mimepart()
      local cte = mp and mp:get_header('Content-Transfer-Encoding')
      if cte and cte:lower():find('base64') and not tp:is_html() then
        return true
      end
    end
    return false
  end,
  score = 1.0,
  description = 'Plain text part is base64 encoded',
  group = 'mime',
}

-- Base64 HTML in an ASCII charset: nothing in it needed encoding, it is
-- only hidden from simple filters.
rspamd_config.MIME_BASE64_HTML = {
  callback = function(task)
    for _, tp in ipairs(task:get_text_parts() or {}) do
      local mp = tp:get_mimepart()
      local cte = mp and mp:get_header('Content-Transfer-Encoding')
      if cte and cte:lower():find('base64') and tp:is_html() then
        return true
      end
    end
    return false
  end,
  score = 1.5,
  description = 'HTML part is base64 encoded',
  group = 'mime',
}

rspamd_config.MIME_NO_TEXT = {
  callback = function(task)
    local parts = task:get_parts() or {}
    if #parts == 0 then return false end
    for _, tp in ipairs(task:get_text_parts() or {}) do
      if not tp:is_empty() then return false end
    end
    return true
  end,
  score = 1.5,
  description = 'Message has no text to read',
  group = 'mime',
}

rspamd_config.MIME_MA_MISSING_TEXT = {
  callback = function(task)
    local ct = task:get_header('Content-Type')
    if not ct or not ct:lower():find('multipart/alternative') then return false end
    for _, tp in ipairs(task:get_text_parts() or {}) do
      if not tp:is_html() then return false end
    end
    return true
  end,
  score = 2.0,
  description = 'multipart/alternative without a text/plain part',
  group = 'mime',
}

rspamd_config.MIME_EXE_ATTACH_SMALL_MSG = {
  callback = function(task)
    local words = 0
    for _, tp in ipairs(task:get_text_parts() or {}) do
      words = words + tp:get_words_count()
    end
    if words > 50 then return false end
    for _, p in ipairs(task:get_parts() or {}) do
      local t, s = p:get_type()
      if p:is_attachment() and t == 'application' and
          (s == 'octet-stream' or s == 'x-msdownload' or s == 'zip') then
        return true
      end
    end
    return false
  end,
  score = 1.5,
  description = 'Short message with a binary attachment',
  group = 'mime',
}

-- Charsets of scripts the corpus users do not read: their text is
-- rarely wanted mail for them (Rspamd names it for far-away charsets).
local faraway = [[(?:ks_c_5601|euc-kr|big5|gb2312|gbk|gb18030|euc-cn|iso-2022-kr|koi8-r|windows-1251|iso-8859-5|windows-874|tis-620|iso-2022-jp|shift_jis|euc-jp|windows-1256|iso-8859-6)]]

reconf['MIME_CHARSET_FARAWAY'] = {
  re = [[Content-Type=/charset\s*=\s*["']?]] .. faraway .. [[/i{mime_header} | Content-Type=/charset\s*=\s*["']?]] .. faraway .. [[/i{header}]],
  score = 1.5,
  description = 'Text in an East Asian or Cyrillic charset',
  group = 'mime',
}

reconf['SUBJ_CHARSET_FARAWAY'] = {
  re = [[Subject=/=\?]] .. faraway .. [[\?/i{raw_header} | From=/=\?]] .. faraway .. [[\?/i{raw_header}]],
  score = 1.5,
  description = 'Subject or From encoded in an East Asian or Cyrillic charset',
  group = 'mime',
}

reconf['MIME_8BIT_HEADER'] = {
  re = [[Subject=/[\x80-\xff]/r{raw_header} | From=/[\x80-\xff]/r{raw_header}]],
  score = 1.0,
  description = 'Unencoded 8-bit bytes in Subject or From',
  group = 'mime',
}

reconf['CTE_CASE'] = {
  re = [[Content-Transfer-Encoding=/^\s*(?:Base64|BASE64|Quoted-Printable|QUOTED-PRINTABLE|7BIT|8BIT)/{raw_header} | Content-Transfer-Encoding=/^\s*(?:Base64|BASE64|Quoted-Printable|QUOTED-PRINTABLE|7BIT|8BIT)/{mime_header}]],
  score = 0.5,
  description = 'Content-Transfer-Encoding in an unusual letter case',
  group = 'mime',
}

reconf['MIME_BOUNDARY_LONG_RANDOM'] = {
  re = [[Content-Type=/boundary\s*=\s*"?[a-z0-9]{30,}"?/{raw_header}]],
  score = 0.5,
  description = 'Multipart boundary is a long random token from a bulk tool',
  group = 'mime',
}

reconf['MIME_TEXT_ENRICHED'] = {
  re = [[Content-Type=/text\/html/i{raw_header} & !header_exists('MIME-Version')]],
  score = 1.0,
  description = 'HTML mail without MIME-Version',
  group = 'mime',
}
