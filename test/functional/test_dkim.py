"""DKIM through the real daemon: signing interoperates with python3-dkim
(Debian's dkimpy, an independent implementation) for RSA-2048 and Ed25519,
and messages dkimpy signs verify with ours, the key served by a loopback
DNS zone (dnszone.py). Also the failure symbols: tampered body, missing
key, revoked key, DNS failure, unsigned mail; and rspamadm dkim_keygen.
"""
import base64
import json
import os
import subprocess
import urllib.request

import dkim
import pytest

from conftest import BIN
from dnszone import DnsZone

MSG = (b"From: Alice <alice@example.com>\r\n"
       b"To: Bob <bob@example.net>\r\n"
       b"Subject: DKIM interop\r\n"
       b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
       b"Message-ID: <interop-1@example.com>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=us-ascii\r\n"
       b"\r\n"
       b"Hello Bob,\r\n"
       b"\r\n"
       b"  spaces   and\ttabs  stay as they are.  \r\n"
       b"Alice\r\n")


def checkv2(daemon, body, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{daemon.port}/checkv2", data=body,
                                 headers=headers or {}, method="POST")
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def keygen(tmp_path, ktype, selector):
    keyfile = str(tmp_path / f"{selector}.key")
    out = subprocess.run([os.path.join(BIN, "rspamadm"), "dkim_keygen", "-d", "example.com",
                          "-s", selector, "-t", ktype, "-k", keyfile],
                         capture_output=True, text=True, check=True).stdout
    assert oct(os.stat(keyfile).st_mode & 0o777) == "0o600"
    # the zone-file form: join the quoted strings into the record text
    strings = [line.split('"')[1::2] for line in out.splitlines()]
    record = "".join(s for parts in strings for s in parts)
    for line in out.splitlines():
        for s in line.split('"')[1::2]:
            assert len(s) <= 255
    return keyfile, record


def zone_txt(name, record):
    chunks = [record[i:i + 255] for i in range(0, len(record), 255)]
    return f'{name}. 300 IN TXT ' + " ".join(f'"{c}"' for c in chunks) + "\n"


@pytest.mark.parametrize("ktype", ["rsa", "ed25519"])
def test_signed_by_us_verifies_with_dkimpy(daemon_factory, tmp_path, ktype):
    keyfile, record = keygen(tmp_path, ktype, "mail")
    assert record.startswith(f"v=DKIM1; k={ktype}; p=")
    d = daemon_factory(extra_local={"dkim_signing.conf": (
        'domain { example.com { selector = "mail"; path = "%s"; } }\n'
        'sign_alg = "%s";\n' % (keyfile, "rsa-sha256" if ktype == "rsa" else "ed25519-sha256"))})
    d.start()
    res = checkv2(d, MSG, {"User": "alice@example.com", "From": "alice@example.com"})
    assert "DKIM_SIGNED" in res["symbols"], res["symbols"].keys()
    assert res["symbols"]["DKIM_SIGNED"]["options"] == ["example.com:s=mail"]
    value = res["dkim-signature"]
    assert isinstance(value, str) and "\n\t" in value
    a = "rsa-sha256" if ktype == "rsa" else "ed25519-sha256"
    assert value.startswith(f"v=1; a={a}; c=relaxed/relaxed; d=example.com; s=mail;")
    signed = b"DKIM-Signature: " + value.replace("\n", "\r\n").encode() + b"\r\n" + MSG

    def dnsfunc(name, timeout=5):
        assert name == b"mail._domainkey.example.com."
        return record.encode()

    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert not dkim.verify(signed.replace(b"Hello Bob", b"Hello Eve"), dnsfunc=dnsfunc)
    # and an LF-only message signs the same way
    res = checkv2(d, MSG.replace(b"\r\n", b"\n"), {"User": "alice@example.com"})
    signed = b"DKIM-Signature: " + res["dkim-signature"].replace("\n", "\r\n").encode() + \
        b"\r\n" + MSG
    assert dkim.verify(signed, dnsfunc=dnsfunc)


def test_signing_conditions(daemon_factory, tmp_path):
    keyfile, _ = keygen(tmp_path, "ed25519", "mail")
    d = daemon_factory(extra_local={"dkim_signing.conf":
                                    'domain { example.com { selector = "mail"; path = "%s"; } }\n'
                                    % keyfile})
    d.start()
    # not authenticated, no local IP: not signed
    res = checkv2(d, MSG, {"IP": "192.0.2.1"})
    assert "dkim-signature" not in res and "DKIM_SIGNED" not in res["symbols"]
    # user of another domain: not signed (allow_username_mismatch = false)
    res = checkv2(d, MSG, {"User": "mallory@example.org"})
    assert "dkim-signature" not in res
    # a subdomain sender signs as the eSLD (use_esld)
    res = checkv2(d, MSG.replace(b"alice@example.com", b"alice@mail.example.com"),
                  {"User": "alice@example.com"})
    assert res["symbols"]["DKIM_SIGNED"]["options"] == ["example.com:s=mail"]
    # local network: signed
    res = checkv2(d, MSG, {"IP": "127.0.0.1"})
    assert "DKIM_SIGNED" in res["symbols"]
    # a domain without a key: not signed
    res = checkv2(d, MSG.replace(b"alice@example.com", b"alice@other.test"),
                  {"User": "alice@other.test"})
    assert "dkim-signature" not in res


def test_missing_key_file_is_a_config_error(daemon_factory, tmp_path):
    d = daemon_factory(extra_local={"dkim_signing.conf":
                                    'domain { example.com { selector = "s"; path = "%s"; } }\n'
                                    % (tmp_path / "nope.key")})
    with pytest.raises(RuntimeError) as e:
        d.start(timeout=10)
    assert "nope.key" in str(e.value)


def dkimpy_sign(msg, selector, keyfile, alg, **kw):
    with open(keyfile, "rb") as f:
        key = f.read()
    if alg == b"ed25519-sha256":
        # dkimpy wants the raw 32-byte seed: the tail of the PKCS#8 DER
        der = base64.b64decode(b"".join(key.splitlines()[1:-1]))
        key = base64.b64encode(der[-32:])
    return dkim.sign(msg, selector.encode(), b"example.com", key,
                     canonicalize=(b"relaxed", b"simple"), signature_algorithm=alg,
                     include_headers=[b"from", b"to", b"subject", b"date"], **kw) + msg


@pytest.fixture
def verify_setup(daemon_factory, tmp_path):
    rsakey, rsarec = keygen(tmp_path, "rsa", "rsa")
    edkey, edrec = keygen(tmp_path, "ed25519", "ed")
    zone = (zone_txt("rsa._domainkey.example.com", rsarec) +
            zone_txt("ed._domainkey.example.com", edrec) +
            zone_txt("revoked._domainkey.example.com", "v=DKIM1; k=rsa; p=") +
            "fail._domainkey.example.com. SERVFAIL TXT\n")
    dns = DnsZone(zone)
    d = daemon_factory(extra_local={
        "options.inc": 'dns { nameserver = ["127.0.0.1:%d"]; timeout = 0.5s; retransmits = 1; }\n'
        % dns.port})
    d.start()
    yield d, rsakey, edkey
    dns.stop()


def test_signed_by_dkimpy_verifies_with_us(verify_setup):
    d, rsakey, edkey = verify_setup
    for sel, key, alg in (("rsa", rsakey, b"rsa-sha256"), ("ed", edkey, b"ed25519-sha256")):
        signed = dkimpy_sign(MSG, sel, key, alg)
        res = checkv2(d, signed)
        assert "R_DKIM_ALLOW" in res["symbols"], (sel, res["symbols"].keys())
        assert res["symbols"]["R_DKIM_ALLOW"]["options"] == [f"example.com:s={sel}"]
        assert res["symbols"]["R_DKIM_ALLOW"]["score"] == pytest.approx(-0.2)
        # tampered body
        res = checkv2(d, signed.replace(b"Hello Bob", b"Hello Eve"))
        assert "R_DKIM_REJECT" in res["symbols"]
        assert res["symbols"]["R_DKIM_REJECT"]["options"] == [f"example.com:s={sel}"]
        # tampered signed header
        res = checkv2(d, signed.replace(b"Subject: DKIM interop", b"Subject: DKIM changed"))
        assert "R_DKIM_REJECT" in res["symbols"]


def test_both_signatures_and_failures(verify_setup, tmp_path):
    d, rsakey, edkey = verify_setup
    both = dkimpy_sign(dkimpy_sign(MSG, "rsa", rsakey, b"rsa-sha256"), "ed", edkey,
                       b"ed25519-sha256")
    res = checkv2(d, both)
    assert sorted(res["symbols"]["R_DKIM_ALLOW"]["options"]) == \
        ["example.com:s=ed", "example.com:s=rsa"]
    # l= with text appended after the signed part still passes
    res = checkv2(d, dkimpy_sign(MSG, "rsa", rsakey, b"rsa-sha256", length=True) + b"PS\r\n")
    assert "R_DKIM_ALLOW" in res["symbols"]
    for sel, sym in (("missing", "R_DKIM_PERMFAIL"), ("revoked", "R_DKIM_PERMFAIL"),
                     ("fail", "R_DKIM_TEMPFAIL")):
        res = checkv2(d, dkimpy_sign(MSG, "rsa", rsakey, b"rsa-sha256").replace(
            b"s=rsa;", f"s={sel};".encode()))
        assert sym in res["symbols"], (sel, res["symbols"].keys())
        assert res["symbols"][sym]["options"] == [f"example.com:s={sel}"]
    res = checkv2(d, MSG)
    assert "R_DKIM_NA" in res["symbols"]


def test_keygen_refuses_overwrite(tmp_path):
    keyfile, _ = keygen(tmp_path, "rsa", "x")
    r = subprocess.run([os.path.join(BIN, "rspamadm"), "dkim_keygen", "-d", "example.com",
                        "-s", "x", "-k", keyfile], capture_output=True, text=True)
    assert r.returncode != 0 and "force" in r.stderr
    r = subprocess.run([os.path.join(BIN, "rspamadm"), "dkim_keygen", "-d", "example.com",
                        "-s", "x", "-k", keyfile, "--force", "-b", "1024"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith('x._domainkey IN TXT ( "v=DKIM1; k=rsa; "')
    r = subprocess.run([os.path.join(BIN, "rspamadm"), "dkim_keygen", "-d", "example.com",
                        "-s", "x", "-o", "plain", "-t", "ed25519"],
                       capture_output=True, text=True, check=True)
    assert r.stdout.startswith("-----BEGIN PRIVATE KEY-----")
    assert r.stdout.splitlines()[-1].startswith("v=DKIM1; k=ed25519; p=")
