"""SMTP policies that need their own daemon: quotas (552 5.2.2 and the
80%/95% warnings), greylisting at DATA (451 4.7.1, then accepted after
the timeout), and the whole SMTP path with users in a real PostgreSQL.
"""
import base64
import glob
import os
import smtplib
import time

import pytest

from mailcore import add_user, mail_daemon, message, read, rspamadm, wait_messages

PASSWORD = "pw-for-policy-tests"


def send(port, rcpt, subject="Hello", body="hi", sender="alice@example.org"):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.example.org")
        return s.sendmail(sender, [rcpt], message(subject=subject, body=body))


def test_quota_warnings_then_mailbox_full(tmp_path, zone):
    d = mail_daemon(tmp_path, zone.address)
    rspamadm(d, "domain", "add", "example.test")
    add_user(d, "small@example.test", PASSWORD, quota="20k")
    d.start()
    try:
        # Sizes chosen so the stored copies (our headers add ~700 bytes)
        # go 76% -> 81% (80% warning) -> 96% (95% warning) of 20 KiB;
        # then even a small message (SIZE= known at MAIL) does not fit
        # and RCPT gets 552.
        for sent, size in enumerate((14800, 500, 2000)):
            assert send(d.smtp_port, "small@example.test", subject="fill %d" % sent,
                        body="z" * size) == {}
            wait_messages(d, "small@example.test", sent + 1)
        time.sleep(0.5)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            send(d.smtp_port, "small@example.test", subject="one more", body="z" * 400)
        code, text = e.value.recipients["small@example.test"]
        assert code == 552 and text.startswith(b"5.2.2"), text
        sent = 3
        files = wait_messages(d, "small@example.test", sent)
        warnings = [p for p in files if b"Subject: Your mailbox is" in read(p)]
        subjects = sorted(read(p).split(b"Subject: ")[1].split(b"\r\n")[0] for p in warnings)
        assert subjects == [b"Your mailbox is 80% full", b"Your mailbox is 95% full"], subjects
    finally:
        d.stop()


def test_greylisting_at_data(tmp_path, zone):
    d = mail_daemon(tmp_path, zone.address, extra_local={
        "actions.conf": "add_header = 10;\ngreylist = 4;\n",
        "greylist.conf": "enabled = true;\ntimeout = 2s;\nexpire = 1h;\n"
                         "check_local = true;\n",  # the test client is 127.0.0.1
    })
    rspamadm(d, "domain", "add", "example.test")
    add_user(d, "bob@example.test", PASSWORD)
    d.start()
    try:
        # MY_RULE (5) puts the message between greylist (4) and add header (10)
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(d.smtp_port, "bob@example.test", subject="viagra offer", body="same body")
        assert e.value.smtp_code == 451 and e.value.smtp_error.startswith(b"4.7.1")
        with pytest.raises(smtplib.SMTPDataError):
            send(d.smtp_port, "bob@example.test", subject="viagra offer", body="same body")
        time.sleep(2.5)
        assert send(d.smtp_port, "bob@example.test", subject="viagra offer", body="same body") == {}
        files = wait_messages(d, "bob@example.test", 1)
        assert b"GREYLIST(" in read(files[0])
    finally:
        d.stop()


def test_smtp_with_postgresql_users(pg, tmp_path, zone):
    pg.psql("DROP TABLE IF EXISTS virtual_domains, virtual_users, virtual_aliases;"
            "CREATE TABLE virtual_domains (name text PRIMARY KEY);"
            "CREATE TABLE virtual_users (email text PRIMARY KEY, password text NOT NULL,"
            " quota_bytes bigint NOT NULL DEFAULT 0);"
            "CREATE TABLE virtual_aliases (source text NOT NULL, destination text NOT NULL);"
            "INSERT INTO virtual_domains VALUES ('pg.test');")
    users = 'users {\n  backend = "pgsql";\n  conninfo = "%s";\n  cache_ttl = 0;\n' \
            '  query_user = "SELECT email, password, quota_bytes FROM virtual_users ' \
            'WHERE email=\'%%s\'";\n}\n' % pg.conninfo
    d = mail_daemon(tmp_path, zone.address, mta=users)
    rspamadm(d, "user", "add", "dora@pg.test", "--password-stdin", stdin=PASSWORD + "\n")
    rspamadm(d, "alias", "add", "info@pg.test", "dora@pg.test")
    d.start()
    try:
        assert send(d.smtp_port, "info@pg.test", subject="via postgres") == {}
        files = wait_messages(d, "dora@pg.test", 1)
        assert len(files) == 1 and b"Subject: via postgres" in read(files[0])
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            send(d.smtp_port, "nobody@pg.test")
        assert e.value.recipients["nobody@pg.test"][0] == 550
        # a row added straight into the table is seen at once (cache off)
        pg.psql("INSERT INTO virtual_aliases VALUES ('sales@pg.test', 'dora@pg.test');")
        assert send(d.smtp_port, "sales@pg.test", subject="new alias") == {}
        assert len(wait_messages(d, "dora@pg.test", 2)) == 2
    finally:
        d.stop()
    assert not glob.glob(os.path.join(d.state, "db", "users.sqlite"))


def test_rewrite_subject_and_plaintext_auth_on_loopback(tmp_path, zone):
    d = mail_daemon(tmp_path, zone.address, mta="smtpd_tls_auth_loopback = yes;\n",
                    extra_local={"actions.conf": "rewrite_subject = 4;\nadd_header = null;\n"
                                                 "greylist = null;\nsubject = \"[SPAM] %s\";\n"})
    rspamadm(d, "domain", "add", "example.test")
    add_user(d, "bob@example.test", PASSWORD)
    d.start()
    try:
        assert send(d.smtp_port, "bob@example.test", subject="cheap viagra") == {}
        files = wait_messages(d, "bob@example.test", 1, folder="Junk")
        head = read(files[0]).split(b"\r\n\r\n")[0]
        assert b"\r\nSubject: [SPAM] cheap viagra\r\n" in head, head
        assert head.count(b"Subject:") == 1
        # AUTH in plaintext from loopback, as configured
        with smtplib.SMTP("127.0.0.1", d.submission_port, timeout=30) as s:
            s.ehlo("laptop")
            assert s.has_extn("auth")
            s.login("bob@example.test", PASSWORD)
    finally:
        d.stop()


def test_failed_auth_is_rate_limited_per_client(tmp_path, zone):
    d = mail_daemon(tmp_path, zone.address, mta="smtpd_tls_auth_loopback = yes;\n")
    rspamadm(d, "domain", "add", "example.test")
    add_user(d, "bob@example.test", PASSWORD)
    d.start()
    try:
        def auth_plain(password):
            with smtplib.SMTP("127.0.0.1", d.submission_port, timeout=30) as s:
                s.ehlo("laptop")
                token = base64.b64encode(b"\0bob@example.test\0" + password.encode())
                return s.docmd("AUTH PLAIN " + token.decode())[0]

        assert [auth_plain("guess-%d" % i) for i in range(10)] == [535] * 10
        # even the right password is refused for the rest of the window
        with smtplib.SMTP("127.0.0.1", d.submission_port, timeout=30) as s:
            s.ehlo("laptop")
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                s.login("bob@example.test", PASSWORD)
            assert e.value.smtp_code == 454
    finally:
        d.stop()
