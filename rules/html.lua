--[[
html.lua - HTML rules of the default rule set. Invisible text and empty
image mails are built-in checks (HTML_INVISIBLE_TEXT, R_EMPTY_IMAGE);
these look at the markup itself: the {raw_mime} regexps see each text
part transfer-decoded with its tags, the Lua rules compare markup and
visible text.
]]

local util = require 'rules_util'
local reconf = config['regexp']

local function html(name, re, score, desc)
  reconf[name] = {
    re = [[has_content_part('text/html') & /]] .. re .. '/i{raw_mime}',
    score = score,
    description = desc,
    group = 'html',
  }
end

html('HTML_TINY_FONT', [[<font[^>]+size\s*=\s*["']?(?:1|-[2-9])\b|font-size\s*:\s*(?:[0-5](?:\.\d+)?px|[0-4](?:\.\d+)?pt|x*-small)]], 1.5,
  'HTML uses a tiny font')
html('HTML_FONT_WHITE', [[<font[^>]+color\s*=\s*["']?(?:#?f{6}|#?fff\b|white)|[^-]color\s*:\s*(?:#f{6}|#fff\b|white)]], 1.0,
  'HTML writes in white')
html('HTML_LARGE_FONT', [[<font[^>]+size\s*=\s*["']?(?:\+[3-9]|[6-7])\b|font-size\s*:\s*(?:[3-9]\d|\d{3,})(?:px|pt)]], 0.5,
  'HTML uses a very large font')
html('HTML_FORM', [[<form\b|<input\b]], 2.0, 'HTML contains a form')
html('HTML_JAVASCRIPT', [[<script\b|\bjavascript\s*:|\bon(?:load|mouseover|click|unload)\s*=]], 1.0,
  'HTML contains script')
html('HTML_IFRAME', [[<i?frame\b|<object\b|<embed\b|<applet\b]], 1.5,
  'HTML contains frames or embedded objects')
html('HTML_COMMENT_OBFUSCATION', [=[[a-z]<!--[^>]{0,40}-->[a-z]]=], 3.0,
  'HTML breaks words with comments')
html('HTML_ENTITY_OBFUSCATION', [[(?:&#(?:x[46][1-9a-f]|x[57][0-9a]|6[5-9]|[7-9]\d|1[01]\d|12[0-2]);[a-z]?){3}]], 2.0,
  'HTML writes plain letters as numeric entities')
html('HTML_BGCOLOR_DARK', [[<body[^>]+bgcolor\s*=\s*["']?#?(?:000000|black)\b]], 0.5,
  'HTML body on a black background')
html('HTML_CENTER_HEAVY', [[(?:<center>.*){3}|(?:<div[^>]+align\s*=\s*["']?center.*){3}]], 0.3,
  'HTML centers many blocks, as ads do')
html('HTML_HIDDEN_STYLE', [[display\s*:\s*none|visibility\s*:\s*hidden]], 1.0,
  'HTML hides elements with CSS')
html('HTML_IMG_REMOTE_TRACKER', [=[<img[^>]+(?:width|height)\s*=\s*["']?[01]["'\s>]]=], 1.0,
  'HTML loads a one-pixel image (web bug)')
html('HTML_TABLE_LAYOUT', [[(?:<table\b.*){3}]], 0.3,
  'HTML built of several tables')

-- Raw text of the HTML parts, and their visible text length.
local function html_parts(task)
  local out = {}
  for _, tp in ipairs(task:get_text_parts() or {}) do
    if tp:is_html() then
      out[#out + 1] = { raw = tostring(tp:get_content('raw_parsed')),
        len = tp:get_length() }
    end
  end
  return out
end

rspamd_config.HTML_MANY_IMAGES = {
  callback = function(task)
    for _, p in ipairs(html_parts(task)) do
      local imgs = util.count(p.raw:lower(), '<img[%s>]')
      if imgs >= 3 and p.len < imgs * 100 then
        return true, string.format('%d images, %d chars', imgs, p.len)
      end
    end
    return false
  end,
  score = 2.0,
  description = 'HTML has many images and little text',
  group = 'html',
}

-- A link whose visible text is empty or only spaces: the reader cannot
-- see it, but an image-less link like this still takes clicks and bots.
rspamd_config.HTML_HIDDEN_LINK = {
  callback = function(task)
    for _, p in ipairs(html_parts(task)) do
      local raw = p.raw:lower()
      for inner in raw:gmatch('<a%s[^>]*href[^>]*>(.-)</a>') do
        if not inner:find('<img') and not inner:gsub('<[^>]*>', ''):gsub('&nbsp;', ''):find('%S') then
          return true
        end
      end
    end
    return false
  end,
  score = 1.0,
  description = 'HTML has a link without visible text',
  group = 'html',
}

rspamd_config.HTML_MOSTLY_MARKUP = {
  callback = function(task)
    for _, p in ipairs(html_parts(task)) do
      if #p.raw > 2000 and p.len * 10 < #p.raw then
        return true, string.format('%d/%d', p.len, #p.raw)
      end
    end
    return false
  end,
  score = 0.5,
  description = 'HTML is over 90% markup',
  group = 'html',
}

rspamd_config.HTML_UNBALANCED = {
  callback = function(task)
    for _, p in ipairs(html_parts(task)) do
      local raw = p.raw:lower()
      local opens = util.count(raw, '<table[%s>]')
      local closes = util.count(raw, '</table>')
      if opens ~= closes then return true end
      if raw:find('<html') and not raw:find('</html>') then return true end
    end
    return false
  end,
  score = 0.5,
  description = 'HTML tags are not balanced',
  group = 'html',
}
