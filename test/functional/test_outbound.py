"""Outbound delivery through the queue manager, with real processes: a
sending instance of our daemon (127.0.0.1), a receiving instance (its
SMTP port on 127.0.0.2, found through MX records served by a loopback
DNS zone) and a small fake SMTP server (127.0.0.3) that answers 4xx or
5xx on demand. Covered: MX routing with opportunistic STARTTLS and a DKIM
signature that dkimpy verifies on the delivered copy, dead MX falling
back to the next preference, retry after a temporary failure, RFC 3464
bounces for permanent failures, null MX, expiry, the loop detector,
no bounce for a bounce, transport_maps and relayhost, and the per
transaction recipient limit.
"""
import email
import email.policy
import glob
import os
import re
import smtplib
import socketserver
import subprocess
import threading
import time

import dkim
import pytest

from conftest import BIN, Daemon, free_port
from dnszone import DnsZone
from mailcore import add_user, message, read, rspamadm, wait_messages

PASSWORD = "outbound secret 1"


class FakeSmtp:
    """A threaded SMTP server for tests. Recipients whose local part starts
    with "temp" get 451 the first `temp_times` times, "perm" get 550 5.1.1;
    everything else is accepted. Every accepted transaction is recorded as
    (mail_from, [rcpts], data)."""

    def __init__(self, host="127.0.0.3", port=None, temp_times=1, data_delay=0.0):
        self.host = host
        self.data_delay = data_delay
        self.hold = threading.Event()   # cleared: replies to "." wait
        self.hold.set()
        self.port = port or free_port()
        self.temp_times = temp_times
        self.temp_seen = {}
        self.messages = []
        self.connections = 0
        self.active = self.max_active = 0   # sessions open now / at most
        self.lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with owner.lock:
                    owner.connections += 1
                    owner.active += 1
                    owner.max_active = max(owner.max_active, owner.active)
                try:
                    owner.session(self.rfile, self.wfile)
                except OSError:
                    pass  # the client went away (the crash test kills it)
                finally:
                    with owner.lock:
                        owner.active -= 1

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((self.host, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rcpt_reply(self, addr):
        local = addr.split("@")[0].lower()
        if local.startswith("perm"):
            return b"550 5.1.1 <%s>: Recipient address rejected: no such user" % addr.encode()
        if local.startswith("temp"):
            with self.lock:
                n = self.temp_seen.get(addr, 0)
                self.temp_seen[addr] = n + 1
            if n < self.temp_times:
                return b"451 4.7.1 <%s>: try again later" % addr.encode()
        return b"250 2.1.5 Ok"

    def session(self, rfile, wfile):
        def say(line):
            wfile.write(line + b"\r\n")
            wfile.flush()
        say(b"220 fake.example ESMTP")
        mail, rcpts = None, []
        while True:
            line = rfile.readline()
            if not line:
                return
            cmd = line.strip().decode("latin-1")
            verb = cmd[:4].upper()
            if verb == "EHLO":
                say(b"250-fake.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000")
            elif verb == "HELO":
                say(b"250 fake.example")
            elif verb == "MAIL":
                mail, rcpts = re.search(r"<(.*?)>", cmd).group(1), []
                say(b"250 2.1.0 Ok")
            elif verb == "RCPT":
                addr = re.search(r"<(.*?)>", cmd).group(1)
                reply = self.rcpt_reply(addr)
                if reply.startswith(b"250"):
                    rcpts.append(addr)
                say(reply)
            elif verb == "DATA":
                if not rcpts:
                    say(b"554 5.5.1 no valid recipients")
                    continue
                say(b"354 go ahead")
                data = []
                while True:
                    l = rfile.readline()
                    if not l:
                        return  # cut mid-message: nothing was accepted
                    if l == b".\r\n":
                        break
                    data.append(l[1:] if l.startswith(b"..") else l)
                self.hold.wait(120)
                if self.data_delay:
                    time.sleep(self.data_delay)
                with self.lock:
                    self.messages.append((mail, list(rcpts), b"".join(data)))
                say(b"250 2.0.0 Ok: queued")
            elif verb == "RSET":
                mail, rcpts = None, []
                say(b"250 2.0.0 Ok")
            elif verb == "QUIT":
                say(b"221 2.0.0 Bye")
                return
            else:
                say(b"250 2.0.0 Ok")

    def wait(self, pred, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                found = [m for m in self.messages if pred(m)]
            if found:
                return found
            time.sleep(0.1)
        return []

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def base_local(dns_address, myhostname, mta=""):
    return {
        "mta.conf": 'myhostname = "%s";\n%s' % (myhostname, mta),
        "options.inc": 'dns { nameserver = ["%s"]; timeout = 0.5s; retransmits = 1; }\n'
                       % dns_address,
        "actions.conf": "add_header = 4;\ngreylist = null;\n",
    }


def receiver_daemon(tmp, dns_address, port):
    local = base_local(dns_address, "mx.example.net",
                       'mynetworks = "192.0.2.0/24";\n')
    d = Daemon(tmp, extra_local=local, mail=True)
    d.smtp_port = port
    d.write_local("worker-smtp.inc", 'bind_socket = "127.0.0.2:%d";\n' % port)
    for domain in ("example.net", "fallback.example", "amx.example"):
        rspamadm(d, "domain", "add", domain)
        add_user(d, "bob@" + domain, PASSWORD)
    return d


def sender_daemon(tmp, dns_address, transport_file, extra_mta=""):
    mta = ('mynetworks = "127.0.0.0/8";\n'
           'smtpd_tls_auth_loopback = yes;\n'
           'minimal_backoff_time = 1s;\nmaximal_backoff_time = 4s;\nqueue_run_delay = 1s;\n'
           'transport_maps = "%s";\n'
           'smtp_destination_recipient_limit = 2;\n'
           'smtp_connect_timeout = 5s;\n'
           'smtpd_client_connection_rate_limit = 0;\n'
           'smtpd_client_connection_count_limit = 0;\n' % transport_file) + extra_mta
    d = Daemon(tmp, extra_local=base_local(dns_address, "out.example.org", mta), mail=True)
    rspamadm(d, "domain", "add", "example.org")
    add_user(d, "alice@example.org", PASSWORD)
    return d


def dkim_key(daemon, tmp):
    keyfile = os.path.join(str(tmp), "example.org.dkim.key")
    out = subprocess.run([os.path.join(BIN, "rspamadm"), "dkim_keygen", "-d", "example.org",
                          "-s", "dkim", "-k", keyfile],
                         capture_output=True, text=True, check=True).stdout
    record = "".join(s for line in out.splitlines() for s in line.split('"')[1::2])
    daemon.write_local("dkim_signing.conf",
                       'domain { example.org { selector = "dkim"; path = "%s"; } }\n' % keyfile)
    return record


class World:
    pass


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World()
    tmp = tmp_path_factory.mktemp("outbound")
    w.zone = DnsZone("")
    w.fake = FakeSmtp()
    w.rport = free_port()
    w.transport = os.path.join(str(tmp), "transport")
    with open(w.transport, "w") as f:
        f.write("# test routes\n"
                "example.net smtp:example.net:%d\n"
                "fallback.example smtp:fallback.example:%d\n"
                "nullmx.example smtp:nullmx.example:%d\n"
                "fake.example smtp:[127.0.0.3]:%d\n"
                ".sub.example smtp:[127.0.0.3]:%d\n"
                "deaddest.example smtp:[127.0.0.9]:%d\n"
                "secure.example smtp:[127.0.0.3]:%d\n"
                "amx.example smtp:amx.example:%d\n"
                "nxdomain.example smtp:nxdomain.example:%d\n"
                % (w.rport, w.rport, w.rport, w.fake.port, w.fake.port, w.rport, w.fake.port,
                   w.rport, w.rport))
    policy = os.path.join(str(tmp), "tls_policy")
    with open(policy, "w") as f:
        f.write("secure.example encrypt\n")
    w.receiver = receiver_daemon(tmp / "receiver", w.zone.address, w.rport)
    w.sender = sender_daemon(tmp / "sender", w.zone.address, w.transport,
                             'relayhost = "[127.0.0.3]:%d";\nsmtp_tls_policy_maps = "%s";\n'
                             % (w.fake.port, policy))
    record = dkim_key(w.sender, tmp)
    w.dkim_record = record
    txt = " ".join('"%s"' % record[i:i + 250] for i in range(0, len(record), 250))
    w.zone.set_records(
        "example.net. MX 10 mx.example.net.\n"
        "mx.example.net. A 127.0.0.2\n"
        "fallback.example. MX 5 dead.fallback.example.\n"
        "fallback.example. MX 10 mx.example.net.\n"
        "dead.fallback.example. A 127.0.0.9\n"
        "nullmx.example. MX 0 .\n"
        "amx.example. A 127.0.0.2\n"
        "dkim._domainkey.example.org. TXT %s\n" % txt)
    w.receiver.start()
    w.sender.start()
    yield w
    w.sender.stop()
    w.receiver.stop()
    w.fake.stop()
    w.zone.stop()


def relay(world, rcpts, subject, sender="alice@example.org", body="Hello there.", raw=None):
    """Through the sender's port 25 (127.0.0.1 is in its mynetworks)."""
    mid = "<%s.%d@example.org>" % (subject.replace(" ", "-"), time.time_ns())
    data = raw or message(subject=subject, sender=sender or "alice@example.org",
                          to=rcpts[0], body=body, mid=mid)
    with smtplib.SMTP("127.0.0.1", world.sender.smtp_port, timeout=30) as s:
        s.ehlo("client.example.org")
        assert s.sendmail(sender, rcpts, data) == {}
    return mid


def spool_files(daemon, queue):
    return glob.glob(os.path.join(daemon.state, "spool", queue, "*"))


def wait_spool_empty(daemon, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(spool_files(daemon, q) for q in ("incoming", "active", "deferred")):
            return True
        time.sleep(0.2)
    return False


def find_mail(daemon, email_addr, needle, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in wait_messages(daemon, email_addr, 0, timeout=0):
            data = read(path)
            if needle.encode() in data:
                return data
        time.sleep(0.2)
    return None


def parse_dsn(data):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert status, [p.get_content_type() for p in parts]
    text = status[0].as_string()
    return msg, text


def test_mx_delivery_with_starttls_and_dkim(world):
    """Submission on 587 by an authenticated user: signed at scan time,
    routed by MX to the receiving instance, over STARTTLS."""
    mid = "<dkim.%d@example.org>" % time.time_ns()
    data = message(subject="Signed and sealed", sender="alice@example.org",
                   to="bob@example.net", body="This one travels.", mid=mid)
    with smtplib.SMTP("127.0.0.1", world.sender.submission_port, timeout=30) as s:
        s.ehlo("laptop")
        s.login("alice@example.org", PASSWORD)
        assert s.sendmail("alice@example.org", ["bob@example.net"], data) == {}
    got = find_mail(world.receiver, "bob@example.net", mid)
    assert got is not None, world.sender.log()[-3000:]
    head = got.split(b"\r\n\r\n", 1)[0]
    # the receiving instance's Received: says the hop was encrypted
    assert re.search(rb"Received: from out\.example\.org [^;]*?by mx\.example\.net [^;]*?with ESMTPS",
                     head, re.S), head
    assert b"DKIM-Signature:" in head
    record = world.dkim_record.encode()

    def dnsfunc(name, timeout=5):
        assert name in (b"dkim._domainkey.example.org.", b"dkim._domainkey.example.org")
        return record
    assert dkim.verify(got, dnsfunc=dnsfunc)
    assert "status=sent" in world.sender.log()
    assert wait_spool_empty(world.sender)


def test_dead_mx_falls_back_to_next_preference(world):
    """fallback.example's best MX has an address where nothing listens."""
    mid = relay(world, ["bob@fallback.example"], "Fallback")
    got = find_mail(world.receiver, "bob@fallback.example", mid)
    assert got is not None, world.sender.log()[-3000:]
    assert "127.0.0.9" in world.sender.log()


def test_temporary_failure_retried_then_delivered(world):
    mid = relay(world, ["temp1@fake.example"], "Retry me")
    found = world.fake.wait(lambda m: mid.encode() in m[2], timeout=30)
    assert found, world.sender.log()[-3000:]
    assert world.fake.temp_seen["temp1@fake.example"] >= 2
    assert "status=deferred" in world.sender.log()
    assert wait_spool_empty(world.sender)


def test_permanent_failure_bounces_with_dsn(world):
    mid = relay(world, ["perm1@fake.example"], "Doomed")
    bounce = find_mail(world.sender, "alice@example.org", mid)
    assert bounce is not None, world.sender.log()[-3000:]
    msg, status = parse_dsn(bounce)
    assert re.search(r"Status: 5\.1\.1", status), status
    assert "Diagnostic-Code: smtp;" in status and "no such user" in status, status
    assert "Final-Recipient: rfc822; perm1@fake.example" in status
    assert msg["To"].strip("<> ") == "alice@example.org"
    assert wait_spool_empty(world.sender)


def test_null_mx_bounces_556(world):
    mid = relay(world, ["someone@nullmx.example"], "Null MX")
    bounce = find_mail(world.sender, "alice@example.org", mid)
    assert bounce is not None, world.sender.log()[-3000:]
    _, status = parse_dsn(bounce)
    assert "Status: 5.1.10" in status, status


def test_no_mx_falls_back_to_address_record(world):
    mid = relay(world, ["bob@amx.example"], "No MX")
    assert find_mail(world.receiver, "bob@amx.example", mid) is not None, \
        world.sender.log()[-3000:]


def test_nxdomain_bounces(world):
    mid = relay(world, ["who@nxdomain.example"], "No such domain")
    bounce = find_mail(world.sender, "alice@example.org", mid)
    assert bounce is not None, world.sender.log()[-3000:]
    _, status = parse_dsn(bounce)
    assert "Status: 5.4.4" in status, status


def test_connection_reused_for_following_messages(world):
    before = world.fake.connections
    mids = []
    for i in range(3):
        mids.append(relay(world, ["reuse%d@fake.example" % i], "Reuse %d" % i))
        assert world.fake.wait(lambda m: mids[-1].encode() in m[2])
    assert world.fake.connections - before <= 2, world.fake.connections - before


def test_relayhost_and_subdomain_routes(world):
    mid1 = relay(world, ["carol@anywhere.example"], "Via relayhost")
    mid2 = relay(world, ["dave@deep.sub.example"], "Via subdomain route")
    assert world.fake.wait(lambda m: mid1.encode() in m[2])
    assert world.fake.wait(lambda m: mid2.encode() in m[2])


def test_recipient_limit_splits_transactions(world):
    rcpts = ["r%d@fake.example" % i for i in range(5)]
    mid = relay(world, rcpts, "Five recipients")
    deadline = time.time() + 30
    while time.time() < deadline:
        got = world.fake.wait(lambda m: mid.encode() in m[2], timeout=1)
        if sum(len(m[1]) for m in got) >= 5:
            break
    got = world.fake.wait(lambda m: mid.encode() in m[2], timeout=1)
    assert sorted(r for m in got for r in m[1]) == sorted(rcpts)
    assert all(len(m[1]) <= 2 for m in got) and len(got) == 3


def test_mail_loop_bounced_546(world):
    hops = "".join("Received: from hop%d.example by hop%d.example; "
                   "Sun, 29 Nov 2026 10:00:00 +0000\r\n" % (i, i + 1) for i in range(60))
    mid = "<loop.%d@example.org>" % time.time_ns()
    raw = hops + message(subject="Loop", to="carol@fake.example", mid=mid)
    relay(world, ["carol@fake.example"], "Loop", raw=raw)
    bounce = find_mail(world.sender, "alice@example.org", mid)
    assert bounce is not None, world.sender.log()[-3000:]
    _, status = parse_dsn(bounce)
    assert "Status: 5.4.6" in status, status
    assert not world.fake.wait(lambda m: mid.encode() in m[2], timeout=1)


def test_no_bounce_for_null_sender(world):
    mid = "<nullsender.%d@example.org>" % time.time_ns()
    raw = message(subject="Bounce of a bounce", to="perm2@fake.example", mid=mid)
    with smtplib.SMTP("127.0.0.1", world.sender.smtp_port, timeout=30) as s:
        s.ehlo("client.example.org")
        assert s.sendmail("<>", ["perm2@fake.example"], raw) == {}
    deadline = time.time() + 20
    while time.time() < deadline and "undeliverable notification dropped" not in \
            world.sender.log():
        time.sleep(0.2)
    assert "undeliverable notification dropped" in world.sender.log()
    assert find_mail(world.sender, "alice@example.org", mid, timeout=1) is None
    assert wait_spool_empty(world.sender)


def test_local_and_remote_recipients_of_one_message(world):
    mid = relay(world, ["bob@example.net", "alice@example.org", "r9@fake.example"], "Mixed")
    assert find_mail(world.sender, "alice@example.org", mid) is not None
    assert find_mail(world.receiver, "bob@example.net", mid) is not None
    assert world.fake.wait(lambda m: mid.encode() in m[2])
    assert wait_spool_empty(world.sender)


# The next two leave mail in deferred/ for good: they stay after every
# test that waits for an empty queue.
def test_dead_destination_is_skipped_for_a_while(world):
    """Nothing listens on the only address: the first message marks the
    destination down, the next one is deferred without a new attempt."""
    relay(world, ["x@deaddest.example"], "Dead one")
    deadline = time.time() + 20
    while time.time() < deadline and "is down" not in world.sender.log():
        time.sleep(0.1)
    log = world.sender.log()
    assert re.search(r"destination \[127\.0\.0\.9\]:\d+\S* is down", log), log[-3000:]
    relay(world, ["y@deaddest.example"], "Dead two")
    deadline = time.time() + 20
    while time.time() < deadline and "to=<y@deaddest.example> status=deferred" not in \
            world.sender.log():
        time.sleep(0.1)
    assert "to=<y@deaddest.example> status=deferred" in world.sender.log()
    assert spool_files(world.sender, "deferred")


def test_tls_policy_encrypt_defers_without_starttls(world):
    """secure.example must be reached over TLS; the fake peer offers none."""
    mid = relay(world, ["z@secure.example"], "Must be encrypted")
    deadline = time.time() + 20
    while time.time() < deadline and "to=<z@secure.example> status=deferred" not in \
            world.sender.log():
        time.sleep(0.1)
    line = [l for l in world.sender.log().splitlines()
            if "to=<z@secure.example> status=deferred" in l][0]
    assert "4.7." in line, line
    assert not world.fake.wait(lambda m: mid.encode() in m[2], timeout=1)


def test_expired_message_bounced(tmp_path):
    zone = DnsZone("")
    fake = FakeSmtp(temp_times=1000)
    transport = os.path.join(str(tmp_path), "transport")
    with open(transport, "w") as f:
        f.write("* smtp:[127.0.0.3]:%d\n" % fake.port)
    d = sender_daemon(tmp_path / "sender", zone.address, transport,
                      "maximal_queue_lifetime = 3s;\ndelay_warning_time = 1s;\n")
    try:
        d.start()
        mid = relay(type("W", (), {"sender": d}), ["temp-forever@far.example"], "Expiring")
        deadline = time.time() + 40
        bounce = None
        while bounce is None and time.time() < deadline:
            for p in wait_messages(d, "alice@example.org", 0, timeout=0):
                if mid.encode() in read(p) and b"Action: failed" in read(p):
                    bounce = read(p)
            time.sleep(0.2)
        assert bounce is not None, d.log()[-3000:]
        _, status = parse_dsn(bounce)
        assert "Status: 5.4.7" in status, status
        assert "expired" in status
        assert wait_spool_empty(d)
        # one delay warning came before the bounce
        warnings = [p for p in wait_messages(d, "alice@example.org", 0, timeout=0)
                    if b"report-type=delivery-status" in read(p) and
                    b"Action: delayed" in read(p)]
        assert len(warnings) == 1
    finally:
        d.stop()
        fake.stop()
        zone.stop()
