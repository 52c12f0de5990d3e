--[[
rules_util.lua - small helpers shared by the default rule set in rules/.

Kept out of rules/ because every file there is run as a rule file; this
one is loaded once through require 'rules_util'.
]]

local M = {}

local months = {
  jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
  jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12,
}

local zones = {
  ut = 0, utc = 0, gmt = 0, z = 0,
  est = -500, edt = -400, cst = -600, cdt = -500,
  mst = -700, mdt = -600, pst = -800, pdt = -700,
}

-- Days from 1970-01-01 to the given civil date (proleptic Gregorian).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- Parses "[Day,] D Mon YYYY HH:MM[:SS] [zone]" anywhere in s; returns
-- unix time or nil. Used for the date after ';' in Received headers.
function M.parse_date(s)
  if not s then return nil end
  local d, mon, y, hh, mm, rest = s:match(
    '(%d%d?)%s+(%a%a%a)%a*%s+(%d%d%d?%d?)%s+(%d%d?):(%d%d)(.*)$')
  if not d then return nil end
  local m = months[mon:lower()]
  if not m then return nil end
  y = tonumber(y)
  if y < 50 then y = y + 2000 elseif y < 1000 then y = y + 1900 end
  local ss = rest:match('^:(%d%d)') or '0'
  local zone = rest:match('^:?%d*%s*([%+%-]%d%d%d%d)')
  local off = 0
  if zone then
    off = tonumber(zone)
  else
    local zn = rest:match('^:?%d*%s*(%a+)')
    if zn then off = zones[zn:lower()] or 0 end
  end
  local sign = off < 0 and -1 or 1
  off = math.abs(off)
  local off_s = sign * (math.floor(off / 100) * 3600 + (off % 100) * 60)
  local t = days_from_civil(y, m, tonumber(d)) * 86400 +
    tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
  return t - off_s
end

-- Time the message reached the last hop that recorded a date: the date
-- of the topmost Received header, or nil.
function M.received_time(task)
  local rcvd = task:get_header_full('Received')
  if not rcvd then return nil end
  for _, h in ipairs(rcvd) do
    local v = h.decoded or h.value
    local pos = v and v:find(';[^;]*$')
    if pos then
      local t = M.parse_date(v:sub(pos + 1))
      if t then return t end
    end
  end
  return nil
end

-- The domain of an address table from get_from/get_recipients, lowered.
function M.addr_domain(a)
  if not a then return nil end
  local d = a.domain
  if (not d or d == '') and a.addr then d = a.addr:match('@([^@]+)$') end
  if not d or d == '' then return nil end
  return d:lower()
end

function M.set(list)
  local t = {}
  for _, v in ipairs(list) do t[v] = true end
  return t
end

-- Web mail providers where anyone can open an account.
M.freemail = M.set({
  'hotmail.com', 'msn.com', 'yahoo.com', 'yahoo.co.uk', 'yahoo.fr',
  'aol.com', 'netscape.net', 'excite.com', 'lycos.com', 'mail.com',
  'email.com', 'usa.net', 'juno.com', 'netzero.net', 'gmail.com',
  'hotmail.co.uk', 'hotmail.fr', 'mail.ru', 'yandex.ru', 'rediffmail.com',
  'caramail.com', 'altavista.com', 'latinmail.com', 'eudoramail.com',
  'outlook.com', 'live.com', 'gmx.net', 'gmx.de', 'web.de', 'mail.ru',
  'sina.com', '163.com', '126.com', 'zwallet.com', 'myway.com',
  'fastmail.fm', 'hushmail.com', 'lycos.co.uk', 'btinternet.com',
  'earthlink.net', 'compuserve.com', 'prodigy.net',
})

-- Registered domain: the last two labels, three under common ccSLDs.
function M.reg_domain(host)
  if not host then return nil end
  host = host:lower():gsub('%.$', '')
  local a, b, c = host:match('([^%.]+)%.([^%.]+)%.([^%.]+)$')
  if a and (b == 'co' or b == 'com' or b == 'ac' or b == 'org' or
      b == 'net' or b == 'gov') and #c == 2 then
    return a .. '.' .. b .. '.' .. c
  end
  local x, y = host:match('([^%.]+)%.([^%.]+)$')
  if x then return x .. '.' .. y end
  return host
end

-- Number of non-overlapping matches of a Lua pattern in s.
function M.count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end

return M
