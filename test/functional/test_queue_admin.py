"""The mail queue for operators: `rspamadm queue list|flush|cat|delete|
hold|release` and the controller's /queue endpoints.

The spool is filled by sending mail to the daemon over SMTP from
loopback, which is in mynetworks here, so remote recipients are relayed.
The queue manager is switched off (worker-qmgr.inc enabled = false) so
every message stays in incoming/ until a test moves it; "deferred" and
"active" messages are made by renaming spool files, exactly what the
queue manager does. A second daemon runs the queue manager with a relay
host that refuses connections, to see a real deferral reason listed.

Run: /usr/bin/python3 -m pytest test/functional/test_queue_admin.py
Environment: RSPAMD_BUILD (default <repo>/build).
"""
import http.client
import json
import os
import smtplib
import subprocess
import time

import pytest

from conftest import BIN, free_port
from mailcore import add_user, mail_daemon, message, rspamadm

READ_PW = "queue-read-pw"
ENABLE_PW = "queue-enable-pw"


def controller_conf(d):
    d.write_local("worker-controller.inc",
                  f'bind_socket = "127.0.0.1:{d.controller_port}";\n'
                  f'secure_ip = "10.99.99.99";\n'
                  f'password = "{READ_PW}";\n'
                  f'enable_password = "{ENABLE_PW}";\n')


@pytest.fixture(scope="module")
def mq(tmp_path_factory, zone):
    d = mail_daemon(tmp_path_factory.mktemp("queue"), zone.address, extra_local={
        "mta.conf": 'myhostname = "mx.test.example";\nmynetworks = "127.0.0.0/8";\n',
        "worker-qmgr.inc": "enabled = false;\n",
    })
    rspamadm(d, "domain", "add", "example.test")
    add_user(d, "bob@example.test")
    controller_conf(d)
    d.start()
    yield d
    d.stop()


def spool_dir(d, queue):
    return os.path.join(d.state, "spool", queue)


def ids_in(d, queue):
    try:
        return sorted(os.listdir(spool_dir(d, queue)))
    except FileNotFoundError:  # the spool is made on first use
        return []


def send(d, rcpts, subject="queued"):
    with smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30) as s:
        s.sendmail("alice@example.org", rcpts, message(subject=subject, to=rcpts[0]))


def fill(d, n, subject="queued"):
    """Sends n messages; returns the ids that appeared in incoming/."""
    before = set(ids_in(d, "incoming"))
    for i in range(n):
        send(d, ["carol@remote.example", "dave@remote.example"], f"{subject} {i}")
    new = sorted(set(ids_in(d, "incoming")) - before)
    assert len(new) == n
    return new


def move(d, qid, src, dst):
    os.rename(os.path.join(spool_dir(d, src), qid), os.path.join(spool_dir(d, dst), qid))


def queue_cmd(d, *args):
    return subprocess.run([os.path.join(BIN, "rspamadm"), "-c", d.conf, "--state-dir", d.state,
                           "queue"] + list(args), capture_output=True, text=True, timeout=60)


def listing(d):
    r = queue_cmd(d, "list", "-j")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line]


def request(d, method, path, password=None):
    conn = http.client.HTTPConnection("127.0.0.1", d.controller_port, timeout=30)
    h = {"Password": password} if password is not None else {}
    conn.request(method, path, body=b"" if method == "POST" else None, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def test_list_text_and_json(mq):
    ids = fill(mq, 2, "listing")
    r = queue_cmd(mq, "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("-Queue ID-")
    for qid in ids:
        assert qid + " " in r.stdout
    assert "alice@example.org" in r.stdout
    assert "carol@remote.example" in r.stdout
    assert "Request" in r.stdout.splitlines()[-1]
    entries = {e["queue_id"]: e for e in listing(mq)}
    for qid in ids:
        e = entries[qid]
        assert e["queue_name"] == "incoming"
        assert e["sender"] == "alice@example.org"
        assert e["message_size"] > 100 and e["arrival_time"] > 1_600_000_000
        assert [x["address"] for x in e["recipients"]] == \
            ["carol@remote.example", "dave@remote.example"]
        assert all(x["status"] == "pending" and "delay_reason" in x for x in e["recipients"])


def test_cat(mq):
    (qid,) = fill(mq, 1, "catme")
    r = queue_cmd(mq, "cat", qid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"*** ENVELOPE RECORDS {qid} ***\n")
    assert "sender: alice@example.org" in r.stdout
    assert "recipient: carol@remote.example" in r.stdout
    assert f"*** MESSAGE CONTENTS {qid} ***" in r.stdout
    assert "Subject: catme 0" in r.stdout
    assert r.stdout.endswith("*** END OF MESSAGE ***\n")
    r = queue_cmd(mq, "cat", "0123456789ABCDEF0")
    assert r.returncode == 1 and "no such message" in r.stderr


def test_hold_and_release(mq):
    (qid,) = fill(mq, 1, "hold")
    r = queue_cmd(mq, "hold", qid)
    assert r.returncode == 0, r.stderr
    assert qid in ids_in(mq, "hold") and qid not in ids_in(mq, "incoming")
    line = [x for x in queue_cmd(mq, "list").stdout.splitlines() if x.startswith(qid)][0]
    assert line.startswith(qid + "!")
    assert {e["queue_id"]: e["queue_name"] for e in listing(mq)}[qid] == "hold"
    assert queue_cmd(mq, "hold", qid).returncode == 0  # already held: fine
    r = queue_cmd(mq, "release", qid)
    assert r.returncode == 0, r.stderr
    assert qid in ids_in(mq, "incoming") and qid not in ids_in(mq, "hold")
    assert queue_cmd(mq, "release", qid).returncode == 1  # not on hold


def test_delete_one(mq):
    a, b = fill(mq, 2, "delete")
    r = queue_cmd(mq, "delete", a)
    assert r.returncode == 0 and f"{a}: deleted" in r.stdout
    assert a not in ids_in(mq, "incoming") and b in ids_in(mq, "incoming")
    r = queue_cmd(mq, "delete", a)
    assert r.returncode == 1 and "no such message" in r.stderr


def test_active_is_left_to_the_qmgr(mq):
    (qid,) = fill(mq, 1, "active")
    move(mq, qid, "incoming", "active")
    try:
        line = [x for x in queue_cmd(mq, "list").stdout.splitlines() if x.startswith(qid)][0]
        assert line.startswith(qid + "*")
        for op in ("delete", "hold"):
            r = queue_cmd(mq, op, qid)
            assert r.returncode == 75 and "being delivered" in r.stderr
        assert qid in ids_in(mq, "active")
        assert queue_cmd(mq, "cat", qid).returncode == 0  # reading is harmless
        st, _ = request(mq, "POST", f"/queue/{qid}/delete", ENABLE_PW)
        assert st == 409
    finally:
        move(mq, qid, "active", "incoming")


def test_delete_all_deferred_and_flush(mq):
    ids = fill(mq, 3, "deferred")
    for qid in ids[:2]:
        move(mq, qid, "incoming", "deferred")
    keep = set(ids_in(mq, "incoming"))
    r = queue_cmd(mq, "delete", "ALL", "deferred")
    assert r.returncode == 0 and "deleted: 2 messages" in r.stdout
    assert ids_in(mq, "deferred") == []
    assert set(ids_in(mq, "incoming")) == keep
    move(mq, ids[2], "incoming", "deferred")
    r = queue_cmd(mq, "flush")
    assert r.returncode == 0 and "flushed: 1 deferred message" in r.stdout
    assert ids_in(mq, "deferred") == [] and ids[2] in ids_in(mq, "incoming")
    assert queue_cmd(mq, "delete", "ALL", "active").returncode == 2


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", "", "0123456789abcdef0",
                                 "0123456789ABCDEF0/../x"])
def test_invalid_ids_refused(mq, bad):
    before = {q: ids_in(mq, q) for q in ("incoming", "deferred", "hold")}
    for op in ("cat", "delete", "hold", "release"):
        r = queue_cmd(mq, op, bad)
        assert r.returncode == 2, (op, bad, r.stdout, r.stderr)
        assert "invalid queue id" in r.stderr
    assert {q: ids_in(mq, q) for q in ("incoming", "deferred", "hold")} == before


def test_usage(mq):
    assert queue_cmd(mq).returncode == 2
    assert queue_cmd(mq, "frobnicate").returncode == 2
    r = queue_cmd(mq, "--help")
    assert r.returncode == 0 and "release ID" in r.stdout


def test_controller_read(mq):
    (qid,) = fill(mq, 1, "controller")
    assert request(mq, "GET", "/queue")[0] == 401
    st, body = request(mq, "GET", "/queue", "wrong-password")
    assert st == 403
    st, body = request(mq, "GET", "/queue", READ_PW)
    assert st == 200
    web = json.loads(body)
    assert sorted(e["queue_id"] for e in web) == sorted(e["queue_id"] for e in listing(mq))
    st, body = request(mq, "GET", f"/queue/{qid}", READ_PW)
    assert st == 200
    one = json.loads(body)
    assert one["queue_id"] == qid and one["sender"] == "alice@example.org"
    assert "Subject: controller 0\r\n" in one["headers"]
    assert "Shall we meet" not in one["headers"]
    assert one["client_ip"] == "127.0.0.1"
    assert request(mq, "GET", "/queue/ABC", READ_PW)[0] == 400
    assert request(mq, "GET", "/queue/..%2F..%2Fetc%2Fpasswd", READ_PW)[0] == 400
    assert request(mq, "GET", "/queue/0123456789ABCDEF0", READ_PW)[0] == 404


def test_controller_write(mq):
    (qid,) = fill(mq, 1, "webops")
    # the read-only password may look but not change
    assert request(mq, "POST", f"/queue/{qid}/hold")[0] == 401
    assert request(mq, "POST", f"/queue/{qid}/hold", READ_PW)[0] == 403
    assert qid in ids_in(mq, "incoming")
    st, body = request(mq, "POST", f"/queue/{qid}/hold", ENABLE_PW)
    assert st == 200 and json.loads(body) == {"success": True}
    assert qid in ids_in(mq, "hold")
    assert request(mq, "POST", f"/queue/{qid}/release", ENABLE_PW)[0] == 200
    assert qid in ids_in(mq, "incoming")
    move(mq, qid, "incoming", "deferred")
    st, body = request(mq, "POST", "/queue/flush", ENABLE_PW)
    assert st == 200 and json.loads(body) == {"success": True, "moved": 1}
    assert qid in ids_in(mq, "incoming")
    assert request(mq, "POST", f"/queue/{qid}/frob", ENABLE_PW)[0] == 400
    assert request(mq, "POST", "/queue/ABC/delete", ENABLE_PW)[0] == 400
    assert request(mq, "POST", "/queue/0123456789ABCDEF0/delete", ENABLE_PW)[0] == 404
    assert request(mq, "DELETE", f"/queue/{qid}", ENABLE_PW)[0] == 405
    st, body = request(mq, "POST", f"/queue/{qid}/delete", ENABLE_PW)
    assert st == 200
    assert qid not in ids_in(mq, "incoming")


def test_deferral_reason_listed(tmp_path, zone):
    """With the queue manager running and a relay host that refuses
    connections, remote mail is deferred and the reply is listed."""
    dead = free_port()
    d = mail_daemon(tmp_path, zone.address, extra_local={
        "mta.conf": 'myhostname = "mx.test.example";\nmynetworks = "127.0.0.0/8";\n'
                    f'relayhost = "[127.0.0.1]:{dead}";\n',
    })
    d.start()
    try:
        send(d, ["carol@remote.example"], "defer me")
        deadline = time.time() + 20
        while time.time() < deadline and not ids_in(d, "deferred"):
            time.sleep(0.2)
        (qid,) = ids_in(d, "deferred")
        (e,) = [x for x in listing(d) if x["queue_id"] == qid]
        assert e["queue_name"] == "deferred"
        reason = e["recipients"][0]["delay_reason"]
        assert reason and reason[0] == "4", reason
        text = queue_cmd(d, "list").stdout
        assert f"({reason})" in text
        assert e["attempts"] >= 1 and e["next_attempt"] > 0
    finally:
        d.stop()
