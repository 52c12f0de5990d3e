--[[
headers.lua - header sanity rules of the default rule set: dates,
Message-ID shape, forged mailer names, sender and recipient oddities.

Scores here are conservative defaults; the fitted weights in
conf/scores.d/ (test/corpus_tools/fit_scores.py) override them.
Built-in checks already cover missing headers (MISSING_*), so these
rules only look at headers that are present.
]]

local util = require 'rules_util'
local reconf = config['regexp']

local DAY = 86400

-- Reference time for date checks: when the last hop received the
-- message (top Received header), else the scan time. Comparing with the
-- receiving hop, not only with "now", keeps re-scanned old mail sane.
local function reference_time(task)
  return util.received_time(task) or task:get_date()
end

rspamd_config.INVALID_DATE = {
  callback = function(task)
    local d = task:get_header('Date')
    if not d then return false end
    return task:get_date({format = 'message'}) == 0
  end,
  score = 1.5,
  description = 'Date header cannot be parsed',
  group = 'headers',
}

rspamd_config.DATE_IN_FUTURE = {
  callback = function(task)
    local dt = task:get_date({format = 'message'})
    if not dt or dt == 0 then return false end
    local ref = reference_time(task)
    if dt - ref > 2 * 3600 then
      return true, string.format('%.1fh', (dt - ref) / 3600)
    end
    return false
  end,
  score = 4.0,
  description = 'Message date is more than 2 hours after it was received',
  group = 'headers',
}

rspamd_config.DATE_IN_PAST = {
  callback = function(task)
    local dt = task:get_date({format = 'message'})
    if not dt or dt == 0 then return false end
    local ref = reference_time(task)
    if ref - dt > 2 * DAY then
      return true, string.format('%.0fd', (ref - dt) / DAY)
    end
    return false
  end,
  score = 1.0,
  description = 'Message date is more than 2 days before it was received',
  group = 'headers',
}

-- Date header whose zone is missing or not numeric: real MUAs write
-- "+hhmm"; bulk tools often leave it out or write odd words.
reconf['DATE_NO_NUMERIC_TZ'] = {
  re = [[header_exists('Date') & !Date=/[+-]\d{4}\s*(\(.*\))?\s*$/{raw_header}]],
  score = 0.5,
  description = 'Date header has no numeric time zone',
  group = 'headers',
}

rspamd_config.INVALID_MSGID = {
  callback = function(task)
    local mid = task:get_header_raw('Message-ID')
    if not mid then return false end
    return not mid:find('@', 1, true)
  end,
  score = 1.7,
  description = 'Message-ID has no @',
  group = 'headers',
}

rspamd_config.MID_MISSING_BRACKETS = {
  callback = function(task)
    local mid = task:get_header_raw('Message-ID')
    if not mid then return false end
    mid = mid:gsub('^%s+', ''):gsub('%s+$', '')
    return not mid:find('^<.*>$')
  end,
  score = 0.5,
  description = 'Message-ID is not enclosed in <>',
  group = 'headers',
}

rspamd_config.MID_RHS_NOT_FQDN = {
  callback = function(task)
    local mid = task:get_header_raw('Message-ID')
    if not mid then return false end
    local rhs = mid:match('@([^>%s]*)')
    if not rhs then return false end
    if rhs:find('^%[') then return false end
    return not rhs:find('%.')
  end,
  score = 0.5,
  description = 'Message-ID right side is not a dotted domain',
  group = 'headers',
}

-- Outlook and Outlook Express on Windows always add X-MimeOLE; the Mac
-- editions do not, so they are left out.
rspamd_config.FORGED_MUA_OUTLOOK = {
  callback = function(task)
    local xm = task:get_header('X-Mailer')
    if not xm or not xm:find('^%s*Microsoft Outlook') then return false end
    if xm:find('Macintosh') or xm:find('Mac OS') then return false end
    if xm:find('IMO') or xm:find('Build 1[01]') then return false end
    return task:get_header('X-MimeOLE') == nil
  end,
  score = 3.0,
  description = 'X-Mailer claims Outlook but X-MimeOLE, which Outlook always adds, is missing',
  group = 'headers',
}

-- Outlook Express builds its Message-ID as <12 hex $ 8 hex $ 8 hex @host>.
rspamd_config.FORGED_OUTLOOK_MID = {
  callback = function(task)
    local xm = task:get_header('X-Mailer')
    if not xm or not xm:find('^%s*Microsoft Outlook Express %d') then
      return false
    end
    local mid = task:get_header_raw('Message-ID')
    if not mid then return false end
    return not mid:find('<%x+%$%x+%$%x+@')
  end,
  score = 2.0,
  description = 'X-Mailer claims Outlook Express, Message-ID is not in its format',
  group = 'headers',
}

reconf['MISSING_XM_UA'] = {
  re = [[!header_exists('X-Mailer') & !header_exists('User-Agent') & !header_exists('X-MimeOLE')]],
  score = 0.1,
  description = 'Message has neither X-Mailer nor User-Agent header',
  group = 'headers',
}

reconf['XM_BULK_MAILER'] = {
  re = [[X-Mailer=/(?:group\s*mail|mass\s*mail|bulk|e-?merge|send\s*safe|dmailer|worldmerge|aureate|mailking|massmail|floodgate|jiffy)/i{header}]],
  score = 3.0,
  description = 'X-Mailer names a bulk mailing tool',
  group = 'headers',
}

reconf['HAS_X_PRIO_ONE'] = {
  re = [[X-Priority=/^\s*1\b/{header} | X-MSMail-Priority=/^\s*High/i{header}]],
  score = 0.5,
  description = 'Message is marked highest priority',
  group = 'headers',
}

reconf['XM_CDO'] = {
  re = [[X-Mailer=/Microsoft CDO for Windows/i{header}]],
  score = 1.0,
  description = 'Sent through the CDO scripting interface, not a mail program',
  group = 'headers',
}

rspamd_config.REPLYTO_DOM_NEQ_FROM_DOM = {
  callback = function(task)
    local from = task:get_from('mime')
    local rt = task:get_header('Reply-To')
    if not from or not from[1] or not rt then return false end
    local rdom = rt:match('@([%w%.%-]+)')
    local fdom = util.addr_domain(from[1])
    if not rdom or not fdom then return false end
    rdom, fdom = util.reg_domain(rdom), util.reg_domain(fdom)
    return rdom ~= fdom
  end,
  score = 1.0,
  description = 'Reply-To goes to a different domain than From',
  group = 'headers',
}

rspamd_config.FREEMAIL_FROM = {
  callback = function(task)
    local from = task:get_from('mime')
    local d = from and util.addr_domain(from[1])
    return d ~= nil and util.freemail[d] == true
  end,
  score = 0.5,
  description = 'From address is at a free web mail provider',
  group = 'headers',
}

rspamd_config.FREEMAIL_REPLYTO = {
  callback = function(task)
    local rt = task:get_header('Reply-To')
    local d = rt and rt:match('@([%w%.%-]+)')
    return d ~= nil and util.freemail[d:lower()] == true
  end,
  score = 1.0,
  description = 'Reply-To address is at a free web mail provider',
  group = 'headers',
}

rspamd_config.FROM_NAME_HAS_OTHER_ADDR = {
  callback = function(task)
    local from = task:get_from('mime')
    local a = from and from[1]
    if not a or not a.name or not a.addr then return false end
    local inname = a.name:match('[%w%._%-]+@[%w%.%-]+')
    return inname ~= nil and inname:lower() ~= a.addr:lower()
  end,
  score = 2.0,
  description = 'From display name shows an address other than the sender',
  group = 'headers',
}

rspamd_config.FROM_LOCAL_DIGITS = {
  callback = function(task)
    local from = task:get_from('mime')
    local a = from and from[1]
    local user = a and (a.user or (a.addr and a.addr:match('^([^@]+)')))
    return user ~= nil and user:find('%a%d%d%d%d+$') ~= nil
  end,
  score = 1.0,
  description = 'From local part ends in a long run of digits',
  group = 'headers',
}

rspamd_config.TO_EQ_FROM = {
  callback = function(task)
    local from = task:get_from('mime')
    local rcpt = task:get_recipients('mime')
    if not from or not from[1] or not rcpt or #rcpt ~= 1 then return false end
    return (from[1].addr or ''):lower() == (rcpt[1].addr or 'x'):lower()
  end,
  score = 0.5,
  description = 'The only recipient is the sender',
  group = 'headers',
}

rspamd_config.RCPT_MANY = {
  callback = function(task)
    local rcpt = task:get_recipients('mime')
    if rcpt and #rcpt >= 10 then return true, tostring(#rcpt) end
    return false
  end,
  score = 1.5,
  description = 'Ten or more recipients in To and Cc',
  group = 'headers',
}

-- Many recipients of the same domain in sorted order: an address-list dump.
rspamd_config.RCPT_SORTED_LIST = {
  callback = function(task)
    local rcpt = task:get_recipients('mime')
    if not rcpt or #rcpt < 5 then return false end
    for i = 2, #rcpt do
      if (rcpt[i].addr or ''):lower() < (rcpt[i - 1].addr or ''):lower() then
        return false
      end
    end
    return true
  end,
  score = 2.0,
  description = 'Five or more recipients in alphabetical order',
  group = 'headers',
}

rspamd_config.TO_EMPTY = {
  callback = function(task)
    local to = task:get_header_raw('To')
    if not to then return false end
    return not to:find('%S')
  end,
  score = 1.0,
  description = 'To header is empty',
  group = 'headers',
}

reconf['TO_NO_ADDR_BRACKETS_UNDISC'] = {
  re = [[To=/^\s*(?:undisclosed|recipient list not shown|friend|you)\b/i{header}]],
  score = 1.0,
  description = 'To header names no real recipient',
  group = 'headers',
}

rspamd_config.FAKE_REPLY = {
  callback = function(task)
    local subj = task:get_subject()
    if not subj or not subj:find('^%s*[Rr][Ee]%s*:') then return false end
    return task:get_header('In-Reply-To') == nil and
      task:get_header('References') == nil
  end,
  score = 1.0,
  description = 'Subject starts with Re: but the message replies to nothing',
  group = 'headers',
}

reconf['HDR_RETURN_RECEIPT'] = {
  re = [[header_exists('Disposition-Notification-To') | header_exists('Return-Receipt-To')]],
  score = 0.3,
  description = 'Message asks for a read receipt',
  group = 'headers',
}

reconf['XAUTH_WARNING_HOST'] = {
  re = [[X-Authentication-Warning=/\bwas set by\b|Host .* claimed to be/i{header}]],
  score = 0.2,
  description = 'Sender host triggered an authentication warning',
  group = 'headers',
}

reconf['LIST_UNSUBSCRIBE'] = {
  re = [[header_exists('List-Unsubscribe') | header_exists('List-Id')]],
  score = 0.0,
  description = 'Mailing list headers present',
  group = 'headers',
}

reconf['HDR_X_LIBRARY'] = {
  re = [[X-Library=/./{header} | X-Mailer=/PHP|Perl|MIME::Lite|MIME-tools|Python/i{header}]],
  score = 0.5,
  description = 'Message composed by a script library',
  group = 'headers',
}
