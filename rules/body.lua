--[[
body.lua - phrases of the body (SpamAssassin-style body: Subject and
decoded text parts, HTML stripped, line breaks as spaces), as regexp
rules so they are all matched in one Hyperscan pass.
]]

local reconf = config['regexp']

local function body(name, re, score, desc)
  reconf[name] = {
    re = '/' .. re .. '/i{sa_body}',
    score = score,
    description = desc,
    group = 'body',
  }
end

body('CLICK_HERE', [[\bclick\s+(?:here|below|the\s+link)\b]], 1.0,
  'Body says click here')
body('REMOVE_ME', [[\bremove\s+me\b|\bto\s+be\s+removed\b|\bremoved?\s+from\s+(?:our|this|the)\s+(?:mailing\s+)?list|with\s+["']?remove["']?\s+in\s+the\s+subject|reply\s+with\s+["']?remove]], 2.0,
  'Body explains how to be removed from the list')
body('NOT_SPAM_CLAIM', [[\bthis\s+(?:is\s+not|isn'?t)\s+(?:a\s+)?spam|\bnot\s+(?:an?\s+)?unsolicited|\bbill\s+s\.?\s*1618|\bsection\s+301\b]], 3.0,
  'Body claims not to be spam')
body('MILLION_DOLLARS', [[\b(?:million|billion)\s+(?:us\s+)?dollars|\$\s?\d{1,3}(?:,\d{3}){2,}|\bus\$\s?\d+(?:\.\d+)?\s*m(?:illion)?\b]], 2.0,
  'Body talks about millions of dollars')
body('WIRE_TRANSFER', [[\bwire\s+transfer|\bbank\s+account\s+(?:number|details)|\bwestern\s+union\b|\bmoney\s+gram\b]], 1.5,
  'Body asks about a wire transfer or bank account')
body('ADVANCE_FEE', [[\bnext\s+of\s+kin\b|\bbeneficiary\b|\bstrictly\s+confidential|\bforeign\s+partner|\btransfer\s+(?:of\s+)?the\s+(?:sum|fund)|\blate\s+(?:husband|father)|\bdeposited\b.{0,40}\bsecurity\s+company]], 3.0,
  'Body follows the advance-fee fraud script')
body('DEAR_FRIEND', [[^\s*(?:\S+\s+){0,12}dear\s+(?:friend|sir|madam|beloved|valued\s+(?:customer|member))|\bdear\s+(?:e-?mail\s+user|homeowner|investor|business\s+owner)]], 1.5,
  'Body greets an unnamed friend')
body('ORDER_NOW', [[\border\s+(?:now|today)|\bbuy\s+now\b|\bsign\s+up\s+(?:now|today)|\bapply\s+(?:now|online\s+now)]], 1.5,
  'Body says order now')
body('NO_OBLIGATION', [[\bno\s+obligation|\bwithout\s+obligation|\bno\s+strings\s+attached|\bno\s+cost\s+(?:or|and)\s+no\s+obligation]], 2.0,
  'Body says no obligation')
body('RISK_FREE', [[\brisk[\s-]+free\b|\bno\s+risk\b|\bmoney[\s-]+back\s+guarantee|\bsatisfaction\s+guaranteed]], 1.5,
  'Body says risk free or money back')
body('FREE_100', [[\b100\s*%\s*free\b|\babsolutely\s+free\b|\bfree\s+(?:gift|trial|access|membership|info|quote|consultation)]], 1.5,
  'Body offers something free')
body('CREDIT_CARD', [[\bcredit\s+card|\bvisa\b.{0,30}\bmaster\s*card|\bno\s+credit\s+check|\bbad\s+credit|\bcredit\s+(?:rating|report|repair)]], 1.0,
  'Body mentions credit cards or credit repair')
body('WORK_FROM_HOME', [[\bwork(?:ing)?\s+(?:from|at)\s+home|\bhome[\s-]+based\s+business|\bbe\s+your\s+own\s+boss|\bextra\s+income|\bmake\s+money|\bearn\s+\$|\bfinancial\s+freedom]], 2.0,
  'Body offers money for work from home')
body('MEET_SINGLES', [[\bmeet\s+(?:hot\s+|local\s+)?singles|\blonely\s+(?:wives|housewives|women)|\bdating\s+service|\bhot\s+(?:girls|babes)|\bxxx\b|\bporn]], 2.5,
  'Body offers dates or sex')
body('PHARMA_WORDS', [[\bv[i1!|]agra\b|\bcialis\b|\bphentermine\b|\bxanax\b|\bvalium\b|\bsoma\b|\bonline\s+pharmacy|\bno\s+prescription|\bprescription\s+(?:drugs|medication)]], 3.0,
  'Body offers medicines')
body('MORTGAGE_WORDS', [[\brefinanc(?:e|ing)\b|\bmortgage\s+rates?\b|\bhome\s+equity\b|\bdebt\s+consolidation|\bconsolidate\s+(?:your\s+)?debt|\blenders?\s+compete]], 2.0,
  'Body is about mortgages or debt')
body('WEIGHT_LOSS', [[\blose\s+(?:up\s+to\s+)?\d+\s+(?:pounds|lbs)|\bweight\s+loss\b|\bburn\s+fat|\bdiet\s+pills?]], 2.0,
  'Body offers weight loss')
body('MLM_WORDS', [[\bmulti[\s-]?level\s+marketing|\bnetwork\s+marketing|\bdownline\b|\bpyramid\b|\bchain\s+letter|\breport\s+#\s?\d]], 2.5,
  'Body pitches multi-level marketing')
body('OPT_IN_CLAIM', [[\byou\s+(?:are\s+)?receiv(?:e|ing)\s+this\s+(?:e-?mail|message|mailing)\s+because|\bopt(?:ed)?[\s-]?in\s+(?:list|database|to\s+receive)|\byou\s+(?:have\s+)?(?:signed\s+up|subscribed|registered|agreed)\s+to\s+receive|\bthis\s+(?:e-?mail|message)\s+(?:is\s+)?sent\s+in\s+compliance]], 2.0,
  'Body says you opted in')
body('UNSUB_NOT_SPAM', [[\bunsubscribe\b.{0,200}\bnot\s+spam|\bnot\s+spam\b.{0,200}\bunsubscribe\b]], 2.0,
  'Body has an unsubscribe notice that insists it is not spam')
body('LIMITED_OFFER', [[\blimited\s+time\s+(?:offer|only)|\boffer\s+(?:expires|ends|valid)|\bact\s+(?:now|fast|today)|\bwhile\s+supplies\s+last|\bdon'?t\s+delay|\bhurry\b]], 1.5,
  'Body says the offer is for a limited time')
body('CALL_NOW', [[\bcall\s+(?:now|today|toll[\s-]free)|\btoll[\s-]free\b|\b1[\s-]?8(?:00|88|77|66)[\s-]?\d{3}[\s-]?\d{4}]], 1.0,
  'Body gives a toll-free number to call')
body('CASINO_WORDS', [[\bonline\s+casino|\bcasino\b.{0,40}\bbonus|\bplay\s+(?:blackjack|poker|slots)|\bjackpot\b|\blottery\b]], 2.0,
  'Body advertises gambling or lottery')
body('SPAM_GUARANTEE', [[\bguaranteed?\s+(?:to|results|income|approval)|\bwe\s+guarantee|\byou\s+will\s+(?:be\s+)?(?:amazed|receive\s+\$)]], 1.5,
  'Body guarantees results')
body('BODY_DOLLAR_SIGNS', [[\${3,}|(?:\$\d[\d,.]*\D{1,40}){4}]], 1.0,
  'Body is full of dollar amounts')
body('SECRET_OFFER', [[\bsecret(?:s)?\s+(?:of|to)\b|\bthey\s+don'?t\s+want\s+you\s+to\s+know|\bamazing\s+(?:new|offer|opportunity)|\bonce\s+in\s+a\s+lifetime|\bincredible\s+(?:offer|opportunity)]], 1.5,
  'Body sells a secret or an amazing opportunity')
body('STOCK_PICK', [[\bstock\s+(?:alert|pick|profile)|\binvestors?\s+(?:alert|relations)\b.{0,80}\bsymbol|\bshares?\s+(?:are\s+)?trading\b|\bOTC\s*BB\b|\bpink\s+sheets]], 2.0,
  'Body tips a stock')
body('CLAIM_PRIZE', [[\bclaim\s+(?:your|the)\s+(?:prize|reward|gift)|\byou\s+(?:have\s+)?(?:won|been\s+selected)\b|\bcongratulations\b.{0,60}\b(?:won|selected|winner)]], 2.0,
  'Body says you won a prize')
body('NO_COST_SAVE', [[\bsave\s+(?:up\s+to\s+)?\d+\s*%|\bat\s+no\s+cost|\bfor\s+free\b|\bwholesale\s+prices?|\bbelow\s+wholesale|\bbest\s+prices?\b]], 1.0,
  'Body promises savings')
body('EMAIL_MARKETING', [[\bbulk\s+e-?mail|\bmillions?\s+of\s+e-?mail\s+addresses|\be-?mail\s+marketing|\btargeted\s+e-?mail|\bfresh\s+e-?mail\s+list]], 3.0,
  'Body sells bulk e-mail')

body('OPT_OUT_FOOTER', [[\bno\s+longer\s+wish\s+to\s+receive|\bdo\s+not\s+wish\s+to\s+receive|\bto\s+opt[\s-]?out\b|\bopt[\s-]?out\s+(?:here|below|link|instructions)|\btaken?\s+off\s+(?:of\s+)?(?:our|this|the|all)\s+(?:mailing\s+)?lists?|\bunsubscribe\s+(?:here|below|now)\b]], 1.0,
  'Body has a bulk mailer opt-out footer')
body('ADDRESS_OBTAINED', [[\byour\s+(?:e-?mail\s+)?address\s+(?:was|has\s+been)\s+(?:obtained|collected|provided|added|submitted|selected)|\byou\s+were\s+(?:referred|recommended)\s+to\s+us|\bone[\s-]time\s+(?:mailing|e-?mail|offer)]], 1.5,
  'Body explains how your address was obtained')
body('INK_CARTRIDGES', [[\b(?:ink|toner)\s+cartridges?|\binkjet\s+(?:cartridges?|refills?)]], 1.5,
  'Body sells printer ink')
body('CABLE_DESCRAMBLER', [[\bcable\s+(?:tv\s+)?(?:descramblers?|filters?|boxes)|\bsatellite\s+(?:tv|dish)|\bpay[\s-]per[\s-]view|\bpremium\s+channels]], 2.0,
  'Body sells cable or satellite TV access')
body('OEM_SOFTWARE', [[\b(?:oem|discount(?:ed)?|cheap)\s+software|\bsoftware\s+(?:at|for)\s+(?:low|discount|wholesale)|\bnorton\s+(?:systemworks|antivirus)\b.{0,60}\$|\bmicrosoft\s+office\b.{0,60}\$\s?\d]], 2.0,
  'Body sells software at a discount')
body('ENHANCEMENT_PILLS', [[\b(?:penis|breast)\s+(?:enlarg|size)|\benlargement\s+(?:pills?|formula|patch)|\bhuman\s+growth\s+hormone|\bhgh\b|\bherbal\s+(?:v[i1]agra|alternative|supplements?)|\baphrodisiac|\banti[\s-]aging\b|\breverse\s+(?:the\s+)?aging]], 2.5,
  'Body sells enhancement or anti-aging products')
body('INSURANCE_QUOTE', [[\b(?:life|health|auto|term|medical|dental)\s+insurance\s+(?:quotes?|rates?|plans?)|\binsurance\s+quotes?\b|\blowest\s+(?:insurance\s+)?premiums?|\bcompare\s+(?:quotes|rates)\s+from]], 1.5,
  'Body offers insurance quotes')
body('DIPLOMA_OFFER', [[\b(?:college|university)\s+diplomas?|\bdegrees?\s+based\s+on\s+(?:your\s+)?(?:life|work)\s+experience|\bno\s+(?:required\s+)?(?:tests|exams|classes|books),|\bprestigious\s+(?:non-accredited\s+)?universit]], 2.5,
  'Body sells diplomas')
body('GRANT_MONEY', [[\bgovernment\s+grants?|\bfree\s+grant\s+money|\bgrants?\s+(?:that\s+)?(?:you\s+)?never\s+(?:have\s+to\s+)?(?:pay|repay)|\bfree\s+cash\s+grants?]], 2.0,
  'Body offers grant money')
body('SEO_TRAFFIC', [[\bincrease\s+(?:your\s+)?(?:web\s*site\s+)?(?:sales|traffic|profits?|hits)\b|\btop\s+(?:search\s+engine\s+)?(?:rankings?|placements?|positions?)\b|\bsearch\s+engines?\b.{0,40}\b(?:submission|submit|ranking|placement)]], 1.5,
  'Body sells web traffic or search engine placement')
body('B2B_MANUFACTURER', [[\bwe\s+are\s+(?:a|the|one\s+of\s+the)\s+(?:leading|professional|largest|biggest)\s+(?:\w+\s+){0,3}(?:manufacturers?|exporters?|suppliers?|factory|factories)]], 1.5,
  'Body introduces a manufacturer or exporter')
body('INVESTMENT_PITCH', [[\binvestment\s+opportunit|\bhigh\s+returns?\b|\breturns?\s+of\s+\d+\s*%|\bdouble\s+your\s+(?:money|investment)|\bprofits?\s+of\s+\$]], 1.5,
  'Body pitches an investment')
body('VACATION_PRIZE', [[\bfree\s+(?:vacation|cruise|trip|airline\s+tickets?)|\bvacation\s+(?:package|giveaway|certificate)|\ball[\s-]expenses?[\s-]paid|\bdiscount\s+travel]], 2.0,
  'Body offers a free or cheap vacation')
body('SPY_LOOKUP', [[\bfind\s+out\s+(?:anything|everything)\s+about|\bspy\s+(?:software|cams?|on\s+(?:your|anyone))|\binvestigate\s+anyone|\bbackground\s+checks?\s+on]], 2.0,
  'Body sells snooping tools')
body('ACCOUNT_VERIFY', [[\b(?:verify|confirm|update|validate)\s+your\s+(?:account|billing|password|credit\s+card|personal)\s*(?:information|details|data)?\b.{0,120}\b(?:suspend|terminat|clos|expir)]], 2.5,
  'Body asks to verify an account under a threat of closing it')
body('PRICE_PER_MONTH', [[\$\s?\d+(?:\.\d\d)?\s*(?:per|a|\/)\s*(?:month|mo\b)|\bas\s+low\s+as\s+\$|\bonly\s+\$\s?\d+(?:\.\d\d)?\b]], 1.0,
  'Body quotes a low price')
body('GET_PAID', [[\bget\s+paid\b|\bcash\s+(?:bonus|rewards?)\b|\bextra\s+cash\b|\bpaid\s+(?:to|for)\s+(?:read|surf|shop|take\s+surveys)|\bweekly\s+(?:paychecks?|income)]], 1.5,
  'Body says you get paid')
body('BODY_EXCLAIM_RUNS', [[!{3,}.{0,400}!{3,}]], 1.0,
  'Body has several runs of exclamation marks')
body('DEAR_EMAIL_ADDRESS', [[\b(?:dear|hello|hi)\s+[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}]], 2.0,
  'Body greets an e-mail address')

-- Shouting: a run of capitalised words (case-sensitive, so not body()).
reconf['BODY_SHOUTING'] = {
  re = [[/\b[A-Z]{3,}(?:[\s,.!]+[A-Z]{2,}){5,}[\s,.]*!/{sa_body}]],
  score = 1.0,
  description = 'Body shouts a sentence in capitals ending with !',
  group = 'body',
}

-- The ham of the same period discusses code and lists: a few phrases of
-- technical discussion lower the score a little.
body('TECH_DISCUSSION', [[\b(?:patch|compile[rd]?|kernel|rpm|cvs|perl|python|bugzilla|mailing\s+list\s+archive|spamassassin)\b]], -0.5,
  'Body talks about software')
