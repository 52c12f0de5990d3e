"""Greylisting on the real daemon: a message scoring in the greylist range
(a local multimap rule gives 5 points) is answered "soft reject" with
"Try again later" on first sight and on a retry before the timeout, and
passes after it; with the LMDB store (two workers sharing the file under
the state dir) and with a private redis-server."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import free_port

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"

MSG = (b"From: Alice <alice@sender.example>\r\nTo: bob@example.net\r\n"
       b"Subject: lunch tomorrow\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
       b"Message-ID: <gl1@sender.example>\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
       b"Shall we meet at noon? %s\r\n")

SCORE5 = 'GL_FIVE { type = "from"; map = ["alice@sender.example"]; score = 5; }\n'


def check(daemon, body, **headers):
    c = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    c.request("POST", "/checkv2", body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 200, data
    return json.loads(data)


def env(**extra):
    h = {"IP": "198.51.100.20", "From": "<alice@sender.example>", "Rcpt": "<bob@example.net>"}
    h.update(extra)
    return h


def greylist_cycle(d, tag):
    body = MSG.replace(b"%s", tag.encode())
    j = check(d, body, **env())
    assert j["action"] == "soft reject", j
    assert j["messages"]["smtp_message"] == "Try again later"
    opts = j["symbols"]["GREYLIST"]["options"]
    assert opts[0] == "greylisted" and opts[-1] == "new record", opts
    assert opts[1].endswith(" GMT")
    j = check(d, body, **env())
    assert j["action"] == "soft reject", j
    assert j["symbols"]["GREYLIST"]["options"][0] == "greylisted"
    assert "new record" not in j["symbols"]["GREYLIST"]["options"]
    time.sleep(2.2)
    for _ in range(2):
        j = check(d, body, **env())
        assert j["action"] in ("no action", "add header"), j
        assert j["symbols"]["GREYLIST"]["options"] == ["pass"], j
        assert "smtp_message" not in j["messages"]
    # the same sender through a neighbour address of its /19 passes too
    j = check(d, MSG.replace(b"%s", b"other body"), **env(IP="198.51.100.99"))
    assert j["symbols"]["GREYLIST"]["options"] == ["pass"], j


def exempt_cases(d):
    body = MSG.replace(b"%s", b"exempt")
    # authenticated users and local addresses are not greylisted
    j = check(d, body, **env(User="alice"))
    assert "GREYLIST" not in j["symbols"] and j["action"] != "soft reject", j
    j = check(d, body, **env(IP="127.0.0.1"))
    assert "GREYLIST" not in j["symbols"], j
    # nor a message scoring below the greylist threshold
    j = check(d, body, **env(From="<carol@sender.example>"))
    assert "GREYLIST" not in j["symbols"], j


def test_greylist_lmdb(daemon_factory):
    d = daemon_factory(workers=2, extra_local={
        "greylist.conf": "enabled = true;\ntimeout = 2s;\n",
        "multimap.conf": SCORE5}).start()
    greylist_cycle(d, "lmdb")
    exempt_cases(d)
    assert os.path.isfile(os.path.join(d.state, "db", "greylist.mdb"))


def test_greylist_off_by_default(daemon_factory):
    d = daemon_factory(extra_local={"multimap.conf": SCORE5}).start()
    j = check(d, MSG.replace(b"%s", b"off"), **env())
    assert j["action"] == "greylist" and "GREYLIST" not in j["symbols"], j


class RedisServer:
    def __init__(self, tmp):
        self.dir = str(tmp)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.cli("PING") == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *args):
        r = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)] + list(args),
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.mark.skipif(not (os.access(REDIS_SERVER, os.X_OK) and os.access(REDIS_CLI, os.X_OK)),
                    reason="redis-server / redis-cli not installed")
def test_greylist_redis(daemon_factory, tmp_path):
    redis = RedisServer(tmp_path / "redis").start()
    try:
        # servers only in the global redis {}: enough to switch greylisting on
        d = daemon_factory(workers=2, extra_local={
            "greylist.conf": "timeout = 2s;\nexpire = 1h;\n",
            "redis.conf": f'servers = "127.0.0.1:{redis.port}";\n',
            "multimap.conf": SCORE5}).start()
        greylist_cycle(d, "redis")
        keys = redis.cli("KEYS", "rg*").split()
        assert any(k.startswith("rgb") for k in keys), keys
        assert any(k.startswith("rgm") for k in keys), keys
        ttl = int(redis.cli("TTL", keys[0]))
        assert 0 < ttl <= 3600
        exempt_cases(d)
        # Redis gone: scanning goes on without greylisting
        redis.kill()
        t0 = time.time()
        j = check(d, MSG.replace(b"%s", b"redis down"), **env())
        assert time.time() - t0 < 5
        assert j["action"] == "greylist" and "GREYLIST" not in j["symbols"], j
        assert not os.path.exists(os.path.join(d.state, "db", "greylist.mdb"))
    finally:
        redis.kill()
        shutil.rmtree(redis.dir, ignore_errors=True)
