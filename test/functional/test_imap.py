"""The IMAP server against the real daemon with Python's imaplib (and the
npm client imapflow as a second, independent implementation): LOGIN over
STARTTLS and on the implicit-TLS port, LOGINDISABLED before TLS (loopback
is not allowed plaintext in this fixture), LIST with special-use
attributes, SELECT counts, FETCH of the exact stored bytes, BODY[1] and
BODYSTRUCTURE of a multipart message, SEARCH, STORE kept across
sessions, COPY/MOVE/EXPUNGE, APPEND of a literal, CREATE/RENAME/DELETE,
IDLE woken by an SMTP delivery, user isolation, and junk learning seen
in the controller's /stat. Mail arrives through our own SMTP server.
"""
import glob
import imaplib
import json
import os
import re
import shutil
import smtplib
import subprocess
import time
import urllib.request

import pytest

from mailcore import add_user, client_tls, mail_daemon, maildir, rspamadm, wait_messages

PASSWORD = "correct horse battery"
USERS = ("tls", "imaps", "list", "fetch", "store", "copy", "append", "folders", "idle",
         "iso", "other", "junk", "flow")
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def mx(tmp_path_factory, zone):
    d = mail_daemon(tmp_path_factory.mktemp("imap"), zone.address)
    rspamadm(d, "domain", "add", "example.test")
    for u in USERS:
        add_user(d, "%s@example.test" % u, PASSWORD)
    d.start()
    yield d
    d.stop()


def text_message(subject, body):
    return ("From: Alice <alice@example.org>\r\nTo: x@example.test\r\nSubject: %s\r\n"
            "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d.%s@example.org>\r\n"
            "\r\n%s\r\n" % (subject, time.time_ns(), subject.replace(" ", "."), body))


def multipart_message(subject):
    return ("From: Alice <alice@example.org>\r\nTo: x@example.test\r\nSubject: %s\r\n"
            "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d@example.org>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n"
            "\r\n--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "Plain part body\r\n--b1\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
            "<p>Html part</p>\r\n--b1--\r\n" % (subject, time.time_ns()))


def deliver(mx, user, messages, folder=""):
    email = "%s@example.test" % user
    before = len(glob.glob(os.path.join(maildir(mx, email, folder), "new", "*")))
    with smtplib.SMTP("127.0.0.1", mx.smtp_port, timeout=30) as s:
        s.ehlo("client.example.org")
        for m in messages:
            assert s.sendmail("alice@example.org", [email], m) == {}
    files = wait_messages(mx, email, count=before + len(messages), folder=folder)
    assert len(files) >= before + len(messages)
    return email


def login(mx, user):
    m = imaplib.IMAP4_SSL("127.0.0.1", mx.imaps_port, ssl_context=client_tls(), timeout=30)
    m.login("%s@example.test" % user, PASSWORD)
    return m


def test_logindisabled_then_starttls(mx):
    m = imaplib.IMAP4("127.0.0.1", mx.imap_port, timeout=30)
    assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        m.login("tls@example.test", PASSWORD)
    m.starttls(ssl_context=client_tls())
    assert "LOGINDISABLED" not in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities and "STARTTLS" not in m.capabilities
    typ, _ = m.login("tls@example.test", PASSWORD)
    assert typ == "OK"
    m.logout()


def test_imaps_login_and_bad_password(mx):
    m = imaplib.IMAP4_SSL("127.0.0.1", mx.imaps_port, ssl_context=client_tls(), timeout=30)
    with pytest.raises(imaplib.IMAP4.error):
        m.login("imaps@example.test", "wrong")
    typ, _ = m.login("imaps@example.test", PASSWORD)
    assert typ == "OK"
    for cap in ("IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "NAMESPACE", "QUOTA", "ID",
                "ENABLE", "LITERAL+", "UNSELECT", "CHILDREN"):
        typ, data = m.capability()
        assert cap in data[0].decode().split(), cap
    m.logout()


def test_list_special_use(mx):
    deliver(mx, "list", [text_message("first for list", "hello")])
    m = login(mx, "list")
    typ, data = m.list('""', "*")
    assert typ == "OK"
    lines = [d.decode() for d in data]
    byname = {l.rsplit(" ", 1)[1].strip('"'): l for l in lines}
    assert set(("INBOX", "Sent", "Drafts", "Junk", "Trash")) <= set(byname)
    for name, attr in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Junk", "\\Junk"),
                       ("Trash", "\\Trash")):
        assert attr in byname[name], byname[name]
    assert "\\HasNoChildren" in byname["INBOX"]
    m.logout()


def test_select_fetch_exact_bytes_and_multipart(mx):
    email = deliver(mx, "fetch", [text_message("plain one", "Body of the first message"),
                                  multipart_message("multi two")])
    m = login(mx, "fetch")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data[0] == b"2"
    assert m.untagged_responses.get("RECENT") == [b"2"]
    typ, data = m.fetch("1:2", "(UID RFC822.SIZE)")
    assert typ == "OK" and len(data) == 2
    # BODY[] is the file as stored (SMTP added its trace headers)
    files = sorted(glob.glob(os.path.join(maildir(mx, email), "cur", "*")))
    # served with CRLF line ends even where the file has a bare LF
    stored = sorted(re.sub(rb"(?<!\r)\n", b"\r\n", open(f, "rb").read()) for f in files)
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    body1 = data[0][1]
    typ, data = m.fetch("2", "(BODY.PEEK[])")
    body2 = data[0][1]
    assert sorted([body1, body2]) == stored
    typ, data = m.fetch("2", "(BODY.PEEK[1])")
    assert data[0][1] == b"Plain part body"
    typ, data = m.fetch("2", "(BODYSTRUCTURE)")
    bs = data[0].decode()
    assert re.search(r'\(\("TEXT" "PLAIN" \("CHARSET" "us-ascii"\)', bs, re.I), bs
    assert re.search(r'"ALTERNATIVE"', bs, re.I), bs
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.fetch("1", "(BODY[TEXT])")
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0]
    typ, data = m.search(None, "SUBJECT", "multi")
    assert data == [b"2"]
    typ, data = m.uid("SEARCH", "UNSEEN")
    assert len(data[0].split()) == 1
    m.logout()


def test_store_persists_across_sessions(mx):
    deliver(mx, "store", [text_message("flag me", "x"), text_message("leave me", "y")])
    m = login(mx, "store")
    m.select("INBOX")
    typ, data = m.store("1", "+FLAGS", "(\\Flagged $Important)")
    assert typ == "OK" and b"\\Flagged" in data[0]
    m.logout()
    m = login(mx, "store")
    m.select("INBOX")
    typ, data = m.fetch("1:2", "(FLAGS)")
    assert b"\\Flagged" in data[0] and b"$Important" in data[0]
    assert b"\\Flagged" not in data[1]
    typ, data = m.search(None, "FLAGGED")
    assert data == [b"1"]
    m.logout()


def test_copy_move_expunge(mx):
    deliver(mx, "copy", [text_message("m%d" % i, "body %d" % i) for i in range(3)])
    m = login(mx, "copy")
    m.select("INBOX")
    typ, data = m.copy("1", "Archive")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    assert m.create("Archive")[0] == "OK"
    typ, data = m.uid("COPY", "1", "Archive")
    assert typ == "OK"
    assert "COPYUID" in str(m.untagged_responses) or typ == "OK"
    typ, data = m.uid("MOVE", "2", "Archive")
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert data[0] == b"2"
    m.store("1", "+FLAGS", "(\\Deleted)")
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"1"]
    typ, data = m.status("Archive", "(MESSAGES)")
    assert b"MESSAGES 2" in data[0]
    m.logout()


def test_append_literal(mx):
    m = login(mx, "append")
    msg = b"From: me@example.test\r\nSubject: appended\r\n\r\nappended body\r\n"
    typ, data = m.append("Drafts", "(\\Draft)", None, msg)
    assert typ == "OK" and b"APPENDUID" in data[0], data
    m.select("Drafts")
    typ, data = m.fetch("1", "(FLAGS BODY.PEEK[])")
    assert data[0][1] == msg
    assert b"\\Draft" in data[0][0]
    m.logout()


def test_create_rename_delete(mx):
    m = login(mx, "folders")
    assert m.create("Projects/2026")[0] == "OK"
    typ, data = m.list('""', "Projects*")
    text = b" ".join(data).decode()
    assert "\\HasChildren" in text and "Projects/2026" in text
    assert m.rename("Projects", "Work")[0] == "OK"
    typ, data = m.list('""', "*")
    names = b" ".join(data).decode()
    assert "Work/2026" in names and "Projects" not in names
    assert m.delete("Work/2026")[0] == "OK"
    assert m.delete("INBOX")[0] == "NO"
    # non-ASCII names travel as modified UTF-7
    assert m.create("&AMk-t&AOk-")[0] == "OK"
    typ, data = m.list('""', "%t%")
    assert b"&AMk-t&AOk-" in b" ".join(data)
    m.logout()


def test_idle_woken_by_delivery(mx):
    deliver(mx, "idle", [text_message("before idle", "x")])
    m = login(mx, "idle")
    m.select("INBOX")
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    assert m.readline().startswith(b"+")
    deliver(mx, "idle", [text_message("during idle", "y")])
    m.sock.settimeout(15)
    line = m.readline()
    while b"EXISTS" not in line:
        line = m.readline()
    assert line.strip() == b"* 2 EXISTS"
    m.send(b"DONE\r\n")
    line = m.readline()
    while not line.startswith(tag):
        line = m.readline()
    assert b"OK" in line
    m.logout()


def test_user_isolation(mx):
    deliver(mx, "other", [text_message("private", "secret stuff")])
    o = login(mx, "other")
    assert o.create("OtherSecret")[0] == "OK"
    o.logout()
    m = login(mx, "iso")
    typ, data = m.list('""', "*")
    assert b"OtherSecret" not in b" ".join(data)
    for name in ("../other/.OtherSecret", "../../example.test/other", "/etc",
                 "..", "a/../../other"):
        typ, _ = m.select('"%s"' % name)
        assert typ == "NO", name
        typ, _ = m.create('"%s"' % name)
        assert typ in ("NO", "BAD"), name
    assert not os.path.exists(os.path.join(maildir(mx, "iso@example.test"), "..", "x"))
    m.logout()


def stat_learned(mx):
    with urllib.request.urlopen("http://127.0.0.1:%d/stat" % mx.controller_port,
                                timeout=10) as r:
        return json.loads(r.read())["learned"]


def test_junk_learning_visible_in_stat(mx):
    words = " ".join("word%d lorem ipsum dolor sit amet consectetur" % i for i in range(40))
    deliver(mx, "junk", [text_message("cheap pills", "buy now " + words),
                         text_message("meeting notes", "agenda minutes " + words[::-1])])
    before = stat_learned(mx)
    m = login(mx, "junk")
    m.select("INBOX")
    assert m.uid("MOVE", "1", "Junk")[0] == "OK"
    deadline = time.time() + 10
    while stat_learned(mx) < before + 1 and time.time() < deadline:
        time.sleep(0.2)
    assert stat_learned(mx) == before + 1
    # moving into Trash learns nothing
    assert m.uid("MOVE", "2", "Trash")[0] == "OK"
    time.sleep(0.5)
    assert stat_learned(mx) == before + 1
    # out of Junk into INBOX: ham
    m.select("Junk")
    assert m.uid("MOVE", "1:*", "INBOX")[0] == "OK"
    deadline = time.time() + 10
    while stat_learned(mx) < before + 2 and time.time() < deadline:
        time.sleep(0.2)
    assert stat_learned(mx) == before + 2
    m.logout()


def ensure_imapflow():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed")
    if os.path.isdir(os.path.join(HERE, "node_modules", "imapflow")):
        return
    r = subprocess.run(["npm", "install", "--no-save", "--no-audit", "--no-fund",
                        "--prefix", HERE, "imapflow"], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        pytest.skip("npm install imapflow failed: " + r.stderr[-500:])


def test_imapflow_client(mx):
    ensure_imapflow()
    deliver(mx, "flow", [text_message("flow one", "hello from imapflow"),
                         text_message("flow two", "second")])
    r = subprocess.run(["node", os.path.join(HERE, "imap_client.mjs"), str(mx.imaps_port),
                        "flow@example.test", PASSWORD], capture_output=True, text=True,
                       timeout=120, cwd=HERE)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "INBOX" in out["folders"] and out["specialUse"]["Junk"] == "\\Junk"
    assert out["exists"] == 2
    assert out["subjects"] == ["flow one", "flow two"]
    assert "hello from imapflow" in out["source1"]
    assert out["moved"] is True and out["archiveExists"] == 1 and out["inboxAfter"] == 1
