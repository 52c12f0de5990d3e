"""SPF through the real daemon: /checkv2 with IP, From and Helo headers,
DNS answered by a dnszone.py server on loopback (options.dns.nameserver
points at it), checking the R_SPF_* symbol and its option for each
outcome, the skip for authenticated users and local addresses, and that
repeated scans are answered from the resolver's cache."""
import http.client
import json

import pytest

from dnszone import DnsZone

ZONE = """
allow.example. TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.example. TXT "v=spf1 ip4:192.0.2.0/24 -all"
soft.example. TXT "v=spf1 ip4:192.0.2.0/24 ~all"
neutral.example. TXT "v=spf1 ?all"
perm.example. TXT "v=spf1 include:perm.example -all"
two.example. TXT "v=spf1 -all"
two.example. TXT "v=spf1 +all"
slow.example. TIMEOUT
helo.example. TXT "v=spf1 a -all"
helo.example. A 198.51.100.25
"""

MSG = b"From: someone@example.org\r\nTo: you@example.net\r\nSubject: spf test\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def zone():
    z = DnsZone(ZONE)
    yield z
    z.stop()


@pytest.fixture
def daemon(daemon_factory, zone):
    d = daemon_factory(extra_local={
        "options.inc": f'dns {{ nameserver = ["{zone.address}"]; timeout = 0.5s; '
                       f'retransmits = 1; }}\n',
    })
    d.start()
    return d


def scan(d, ip, sender, helo="mx.example.org", user=None):
    headers = {"IP": ip, "From": sender, "Helo": helo, "Pass": "all"}
    if user:
        headers["User"] = user
    conn = http.client.HTTPConnection(d.host, d.port, timeout=30)
    conn.request("POST", "/checkv2", MSG, headers)
    r = conn.getresponse()
    assert r.status == 200
    return json.loads(r.read())


def spf_symbols(res):
    return {k: v for k, v in res["symbols"].items() if k.startswith("R_SPF_")}


@pytest.mark.parametrize("ip,sender,symbol,option", [
    ("192.0.2.10", "user@allow.example", "R_SPF_ALLOW", "+ip4:192.0.2.0/24"),
    ("203.0.113.9", "user@fail.example", "R_SPF_FAIL", "-all"),
    ("203.0.113.9", "user@soft.example", "R_SPF_SOFTFAIL", "~all"),
    ("203.0.113.9", "user@neutral.example", "R_SPF_NEUTRAL", "?all"),
    ("203.0.113.9", "user@perm.example", "R_SPF_PERMFAIL", None),
    ("203.0.113.9", "user@two.example", "R_SPF_PERMFAIL", None),
    ("203.0.113.9", "user@nothing.example", "R_SPF_NA", None),
    ("203.0.113.9", "user@slow.example", "R_SPF_DNSFAIL", None),
])
def test_spf_symbols(daemon, ip, sender, symbol, option):
    res = scan(daemon, ip, sender)
    syms = spf_symbols(res)
    assert list(syms) == [symbol], syms
    sym = syms[symbol]
    if option is not None:
        assert sym.get("options") == [option]
    weights = {"R_SPF_ALLOW": -0.2, "R_SPF_FAIL": 1.0}
    assert sym["score"] == pytest.approx(weights.get(symbol, 0.0))


def test_null_sender_uses_helo(daemon):
    res = scan(daemon, "198.51.100.25", "", helo="helo.example")
    assert "R_SPF_ALLOW" in spf_symbols(res)
    res = scan(daemon, "198.51.100.26", "", helo="helo.example")
    assert "R_SPF_FAIL" in spf_symbols(res)


def test_skipped_for_authenticated_and_local(daemon):
    assert spf_symbols(scan(daemon, "203.0.113.9", "user@fail.example", user="bob")) == {}
    assert spf_symbols(scan(daemon, "127.0.0.1", "user@fail.example")) == {}
    assert spf_symbols(scan(daemon, "10.1.2.3", "user@fail.example")) == {}


def test_cache_spares_queries(daemon, zone):
    scan(daemon, "192.0.2.11", "user@allow.example")
    before = zone.count("allow.example", "TXT")
    for _ in range(3):
        assert "R_SPF_ALLOW" in spf_symbols(scan(daemon, "192.0.2.12", "user@allow.example"))
    assert zone.count("allow.example", "TXT") == before


def test_rspamadm_spf_check(zone):
    import os
    import subprocess
    from conftest import BIN
    out = subprocess.run([os.path.join(BIN, "rspamadm"), "spf_check", "-i", "192.0.2.9",
                          "-s", "u@allow.example", "-n", zone.address],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "result: pass" in out.stdout and "mechanism: +ip4:192.0.2.0/24" in out.stdout
    out = subprocess.run([os.path.join(BIN, "rspamadm"), "spf_check", "-i", "203.0.113.9",
                          "-s", "u@perm.example", "-n", zone.address],
                         capture_output=True, text=True, timeout=30)
    assert "result: permerror" in out.stdout and "more than 10 DNS lookups" in out.stdout
