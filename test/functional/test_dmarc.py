"""DMARC through the real daemon: policy outcomes with relaxed and strict
alignment, subdomain policy (sp=) found at the organizational domain,
missing and broken records, DNS failure, pct sampling, the policy applied
as the action when dmarc.conf asks, and aggregate-report data listed by
`rspamadm dmarc_report`.

DKIM results come from our DKIM module (messages signed here with
python3-dkim, keys served by dnszone.py); SPF results from the SPF module
when it is built in (the SPF cases are skipped otherwise).
"""
import json
import os
import subprocess
import urllib.request

import dkim
import pytest

from conftest import BIN
from dnszone import DnsZone


def checkv2(daemon, body, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{daemon.port}/checkv2", data=body,
                                 headers=headers or {}, method="POST")
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def message(from_addr, msgid="<dmarc-1@example.com>", body=b"Hello.\r\n"):
    return (b"From: " + from_addr.encode() + b"\r\n"
            b"To: bob@example.net\r\n"
            b"Subject: DMARC test\r\n"
            b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
            b"Message-ID: " + msgid.encode() + b"\r\n"
            b"\r\n" + body)


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory):
    d = tmp_path_factory.mktemp("dmarckeys")
    key = str(d / "k.pem")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import base64
    return open(key, "rb").read(), base64.b64encode(der).decode()


def txt(name, record):
    chunks = [record[i:i + 255] for i in range(0, len(record), 255)]
    return f'{name}. 300 IN TXT ' + " ".join(f'"{c}"' for c in chunks) + "\n"


def zone_text(pub):
    key = f"v=DKIM1; k=rsa; p={pub}"
    z = ""
    for dom in ("example.com", "mail.example.com", "strict.test", "mail.strict.test",
                "relaxed.test", "mail.relaxed.test", "none.test", "norecord.test",
                "broken.test", "pct.test", "other.test", "two.test"):
        z += txt(f"sel._domainkey.{dom}", key)
    z += txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine")
    z += txt("_dmarc.strict.test", "v=DMARC1; p=quarantine; adkim=s; aspf=s")
    z += txt("_dmarc.relaxed.test", "v=DMARC1; p=quarantine")
    z += txt("_dmarc.none.test", "v=DMARC1; p=none; rua=mailto:r@none.test")
    z += txt("_dmarc.broken.test", "v=DMARC1; p=rejectt")
    z += txt("_dmarc.pct.test", "v=DMARC1; p=reject; pct=50")
    z += txt("_dmarc.two.test", "v=DMARC1; p=reject")
    z += txt("_dmarc.two.test", "v=DMARC1; p=none")
    z += "_dmarc.fail.test. SERVFAIL\n"
    # SPF-only domains: aligned by MAIL FROM, relaxed and strict
    z += txt("spfr.test", "v=spf1 ip4:192.0.2.55 -all")
    z += txt("bounce.spfr.test", "v=spf1 ip4:192.0.2.55 -all")
    z += txt("_dmarc.spfr.test", "v=DMARC1; p=reject")
    z += txt("spfs.test", "v=spf1 ip4:192.0.2.55 -all")
    z += txt("bounce.spfs.test", "v=spf1 ip4:192.0.2.55 -all")
    z += txt("_dmarc.spfs.test", "v=DMARC1; p=reject; aspf=s")
    z += "norecord.test. 300 IN A 192.0.2.10\n"
    return z


def sign(msg, domain, privkey):
    sig = dkim.sign(msg, b"sel", domain.encode(), privkey,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + msg


@pytest.fixture(scope="module")
def zone(rsa_key):
    z = DnsZone(zone_text(rsa_key[1]))
    yield z
    z.stop()


def dns_local(zone):
    return {"options.inc": 'dns { nameserver = ["%s"]; timeout = 0.5s; retransmits = 1; }\n'
            % zone.address}


@pytest.fixture
def daemon(daemon_factory, zone):
    local = dns_local(zone)
    local["dmarc.conf"] = "reporting = true;\n"
    return daemon_factory(extra_local=local).start()


def sym(res, name):
    return res["symbols"].get(name)


def dmarc_syms(res):
    return sorted(k for k in res["symbols"] if k.startswith("DMARC_"))


def test_dkim_relaxed_and_strict(daemon, rsa_key):
    priv = rsa_key[0]
    # aligned signature at the From domain itself
    res = checkv2(daemon, sign(message("a@example.com"), "example.com", priv))
    assert sym(res, "R_DKIM_ALLOW"), res["symbols"]
    assert dmarc_syms(res) == ["DMARC_POLICY_ALLOW"]
    assert sym(res, "DMARC_POLICY_ALLOW")["options"] == ["example.com", "reject"]
    assert sym(res, "DMARC_POLICY_ALLOW")["score"] == pytest.approx(-0.5)
    # relaxed: d=mail.example.com aligns with example.com
    res = checkv2(daemon, sign(message("a@example.com"), "mail.example.com", priv))
    assert dmarc_syms(res) == ["DMARC_POLICY_ALLOW"]
    # relaxed record, subdomain signer
    res = checkv2(daemon, sign(message("a@relaxed.test"), "mail.relaxed.test", priv))
    assert dmarc_syms(res) == ["DMARC_POLICY_ALLOW"]
    # strict: the same shape fails
    res = checkv2(daemon, sign(message("a@strict.test"), "mail.strict.test", priv))
    assert dmarc_syms(res) == ["DMARC_POLICY_QUARANTINE"]
    opts = sym(res, "DMARC_POLICY_QUARANTINE")["options"]
    assert opts[0] == "strict.test : No valid SPF, DKIM not aligned (strict)"
    assert "quarantine" in opts
    res = checkv2(daemon, sign(message("a@strict.test"), "strict.test", priv))
    assert dmarc_syms(res) == ["DMARC_POLICY_ALLOW"]
    # a passing signature of an unrelated domain does not help
    res = checkv2(daemon, sign(message("a@example.com"), "other.test", priv))
    assert dmarc_syms(res) == ["DMARC_POLICY_REJECT"]
    assert sym(res, "DMARC_POLICY_REJECT")["score"] == pytest.approx(2.0)
    assert sym(res, "DMARC_POLICY_REJECT")["options"][0] == \
        "example.com : No valid SPF, DKIM not aligned (relaxed)"


def test_policy_outcomes(daemon, rsa_key):
    priv = rsa_key[0]
    res = checkv2(daemon, message("a@example.com"))
    assert dmarc_syms(res) == ["DMARC_POLICY_REJECT"]
    assert sym(res, "DMARC_POLICY_REJECT")["options"] == \
        ["example.com : No valid SPF, No valid DKIM", "reject"]
    # no action configured: the policy only scores
    assert res["action"] != "reject" or res["score"] >= 15
    # subdomain without its own record: sp= of the org domain
    res = checkv2(daemon, message("a@news.example.com"))
    assert dmarc_syms(res) == ["DMARC_POLICY_QUARANTINE"]
    assert sym(res, "DMARC_POLICY_QUARANTINE")["options"][0].startswith("news.example.com : ")
    res = checkv2(daemon, sign(message("a@news.example.com"), "example.com", priv))
    assert dmarc_syms(res) == ["DMARC_POLICY_ALLOW"]
    # p=none
    res = checkv2(daemon, message("a@none.test"))
    assert dmarc_syms(res) == ["DMARC_POLICY_SOFTFAIL"]
    assert "none" in sym(res, "DMARC_POLICY_SOFTFAIL")["options"]
    # no record, broken record, two records, DNS failure
    res = checkv2(daemon, message("a@norecord.test"))
    assert dmarc_syms(res) == ["DMARC_NA"]
    res = checkv2(daemon, message("a@broken.test"))
    assert dmarc_syms(res) == ["DMARC_BAD_POLICY"]
    assert sym(res, "DMARC_BAD_POLICY")["options"] == ["broken.test : invalid p= policy"]
    res = checkv2(daemon, message("a@two.test"))
    assert dmarc_syms(res) == ["DMARC_BAD_POLICY"]
    res = checkv2(daemon, message("a@fail.test"))
    assert dmarc_syms(res) == ["DMARC_DNSFAIL"]
    # From header problems
    res = checkv2(daemon, message("a@example.com, b@other.test"))
    assert dmarc_syms(res) == ["DMARC_BAD_POLICY"]
    res = checkv2(daemon, b"To: bob@example.net\r\nSubject: x\r\n\r\nbody\r\n")
    assert dmarc_syms(res) == ["DMARC_NA"]


def test_pct_sampling_is_per_message(daemon):
    outcomes = set()
    for i in range(12):
        res = checkv2(daemon, message("a@pct.test", msgid=f"<pct-{i}@pct.test>"))
        syms = dmarc_syms(res)
        assert syms in (["DMARC_POLICY_REJECT"], ["DMARC_POLICY_QUARANTINE"])
        if syms == ["DMARC_POLICY_QUARANTINE"]:
            assert "sampled_out" in sym(res, "DMARC_POLICY_QUARANTINE")["options"]
        # the same message always gets the same treatment
        again = checkv2(daemon, message("a@pct.test", msgid=f"<pct-{i}@pct.test>"))
        assert dmarc_syms(again) == syms
        outcomes.add(syms[0])
    assert outcomes == {"DMARC_POLICY_REJECT", "DMARC_POLICY_QUARANTINE"}


def test_actions_applied_when_configured(daemon_factory, zone):
    local = dns_local(zone)
    local["dmarc.conf"] = 'actions { reject = "reject"; quarantine = "add header"; }\n'
    d = daemon_factory(extra_local=local).start()
    res = checkv2(d, message("a@example.com"))
    assert res["action"] == "reject"
    res = checkv2(d, message("a@news.example.com"))
    assert res["action"] == "add header"
    res = checkv2(d, message("a@none.test"))
    assert res["action"] == "no action"


def test_report_data(daemon, rsa_key):
    priv = rsa_key[0]
    for _ in range(2):
        checkv2(daemon, message("a@example.com"), {"IP": "192.0.2.7"})
    checkv2(daemon, sign(message("a@example.com"), "example.com", priv), {"IP": "192.0.2.8"})
    out = subprocess.run([os.path.join(BIN, "rspamadm"), "-c", daemon.conf,
                          "--state-dir", daemon.state, "dmarc_report"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    doms = {d["domain"]: d for d in rep["domains"]}
    rows = {(r["source_ip"], r["disposition"]): r for r in doms["example.com"]["records"]}
    assert rows[("192.0.2.7", "reject")]["count"] == 2
    assert rows[("192.0.2.7", "reject")]["dkim"] == "fail"
    assert rows[("192.0.2.8", "none")]["dkim"] == "pass"
    assert doms["example.com"]["policy"] == "reject"


def test_arc_chain_through_daemon(daemon_factory, tmp_path):
    """A two-hop chain sealed by python3-dkim's ARC signer verifies
    (ARC_ALLOW); tampering gives ARC_REJECT; no ARC headers ARC_NA."""
    keys = {}
    for sel, dom in (("s1", "origin.example"), ("s2", "forwarder.example")):
        key = str(tmp_path / f"{sel}.pem")
        subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True,
                       capture_output=True)
        der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        import base64
        keys[(sel, dom)] = (open(key, "rb").read(), base64.b64encode(der).decode())
    records = {f"{s}._domainkey.{d}.".encode(): f"v=DKIM1; k=rsa; p={k[1]}".encode()
               for (s, d), k in keys.items()}

    def dnsfunc(name, timeout=5):
        return records.get(name if name.endswith(b".") else name + b".", b"")

    hdrs = [b"from", b"to", b"subject", b"date", b"message-id"]
    msg = b"Authentication-Results: mx.origin.example; dkim=none\r\n" + message("a@origin.example")
    m1 = b"".join(dkim.arc_sign(msg, b"s1", b"origin.example", keys[("s1", "origin.example")][0],
                                b"mx.origin.example", include_headers=hdrs)) + msg
    m1 = b"Authentication-Results: mx.forwarder.example; arc=pass\r\n" + m1
    a = dkim.ARC(m1)
    a.dnsfunc = dnsfunc
    m2 = b"".join(a.sign(b"s2", b"forwarder.example", keys[("s2", "forwarder.example")][0],
                         b"mx.forwarder.example", include_headers=hdrs)) + m1
    assert dkim.arc_verify(m2, dnsfunc=dnsfunc)[0] == b"pass"
    z = DnsZone("".join(txt(n.decode().rstrip("."), r.decode()) for n, r in records.items()))
    try:
        d = daemon_factory(extra_local=dns_local(z)).start()
        res = checkv2(d, m2)
        assert sym(res, "ARC_ALLOW"), res["symbols"]
        assert sym(res, "ARC_ALLOW")["options"] == ["forwarder.example:s=2"]
        assert sym(res, "ARC_ALLOW")["score"] == pytest.approx(-1.0)
        res = checkv2(d, m2.replace(b"Hello.", b"Hello!"))
        assert sym(res, "ARC_REJECT"), res["symbols"]
        res = checkv2(d, m2.replace(b"ARC-Seal: i=1", b"X-Seal: i=1"))
        assert sym(res, "ARC_INVALID"), res["symbols"]
        res = checkv2(d, message("a@origin.example"))
        assert sym(res, "ARC_NA")
    finally:
        z.stop()


def test_spf_alignment_relaxed_and_strict(daemon):
    def scan(from_hdr, env_from, ip="192.0.2.55"):
        return checkv2(daemon, message(from_hdr), {"IP": ip, "From": env_from,
                                                    "Helo": "mx.example.net"})

    # same domain: SPF pass and aligned under either mode
    r = scan("a@spfr.test", "bounce@spfr.test")
    assert sym(r, "R_SPF_ALLOW") and dmarc_syms(r) == ["DMARC_POLICY_ALLOW"]
    # subdomain MAIL FROM: aligned only in relaxed mode
    r = scan("a@spfr.test", "x@bounce.spfr.test")
    assert sym(r, "R_SPF_ALLOW") and dmarc_syms(r) == ["DMARC_POLICY_ALLOW"]
    r = scan("a@spfs.test", "x@bounce.spfs.test")
    assert sym(r, "R_SPF_ALLOW") and dmarc_syms(r) == ["DMARC_POLICY_REJECT"]
    # SPF fail from another address: nothing aligned passes
    r = scan("a@spfr.test", "bounce@spfr.test", ip="198.51.100.9")
    assert sym(r, "R_SPF_FAIL") and dmarc_syms(r) == ["DMARC_POLICY_REJECT"]
