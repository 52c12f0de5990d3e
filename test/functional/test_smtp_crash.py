"""Crash safety of the SMTP path (DESIGN.md section 5): the daemon is
killed with SIGKILL (main process and all workers at once) at random
moments while 200 messages are being sent; after each restart the
sender goes on. Every message that got a 250 must end up in the Maildir
(at least once), and nothing is delivered truncated: each delivered copy
ends with its own end marker.

Bounded: 200 messages, 4 crashes, each message retried at most 20 times,
the whole test stops itself within a few minutes.
"""
import glob
import os
import random
import re
import smtplib
import threading
import time

from dnszone import DnsZone
from mailcore import add_user, mail_daemon, rspamadm, wait_port

MESSAGES = 200
CRASHES = 4
BODY_LINES = 200


def body(i):
    lines = "".join("line %d of message %d, some text to make it longer\r\n" % (n, i)
                    for n in range(BODY_LINES))
    return ("From: <alice@example.org>\r\nTo: <bob@example.test>\r\nSubject: crash test %d\r\n"
            "Message-ID: <crash-%d@example.org>\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\n"
            "%sEND-OF-MESSAGE-%d\r\n" % (i, i, lines, i))


class Sender(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.accepted = set()
        self.failed = set()
        self.stop = False

    def send_one(self, i):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.example.org")
            s.sendmail("alice@example.org", ["bob@example.test"], body(i))

    def run(self):
        for i in range(MESSAGES):
            for _ in range(20):
                if self.stop:
                    return
                try:
                    self.send_one(i)
                    self.accepted.add(i)
                    break
                except (OSError, smtplib.SMTPException):
                    time.sleep(0.2)
            else:
                self.failed.add(i)


def spool_busy(state):
    return [p for q in ("incoming", "active") for p in glob.glob(os.path.join(state, "spool", q, "*"))]


def test_sigkill_during_delivery_loses_no_accepted_message(tmp_path):
    zone = DnsZone("")
    d = mail_daemon(tmp_path, zone.address, mta="smtpd_client_connection_rate_limit = 0;\n"
                                                 "smtpd_client_connection_count_limit = 0;\n")
    rspamadm(d, "domain", "add", "example.test")
    add_user(d, "bob@example.test")
    d.start()
    sender = Sender(d.smtp_port)
    rng = random.Random(20261129)
    try:
        assert wait_port(d.smtp_port)
        sender.start()
        for _ in range(CRASHES):
            time.sleep(rng.uniform(0.3, 1.5))
            if not sender.is_alive():
                break
            d.crash()
            d.start()
            assert wait_port(d.smtp_port)
        sender.join(timeout=240)
        sender.stop = True
        assert not sender.is_alive()
        deadline = time.time() + 60
        while spool_busy(d.state) and time.time() < deadline:
            time.sleep(0.2)
        assert not spool_busy(d.state), spool_busy(d.state)
    finally:
        sender.stop = True
        d.stop()
        zone.stop()
    delivered = {}
    for path in glob.glob(os.path.join(d.state, "mail", "example.test", "bob", "new", "*")):
        with open(path, "rb") as f:
            data = f.read()
        m = re.search(rb"^Subject: crash test (\d+)\r$", data, re.M)
        assert m, path
        i = int(m.group(1))
        assert data.endswith(b"END-OF-MESSAGE-%d\r\n" % i), "truncated copy of %d" % i
        delivered[i] = delivered.get(i, 0) + 1
    missing = sorted(sender.accepted - set(delivered))
    assert not missing, "accepted but never delivered: %s" % missing
    assert len(sender.accepted) >= MESSAGES - len(sender.failed)
    assert not glob.glob(os.path.join(d.state, "spool", "corrupt", "*"))
    print("accepted %d, delivered %d distinct, %d duplicates" % (
        len(sender.accepted), len(delivered), sum(delivered.values()) - len(delivered)))
