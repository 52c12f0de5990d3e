"""The POP3 server against the real daemon with Python's poplib: STLS then
USER/PASS, POP3S with AUTH PLAIN, plaintext logins refused before TLS
(loopback is not allowed plaintext in this fixture), STAT/LIST sizes,
RETR byte for byte with dot-stuffing, TOP, DELE with RSET and with QUIT,
a dropped connection keeping everything, UIDL stable across sessions and
the maildrop lock ([IN-USE]). Mail arrives through our own SMTP server.
"""
import base64
import glob
import os
import poplib
import smtplib
import socket
import time

import pytest

from mailcore import add_mailboxes, client_tls, mail_daemon, maildir, wait_messages

PASSWORD = "correct horse battery"
USERS = ("stat", "retr", "top", "rset", "quit", "drop", "uidl", "lock", "tls", "pop3s",
         "plain")


@pytest.fixture(scope="module")
def mx(tmp_path_factory, zone):
    d = mail_daemon(tmp_path_factory.mktemp("pop3"), zone.address)
    add_mailboxes(d, *("%s@example.test" % u for u in USERS), password=PASSWORD)
    d.start()
    yield d
    d.stop()


def body_message(subject, body):
    return ("From: Alice <alice@example.org>\r\nTo: x@example.test\r\nSubject: %s\r\n"
            "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d.%s@example.org>\r\n"
            "\r\n%s" % (subject, time.time_ns(), subject.replace(" ", "."), body))


def deliver(mx, user, messages):
    """Sends the messages to user@example.test and waits for the Maildir."""
    email = "%s@example.test" % user
    with smtplib.SMTP("127.0.0.1", mx.smtp_port, timeout=30) as s:
        s.ehlo("client.example.org")
        for m in messages:
            assert s.sendmail("alice@example.org", [email], m) == {}
    files = wait_messages(mx, email, count=len(messages))
    assert len(files) == len(messages)
    return email


def stored(mx, email):
    """Message files of the INBOX (new/ and cur/), sorted by delivery."""
    root = maildir(mx, email)
    files = glob.glob(os.path.join(root, "new", "*")) + glob.glob(os.path.join(root, "cur", "*"))
    return sorted(files, key=lambda f: os.path.basename(f).split(",")[0])


def crlf(data):
    """The message as POP3 sends it: every line end CRLF. (The SMTP
    server folds the headers it adds with bare LFs.)"""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def pop_stls(mx, email):
    p = poplib.POP3("127.0.0.1", mx.pop3_port, timeout=30)
    p.stls(client_tls())
    p.user(email)
    p.pass_(PASSWORD)
    return p


def pop_ssl(mx):
    return poplib.POP3_SSL("127.0.0.1", mx.pop3s_port, timeout=30, context=client_tls())


def test_capa_and_plaintext_refused(mx):
    p = poplib.POP3("127.0.0.1", mx.pop3_port, timeout=30)
    assert p.getwelcome() == b"+OK POP3 ready"
    capa = p.capa()
    for c in ("TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS"):
        assert c in capa, capa
    assert "USER" not in capa and "SASL" not in capa
    with pytest.raises(poplib.error_proto) as e:
        p.user("stat@example.test")
    assert b"[AUTH]" in e.value.args[0]
    with pytest.raises(poplib.error_proto):
        p._shortcmd("AUTH PLAIN " + base64.b64encode(
            b"\0stat@example.test\0" + PASSWORD.encode()).decode())
    p.stls(client_tls())
    capa = p.capa()
    assert "USER" in capa and capa.get("SASL") == ["PLAIN"] and "STLS" not in capa
    p.quit()


def test_stls_user_pass_stat_list(mx):
    msgs = [body_message("one", "short\r\n"), body_message("two", "x" * 5000 + "\r\n")]
    email = deliver(mx, "stat", msgs)
    files = stored(mx, email)
    sizes = [len(crlf(open(f, "rb").read())) for f in files]
    p = pop_stls(mx, email)
    assert p.stat() == (2, sum(sizes))
    resp, lines, _ = p.list()
    assert lines == [b"1 %d" % sizes[0], b"2 %d" % sizes[1]]
    assert p.list(2).split()[1:] == [b"2", str(sizes[1]).encode()]
    p.quit()


def test_wrong_password(mx):
    p = poplib.POP3("127.0.0.1", mx.pop3_port, timeout=30)
    p.stls(client_tls())
    p.user("stat@example.test")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    p.quit()


def test_pop3s_auth_plain(mx):
    email = deliver(mx, "pop3s", [body_message("implicit", "over TLS\r\n")])
    p = pop_ssl(mx)
    assert p.getwelcome() == b"+OK POP3 ready"
    resp = p._shortcmd("AUTH PLAIN " + base64.b64encode(
        b"\0" + email.encode() + b"\0" + PASSWORD.encode()).decode())
    assert resp.startswith(b"+OK")
    assert p.stat()[0] == 1
    p.quit()


def test_auth_plain_continuation(mx):
    email = deliver(mx, "plain", [body_message("cont", "hello\r\n")])
    p = pop_ssl(mx)
    p._putcmd("AUTH PLAIN")
    assert p._getline()[0] == b"+ "
    resp = p._shortcmd(base64.b64encode(b"\0" + email.encode() + b"\0" +
                                        PASSWORD.encode()).decode())
    assert resp.startswith(b"+OK")
    assert p.stat()[0] == 1
    p.quit()


def test_retr_exact_bytes_dot_stuffing(mx):
    body = ".starts with a dot\r\n..two dots\r\n.\r\nmiddle\r\n. space\r\nend\r\n"
    email = deliver(mx, "retr", [body_message("dots", body)])
    stored_bytes = crlf(open(stored(mx, email)[0], "rb").read())
    p = pop_stls(mx, email)
    resp, lines, octets = p.retr(1)
    assert resp.startswith(b"+OK %d octets" % len(stored_bytes))
    # poplib undoes the stuffing; the lines are the stored message's
    assert b"\r\n".join(lines) + b"\r\n" == stored_bytes
    # and on the wire every dot line was stuffed
    p._putcmd("RETR 1")
    raw = []
    while True:
        line = p.file.readline()
        raw.append(line)
        if line == b".\r\n":
            break
    wire = b"".join(raw[1:-1])
    assert b"\r\n...two dots\r\n..\r\nmiddle\r\n.. space\r\n" in wire
    assert b"\r\n..starts with a dot\r\n" in wire
    p.quit()


def test_top(mx):
    email = deliver(mx, "top", [body_message("top", "l1\r\nl2\r\nl3\r\nl4\r\n")])
    p = pop_stls(mx, email)
    resp, lines, _ = p.top(1, 2)
    i = lines.index(b"")
    assert any(l.startswith(b"Subject: top") for l in lines[:i])
    assert lines[i + 1:] == [b"l1", b"l2"]
    resp, lines, _ = p.top(1, 0)
    assert lines[-1] == b""
    p.quit()


def test_dele_rset_keeps(mx):
    email = deliver(mx, "rset", [body_message("a", "a\r\n"), body_message("b", "b\r\n")])
    p = pop_stls(mx, email)
    p.dele(1)
    assert p.stat()[0] == 1
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    p.rset()
    assert p.stat()[0] == 2
    p.quit()
    assert len(stored(mx, email)) == 2


def test_dele_quit_removes(mx):
    email = deliver(mx, "quit", [body_message("first", "1\r\n"), body_message("second", "2\r\n")])
    p = pop_stls(mx, email)
    p.dele(1)
    assert p.quit().startswith(b"+OK")
    left = stored(mx, email)
    assert len(left) == 1 and b"Subject: second" in open(left[0], "rb").read()
    p = pop_stls(mx, email)
    assert p.stat()[0] == 1
    assert any(l.startswith(b"Subject: second") for l in p.retr(1)[1])
    p.quit()


def test_dropped_connection_keeps(mx):
    email = deliver(mx, "drop", [body_message("keep", "k\r\n")])
    p = pop_stls(mx, email)
    p.dele(1)
    p.sock.close()
    p.file.close()
    deadline = time.time() + 10
    while True:
        # the lock goes with the session: a new login works once it ended
        try:
            p = pop_stls(mx, email)
            break
        except poplib.error_proto as e:
            assert b"[IN-USE]" in e.args[0] and time.time() < deadline
            time.sleep(0.1)
    assert p.stat()[0] == 1
    p.quit()
    assert len(stored(mx, email)) == 1


def test_uidl_stable(mx):
    email = deliver(mx, "uidl", [body_message("u1", "1\r\n"), body_message("u2", "2\r\n")])
    p = pop_stls(mx, email)
    first = p.uidl()[1]
    assert len(first) == 2 and first[0] != first[1]
    one = p.uidl(2)
    p.dele(1)
    p.quit()
    p = pop_stls(mx, email)
    after = p.uidl()[1]
    assert len(after) == 1
    assert after[0].split()[1] == first[1].split()[1] == one.split()[2]
    p.quit()


def test_second_session_in_use(mx):
    email = deliver(mx, "lock", [body_message("locked", "x\r\n")])
    p = pop_stls(mx, email)
    q = poplib.POP3("127.0.0.1", mx.pop3_port, timeout=30)
    q.stls(client_tls())
    q.user(email)
    with pytest.raises(poplib.error_proto) as e:
        q.pass_(PASSWORD)
    assert e.value.args[0].startswith(b"-ERR [IN-USE]")
    q.quit()
    p.quit()
    q = pop_stls(mx, email)
    q.quit()


def test_pipelined_commands(mx):
    email = deliver(mx, "tls", [body_message("pipe", "p\r\n")])
    p = pop_stls(mx, email)
    p.sock.sendall(b"STAT\r\nNOOP\r\nLIST 1\r\n")
    r = [p._getline()[0] for _ in range(3)]
    assert r[0].startswith(b"+OK 1 ") and r[1] == b"+OK" and r[2].startswith(b"+OK 1 ")
    p.quit()


def test_stls_discards_pipelined_plaintext(mx):
    """Bytes sent after STLS in the same packet must never be taken as if
    they came over TLS (RFC 2595 section 4)."""
    raw = socket.create_connection(("127.0.0.1", mx.pop3_port), timeout=30)
    f = raw.makefile("rb")
    assert f.readline().startswith(b"+OK")
    raw.sendall(b"STLS\r\nQUIT\r\n")
    assert f.readline().startswith(b"+OK")
    tls = client_tls().wrap_socket(raw, server_hostname="mx.test.example")
    tf = tls.makefile("rb")
    tls.sendall(b"CAPA\r\n")
    assert tf.readline() == b"+OK Capability list follows\r\n"
    capa = []
    while True:
        line = tf.readline()
        if line == b".\r\n":
            break
        capa.append(line.strip())
    assert b"USER" in capa and b"STLS" not in capa
    tls.sendall(b"QUIT\r\n")
    assert tf.readline().startswith(b"+OK")
    tls.close()


def test_failed_logins_limited_and_logged(tmp_path, zone):
    """Past 10 failed logins per client and anvil window even the right
    password is refused, and the client is disconnected; every failure
    is logged. (A daemon of its own: the block lasts the window.)"""
    d = mail_daemon(tmp_path, zone.address)
    add_mailboxes(d, "brute@example.test", password=PASSWORD)
    d.start()
    try:
        failures = 0
        for _ in range(4):
            p = pop_ssl(d)
            for _ in range(3):
                if failures == 10:
                    break
                p.user("brute@example.test")
                with pytest.raises(poplib.error_proto):
                    p.pass_("guess")
                failures += 1
            p.quit()
        p = pop_ssl(d)
        p.user("brute@example.test")
        with pytest.raises(poplib.error_proto) as e:
            p.pass_(PASSWORD)
        assert b"Too many failed logins" in e.value.args[0]
        assert p.file.readline() == b""  # disconnected
        assert d.log().count("authentication failed for brute@example.test") >= 10
    finally:
        d.stop()
