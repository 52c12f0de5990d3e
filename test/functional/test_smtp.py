"""The embedded SMTP server with real clients (smtplib, raw sockets, swaks):
MX delivery into Maildir, STARTTLS, AUTH on submission, implicit TLS,
PIPELINING, BDAT, SIZE, unknown users, relay tricks, scan before queue
(GTUBE rejected, MY_RULE in X-Spamd-Result, spam into Junk), limits.

The client is always 127.0.0.1, which these daemons do NOT count as
mynetworks (mynetworks = 192.0.2.0/24): every test is an outside client
unless it authenticates.
"""
import base64
import os
import shutil
import smtplib
import socket
import subprocess

import pytest

from conftest import GTUBE
from mailcore import (add_user, client_tls, mail_daemon, message, read, rspamadm,
                      wait_messages)

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def mx(tmp_path_factory, zone):
    d = mail_daemon(tmp_path_factory.mktemp("smtp"), zone.address)
    rspamadm(d, "domain", "add", "example.test")
    add_user(d, "bob@example.test", PASSWORD)
    add_user(d, "carol@example.test", PASSWORD)
    rspamadm(d, "alias", "add", "team@example.test", "bob@example.test")
    rspamadm(d, "alias", "add", "team@example.test", "carol@example.test")
    rspamadm(d, "alias", "add", "sales@example.test", "carol@example.test")
    d.start()
    yield d
    d.stop()


def smtp(port, **kw):
    return smtplib.SMTP("127.0.0.1", port, timeout=30, **kw)


def test_ehlo_extensions(mx):
    with smtp(mx.smtp_port) as s:
        code, banner = s.ehlo("client.example.org")
        assert code == 250
        for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes",
                    "starttls", "chunking"):
            assert s.has_extn(ext), (ext, banner)
        assert s.esmtp_features["size"] == "10240000"
        # no AUTH on the MX port
        assert not s.has_extn("auth")


def test_delivery_to_maildir_with_trace_headers(mx):
    with smtp(mx.smtp_port) as s:
        s.ehlo("client.example.org")
        r = s.sendmail("alice@example.org", ["bob@example.test"],
                       message(subject="Lunch", body="Noon at the usual place."))
        assert r == {}
    files = wait_messages(mx, "bob@example.test")
    assert len(files) == 1
    data = read(files[0])
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"Received: from client.example.org (unknown [127.0.0.1])" in head
    assert b"by mx.test.example" in head and b"with ESMTP id" in head
    assert b"X-Spamd-Result: default:" in head
    assert b"Authentication-Results: " in head
    assert b"X-Spam: Yes" not in head
    assert data.endswith(b"Noon at the usual place.\r\n")
    # every line of the stored message ends in CRLF, our folded headers too
    assert b"\n" not in data.replace(b"\r\n", b""), head
    # the Maildir++ standard folders exist after the first delivery
    for folder in ("Sent", "Drafts", "Junk", "Trash"):
        assert os.path.isdir(os.path.join(mx.state, "mail", "example.test", "bob", "." + folder))


def test_alias_expands_to_several_mailboxes(mx):
    before_b = len(wait_messages(mx, "bob@example.test", 0, timeout=0))
    before_c = len(wait_messages(mx, "carol@example.test", 0, timeout=0))
    with smtp(mx.smtp_port) as s:
        assert s.sendmail("alice@example.org", ["team@example.test"], message(subject="Team")) == {}
    assert len(wait_messages(mx, "bob@example.test", before_b + 1)) == before_b + 1
    assert len(wait_messages(mx, "carol@example.test", before_c + 1)) == before_c + 1


def test_unknown_user_550_511(mx):
    with smtp(mx.smtp_port) as s:
        s.ehlo("client.example.org")
        s.mail("alice@example.org")
        code, text = s.rcpt("nobody@example.test")
        assert code == 550 and text.startswith(b"5.1.1"), text


RELAY_TRICKS = [
    "user@ext.example",
    '"user@ext.example"@example.test',
    "user%ext.example@example.test",
    "ext.example!user@example.test",
    "@example.test:user@ext.example",
    "user@ext.example@example.test",
    "bob@example.test.",
    "user@[192.0.2.1]",
    "user@[127.0.0.1]",
    '"bob@ext.example"@example.test',
]


@pytest.mark.parametrize("rcpt", RELAY_TRICKS)
def test_relay_tricks_refused(mx, rcpt):
    with socket.create_connection(("127.0.0.1", mx.smtp_port), timeout=30) as sock:
        f = sock.makefile("rb")
        assert f.readline().startswith(b"220 ")
        sock.sendall(b"EHLO client.example.org\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        sock.sendall(b"MAIL FROM:<alice@example.org>\r\n")
        assert f.readline().startswith(b"250 ")
        sock.sendall(b"RCPT TO:<%s>\r\n" % rcpt.encode())
        reply = f.readline()
        assert reply[:1] == b"5", (rcpt, reply)
        sock.sendall(b"QUIT\r\n")


def test_relay_denied_to_outside_without_auth(mx):
    with smtp(mx.smtp_port) as s:
        s.ehlo("client.example.org")
        s.mail("alice@example.org")
        code, text = s.rcpt("someone@elsewhere.example")
        assert code == 554 and b"Relay access denied" in text


def test_pipelining_in_one_write(mx):
    before = len(wait_messages(mx, "carol@example.test", 0, timeout=0))
    body = message(subject="Pipelined").encode()
    with socket.create_connection(("127.0.0.1", mx.smtp_port), timeout=30) as sock:
        f = sock.makefile("rb")
        assert f.readline().startswith(b"220 ")
        sock.sendall(b"EHLO client.example.org\r\nMAIL FROM:<alice@example.org>\r\n"
                     b"RCPT TO:<carol@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
                     b"DATA\r\n")
        replies = []
        while len(replies) < 5:
            line = f.readline()
            if line.startswith(b"250-"):
                continue
            replies.append(line[:3])
        assert replies == [b"250", b"250", b"250", b"550", b"354"], replies
        sock.sendall(body + b".\r\nQUIT\r\n")
        assert f.readline().startswith(b"250 2.0.0 Ok: queued as ")
        assert f.readline().startswith(b"221")
    assert len(wait_messages(mx, "carol@example.test", before + 1)) == before + 1


def test_bdat(mx):
    before = len(wait_messages(mx, "bob@example.test", 0, timeout=0))
    body = message(subject="Chunked", body="first half, second half").encode()
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", mx.smtp_port), timeout=30) as sock:
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"EHLO client.example.org\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        sock.sendall(b"MAIL FROM:<alice@example.org> BODY=BINARYMIME\r\nRCPT TO:<bob@example.test>\r\n")
        assert f.readline().startswith(b"250")
        assert f.readline().startswith(b"250")
        sock.sendall(b"BDAT %d\r\n" % half + body[:half])
        assert f.readline().startswith(b"250")
        sock.sendall(b"BDAT %d LAST\r\n" % (len(body) - half) + body[half:])
        assert f.readline().startswith(b"250 2.0.0 Ok: queued as ")
    files = wait_messages(mx, "bob@example.test", before + 1)
    assert any(read(p).endswith(b"first half, second half\r\n") for p in files)


def test_size_refused_at_mail_and_at_data(mx):
    with smtp(mx.smtp_port) as s:
        s.ehlo("client.example.org")
        code, text = s.docmd("MAIL FROM:<alice@example.org> SIZE=99999999")
        assert code == 552 and text.startswith(b"5.3.4"), text
    # without SIZE= the server finds out while reading DATA, keeps reading,
    # stores nothing and answers 552 at the end
    big = message(body=("y" * 998 + "\r\n") * 10500)
    with smtp(mx.smtp_port) as s:
        s.ehlo("client.example.org")
        assert s.mail("alice@example.org")[0] == 250
        assert s.rcpt("bob@example.test")[0] == 250
        code, text = s.data(big.encode())
        assert code == 552 and text.startswith(b"5.3.4"), text
        # the session is still usable
        assert s.noop()[0] == 250


def test_gtube_rejected_at_data(mx):
    with smtp(mx.smtp_port) as s:
        s.ehlo("client.example.org")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.org", ["bob@example.test"],
                       message(subject="test", body=GTUBE))
        assert e.value.smtp_code == 550
        assert e.value.smtp_error.startswith(b"5.7.1")


def test_viagra_my_rule_lands_in_junk(mx):
    before = len(wait_messages(mx, "carol@example.test", 0, folder="Junk", timeout=0))
    with smtp(mx.smtp_port) as s:
        assert s.sendmail("alice@example.org", ["sales@example.test"],
                          message(subject="cheap viagra today")) == {}
    files = wait_messages(mx, "carol@example.test", before + 1, folder="Junk")
    assert len(files) == before + 1
    head = read(files[-1]).split(b"\r\n\r\n", 1)[0]
    assert b"MY_RULE(5.00)" in head, head
    assert b"X-Spam: Yes" in head


def test_client_cannot_forge_spam_headers(mx):
    before = len(wait_messages(mx, "bob@example.test", 0, timeout=0))
    forged = message(subject="Forged").replace("Subject:", "X-Spam: No\r\nX-Spamd-Result: clean\r\nSubject:")
    with smtp(mx.smtp_port) as s:
        assert s.sendmail("alice@example.org", ["bob@example.test"], forged) == {}
    files = wait_messages(mx, "bob@example.test", before + 1)
    data = [read(p) for p in files]
    mine = [m for m in data if b"Subject: Forged" in m][0]
    assert b"X-Spam: No" not in mine and b"X-Spamd-Result: clean" not in mine


def test_starttls_then_mail(mx):
    before = len(wait_messages(mx, "bob@example.test", 0, timeout=0))
    with smtp(mx.smtp_port) as s:
        s.ehlo("client.example.org")
        code, _ = s.starttls(context=client_tls())
        assert code == 220
        s.ehlo("client.example.org")
        assert not s.has_extn("starttls")
        assert s.sendmail("alice@example.org", ["bob@example.test"],
                          message(subject="Over TLS")) == {}
    files = wait_messages(mx, "bob@example.test", before + 1)
    data = [read(p) for p in files]
    mine = [m for m in data if b"Subject: Over TLS" in m][0]
    assert b"with ESMTPS id" in mine and b"(using TLSv1." in mine


def test_submission_requires_tls_for_auth_and_auth_for_mail(mx):
    with smtp(mx.submission_port) as s:
        s.ehlo("laptop")
        assert not s.has_extn("auth")
        code, text = s.docmd("AUTH PLAIN " + base64.b64encode(
            b"\0bob@example.test\0" + PASSWORD.encode()).decode())
        assert code == 538 or code == 530, (code, text)
        code, text = s.docmd("MAIL FROM:<bob@example.test>")
        assert code == 530 and text.startswith(b"5.7.0"), text


def test_submission_auth_relays_and_checks_sender(mx):
    with smtp(mx.submission_port) as s:
        s.ehlo("laptop")
        s.starttls(context=client_tls())
        s.ehlo("laptop")
        assert "PLAIN" in s.esmtp_features["auth"] and "LOGIN" in s.esmtp_features["auth"]
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("bob@example.test", "wrong")
        assert e.value.smtp_code == 535
        s.login("bob@example.test", PASSWORD)
        code, text = s.docmd("MAIL FROM:<carol@example.test>")
        assert code == 553, text
        s.rset()
        # an outside recipient is accepted from an authenticated user
        r = s.sendmail("bob@example.test", ["friend@elsewhere.example", "carol@example.test"],
                       message(subject="From bob", sender="bob@example.test"))
        assert r == {}


def test_login_mechanism(mx):
    with smtp(mx.submission_port) as s:
        s.ehlo("laptop")
        s.starttls(context=client_tls())
        s.ehlo("laptop")
        s.user, s.password = "carol@example.test", PASSWORD
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235


def test_implicit_tls_465(mx):
    with smtplib.SMTP_SSL("127.0.0.1", mx.smtps_port, timeout=30, context=client_tls()) as s:
        s.ehlo("laptop")
        s.login("carol@example.test", PASSWORD)
        assert s.sendmail("carol@example.test", ["bob@example.test"],
                          message(subject="Via 465", sender="carol@example.test")) == {}


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_swaks_tls_auth_submission(mx):
    before = len(wait_messages(mx, "carol@example.test", 0, timeout=0))
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(mx.submission_port),
                        "--from", "bob@example.test", "--to", "carol@example.test",
                        "--tls", "--auth", "PLAIN", "--auth-user", "bob@example.test",
                        "--auth-password", PASSWORD, "--header", "Subject: swaks test",
                        "--timeout", "30"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued as" in r.stdout
    assert len(wait_messages(mx, "carol@example.test", before + 1)) == before + 1


def test_connection_rate_limit(tmp_path, zone):
    d = mail_daemon(tmp_path, zone.address,
                    mta="smtpd_client_connection_rate_limit = 10;\nanvil_rate_time_unit = 60s;\n")
    d.start()
    try:
        replies = []
        for _ in range(11):
            with socket.create_connection(("127.0.0.1", d.smtp_port), timeout=30) as sock:
                replies.append(sock.makefile("rb").readline())
        assert all(r.startswith(b"220 ") for r in replies[:10]), replies
        assert replies[10].startswith(b"421 4.7.0"), replies[10]
    finally:
        d.stop()
