--[[
urls.lua - URL rules of the default rule set. IP-literal hosts,
obfuscated URLs and link text vs target mismatches are built-in checks
(HTTP_TO_IP, R_SUSPICIOUS_URL, PHISHING); these add shorteners, odd TLDs,
user-info tricks, numeric hosts and counts.
]]

local util = require 'rules_util'
local reconf = config['regexp']

local shorteners = util.set({
  'bit.ly', 'bitly.com', 'tinyurl.com', 'goo.gl', 'ow.ly', 't.co', 'is.gd',
  'buff.ly', 'tiny.cc', 'cutt.ly', 'rebrand.ly', 'shorturl.at', 'rb.gy',
  'v.gd', 'x.co', 'snipurl.com', 'snurl.com', 'shorl.com', 'makeashorterlink.com',
  'qrco.de', 'lnkd.in', 'soo.gd', 'clck.ru', 'u.to', 'urlz.fr', 'rlu.ru',
  'tr.im', 'adf.ly', 'bc.vc', 'shrtco.de', 'shorte.st', 'tiny.pl', 'yourls.org',
})

-- TLDs with much abuse and little mail of our users.
local bad_tlds = util.set({
  'biz', 'info', 'tk', 'ml', 'ga', 'cf', 'gq', 'top', 'xyz', 'club',
  'work', 'click', 'link', 'loan', 'win', 'bid', 'date', 'racing',
  'review', 'stream', 'trade', 'party', 'science', 'cn', 'ru', 'ws',
  'cc', 'nu', 'to', 'st', 'kr',
})

local function urls(task)
  return task:get_urls() or {}
end

local function host_of(u)
  local h = u:get_host()
  return h and h:lower() or nil
end

rspamd_config.URL_SHORTENER = {
  callback = function(task)
    for _, u in ipairs(urls(task)) do
      local h = host_of(u)
      if h and shorteners[(h:gsub('^www%.', ''))] then return true, h end
    end
    return false
  end,
  score = 1.5,
  description = 'Message links through a URL shortener',
  group = 'url',
}

rspamd_config.URL_SUSPICIOUS_TLD = {
  callback = function(task)
    for _, u in ipairs(urls(task)) do
      local h = host_of(u)
      local tld = h and h:match('%.([%a]+)%.?$')
      if tld and bad_tlds[tld] then return true, h end
    end
    return false
  end,
  score = 1.0,
  description = 'Message links to a host under a much-abused TLD',
  group = 'url',
}

rspamd_config.URL_MANY = {
  callback = function(task)
    local hosts, n = {}, 0
    for _, u in ipairs(urls(task)) do
      n = n + 1
      local h = host_of(u)
      if h then hosts[h] = true end
    end
    if n >= 15 then return true, tostring(n) end
    return false
  end,
  score = 0.5,
  description = 'Message has 15 or more URLs',
  group = 'url',
}

-- Many different registered domains in one mail: link farms, spam
-- cannons rotating their hosts.
rspamd_config.URL_MANY_DOMAINS = {
  callback = function(task)
    local doms, n = {}, 0
    for _, u in ipairs(urls(task)) do
      local d = util.reg_domain(host_of(u))
      if d and not doms[d] then doms[d] = true; n = n + 1 end
    end
    if n >= 8 then return true, tostring(n) end
    return false
  end,
  score = 0.5,
  description = 'Message links to 8 or more different domains',
  group = 'url',
}

-- Host written as one decimal number, hex or octal parts: a way to hide
-- an IP address from readers and naive filters.
reconf['URL_NUMERIC_HOST'] = {
  re = [[/^[a-z]+:\/\/(?:[^\/@]*@)?(?:\d{8,10}|0x[0-9a-f]{2,8}|(?:0x[0-9a-f]{1,2}\.|0\d{1,3}\.)(?:[0-9a-fx]+\.){0,2}[0-9a-fx]+)(?:[:\/?#]|$)/i{url}]],
  score = 3.0,
  description = 'URL host is a number in decimal, hex or octal form',
  group = 'url',
}

reconf['URL_WITH_USERINFO'] = {
  re = [[/^[a-z]+:\/\/[^\/?#]*@/i{url}]],
  score = 3.0,
  description = 'URL has a user part before @ to disguise the real host',
  group = 'url',
}

reconf['URL_ODD_PORT'] = {
  re = [[/^https?:\/\/[^\/?#]+:(?!80\b|443\b)\d+/i{url}]],
  score = 1.0,
  description = 'URL on a non-standard web port',
  group = 'url',
}

reconf['URL_REDIRECTOR'] = {
  re = [[/[?&](?:url|u|redirect|goto|target|link|dest)=(?:https?(?::|%3a)|www)/i{url}]],
  score = 1.0,
  description = 'URL passes through a redirector',
  group = 'url',
}

reconf['URL_REMOVE_LINK'] = {
  re = [[/(?:remove|unsub|optout|opt-out)[^\/]*\.(?:html?|php|asp|cgi)|mailto:[^?]*\?subject=(?:remove|unsubscribe)/i{url} | /mailto:[^\s"'>]*\?subject=\s*remove/i{raw_mime}]],
  score = 1.5,
  description = 'Message links to a remove or opt-out page',
  group = 'url',
}

reconf['URL_FREE_HOSTING'] = {
  re = [[/^[a-z]+:\/\/(?:[^\/]*\.)?(?:geocities\.com|tripod\.com|angelfire\.com|freeservers\.com|hypermart\.net|netfirms\.com|fortunecity\.com|xoom\.com|50megs\.com|brinkster\.net|aol\.com\/[^\/]*members|home\.attbi\.com)/i{url}]],
  score = 1.5,
  description = 'URL on a free web hosting service',
  group = 'url',
}

reconf['URL_CGI_TRACKING'] = {
  re = [[/\/(?:cgi-bin|click|track|redir)[^?]*\?[^\s]*(?:id|uid|cid|email)=/i{url}]],
  score = 0.5,
  description = 'URL carries a per-recipient tracking id',
  group = 'url',
}

reconf['URL_HEX_ENCODED_PATH'] = {
  re = [[/^[a-z]+:\/\/[^\/]*(?:%[0-9a-f]{2}){3}|\/(?:[^\/?]*%[0-9a-f]{2}){6}/i{url}]],
  score = 1.0,
  description = 'URL host or path hex-encoded to hide words',
  group = 'url',
}
