"""End-to-end checks of the default rule set (rules/*.lua with the fitted
weights of conf/scores.d): it loads, a crafted spam hits several of its
rules and is flagged, a plain personal message stays at no action, and a
local.d weight still overrides a fitted one.

Run: /usr/bin/python3 -m pytest test/functional/test_rules.py
"""
import http.client
import json

import pytest

SPAM = b"""\
From: "Best Offers" <deals12345@hotmail.com>
Reply-To: claims@winner-prize.biz
To: undisclosed-recipients:;
Subject: ACT NOW!!! FREE $$$ guaranteed - lowest rate mortgage 50% off
Date: Mon, 1 Jan 2001 00:00:00
Message-ID: no-brackets-here
X-Mailer: Microsoft Outlook Express 6.00.2600.0000
X-Priority: 1
MIME-Version: 1.0
Content-Type: text/html; charset="us-ascii"

<html><body><font size=1 color=#ffffff>hidden words</font>
<p>Dear Friend, this is not spam. You are receiving this email because you
opted in. Click here to claim your prize: one million dollars, 100% free,
no obligation and risk free! Order now, limited time offer, act now.
Work from home and make money. Cheap viagra, no prescription.</p>
<a href="http://user@3627734532/x">http://www.paypal.com/</a>
<a href="http://bit.ly/abc">here</a>
<p>To be removed, reply with remove in the subject.</p>
</body></html>
"""

HAM = b"""\
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.net>
Subject: Re: notes from Tuesday's meeting
Date: Tue, 02 Jul 2002 10:15:00 +0100
Message-ID: <20020702091500.GA1234@example.org>
In-Reply-To: <20020701170000.GB999@example.net>
References: <20020701170000.GB999@example.net>
User-Agent: Mutt/1.4i
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
Received: from mail.example.org (mail.example.org [192.0.2.10])
\tby mx.example.net with ESMTP; Tue, 02 Jul 2002 10:15:05 +0100

Hi Bob,

Here are my notes. The patch for the build scripts is in CVS now; please
have a look before Friday so we can tag the release.

Thanks,
Alice
"""


def check(daemon, body, pass_all=True):
    conn = http.client.HTTPConnection(daemon.host, daemon.port, timeout=30)
    conn.request("POST", "/checkv2", body, {"Pass": "all"} if pass_all else {})
    r = conn.getresponse()
    assert r.status == 200
    return json.loads(r.read())


OURS = {"FAKE_REPLY", "INVALID_MSGID", "MID_MISSING_BRACKETS", "FORGED_MUA_OUTLOOK",
        "HAS_X_PRIO_ONE", "FREEMAIL_FROM", "REPLYTO_DOM_NEQ_FROM_DOM", "FROM_LOCAL_DIGITS",
        "SUBJ_EXCESS_EXCLAIM", "SUBJ_DOLLARS", "SUBJ_FREE", "SUBJ_MORTGAGE",
        "SUBJ_LOWEST_RATE", "SUBJ_ACT_NOW", "SUBJ_PERCENT_OFF", "CLICK_HERE", "REMOVE_ME",
        "NOT_SPAM_CLAIM", "MILLION_DOLLARS", "DEAR_FRIEND", "ORDER_NOW", "NO_OBLIGATION",
        "RISK_FREE", "FREE_100", "WORK_FROM_HOME", "PHARMA_WORDS", "OPT_IN_CLAIM",
        "LIMITED_OFFER", "HTML_TINY_FONT", "HTML_FONT_WHITE", "URL_SHORTENER",
        "URL_WITH_USERINFO", "URL_NUMERIC_HOST", "URL_SUSPICIOUS_TLD", "DATE_NO_NUMERIC_TZ"}


def test_spam_hits_many_rules_and_is_flagged(our_daemon):
    r = check(our_daemon, SPAM)
    hit = OURS & set(r["symbols"])
    assert len(hit) >= 15, sorted(r["symbols"])
    for sym in ("REMOVE_ME", "NOT_SPAM_CLAIM", "SUBJ_DOLLARS", "URL_SHORTENER"):
        assert sym in r["symbols"], sorted(r["symbols"])
    assert r["action"] in ("add header", "rewrite subject", "reject"), r
    assert r["score"] >= 6


def test_plain_ham_is_not_flagged(our_daemon):
    r = check(our_daemon, HAM, pass_all=False)
    assert r["action"] == "no action", r
    assert not (OURS & set(r["symbols"])), sorted(r["symbols"])


def test_rules_have_descriptions_and_groups(our_daemon):
    # every rule of ours that fired is known to the engine with a weight
    r = check(our_daemon, SPAM)
    for name in OURS & set(r["symbols"]):
        assert "score" in r["symbols"][name]


@pytest.mark.parametrize("weight", [0.0, 9.5])
def test_local_weight_overrides_fitted(daemon_factory, weight):
    d = daemon_factory(extra_local={
        "groups.conf": 'group "body" { symbols { CLICK_HERE { weight = %.1f; } } }\n' % weight})
    d.start()
    r = check(d, SPAM)
    assert r["symbols"]["CLICK_HERE"]["score"] == pytest.approx(weight)


# One body (or subject) per rule added for the later-period spam; each must
# fire on its phrase, and none on the plain personal message above.
NEW_RULES = [
    ("OPT_OUT_FOOTER", "", "If you no longer wish to receive these offers, reply."),
    ("ADDRESS_OBTAINED", "", "Your email address was obtained from an opt-in list."),
    ("INK_CARTRIDGES", "", "Save on ink cartridges for every printer."),
    ("CABLE_DESCRAMBLER", "", "Get a cable descrambler and watch pay-per-view."),
    ("OEM_SOFTWARE", "", "Genuine OEM software shipped today."),
    ("ENHANCEMENT_PILLS", "", "Try our herbal supplements and human growth hormone."),
    ("INSURANCE_QUOTE", "", "Compare term life insurance quotes in minutes."),
    ("DIPLOMA_OFFER", "", "Get college diplomas based on your life experience."),
    ("GRANT_MONEY", "", "Claim free government grants today."),
    ("SEO_TRAFFIC", "", "We increase your website traffic with top search engine rankings."),
    ("B2B_MANUFACTURER", "", "We are a leading manufacturer of LED lamps in Shenzhen."),
    ("INVESTMENT_PITCH", "", "A rare investment opportunity with high returns."),
    ("VACATION_PRIZE", "", "Enjoy a free cruise, all-expenses-paid."),
    ("SPY_LOOKUP", "", "Find out anything about anyone online."),
    ("ACCOUNT_VERIFY", "", "Please verify your account information or it will be suspended."),
    ("PRICE_PER_MONTH", "", "Unlimited calls for $9.95 per month."),
    ("GET_PAID", "", "Get paid to read e-mail."),
    ("BODY_EXCLAIM_RUNS", "", "Wow!!! This is amazing, you will love it!!!"),
    ("DEAR_EMAIL_ADDRESS", "", "Dear someone@example.com, we have news."),
    ("BODY_SHOUTING", "", "THIS IS THE BEST OFFER WE HAVE EVER MADE!"),
    ("SUBJ_ENHANCEMENT", "Natural enlargement formula", "Hello."),
    ("SUBJ_INSURANCE", "Cheap insurance for you", "Hello."),
    ("SUBJ_HYPE", "An amazing opportunity", "Hello."),
    ("SUBJ_INK", "Printer toner sale", "Hello."),
    ("SUBJ_ACCOUNT_ALERT", "Your account will be suspended", "Hello."),
]


@pytest.mark.parametrize("symbol,subject,body", NEW_RULES, ids=[r[0] for r in NEW_RULES])
def test_later_spam_rules_fire(our_daemon, symbol, subject, body):
    msg = ("From: a@example.org\r\nTo: b@example.net\r\nSubject: %s\r\n"
           "Date: Tue, 02 Jul 2002 10:15:00 +0100\r\nMessage-ID: <x1@example.org>\r\n\r\n%s\r\n"
           % (subject or "hello", body)).encode()
    assert symbol in check(our_daemon, msg)["symbols"]


def test_later_spam_rules_quiet_on_ham(our_daemon):
    fired = set(check(our_daemon, HAM)["symbols"])
    assert not fired & {r[0] for r in NEW_RULES}, sorted(fired)
