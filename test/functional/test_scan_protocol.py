"""The scan protocol on the normal worker (spec/scan-protocol.md), with real
HTTP clients and raw sockets for what well-behaved clients never send."""
import http.client
import json
import socket
import time

from conftest import corpus_files

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

HAM = (b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
       b"Subject: lunch tomorrow\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
       b"Message-ID: <m1@example.org>\r\nReceived: from a by b; Sun, 29 Nov 2026 10:00:00 +0000\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
       b"Shall we meet at noon? See https://example.org/menu for the menu.\r\n")


def checkv2(daemon, body, headers=None, path="/checkv2", port=None):
    c = http.client.HTTPConnection("127.0.0.1", port or daemon.port, timeout=30)
    c.request("POST", path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def raw_exchange(port, payload, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def test_ping(our_daemon):
    c = http.client.HTTPConnection("127.0.0.1", our_daemon.port, timeout=5)
    c.request("GET", "/ping")
    r = c.getresponse()
    assert r.status == 200
    assert r.read() == b"pong\r\n"


def test_checkv2_ham_fields(our_daemon):
    r, data = checkv2(our_daemon, HAM, {"IP": "192.0.2.10", "From": "<alice@example.org>",
                                        "Rcpt": "bob@example.net", "Queue-Id": "Q1"})
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("application/json")
    j = json.loads(data)
    for key in ("is_skipped", "score", "required_score", "action", "symbols",
                "messages", "message-id", "time_real", "milter"):
        assert key in j, key
    assert j["action"] == "no action"
    assert j["required_score"] == 15.0
    assert j["message-id"] == "m1@example.org"
    assert j["urls"] == ["example.org"]
    assert j["milter"]["remove_headers"] == {"X-Spam": 0}
    for name, sym in j["symbols"].items():
        assert sym["name"] == name and "score" in sym and "metric_score" in sym
    # number format of Rspamd's emitter
    assert b'"required_score":15.0' in data


def test_gtube_rejected(our_daemon):
    msg = HAM.replace(b"Shall we meet", GTUBE + b"\r\nShall we meet")
    r, data = checkv2(our_daemon, msg)
    j = json.loads(data)
    assert j["action"] == "reject"
    assert "GTUBE" in j["symbols"]
    assert j["messages"]["smtp_message"] == "Gtube pattern"


def test_broken_message_scores_higher_than_ham(our_daemon):
    bad = (b"Subject: \r\nContent-Type: multipart/mixed\r\n\r\n"
           b"--x\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64@@@\r\n")
    j_bad = json.loads(checkv2(our_daemon, bad)[1])
    j_ham = json.loads(checkv2(our_daemon, HAM)[1])
    assert j_bad["score"] > j_ham["score"] + 5
    assert "MISSING_FROM" in j_bad["symbols"]
    assert "BROKEN_CONTENT_TYPE" in j_bad["symbols"]


def test_corpus_spam_scores_higher_on_average(our_daemon):
    def mean(files):
        scores = []
        for f in files:
            with open(f, "rb") as fh:
                scores.append(json.loads(checkv2(our_daemon, fh.read())[1])["score"])
        return sum(scores) / len(scores)
    assert mean(corpus_files("spam-2", 60)) > mean(corpus_files("easy-ham-2", 60))


def test_empty_body(our_daemon):
    r, data = checkv2(our_daemon, b"")
    j = json.loads(data)
    assert r.status == 200 and j["action"] == "no action" and j["symbols"] == {}
    assert "message-id" not in j


def test_v1_shape(our_daemon):
    j = json.loads(checkv2(our_daemon, HAM, path="/symbols")[1])
    assert "default" in j and "is_spam" in j["default"] and "rmilter" in j


def test_unknown_command(our_daemon):
    r, data = checkv2(our_daemon, HAM, path="/nonsense")
    assert r.status == 500
    assert json.loads(data) == {"error": "invalid command", "error_domain": "protocol-error"}


def test_query_string_headers(our_daemon):
    j = json.loads(checkv2(our_daemon, GTUBE, path="/checkv2?IP=192.0.2.1&Pass=all")[1])
    assert j["action"] == "reject"
    # pass_all: other checks ran after the pre-result
    assert "MISSING_SUBJECT" in j["symbols"]


def test_keep_alive_two_requests_one_connection(our_daemon):
    c = http.client.HTTPConnection("127.0.0.1", our_daemon.port, timeout=10)
    for _ in range(3):
        c.request("POST", "/checkv2", body=HAM)
        r = c.getresponse()
        assert r.status == 200
        assert json.loads(r.read())["message-id"] == "m1@example.org"
    c.close()


def test_http10_no_host_like_rspamc(our_daemon):
    req = (b"POST /checkv2 HTTP/1.0\r\nContent-Length: %d\r\nConnection: close\r\n"
           b"Content-Type: text/plain\r\nUser-Agent: rspamc\r\nFlags: body_block\r\n\r\n"
           % len(HAM)) + HAM
    resp = raw_exchange(our_daemon.port, req)
    head, _, body = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.")
    assert b"200" in head.split(b"\r\n")[0]
    assert b"Connection: close" in head
    assert json.loads(body)["action"] == "no action"


def test_chunked_body_like_haraka(our_daemon):
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(HAM[i:i + 50]), HAM[i:i + 50])
                      for i in range(0, len(HAM), 50))
    req = (b"POST /checkv2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n" + chunks + b"0\r\n\r\n")
    resp = raw_exchange(our_daemon.port, req)
    body = resp.partition(b"\r\n\r\n")[2]
    assert json.loads(body)["message-id"] == "m1@example.org"


def test_legacy_rspamc_protocol_for_exim(our_daemon):
    msg = HAM.replace(b"Shall we meet", GTUBE)
    req = (b"CHECK RSPAMC/1.3\r\nContent-length: %d\r\nQueue-Id: 1abc\r\n"
           b"From: <a@example.org>\r\nRecipient-Number: 1\r\nRcpt: <b@example.net>\r\n"
           b"IP: 192.0.2.5\r\n\r\n" % len(msg)) + msg
    resp = raw_exchange(our_daemon.port, req)
    lines = resp.split(b"\r\n")
    assert lines[0] == b"RSPAMD/1.3 0 EX_OK"
    assert lines[1].startswith(b"Metric: default; True; ")
    assert lines[1].endswith(b" / 15.00 / 0.0")
    assert lines[2] == b"Action: reject"
    assert b"Symbol: GTUBE(0.00)" in lines


def test_garbage_gets_error_and_worker_keeps_serving(our_daemon):
    resp = raw_exchange(our_daemon.port, b"\x00\x01\x02garbage garbage\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 4") or resp.startswith(b"HTTP/1.0 4")
    assert our_daemon.ping(our_daemon.port)


def test_lying_content_length_does_not_hang(our_daemon):
    req = b"POST /checkv2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + HAM
    t = time.time()
    resp = raw_exchange(our_daemon.port, req, timeout=15)
    assert time.time() - t < 12
    # the cut-short body is not scanned as if it were complete
    assert b'"action"' not in resp
    assert our_daemon.ping(our_daemon.port)


def test_huge_header_rejected_quickly(our_daemon):
    s = socket.create_connection(("127.0.0.1", our_daemon.port), timeout=10)
    s.sendall(b"POST /checkv2 HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent, status = 0, b""
    t = time.time()
    try:
        block = b"a" * 65536
        while sent < 100 * 1024 * 1024 and time.time() - t < 20:
            s.sendall(block)
            sent += len(block)
    except OSError:
        pass  # the server closed on us: what we want
    try:
        status = s.recv(4096)
    except OSError:
        pass
    s.close()
    assert sent < 100 * 1024 * 1024, "server swallowed a 100 MB header"
    assert status == b"" or b" 431 " in status.split(b"\r\n")[0]
    assert our_daemon.ping(our_daemon.port)


def test_truncated_and_deeply_nested_messages(our_daemon):
    depth = 1000
    parts = []
    for i in range(depth):
        parts.append(b"Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n" % (i, i))
    nested = b"Subject: deep\r\n" + b"".join(parts) + b"Content-Type: text/plain\r\n\r\nhi\r\n"
    r, data = checkv2(our_daemon, nested)
    assert r.status == 200
    assert "MIME_TOO_DEEP" in json.loads(data)["symbols"]
    with open(corpus_files("spam-2", 1)[0], "rb") as f:
        msg = f.read()
    for cut in (10, len(msg) // 3, len(msg) - 7):
        r, data = checkv2(our_daemon, msg[:cut])
        assert r.status == 200
        json.loads(data)
