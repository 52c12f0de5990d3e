--[[
subject.lua - Subject patterns of the default rule set. All caps and
needless encoding are built-in checks (SUBJ_ALL_CAPS, SUBJ_EXCESS_QP);
these are regexp rules, compiled into the header Hyperscan database.
]]

local reconf = config['regexp']

local function subj(name, re, score, desc)
  reconf[name] = {
    re = 'Subject=/' .. re .. '/i{header}',
    score = score,
    description = desc,
    group = 'subject',
  }
end

subj('SUBJ_EXCESS_EXCLAIM', [[!{2,}|!\s*\S*\s*!]], 1.0,
  'Subject has repeated exclamation marks')
subj('SUBJ_EXCESS_QUESTION', [[\?{2,}]], 0.5,
  'Subject has repeated question marks')
subj('SUBJ_DOLLARS', [[\$\$|\$\s?\d]], 1.5, 'Subject mentions dollars')
subj('SUBJ_FREE', [[\bfree\b]], 1.5, 'Subject says free')
subj('SUBJ_GUARANTEE', [[\bguarantee]], 1.5, 'Subject promises a guarantee')
subj('SUBJ_PHARMA', [[v[i1!|]agra|cialis|phentermine|xanax|valium|prescription|pharmacy|\bmeds\b]], 3.0,
  'Subject names medicines')
subj('SUBJ_MORTGAGE', [[mortgage|refinanc|home\s+loan|interest\s+rate]], 2.0,
  'Subject is about mortgages')
subj('SUBJ_LOWEST_RATE', [[lowest\s+(?:rate|price)|best\s+rate|low\s+rate]], 2.0,
  'Subject offers the lowest rate')
subj('SUBJ_ACT_NOW', [[\bact\s+now|\border\s+now|\bcall\s+now|\bdon'?t\s+(?:miss|delay)]], 2.0,
  'Subject urges to act now')
subj('SUBJ_LIMITED_TIME', [[limited\s+time|expires?\b|last\s+chance|final\s+notice]], 1.5,
  'Subject says limited time')
subj('SUBJ_PERCENT_OFF', [[\d+\s*%\s*(?:off|discount|save)|save\s+(?:up\s+to\s+)?\d+\s*%]], 2.0,
  'Subject offers a percentage off')
subj('SUBJ_ADV', [[^\s*\(?adv?\)?\s*[:\-]|\badv:]], 3.0,
  'Subject is marked as an advertisement')
subj('SUBJ_MONEY', [[\bcash\b|\bmoney\b|\bincome\b|\bearn\b|\bprofit|\bwealth|\bdebt\b|\bloan\b|\bcredit\b]], 1.0,
  'Subject is about money')
subj('SUBJ_YOU_WON', [[\byou(?:'ve|\s+have)?\s+(?:won|been\s+(?:selected|chosen|approved))|\bwinner\b|\bcongratulations]], 2.0,
  'Subject says you won or were selected')
subj('SUBJ_TRAILING_ID', [[\s[#\[(]?[a-z]{0,4}\d{4,}[\])]?\s*$|\s{6,}\S+\s*$]], 1.0,
  'Subject ends in a tracking number or padding')
subj('SUBJ_YOUR_SITE', [[\byour\s+(?:web\s*site|site|business|company)\b]], 1.0,
  'Subject addresses your web site or business')
subj('SUBJ_WEIGHT_LOSS', [[weight\s+loss|lose\s+weight|\bdiet\b|\bpounds\b]], 2.0,
  'Subject is about losing weight')
subj('SUBJ_SEX', [[\bsex|\bporn|\bxxx\b|\bteens?\b|\bnude|\bhorny|\badult\b]], 2.5,
  'Subject is about sex')
subj('SUBJ_ENHANCEMENT', [[enlarg|\bpenis\b|\bhgh\b|growth\s+hormone|herbal|anti[\s-]?aging|\blibido\b]], 2.0,
  'Subject sells enhancement or anti-aging products')
subj('SUBJ_INSURANCE', [[\binsurance\b|\bquotes?\s+(?:for|on)\b]], 1.0,
  'Subject is about insurance or quotes')
subj('SUBJ_HYPE', [[\bamazing\b|\bincredible\b|\bunbelievable\b|\bmiracle\b|\bsecrets?\b|\bbreakthrough\b|\brevolutionary\b]], 1.0,
  'Subject hypes an offer')
subj('SUBJ_INK', [[\b(?:ink|toner|inkjet)\b]], 1.5,
  'Subject sells printer ink')
subj('SUBJ_ACCOUNT_ALERT', [[\byour\s+(?:account|membership|password|order)\b.{0,30}\b(?:suspend|expir|verif|confirm|updat)|\baccount\s+(?:suspension|verification)]], 2.0,
  'Subject alerts about your account')
