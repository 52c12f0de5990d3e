"""Crash safety of outbound delivery (DESIGN.md section 5): 500 messages
are queued for a remote peer (a fake SMTP server that holds its replies
until all are queued, then answers slowly enough for deliveries to be in
flight), and the sending daemon is killed with SIGKILL (main process and
all workers at once) three times while it delivers, then restarted.
Every queued Message-ID must reach the peer at least once, and the queue
must end empty. Duplicates (the messages in flight at each crash) are
allowed and reported.

Bounded: 500 messages, 3 crashes, each crash waits at most 60 s for its
threshold, the final drain at most 120 s.
"""
import glob
import os
import re
import smtplib
import time

from dnszone import DnsZone
from test_outbound import FakeSmtp, sender_daemon, wait_spool_empty

MESSAGES = 500
CRASH_AT = (100, 250, 400)


def body(i):
    return ("From: <alice@example.org>\r\nTo: <peer%d@far.example>\r\n"
            "Subject: outbound crash %d\r\nMessage-ID: <ocrash-%d@example.org>\r\n"
            "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\n"
            "%sEND-%d\r\n" % (i % 7, i, i, "some text for the body\r\n" * 40, i))


def seen_ids(fake):
    with fake.lock:
        msgs = list(fake.messages)
    ids = {}
    for mail, rcpts, data in msgs:
        m = re.search(rb"^Message-ID: <ocrash-(\d+)@example\.org>", data, re.M | re.I)
        assert m, "from=<%s> to=%s %d bytes: %r" % (mail, rcpts, len(data), data[:300])
        i = int(m.group(1))
        assert data.endswith(b"END-%d\r\n" % i), "truncated copy of %d" % i
        ids[i] = ids.get(i, 0) + 1
    return ids


def test_sigkill_during_outbound_delivery(tmp_path):
    zone = DnsZone("")
    fake = FakeSmtp(data_delay=0.01)
    fake.hold.clear()
    transport = os.path.join(str(tmp_path), "transport")
    with open(transport, "w") as f:
        f.write("* smtp:[127.0.0.3]:%d\n" % fake.port)
    d = sender_daemon(tmp_path / "sender", zone.address, transport,
                      "smtp_destination_concurrency_limit = 4;\n")
    try:
        d.start()
        with smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=60) as s:
            s.ehlo("client.example.org")
            for i in range(MESSAGES):
                assert s.sendmail("alice@example.org", ["peer%d@far.example" % (i % 7)],
                                  body(i)) == {}
        fake.hold.set()
        crashes = 0
        for threshold in CRASH_AT:
            deadline = time.time() + 60
            while len(seen_ids(fake)) < threshold and time.time() < deadline:
                time.sleep(0.02)
            if len(seen_ids(fake)) >= MESSAGES:
                break
            d.crash()
            crashes += 1
            d.start()
        deadline = time.time() + 120
        while len(seen_ids(fake)) < MESSAGES and time.time() < deadline:
            time.sleep(0.2)
        ids = seen_ids(fake)
        missing = sorted(set(range(MESSAGES)) - set(ids))
        assert not missing, "never delivered: %s\n%s" % (missing[:20], d.log()[-3000:])
        assert wait_spool_empty(d, timeout=60), glob.glob(os.path.join(d.state, "spool", "*", "*"))
        assert not glob.glob(os.path.join(d.state, "spool", "corrupt", "*"))
        assert crashes >= 2, "deliveries finished before the crashes"
        # smtp_destination_concurrency_limit held (a killed daemon's
        # sessions are reset at once, so they do not add up)
        assert fake.max_active <= 4, fake.max_active
        print("max sessions %d, crashes %d, delivered %d distinct, %d duplicates" % (
            fake.max_active,
            crashes, len(ids), sum(ids.values()) - len(ids)))
    finally:
        fake.hold.set()
        d.stop()
        fake.stop()
        zone.stop()
