"""White and black lists on the real daemon: the tutorial's local.d files as
written, Rspamd's multimap form with CIDR v4/v6 and a file map edited while
the daemon runs."""
import http.client
import json
import os
import time

HAM = (b"From: Alice <alice@%s>\r\nTo: bob@example.net\r\n"
       b"Subject: lunch tomorrow\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
       b"Message-ID: <m1@example.org>\r\nReceived: from a by b; Sun, 29 Nov 2026 10:00:00 +0000\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
       b"Shall we meet at noon?\r\n")

WHITELIST = """whitelist_domains = ["trusted.example", "partner.example"];
whitelist_ip = ["192.0.2.0/24"];
"""
BLACKLIST = """blacklist_domains = ["bad.example"];
blacklist_ip = ["203.0.113.7"];
"""


def ham(domain="example.org"):
    return HAM.replace(b"%s", domain.encode())


def check(daemon, body, **headers):
    c = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    c.request("POST", "/checkv2", body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 200, data
    return json.loads(data)


def test_tutorial_lists(daemon_factory):
    d = daemon_factory(extra_local={"whitelist.conf": WHITELIST,
                                    "blacklist.conf": BLACKLIST}).start()
    # whitelisted sender domain (envelope and header From)
    j = check(d, ham("trusted.example"), IP="198.51.100.20", From="<alice@trusted.example>")
    assert "WHITELIST_DOMAIN" in j["symbols"], j
    assert j["symbols"]["WHITELIST_DOMAIN"]["score"] < 0
    assert j["symbols"]["WHITELIST_DOMAIN"]["options"] == ["trusted.example"]
    assert j["score"] < 0 and j["action"] == "no action"
    # header From alone
    j = check(d, ham("partner.example"), IP="198.51.100.20")
    assert "WHITELIST_DOMAIN" in j["symbols"], j
    # whitelisted network
    j = check(d, ham(), IP="192.0.2.200", From="<alice@example.org>")
    assert "WHITELIST_IP" in j["symbols"] and j["action"] == "no action", j
    # blacklisted IP
    j = check(d, ham(), IP="203.0.113.7", From="<alice@example.org>")
    assert j["action"] == "reject", j
    assert "BLACKLIST_IP" in j["symbols"]
    assert j["symbols"]["BLACKLIST_IP"]["options"] == ["203.0.113.7"]
    assert j["messages"]["smtp_message"] == "Blocked by local blacklist"
    # blacklisted sender domain
    j = check(d, ham(), IP="198.51.100.20", From="<x@bad.example>")
    assert j["action"] == "reject" and "BLACKLIST_DOMAIN" in j["symbols"], j
    # nothing listed
    j = check(d, ham(), IP="198.51.100.20", From="<alice@example.org>")
    assert not any(s.startswith(("WHITELIST_", "BLACKLIST_")) for s in j["symbols"]), j
    assert j["action"] == "no action"


MULTIMAP = """LOCAL_BL_IP {
  type = "ip";
  map = ["198.51.100.0/24", "203.0.113.7", "2001:db8:bad::/48"];
  prefilter = true;
  action = "reject";
  message = "Blocked by local IP blacklist";
}
LOCAL_WL_DOMAIN {
  type = "from";
  filter = "email:domain";
  map = ["trusted.example"];
  prefilter = true;
  action = "accept";
}
FILE_BL_DOMAIN {
  type = "from";
  filter = "email:domain";
  map = "%s";
  score = 7.5;
  description = "Listed in a file map";
}
"""


def test_multimap_cidr_v6_and_file_reload(daemon_factory, tmp_path):
    mapfile = tmp_path / "bl_domains.map"
    mapfile.write_text("# blocked domains\nfirst.example\n")
    d = daemon_factory(workers=2, extra_local={
        "multimap.conf": MULTIMAP % mapfile,
        "options.inc": "map_watch_interval = 1s;\n"}).start()
    j = check(d, ham(), IP="2001:db8:bad:7::1")
    assert j["action"] == "reject", j
    assert j["symbols"]["LOCAL_BL_IP"]["options"] == ["2001:db8:bad:7::1"]
    assert j["messages"]["smtp_message"] == "Blocked by local IP blacklist"
    j = check(d, ham(), IP="2001:db8:bad0::1")
    assert "LOCAL_BL_IP" not in j["symbols"], j
    j = check(d, ham(), IP="198.51.100.99")
    assert j["action"] == "reject", j
    j = check(d, ham("trusted.example"), IP="192.0.2.1", From="<a@trusted.example>")
    assert j["action"] == "no action"
    assert j["messages"]["smtp_message"] == "Matched map: LOCAL_WL_DOMAIN"
    j = check(d, ham(), IP="192.0.2.1", From="<a@first.example>")
    assert j["symbols"]["FILE_BL_DOMAIN"]["score"] == 7.5, j

    # edit the file: every worker picks it up within the interval
    tmp = tmp_path / "bl_domains.map.new"
    tmp.write_text("second.example\n")
    os.rename(tmp, mapfile)
    deadline = time.time() + 10
    seen = 0
    while time.time() < deadline and seen < 8:
        j = check(d, ham(), IP="192.0.2.1", From="<a@second.example>")
        seen = seen + 1 if "FILE_BL_DOMAIN" in j["symbols"] else 0
        time.sleep(0.2)
    assert seen >= 8, "file map change not picked up by all workers"
    j = check(d, ham(), IP="192.0.2.1", From="<a@first.example>")
    assert "FILE_BL_DOMAIN" not in j["symbols"], j


def test_bad_list_refuses_to_start(daemon_factory):
    d = daemon_factory(extra_local={"blacklist.conf": 'blacklist_ip = ["300.1.2.3"];\n'})
    try:
        d.start(timeout=10)
    except RuntimeError as e:
        assert "300.1.2.3" in str(e)
    else:
        raise AssertionError("daemon started with an invalid blacklist entry")
