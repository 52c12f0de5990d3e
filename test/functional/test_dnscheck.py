"""rspamadm dnscheck against zones served by dnszone.py on loopback: a clean
domain passes every check (exit 0), and each of the tutorial's DNS mistakes
(MX pointing at a CNAME, two SPF records, 11 lookups through a chain of
includes, a 1024-bit DKIM key, no DMARC record, a PTR naming another host)
is reported as a FAIL line with exit status 1. Also the softer findings:
null MX, p=none advice, void lookups, a DNS key that does not match the
private key on disk, DMARC found at the organizational domain.

The command runs without the daemon, with -c pointing at a copy of conf/
whose local.d/dkim_signing.conf names the selector and key file."""
import base64
import os
import shutil
import subprocess

import pytest

from conftest import BIN, REPO
from dnszone import DnsZone

IP = "192.0.2.10"
HELO = "mx1.example.com"


def zone_txt(name, record):
    chunks = [record[i:i + 255] for i in range(0, len(record), 255)]
    return f'{name}. 300 IN TXT ' + " ".join(f'"{c}"' for c in chunks)


def rsa_record(keyfile):
    """The DKIM TXT record of an RSA private key file (openssl, not ours)."""
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def genrsa(path, bits):
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    f"rsa_keygen_bits:{bits}", "-out", str(path)],
                   capture_output=True, check=True)
    return str(path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dnscheck")
    conf = tmp / "conf"
    shutil.copytree(os.path.join(REPO, "conf"), conf,
                    ignore=shutil.ignore_patterns("local.d", "override.d"))
    os.makedirs(conf / "local.d", exist_ok=True)
    key = genrsa(tmp / "sel.key", 2048)
    (conf / "local.d" / "dkim_signing.conf").write_text(
        f'domain {{ example.com {{ selector = "sel"; path = "{key}"; }} }}\n')
    return {"conf": str(conf / "rspamd.conf"), "key": key, "tmp": tmp,
            "key1024": genrsa(tmp / "old.key", 1024),
            "other": genrsa(tmp / "other.key", 2048)}


def clean_zone(setup):
    return [
        "example.com. MX 10 mx1.example.com.",
        "mx1.example.com. A 192.0.2.10",
        'example.com. TXT "v=spf1 mx ip4:192.0.2.0/24 include:_spf.example.net -all"',
        'example.com. TXT "google-site-verification=abc"',
        '_spf.example.net. TXT "v=spf1 ip4:198.51.100.0/24 ~all"',
        zone_txt("sel._domainkey.example.com", rsa_record(setup["key"])),
        '_dmarc.example.com. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"',
        "10.2.0.192.in-addr.arpa. PTR mx1.example.com.",
    ]


def edit(lines, drop=(), add=()):
    return [ln for ln in lines if not any(ln.startswith(d) for d in drop)] + list(add)


def dnscheck(setup, lines, *args, domain="example.com"):
    with DnsZone("\n".join(lines) + "\n") as z:
        r = subprocess.run([os.path.join(BIN, "rspamadm"), "-c", setup["conf"], "dnscheck",
                            domain, "--nameserver", z.address, "--timeout", "0.5", *args],
                           capture_output=True, text=True, timeout=60)
    out = r.stdout.splitlines()
    for ln in out[:-1]:
        assert ln.split(" ", 1)[0] in ("PASS", "WARN", "FAIL"), ln
    return r.returncode, out, r.stderr


def lines_of(out, level):
    return [ln for ln in out if ln.startswith(level + " ")]


def test_clean_domain_all_pass(setup):
    rc, out, err = dnscheck(setup, clean_zone(setup), "--ip", IP, "--helo", HELO)
    assert rc == 0, (out, err)
    assert not lines_of(out, "FAIL") and not lines_of(out, "WARN"), out
    text = "\n".join(out)
    for want in ("PASS MX: mx1.example.com resolves to 192.0.2.10",
                 "PASS SPF: one record: v=spf1 mx",
                 "PASS SPF: 2 DNS lookups (limit 10)",
                 "PASS DKIM: sel._domainkey.example.com: RSA key of 2048 bits",
                 "PASS DKIM: sel: DNS key matches " + setup["key"],
                 "PASS DMARC: p=reject",
                 "PASS PTR: mx1.example.com resolves back to 192.0.2.10",
                 "PASS PTR: mx1.example.com equals HELO"):
        assert want in text, out


def test_mx_cname(setup):
    lines = edit(clean_zone(setup), drop=["mx1.example.com. A"],
                 add=["mx1.example.com. CNAME host.example.com.",
                      "host.example.com. A 192.0.2.10"])
    rc, out, _ = dnscheck(setup, lines)
    assert rc == 1
    assert lines_of(out, "FAIL") == [
        "FAIL MX: target mx1.example.com is a CNAME to host.example.com (RFC 2181 10.3: "
        "an MX must name a host with A/AAAA records)"], out


def test_two_spf_records(setup):
    lines = clean_zone(setup) + ['example.com. TXT "v=spf1 +all"']
    rc, out, _ = dnscheck(setup, lines)
    assert rc == 1
    assert lines_of(out, "FAIL") == ["FAIL SPF: two SPF records at example.com: permerror"], out


def test_eleven_lookups(setup):
    chain = [f'i{k}.example.com. TXT "v=spf1 include:i{k + 1}.example.com -all"'
             for k in range(1, 11)] + ['i11.example.com. TXT "v=spf1 ip4:192.0.2.0/24 -all"']
    lines = edit(clean_zone(setup), drop=['example.com. TXT "v=spf1'],
                 add=['example.com. TXT "v=spf1 include:i1.example.com -all"'] + chain)
    rc, out, _ = dnscheck(setup, lines)
    assert rc == 1
    assert lines_of(out, "FAIL") == [
        "FAIL SPF: 11 lookups > 10 (include, a, mx, ptr, exists, redirect; permerror): "
        "flatten or drop includes"], out
    # ten is still fine
    lines = edit(lines, drop=["i10.example.com."],
                 add=['i10.example.com. TXT "v=spf1 -all"'])
    rc, out, _ = dnscheck(setup, lines)
    assert rc == 0 and "PASS SPF: 10 DNS lookups (limit 10)" in out, out


def test_dkim_1024(setup):
    lines = clean_zone(setup) + [
        zone_txt("old._domainkey.example.com", rsa_record(setup["key1024"]))]
    rc, out, _ = dnscheck(setup, lines, "--selector", "old")
    assert rc == 1
    assert lines_of(out, "FAIL") == [
        "FAIL DKIM: old._domainkey.example.com: RSA key of 1024 bits < 2048: "
        "use rspamadm dkim_keygen -b 2048"], out


def test_missing_dmarc(setup):
    lines = edit(clean_zone(setup), drop=["_dmarc."])
    rc, out, _ = dnscheck(setup, lines)
    assert rc == 1
    assert lines_of(out, "FAIL") == [
        "FAIL DMARC: no DMARC record: publish v=DMARC1; p=none; rua=mailto:... to start"], out


def test_ptr_mismatch(setup):
    lines = edit(clean_zone(setup), drop=["10.2.0.192"],
                 add=["10.2.0.192.in-addr.arpa. PTR other.example.net.",
                      "other.example.net. A 192.0.2.10"])
    rc, out, _ = dnscheck(setup, lines, "--ip", IP, "--helo", HELO)
    assert rc == 1
    assert lines_of(out, "FAIL") == [
        "FAIL PTR: PTR other.example.net differs from HELO mx1.example.com"], out
    assert "PASS PTR: other.example.net resolves back to 192.0.2.10 (forward-confirmed)" in out


def test_ptr_missing_and_not_confirmed(setup):
    rc, out, _ = dnscheck(setup, edit(clean_zone(setup), drop=["10.2.0.192"]), "--ip", IP)
    assert rc == 1 and lines_of(out, "FAIL")[0].startswith("FAIL PTR: no PTR record"), out
    lines = edit(clean_zone(setup), drop=["10.2.0.192"],
                 add=["10.2.0.192.in-addr.arpa. PTR nowhere.example.net."])
    rc, out, _ = dnscheck(setup, lines, "--ip", IP, "--helo", "nowhere.example.net")
    assert rc == 1 and lines_of(out, "FAIL") == [
        "FAIL PTR: nowhere.example.net does not resolve back to 192.0.2.10 (no address): "
        "not forward-confirmed"], out


def test_dkim_key_mismatch_revoked_missing(setup):
    lines = edit(clean_zone(setup), drop=["sel._domainkey"],
                 add=[zone_txt("sel._domainkey.example.com", rsa_record(setup["other"]))])
    rc, out, _ = dnscheck(setup, lines)
    assert rc == 1 and lines_of(out, "FAIL") == [
        "FAIL DKIM: sel: DNS key does not match " + setup["key"]], out
    lines = edit(clean_zone(setup), drop=["sel._domainkey"],
                 add=['sel._domainkey.example.com. TXT "v=DKIM1; k=rsa; p="'])
    rc, out, _ = dnscheck(setup, lines)
    assert lines_of(out, "FAIL") == [
        "FAIL DKIM: sel._domainkey.example.com: key revoked (empty p=)"], out
    rc, out, _ = dnscheck(setup, edit(clean_zone(setup), drop=["sel._domainkey"]))
    assert lines_of(out, "FAIL") == [
        "FAIL DKIM: sel._domainkey.example.com: no key record published"], out


def test_no_selector_configured(setup):
    lines = [ln.replace("example.com", "example.org") for ln in clean_zone(setup)]
    rc, out, _ = dnscheck(setup, lines, domain="example.org")
    assert rc == 0
    assert lines_of(out, "WARN") == [
        "WARN DKIM: no selector configured for example.org (dkim_signing domain entry "
        "or --selector)"], out


def test_spf_findings(setup):
    base = edit(clean_zone(setup), drop=['example.com. TXT "v=spf1'])
    rc, out, _ = dnscheck(setup, base)
    assert rc == 1 and "FAIL SPF: no SPF record (TXT \"v=spf1 ...\") at example.com" in out
    rc, out, _ = dnscheck(setup, base + [
        'example.com. TXT "v=spf1 a:n1.example.com a:n2.example.com mx:n3.example.com -all"'])
    assert rc == 1 and "FAIL SPF: 3 void lookups > 2 (terms naming nothing; permerror)" in out
    rc, out, _ = dnscheck(setup, base + ['example.com. TXT "v=spf1 ip4:192.0.2.0/33 -all"'])
    assert rc == 1 and lines_of(out, "FAIL")[0].startswith(
        "FAIL SPF: syntax error in the record of example.com:"), out
    rc, out, _ = dnscheck(setup, base + ['example.com. TXT "v=spf1 ip4:192.0.2.0/24 +all"'])
    assert rc == 0 and lines_of(out, "WARN")[0].startswith('WARN SPF: "+all"'), out
    rc, out, _ = dnscheck(setup, base + ['example.com. TXT "v=spf1 ip4:192.0.2.0/24"'])
    assert rc == 0 and lines_of(out, "WARN")[0].startswith('WARN SPF: no "all" mechanism'), out
    rc, out, _ = dnscheck(setup, base + [
        'example.com. TXT "v=spf1 redirect=_spf.example.net"'])
    assert rc == 0 and "PASS SPF: ends with redirect=_spf.example.net" in out, out


def test_null_mx(setup):
    lines = edit(clean_zone(setup), drop=["example.com. MX"], add=["example.com. MX 0 ."])
    rc, out, _ = dnscheck(setup, lines)
    assert rc == 0
    assert lines_of(out, "PASS")[0].startswith("PASS MX: null MX (RFC 7505)"), out
    rc, out, _ = dnscheck(setup, edit(clean_zone(setup), drop=["example.com. MX"]))
    assert rc == 1 and lines_of(out, "FAIL")[0].startswith("FAIL MX: no MX record"), out


def test_dmarc_rollout_advice(setup):
    def run(record):
        lines = edit(clean_zone(setup), drop=["_dmarc."],
                     add=[f'_dmarc.example.com. TXT "{record}"'])
        return dnscheck(setup, lines)

    rc, out, _ = run("v=DMARC1; p=none; rua=mailto:d@example.com")
    assert rc == 0 and lines_of(out, "WARN") == [
        "WARN DMARC: p=none: monitoring only: move to p=quarantine with pct=10..100 once "
        "reports are clean"], out
    rc, out, _ = run("v=DMARC1; p=quarantine; pct=25; rua=mailto:d@example.com")
    assert rc == 0 and lines_of(out, "WARN") == [
        "WARN DMARC: p=quarantine pct=25: raise pct to 100, then p=reject"], out
    rc, out, _ = run("v=DMARC1; p=reject")
    assert rc == 0 and lines_of(out, "WARN")[0].startswith("WARN DMARC: no rua="), out
    rc, out, _ = run("v=DMARC1; p=bogus")
    assert rc == 1 and lines_of(out, "FAIL")[0].startswith(
        "FAIL DMARC: invalid record at _dmarc.example.com:"), out


def test_dmarc_at_org_domain(setup):
    lines = clean_zone(setup) + [
        "mail.example.com. MX 10 mx1.example.com.",
        'mail.example.com. TXT "v=spf1 -all"']
    rc, out, _ = dnscheck(setup, lines, "--selector", "sel", domain="mail.example.com")
    assert "PASS DMARC: record at _dmarc.example.com" in out, out


def test_dkim_ed25519(setup):
    out = subprocess.run([os.path.join(BIN, "rspamadm"), "dkim_keygen", "-d", "example.com",
                          "-s", "ed", "-t", "ed25519", "-o", "plain"],
                         capture_output=True, text=True, check=True).stdout
    record = [ln for ln in out.splitlines() if ln.startswith("v=DKIM1")][0]
    lines = clean_zone(setup) + [zone_txt("ed._domainkey.example.com", record)]
    rc, out, _ = dnscheck(setup, lines, "--selector", "ed")
    assert rc == 0 and "PASS DKIM: ed._domainkey.example.com: ed25519 key" in out, out


def test_ptr_ipv6(setup):
    ip6 = "2001:db8::25"
    rev = "5.2.0.0." + "0." * 20 + "8.b.d.0.1.0.0.2.ip6.arpa."
    lines = clean_zone(setup) + [f"{rev} PTR mx1.example.com.",
                                 f"mx1.example.com. AAAA {ip6}"]
    rc, out, _ = dnscheck(setup, lines, "--ip", ip6, "--helo", HELO)
    assert rc == 0, out
    assert f"PASS PTR: mx1.example.com resolves back to {ip6} (forward-confirmed)" in out


def test_ptr_against_myhostname(setup, tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(os.path.dirname(setup["conf"]), conf)
    with open(conf / "local.d" / "mta.conf", "w") as f:
        f.write('myhostname = "smtp.example.com";\n')
    rc, out, _ = dnscheck(dict(setup, conf=str(conf / "rspamd.conf")), clean_zone(setup),
                          "--ip", IP, "--helo", HELO)
    assert rc == 1 and lines_of(out, "FAIL") == [
        "FAIL PTR: PTR mx1.example.com differs from myhostname smtp.example.com"], out


def test_dns_failures(setup):
    rc, out, _ = dnscheck(setup, clean_zone(setup) + ["example.com. SERVFAIL TXT"])
    assert rc == 1 and "FAIL SPF: TXT lookup for example.com failed (servfail): temperror" in out
    many = [f"many.example.com. MX {k} h{k}.example.com." for k in range(11)]
    rc, out, _ = dnscheck(setup, edit(clean_zone(setup), drop=['example.com. TXT "v=spf1'],
                                      add=['example.com. TXT "v=spf1 mx:many.example.com -all"']
                                      + many))
    assert rc == 1 and lines_of(out, "FAIL") == [
        "FAIL SPF: mx:many.example.com has 11 MX hosts > 10 (permerror)"], out
