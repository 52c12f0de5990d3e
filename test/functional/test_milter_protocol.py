"""The proxy worker's milter protocol, spoken by a small Python client the
way Postfix speaks it (option negotiation v6, actions 0x1FF, protocol
0x1FFFFF, macros, connect/helo/mail/rcpt/header/eoh/body/eom), against
our daemon's proxy port (Daemon.proxy_port).

Covers: the negotiation answer, GTUBE -> REPLYCODE 550 5.7.1, a clean
message -> ACCEPT, `add header` -> X-Spam: Yes, two messages on one
connection, ABORT, a malformed packet closing the connection while the
worker keeps serving, the GET /ping probe, and upstream mode (the proxy
forwarding to a second daemon's /checkv2) giving the same packets as
in-process scanning.
"""
import os
import socket
import struct

import pytest

from conftest import GTUBE, TUTORIAL_RULE, Daemon


class MilterClient:
    """Speaks the MTA side of milter v6, like Postfix's milter8 client."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.rbuf = b""

    def close(self):
        self.sock.close()

    def send(self, cmd, payload=b""):
        self.sock.sendall(struct.pack(">I", len(payload) + 1) + cmd + payload)

    def _read(self, n):
        while len(self.rbuf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("milter closed the connection")
            self.rbuf += chunk
        out, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return out

    def read_packet(self):
        (length,) = struct.unpack(">I", self._read(4))
        data = self._read(length)
        return data[:1], data[1:]

    def negotiate(self, actions=0x1FF, protocol=0x1FFFFF):
        self.send(b"O", struct.pack(">III", 6, actions, protocol))
        cmd, data = self.read_packet()
        assert cmd == b"O"
        return struct.unpack(">III", data[:12])

    def macro(self, for_cmd, **kv):
        payload = for_cmd
        for k, v in kv.items():
            payload += k.encode() + b"\0" + v.encode() + b"\0"
        self.send(b"D", payload)

    def connect(self, hostname="mail.example.net", ip="192.0.2.10", port=25):
        self.macro(b"C", j="mx.example.org", _daemon_name="smtpd")
        self.send(b"C", hostname.encode() + b"\0" + b"4" + struct.pack(">H", port) +
                  ip.encode() + b"\0")

    def helo(self, name="mail.example.net"):
        self.send(b"H", name.encode() + b"\0")

    def envelope(self, sender, rcpts, queue_id="4ABCDEF", user=None):
        macros = {"i": queue_id}
        if user:
            macros["auth_authen"] = user
        self.macro(b"M", **macros)
        self.send(b"M", b"<" + sender.encode() + b">\0SIZE=1000\0")
        for r in rcpts:
            self.send(b"R", b"<" + r.encode() + b">\0")

    def data(self, headers, body):
        self.send(b"T")
        for name, value in headers:
            self.send(b"L", name.encode() + b"\0" + value.encode() + b"\0")
        self.send(b"N")
        body = body.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        for i in range(0, len(body), 65535):
            self.send(b"B", body[i:i + 65535])

    def eom(self):
        """End of message; returns the reply packets up to the final one."""
        self.send(b"E")
        replies = []
        while True:
            cmd, data = self.read_packet()
            replies.append((cmd, data))
            if cmd in (b"a", b"r", b"t", b"d", b"y", b"c"):
                return replies

    def message(self, sender, rcpts, headers, body, **kw):
        self.envelope(sender, rcpts, **kw)
        self.data(headers, body)
        return self.eom()


def headers_for(subject, sender="alice@example.org"):
    return [("From", "Alice <%s>" % sender), ("To", "bob@example.test"),
            ("Subject", subject), ("Date", "Sun, 29 Nov 2026 10:00:00 +0000"),
            ("Message-ID", "<%s@example.org>" % abs(hash(subject))),
            ("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=utf-8")]


def session(port):
    c = MilterClient(port)
    c.negotiate()
    c.connect()
    c.helo()
    return c


def final(replies):
    return replies[-1]


def header_edits(replies):
    out = {}
    for cmd, data in replies:
        if cmd == b"h":
            name, value = data.split(b"\0")[:2]
        elif cmd in (b"i", b"m"):
            name, value = data[4:].split(b"\0")[:2]
        else:
            continue
        out.setdefault(name.decode(), []).append((cmd.decode(), value.decode()))
    return out


ADD_HEADER = {"actions.conf": "add_header = 4;\ngreylist = null;\n",
              "milter_headers.conf": 'use = ["x-spamd-result", "x-spam-status", "x-spam-level", '
                                     '"authentication-results", "x-rspamd-queue-id"];\n',
              "local.lua": TUTORIAL_RULE}


@pytest.fixture(scope="module")
def proxy_daemon(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("milter"), extra_local=ADD_HEADER).start()
    yield d
    d.stop()


def test_negotiation(proxy_daemon):
    c = MilterClient(proxy_daemon.proxy_port)
    version, actions, protocol = c.negotiate()
    assert (version, actions, protocol) == (6, 0x1FF, 0xFF080)
    c.close()


def test_gtube_rejected(proxy_daemon):
    c = session(proxy_daemon.proxy_port)
    r = c.message("alice@example.org", ["bob@example.test"], headers_for("hello"),
                  "Hello\n" + GTUBE + "\n")
    cmd, data = final(r)
    assert cmd == b"y"
    assert data.startswith(b"550 5.7.1 ")
    c.close()


def test_clean_accepted_and_two_messages(proxy_daemon):
    c = session(proxy_daemon.proxy_port)
    r1 = c.message("alice@example.org", ["bob@example.test"], headers_for("lunch"),
                   "Shall we meet at noon?\n")
    assert final(r1)[0] == b"a"
    assert "X-Spam" not in [n for n, v in header_edits(r1).items() if v[-1][1]]
    assert header_edits(r1)["X-Spam-Status"][-1][1].startswith("No, score=")
    r2 = c.message("alice@example.org", ["bob@example.test"], headers_for("again"),
                   "Hi\n" + GTUBE + "\n", queue_id="5BCDEF0")
    assert final(r2)[0] == b"y"
    r3 = c.message("carol@example.org", ["bob@example.test"], headers_for("third"),
                   "Fine.\n", queue_id="6CDEF01")
    assert final(r3)[0] == b"a"
    c.send(b"Q")
    with pytest.raises(EOFError):
        c.read_packet()
    c.close()


def test_add_header(proxy_daemon):
    c = session(proxy_daemon.proxy_port)
    r = c.message("alice@example.org", ["bob@example.test"], headers_for("cheap viagra"),
                  "Buy now\n")
    assert final(r)[0] == b"a"
    edits = header_edits(r)
    assert ("m", "Yes") in edits["X-Spam"]
    status = edits["X-Spam-Status"][-1]
    assert status[0] == "h" and status[1].startswith("Yes, score=")
    score = float(status[1].split("=")[1])
    assert score >= 5.0
    assert edits["X-Spam-Level"][-1] == ("h", "*" * int(score))
    assert edits["X-Rspamd-Queue-Id"][-1] == ("h", "4ABCDEF")
    result = edits["X-Spamd-Result"][-1][1]
    assert result.startswith("default: False [%.2f / " % score)
    assert "\n\tMY_RULE(5.00)[]" in result
    assert edits["Authentication-Results"][-1][0] == "i"
    c.close()


def test_headers_in_checkv2_reply(proxy_daemon):
    import json
    import urllib.request
    body = ("Subject: cheap viagra\r\nFrom: a@example.org\r\n\r\nBuy\r\n").encode()
    req = urllib.request.Request("http://127.0.0.1:%d/checkv2" % proxy_daemon.port, data=body,
                                 headers={"IP": "192.0.2.10", "Queue-Id": "QID1"})
    with urllib.request.urlopen(req, timeout=30) as r:
        res = json.load(r)
    add = res["milter"]["add_headers"]
    assert add["X-Spam-Status"]["value"].startswith("Yes, score=")
    assert add["X-Rspamd-Queue-Id"] == {"value": "QID1", "order": -1}
    assert "X-Spamd-Result" in res["milter"]["remove_headers"]


def test_abort_resets_message(proxy_daemon):
    c = session(proxy_daemon.proxy_port)
    c.envelope("alice@example.org", ["bob@example.test"])
    c.data(headers_for("aborted"), GTUBE + "\n")
    c.send(b"A")
    r = c.message("alice@example.org", ["bob@example.test"], headers_for("after abort"),
                  "Nothing to see.\n", queue_id="7DEF012")
    assert final(r)[0] == b"a"
    c.close()


@pytest.mark.parametrize("packet", [
    b"\0\0\0\0",                       # zero length
    b"\xff\xff\xff\xffO",              # far too long
    b"\0\0\0\x01Z",                    # unknown command
    b"\0\0\0\x04Habc",                 # string without its NUL
])
def test_malformed_closes(proxy_daemon, packet):
    c = MilterClient(proxy_daemon.proxy_port, timeout=10)
    c.negotiate()
    c.sock.sendall(packet)
    with pytest.raises((EOFError, ConnectionResetError)):
        c.read_packet()
    c.close()
    # the worker still serves
    c = session(proxy_daemon.proxy_port)
    r = c.message("alice@example.org", ["bob@example.test"], headers_for("still there"),
                  "Hello\n")
    assert final(r)[0] == b"a"
    c.close()


def test_ping(proxy_daemon):
    with socket.create_connection(("127.0.0.1", proxy_daemon.proxy_port), timeout=10) as s:
        s.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"pong\r\n")


def test_upstream_same_verdict(proxy_daemon, daemon_factory):
    front = daemon_factory(extra_local=dict(ADD_HEADER))
    front.write_local("worker-proxy.inc",
                      'bind_socket = "127.0.0.1:%d";\nupstream "local" {\n'
                      '  hosts = "127.0.0.1:%d";\n  self_scan = no;\n}\n'
                      % (front.proxy_port, proxy_daemon.port))
    front.start()
    cases = [("cheap viagra", "Buy now\n"), ("hello", GTUBE + "\n"), ("lunch", "Noon?\n")]
    for subject, body in cases:
        results = []
        for port in (proxy_daemon.proxy_port, front.proxy_port):
            c = session(port)
            r = c.message("alice@example.org", ["bob@example.test"], headers_for(subject),
                          body)
            c.close()
            results.append(r)
        assert results[0] == results[1], subject


def test_authenticated_submission_is_dkim_signed(daemon_factory, tmp_path):
    """Postfix passes the SASL login as {auth_authen}: such mail is signed."""
    import subprocess
    from conftest import BIN
    key = tmp_path / "example.org.mail.key"
    subprocess.run([os.path.join(BIN, "rspamadm"), "dkim_keygen", "-d", "example.org",
                    "-s", "mail", "-b", "2048", "-k", str(key)], check=True,
                   capture_output=True)
    d = daemon_factory(extra_local={
        "dkim_signing.conf": 'domain { example.org { selector = "mail"; path = "%s"; } }\n' % key,
    }).start()
    signed = []
    for user in ("alice@example.org", None):
        c = session(d.proxy_port)
        r = c.message("alice@example.org", ["bob@example.test"], headers_for("report " + str(user)),
                      "Quarterly numbers attached.\n", user=user)
        c.close()
        signed.append([data for cmd, data in r
                       if cmd in (b"h", b"i") and b"DKIM-Signature\0" in data])
    assert len(signed[0]) == 1 and b"d=example.org" in signed[0][0] and b"s=mail" in signed[0][0]
    assert signed[1] == []  # not authenticated, from a foreign address: not signed


def test_greylist_and_soft_reject_tempfail(daemon_factory):
    local = dict(ADD_HEADER)
    local["actions.conf"] = "add_header = 100;\ngreylist = 4;\n"
    d = daemon_factory(extra_local=local).start()
    c = session(d.proxy_port)
    r = c.message("alice@example.org", ["bob@example.test"], headers_for("cheap viagra"),
                  "Buy now\n")
    c.close()
    cmd, data = final(r)
    assert cmd == b"y" and data.startswith(b"451 4.7.1")
