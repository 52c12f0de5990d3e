"""The controller's /metrics: Prometheus text format (every line parsed:
HELP and TYPE before each family's samples, valid names, labels and
values), read access like /stat (a password is needed from outside
secure_ip, the read-only one is enough), counters that grow after scans,
and one gauge per mail queue directory of the spool.
"""
import http.client
import os
import re
import subprocess

import pytest

from conftest import BIN, GTUBE, Daemon

READ_PW = "metrics-read-pw"
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(%s)(\{([a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\.)*\""
                    r"(?:,[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\.)*\")*)\})? "
                    r"([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|NaN|[-+]?Inf))$" % NAME)
HELP = re.compile(r"^# HELP (%s) \S.*$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    dm = Daemon(tmp_path_factory.mktemp("metrics"), workers=1)
    pw = subprocess.run([os.path.join(BIN, "rspamadm"), "pw", "-t", "pbkdf2", "-p", READ_PW],
                        capture_output=True, text=True, check=True).stdout.strip()
    dm.write_local("worker-controller.inc",
                   f'bind_socket = "127.0.0.1:{dm.controller_port}";\n'
                   f'secure_ip = "10.99.99.99";\npassword = "{pw}";\n')
    dm.start()
    yield dm
    dm.stop()


def get(d, path, password=READ_PW):
    conn = http.client.HTTPConnection("127.0.0.1", d.controller_port, timeout=30)
    conn.request("GET", path, headers={"Password": password} if password else {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), body


def parse(text):
    """{(name, labels): value}; asserts the format line by line."""
    assert text.endswith("\n")
    helped, typed, seen_sample, samples = set(), {}, set(), {}
    for line in text.split("\n")[:-1]:
        m = HELP.match(line)
        if m:
            assert m.group(1) not in helped and m.group(1) not in seen_sample, line
            helped.add(m.group(1))
            continue
        m = TYPE.match(line)
        if m:
            assert m.group(1) not in typed and m.group(1) not in seen_sample, line
            typed[m.group(1)] = m.group(2)
            continue
        m = SAMPLE.match(line)
        assert m, "not a Prometheus line: %r" % line
        name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
        assert name in helped and name in typed, "sample before HELP/TYPE: %r" % line
        assert (name, labels) not in samples, "duplicate sample %r" % line
        if typed[name] == "counter":
            assert name.endswith("_total") and value >= 0, line
        seen_sample.add(name)
        samples[(name, labels)] = value
    assert helped == typed.keys() == seen_sample
    return samples


def scan(d, body):
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    conn.request("POST", "/checkv2", body=body)
    r = conn.getresponse()
    r.read()
    conn.close()
    assert r.status == 200


def test_needs_read_access(d):
    assert get(d, "/metrics", password=None)[0] == 401
    assert get(d, "/metrics", password="wrong")[0] == 403


def test_format_and_counters_grow(d):
    st, ctype, body = get(d, "/metrics")
    assert st == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    before = parse(body.decode())
    for key in ("rspamd_scanned_total", "rspamd_spam_total", "rspamd_ham_total",
                "rspamd_learned_total", "rspamd_connections_total",
                "rspamd_control_connections_total", "rspamd_uptime_seconds"):
        assert (key, "") in before, key
    assert ("rspamd_actions_total", 'action="reject"') in before
    assert ("rspamd_actions_total", 'action="no action"') in before
    scan(d, ("Subject: hello\r\n\r\n%s\r\n" % GTUBE).encode())
    scan(d, b"Subject: hello\r\nFrom: a@example.org\r\n\r\nJust a friendly note.\r\n")
    after = parse(get(d, "/metrics")[2].decode())
    assert after[("rspamd_scanned_total", "")] == before[("rspamd_scanned_total", "")] + 2
    assert after[("rspamd_actions_total", 'action="reject"')] == \
        before[("rspamd_actions_total", 'action="reject"')] + 1
    assert after[("rspamd_spam_total", "")] >= before[("rspamd_spam_total", "")] + 1
    assert after[("rspamd_connections_total", "")] >= before[("rspamd_connections_total", "")] + 2
    assert after[("rspamd_control_connections_total", "")] > \
        before[("rspamd_control_connections_total", "")]
    assert sum(v for (n, _), v in after.items() if n == "rspamd_actions_total") == \
        after[("rspamd_scanned_total", "")]


def test_queue_sizes(d):
    hold = os.path.join(d.state, "spool", "hold")
    os.makedirs(hold, exist_ok=True)
    for name in ("a1", "a2", "a3"):
        with open(os.path.join(hold, name), "w") as f:
            f.write("x")
    m = parse(get(d, "/metrics")[2].decode())
    assert m[("rspamd_mail_queue_messages", 'queue="hold"')] == 3
    for (n, labels), v in m.items():
        if n == "rspamd_mail_queue_messages":
            assert labels in ('queue="%s"' % q for q in
                              ("incoming", "active", "deferred", "hold", "corrupt")), labels
