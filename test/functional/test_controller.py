"""The controller worker: authentication, learning, /stat and /statreset.

One daemon is configured the way spec/controller.md's captures were made:
secure_ip is an address we never connect from, so loopback has to
authenticate; `password` (read-only) is a $1$ hash and `enable_password`
(privileged) a $2$ hash, both made by our `rspamadm pw`. Learning goes to
the default LMDB backend in the daemon's own state dir.

Run: /usr/bin/python3 -m pytest test/functional/test_controller.py
Environment: RSPAMD_BUILD (default <repo>/build), CORPUS_DIR.
"""
import http.client
import json
import select
import os
import pty
import subprocess
import time

import pytest

from conftest import BIN, Daemon, corpus_files

READ_PW = "testpass"
ENABLE_PW = "enablepass"
RSPAMC = os.path.join(BIN, "rspamc")
RSPAMADM = os.path.join(BIN, "rspamadm")

SPAM = corpus_files("spam-1")
HAM = corpus_files("easy-ham-1")


def rspamadm_pw(password, kind):
    out = subprocess.run([RSPAMADM, "pw", "-t", kind, "-p", password],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    line = out.strip()
    assert line.startswith("$2$" if kind == "catena" else "$1$"), line
    return line


@pytest.fixture(scope="module")
def ctl(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("controller"), workers=1)
    d.read_hash = rspamadm_pw(READ_PW, "pbkdf2")
    d.enable_hash = rspamadm_pw(ENABLE_PW, "catena")
    d.write_local("worker-controller.inc",
                  f'bind_socket = "127.0.0.1:{d.controller_port}";\n'
                  f'secure_ip = "10.99.99.99";\n'
                  f'password = "{d.read_hash}";\n'
                  f'enable_password = "{d.enable_hash}";\n')
    d.start()
    yield d
    d.stop()


def request(d, path, password=None, body=None, headers=None, port=None):
    conn = http.client.HTTPConnection("127.0.0.1", port or d.controller_port, timeout=30)
    h = dict(headers or {})
    if password is not None:
        h["Password"] = password
    t0 = time.monotonic()
    conn.request("POST" if body is not None else "GET", path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.reason, data, time.monotonic() - t0, r


def stat(d, password=ENABLE_PW):
    st, _, body, _, _ = request(d, "/stat", password)
    assert st == 200, body
    return json.loads(body)


def statfile(s, symbol):
    for f in s["statfiles"]:
        if f["symbol"] == symbol:
            return f
    raise AssertionError(f"no statfile {symbol} in {s['statfiles']}")


def rspamc(d, *args, password=ENABLE_PW, stderr=subprocess.PIPE):
    cmd = [RSPAMC, "-h", f"127.0.0.1:{d.controller_port}"]
    if password is not None:
        cmd += ["-P", password]
    return subprocess.run(cmd + list(args), stdout=subprocess.PIPE, stderr=stderr,
                          text=True, timeout=120)


def test_ping_needs_nothing(ctl):
    st, _, body, _, r = request(ctl, "/ping")
    assert (st, body) == (200, b"pong\r\n")
    assert r.getheader("Cache-Control") == "no-store"


def test_unknown_path_404(ctl):
    st, _, body, _, _ = request(ctl, "/nosuchthing", ENABLE_PW)
    assert (st, body) == (404, b"Not found")


def test_missing_password_is_401(ctl):
    for path in ("/stat", "/auth", "/statreset"):
        st, reason, body, elapsed, _ = request(ctl, path)
        assert st == 401 and json.loads(body) == {"error": "Unauthorized"}
        assert elapsed < 0.4


def test_wrong_password_is_403_after_a_delay_and_learns_nothing(ctl):
    before = stat(ctl)
    msg = open(SPAM[0], "rb").read()
    st, _, body, elapsed, _ = request(ctl, "/learnspam", "wrongpass", body=msg)
    assert st == 403 and json.loads(body) == {"error": "Unauthorized"}
    assert elapsed >= 0.5
    after = stat(ctl)
    assert statfile(after, "BAYES_SPAM")["revision"] == statfile(before, "BAYES_SPAM")["revision"]
    assert after["learned"] == before["learned"]
    assert "authentication failed for 127.0.0.1" in ctl.log()


def test_delay_does_not_block_other_clients(ctl):
    conn = http.client.HTTPConnection("127.0.0.1", ctl.controller_port, timeout=30)
    conn.request("GET", "/stat", headers={"Password": "wrong"})
    st, _, _, _, _ = request(ctl, "/stat", READ_PW)
    assert st == 200
    # the other client was served while the delayed 403 was still pending
    ready, _, _ = select.select([conn.sock], [], [], 0)
    assert ready == []
    assert conn.getresponse().status == 403
    conn.close()


def test_example_passwords_refused(ctl):
    for pw in ("q1", "q2"):
        st, _, _, _, _ = request(ctl, "/stat", pw)
        assert st == 403


def test_password_in_query(ctl):
    st, _, _, _, _ = request(ctl, f"/stat?password={READ_PW}")
    assert st == 200


def test_read_only_password(ctl):
    s = stat(ctl, READ_PW)
    assert s["read_only"] is True
    st, _, body, _, _ = request(ctl, "/auth", READ_PW)
    a = json.loads(body)
    assert st == 200 and a["auth"] == "ok" and a["read_only"] is True
    assert a["version"] == "3.4" and isinstance(a["uptime"], int)
    st, _, body, _, _ = request(ctl, "/auth", ENABLE_PW)
    assert json.loads(body)["read_only"] is False
    # privileged endpoints refuse it (and nothing is learnt)
    before = statfile(stat(ctl), "BAYES_SPAM")["revision"]
    msg = open(SPAM[1], "rb").read()
    st, _, _, _, _ = request(ctl, "/learnspam", READ_PW, body=msg)
    assert st == 403
    st, _, _, _, _ = request(ctl, "/statreset", READ_PW)
    assert st == 403
    assert statfile(stat(ctl), "BAYES_SPAM")["revision"] == before
    r = rspamc(ctl, "learn_spam", SPAM[1], password=READ_PW)
    assert r.returncode == 1 and "HTTP error: 403" in r.stdout


def test_stat_shape(ctl):
    s = stat(ctl)
    for key in ("scanned", "learned", "spam_count", "ham_count", "connections",
                "control_connections", "total_learns", "uptime", "pools_allocated",
                "bytes_allocated", "chunks_allocated"):
        assert isinstance(s[key], int), key
    assert set(s["actions"]) == {"reject", "soft reject", "rewrite subject", "add header",
                                 "greylist", "no action"}
    assert len(s["scan_times"]) == 31
    assert s["version"] == "3.4" and s["config_id"]
    for sym in ("BAYES_SPAM", "BAYES_HAM"):
        f = statfile(s, sym)
        assert f["type"] == "lmdb" and f["languages"] == 0
        for k in ("revision", "used", "total", "size", "users"):
            assert isinstance(f[k], int)


def test_learn_twice_then_relearn_as_ham(ctl):
    msg = SPAM[2]
    s0 = stat(ctl)
    r = rspamc(ctl, "learn_spam", msg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "success = true;" in r.stdout
    s1 = stat(ctl)
    assert statfile(s1, "BAYES_SPAM")["revision"] == statfile(s0, "BAYES_SPAM")["revision"] + 1
    assert s1["learned"] == s0["learned"] + 1
    assert s1["total_learns"] == s0["total_learns"] + 1

    # same class again: 208, printed as an error, exit 0, nothing changes
    r = rspamc(ctl, "learn_spam", msg)
    assert r.returncode == 0, r.stdout
    assert "has been already learned as spam, ignore it" in r.stdout
    assert 'error = "<' in r.stdout
    st, reason, body, _, _ = request(ctl, "/learnspam", ENABLE_PW, body=open(msg, "rb").read())
    assert st == 208 and "already learned as spam" in reason
    assert "already learned as spam" in json.loads(body)["error"]
    s2 = stat(ctl)
    assert statfile(s2, "BAYES_SPAM")["revision"] == statfile(s1, "BAYES_SPAM")["revision"]
    assert s2["learned"] == s1["learned"]

    # the other class: moved
    r = rspamc(ctl, "learn_ham", msg)
    assert r.returncode == 0 and "success = true;" in r.stdout
    s3 = stat(ctl)
    assert statfile(s3, "BAYES_SPAM")["revision"] == statfile(s2, "BAYES_SPAM")["revision"] - 1
    assert statfile(s3, "BAYES_HAM")["revision"] == statfile(s2, "BAYES_HAM")["revision"] + 1
    assert s3["total_learns"] == s2["total_learns"]


def test_too_few_tokens_is_204_and_rspamc_exit_0(ctl, tmp_path):
    short = tmp_path / "short.eml"
    short.write_bytes(b"Subject: x\r\n\r\nhi")
    r = rspamc(ctl, "learn_spam", str(short))
    assert r.returncode == 0, r.stdout
    assert "less tokens than required" in r.stdout


def test_empty_body_is_400(ctl):
    st, _, body, _, _ = request(ctl, "/learnspam", ENABLE_PW, body=b"")
    assert st == 400 and json.loads(body) == {"error": "Empty body is not permitted"}


def test_learn_many_in_parallel(ctl):
    files = SPAM[10:30]
    before = stat(ctl)
    r = rspamc(ctl, "-n", "8", "learn_spam", *files)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("success = true;") == 20
    # replies in input order, no progress line when stderr is not a terminal
    assert [line.split(": ", 1)[1].split(" (")[0] for line in r.stdout.splitlines()
            if line.startswith("Results for file: ")] == files
    assert "[" not in r.stderr
    after = stat(ctl)
    assert statfile(after, "BAYES_SPAM")["revision"] == statfile(before, "BAYES_SPAM")["revision"] + 20
    assert after["learned"] == before["learned"] + 20


def test_progress_line_on_a_terminal(ctl):
    master, slave = pty.openpty()
    try:
        r = rspamc(ctl, "-n", "4", "learn_ham", *HAM[:6], stderr=slave)
        os.close(slave)
        slave = None
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert r.returncode == 0
    text = seen.decode(errors="replace")
    assert "[6/6] learnt..." in text
    assert text.endswith("\r\x1b[K"), repr(text[-40:])
    assert "[" not in r.stdout.replace("[Metric", "")


def test_scans_are_counted_for_stat(ctl):
    before = stat(ctl)
    for f in HAM[100:103]:
        conn = http.client.HTTPConnection("127.0.0.1", ctl.port, timeout=30)
        conn.request("POST", "/checkv2", body=open(f, "rb").read())
        assert conn.getresponse().status == 200
        conn.close()
    after = stat(ctl)
    assert after["scanned"] == before["scanned"] + 3
    assert sum(after["actions"].values()) == sum(before["actions"].values()) + 3
    assert after["spam_count"] + after["ham_count"] == before["spam_count"] + before["ham_count"] + 3
    assert after["connections"] >= before["connections"] + 3
    assert after["control_connections"] > before["control_connections"]
    assert any(t is not None and t >= 0 for t in after["scan_times"])
    r = rspamc(ctl, "stat")
    assert r.returncode == 0
    assert f"Messages scanned: {after['scanned']}" in r.stdout
    assert "Statfile: BAYES_SPAM type: lmdb;" in r.stdout
    assert "Average scan time:" in r.stdout


def test_statreset(ctl):
    request(ctl, "/checkv2", ENABLE_PW, body=open(HAM[200], "rb").read())
    before = stat(ctl)
    assert before["scanned"] > 0 and before["learned"] > 0
    st, _, body, _, _ = request(ctl, "/statreset", ENABLE_PW)
    assert st == 200
    snap = json.loads(body)
    assert snap["scanned"] >= before["scanned"] and snap["learned"] == before["learned"]
    after = stat(ctl)
    assert after["scanned"] == 0 and after["learned"] == 0
    assert all(v == 0 for v in after["actions"].values())
    assert all(t is None for t in after["scan_times"])
    # the Bayes data is not touched
    assert statfile(after, "BAYES_SPAM")["revision"] == statfile(before, "BAYES_SPAM")["revision"]
    r = rspamc(ctl, "stat_reset")
    assert r.returncode == 0 and "Messages scanned:" in r.stdout


def test_stats_shared_by_all_workers(daemon_factory):
    d = daemon_factory(workers=3)
    d.start()
    for f in HAM[300:309]:
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        conn.request("POST", "/checkv2", body=open(f, "rb").read())
        assert conn.getresponse().status == 200
        conn.close()
    # loopback is secure_ip by default: no password needed
    s = stat(d, password=None)
    assert s["scanned"] == 9 and s["read_only"] is False
    st, _, body, _, _ = request(d, "/learnspam", body=open(SPAM[40], "rb").read())
    assert st == 200 and json.loads(body) == {"success": True}


def test_plaintext_passwords(daemon_factory):
    d = daemon_factory(workers=1)
    d.write_local("worker-controller.inc",
                  f'bind_socket = "127.0.0.1:{d.controller_port}";\n'
                  f'secure_ip = ["10.99.99.99"];\npassword = "ro";\nenable_password = "rw";\n')
    d.start()
    assert request(d, "/stat", "ro")[0] == 200
    assert request(d, "/stat", "rw")[0] == 200
    assert request(d, "/stat", "r")[0] == 403
    assert request(d, "/stat", "rw2")[0] == 403
    assert request(d, "/learnham", "ro", body=open(HAM[50], "rb").read())[0] == 403
    assert request(d, "/learnham", "rw", body=open(HAM[50], "rb").read())[0] == 200


def test_counters_survive_a_restart(daemon_factory):
    d = daemon_factory(workers=1)
    d.start()
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    conn.request("POST", "/checkv2", body=open(HAM[400], "rb").read())
    assert conn.getresponse().status == 200
    conn.close()
    assert request(d, "/learnspam", body=open(SPAM[45], "rb").read())[0] == 200
    s1 = stat(d, password=None)
    assert d.stop() == 0
    assert os.path.exists(os.path.join(d.state, "db", "stats.ucl"))
    d.start()
    s2 = stat(d, password=None)
    assert s2["scanned"] == s1["scanned"] == 1
    assert s2["learned"] == s1["learned"] == 1
    assert s2["actions"] == s1["actions"]
    # a controller restart inside one daemon lifetime does not add them twice
    pids = d.worker_pids()
    os.kill(max(pids), 9)
    deadline = time.time() + 20
    while time.time() < deadline and not (d.worker_pids() != pids and d.ping(d.controller_port)):
        time.sleep(0.2)
    assert stat(d, password=None)["scanned"] == 1
