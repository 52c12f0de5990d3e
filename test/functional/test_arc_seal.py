"""ARC sealing through the real daemon: an authenticated /checkv2 scan gets
ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results in the
reply's milter block; prepended to the message they verify with an
independent implementation (python3-dkim's dkim.arc_verify), both for a
message without a chain (i=1, cv=none) and on top of a two-hop chain
sealed by python3-dkim (i=3, cv=pass). Unauthenticated mail from outside
is not sealed.
"""
import base64
import json
import subprocess
import urllib.request

import dkim
import pytest

from dnszone import DnsZone

HDRS = [b"from", b"to", b"subject", b"date", b"message-id"]


def checkv2(daemon, body, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{daemon.port}/checkv2", data=body,
                                 headers=headers or {}, method="POST")
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def message(from_addr, body=b"Hello.\r\n"):
    return (b"From: " + from_addr.encode() + b"\r\n"
            b"To: bob@dest.example\r\n"
            b"Subject: ARC seal test\r\n"
            b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
            b"Message-ID: <arcseal-1@example.com>\r\n"
            b"\r\n" + body)


def txt(name, record):
    chunks = [record[i:i + 255] for i in range(0, len(record), 255)]
    return f'{name}. 300 IN TXT ' + " ".join(f'"{c}"' for c in chunks) + "\n"


def make_key(tmp_path, name):
    path = str(tmp_path / f"{name}.pem")
    subprocess.run(["openssl", "genrsa", "-out", path, "2048"], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return path, open(path, "rb").read(), base64.b64encode(der).decode()


def added(res):
    """The milter block's new headers as "Name: value" lines, CRLF-folded."""
    add = res["milter"].get("add_headers", {})
    out = b""
    for name in ("ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"):
        entry = add.get(name)
        assert isinstance(entry, dict), add
        value = entry["value"].replace("\n", "\r\n")
        out += f"{name}: {value}\r\n".encode()
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("arcseal")
    keys = {d: make_key(tmp, d) for d in ("example.com", "origin.example",
                                          "forwarder.example")}
    sels = {"example.com": "arc1", "origin.example": "s1", "forwarder.example": "s2"}
    records = {f"{sels[d]}._domainkey.{d}.".encode():
               f"v=DKIM1; k=rsa; p={k[2]}".encode() for d, k in keys.items()}
    zone = DnsZone("".join(txt(n.decode().rstrip("."), r.decode())
                           for n, r in records.items()))
    yield keys, records, zone
    zone.stop()


@pytest.fixture
def daemon(daemon_factory, world):
    keys, _, zone = world
    local = {
        "options.inc": 'dns { nameserver = ["%s"]; timeout = 0.5s; retransmits = 1; }\n'
                       % zone.address,
        "arc.conf": 'use_domain = "auth";\n'
                    'authserv_id = "mx.example.com";\n'
                    'domain { example.com { selector = "arc1"; path = "%s"; } }\n'
                    % keys["example.com"][0],
    }
    return daemon_factory(extra_local=local).start()


def dnsfunc_for(records):
    def dnsfunc(name, timeout=5):
        return records.get(name if name.endswith(b".") else name + b".", b"")
    return dnsfunc


def test_seal_without_chain(daemon, world):
    _, records, _ = world
    msg = message("a@example.com")
    res = checkv2(daemon, msg, {"User": "u@example.com", "IP": "198.51.100.20"})
    assert res["symbols"]["ARC_SIGNED"]["options"] == ["example.com:s=arc1:i=1"]
    assert res["symbols"].get("ARC_NA")
    sealed = added(res) + msg
    assert b"ARC-Seal: i=1; cv=none;" in sealed
    assert b"ARC-Authentication-Results: i=1; mx.example.com; arc=none" in sealed
    cv, results, reason = dkim.arc_verify(sealed, dnsfunc=dnsfunc_for(records))
    assert cv == b"pass", reason
    # the seal covers the body through the AMS: tampering breaks it
    cv, _, _ = dkim.arc_verify(sealed.replace(b"Hello.", b"Hello!"),
                               dnsfunc=dnsfunc_for(records))
    assert cv == b"fail"


def test_seal_on_two_hop_chain(daemon, world):
    keys, records, _ = world
    dnsfunc = dnsfunc_for(records)
    msg = b"Authentication-Results: mx.origin.example; dkim=none\r\n" + \
        message("a@origin.example")
    m1 = b"".join(dkim.arc_sign(msg, b"s1", b"origin.example", keys["origin.example"][1],
                                b"mx.origin.example", include_headers=HDRS)) + msg
    m1 = b"Authentication-Results: mx.forwarder.example; arc=pass\r\n" + m1
    a = dkim.ARC(m1)
    a.dnsfunc = dnsfunc
    m2 = b"".join(a.sign(b"s2", b"forwarder.example", keys["forwarder.example"][1],
                         b"mx.forwarder.example", include_headers=HDRS)) + m1
    assert dkim.arc_verify(m2, dnsfunc=dnsfunc)[0] == b"pass"
    res = checkv2(daemon, m2, {"User": "fwd@example.com", "IP": "198.51.100.20"})
    assert res["symbols"].get("ARC_ALLOW"), res["symbols"]
    assert res["symbols"]["ARC_SIGNED"]["options"] == ["example.com:s=arc1:i=3"]
    sealed = added(res) + m2
    assert b"ARC-Seal: i=3; cv=pass;" in sealed
    cv, results, reason = dkim.arc_verify(sealed, dnsfunc=dnsfunc)
    assert cv == b"pass", reason
    assert [r["instance"] for r in results] == [3, 2, 1]


def test_seal_on_broken_chain_says_fail(daemon, world):
    keys, records, _ = world
    msg = b"Authentication-Results: mx.origin.example; dkim=none\r\n" + \
        message("a@origin.example")
    m1 = b"".join(dkim.arc_sign(msg, b"s1", b"origin.example", keys["origin.example"][1],
                                b"mx.origin.example", include_headers=HDRS)) + msg
    assert m1.startswith(b"ARC-Seal: i=1")
    m1 = m1.replace(b"Hello.", b"Hello!")
    res = checkv2(daemon, m1, {"User": "fwd@example.com", "IP": "198.51.100.20"})
    assert res["symbols"].get("ARC_REJECT"), res["symbols"]
    sealed = added(res) + m1
    assert b"ARC-Seal: i=2; cv=fail;" in sealed
    # dkimpy gives no verdict (None) rather than b"fail" here; it must not pass
    assert dkim.arc_verify(sealed, dnsfunc=dnsfunc_for(records))[0] != b"pass"


def test_no_seal_for_outside_mail(daemon):
    res = checkv2(daemon, message("a@example.com"), {"IP": "198.51.100.20"})
    assert "ARC_SIGNED" not in res["symbols"]
    assert "ARC-Seal" not in res["milter"].get("add_headers", {})
    # an authenticated user of another domain (allow_username_mismatch off)
    res = checkv2(daemon, message("a@example.com"), {"User": "u@other.example",
                                                      "IP": "198.51.100.20"})
    assert "ARC_SIGNED" not in res["symbols"]
