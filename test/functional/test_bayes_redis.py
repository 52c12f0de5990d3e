"""Bayes statistics in Redis: the daemon learns through the controller into a
private redis-server (started here on a free loopback port, no persistence),
reports the counts in /stat, refuses a second learn of the same message
(208), moves a message relearnt into the other class, shares one store
between two daemons, and keeps scanning while Redis is down."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import corpus_files, free_port

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"

pytestmark = pytest.mark.skipif(
    not (os.access(REDIS_SERVER, os.X_OK) and os.access(REDIS_CLI, os.X_OK)),
    reason="redis-server / redis-cli not installed")


class RedisServer:
    def __init__(self, tmp, password=None):
        self.dir = str(tmp)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.proc = None

    def start(self):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.dir]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.cli("PING") == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *args):
        cmd = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)]
        env = dict(os.environ)
        if self.password:
            env["REDISCLI_AUTH"] = self.password
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, timeout=10)
        return r.stdout.strip()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def redis_factory(tmp_path):
    made = []

    def make(password=None):
        r = RedisServer(tmp_path / f"redis{len(made)}", password).start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.kill()
        shutil.rmtree(r.dir, ignore_errors=True)


def start_or_skip(daemon):
    try:
        return daemon.start()
    except RuntimeError as e:
        if "unknown statistics backend" in str(e):
            pytest.skip("the bayes module does not list the redis backend yet "
                        "(src/scan/bayes/bayes.c backends[])")
        raise


def post(port, path, body=b"", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST" if body else "GET", path, body=body or None, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def learn(daemon, kind, path):
    with open(path, "rb") as f:
        return post(daemon.controller_port, "/learn" + kind, f.read())[0]


def statfiles(daemon):
    status, data = post(daemon.controller_port, "/stat")
    assert status == 200, data
    return {f["symbol"]: f for f in json.loads(data)["statfiles"]}


def bayes_conf(redis, extra=""):
    return (f'backend = "redis";\nservers = "127.0.0.1:{redis.port}";\n'
            f'min_learns = 1;\ntimeout = 1s;\n{extra}')


def test_learn_relearn_and_stat_in_redis(daemon_factory, redis_factory):
    redis = redis_factory()
    d = start_or_skip(daemon_factory(extra_local={"classifier-bayes.conf": bayes_conf(redis)}))
    spam = corpus_files("spam-1", 3)
    ham = corpus_files("easy-ham-1", 3)
    assert [learn(d, "spam", p) for p in spam] == [200, 200, 200]
    assert [learn(d, "ham", p) for p in ham] == [200, 200, 200]
    files = statfiles(d)
    assert files["BAYES_SPAM"]["type"] == "redis"
    assert files["BAYES_SPAM"]["revision"] == 3 and files["BAYES_HAM"]["revision"] == 3
    # the layout: totals hash, one hash per token with S/H fields
    assert redis.cli("HGET", "RS", "learns_spam") == "3"
    # the token count is a HyperLogLog estimate (PFCOUNT RS_tokens)
    assert redis.cli("TYPE", "RS_tokens") == "string"
    estimate = int(redis.cli("PFCOUNT", "RS_tokens"))
    assert files["BAYES_SPAM"]["total"] == estimate
    # every other key is a token: RS, RS_learned (digests), RS_keys
    # (users), RS_tokens; HyperLogLog error is about 0.8%, allow 3%
    keys = int(redis.cli("DBSIZE")) - 4
    assert keys > 100 and abs(estimate - keys) <= 0.03 * keys
    assert redis.cli("TYPE", "RS_learned") == "hash" and redis.cli("HLEN", "RS_learned") == "6"
    token_key = next(k for k in redis.cli("KEYS", "RS_*").split()
                     if k[3:].isdigit())
    assert redis.cli("TYPE", token_key) == "hash"
    assert set(redis.cli("HKEYS", token_key).split()) <= {"S", "H"}
    # the same message again: refused; into the other class: moved
    assert learn(d, "spam", spam[0]) == 208
    assert learn(d, "ham", spam[0]) == 200
    files = statfiles(d)
    assert files["BAYES_SPAM"]["revision"] == 2 and files["BAYES_HAM"]["revision"] == 4
    assert learn(d, "ham", spam[0]) == 208


def test_two_daemons_share_one_store_with_password(daemon_factory, redis_factory):
    redis = redis_factory(password="s3cret-redis")
    a = start_or_skip(daemon_factory(extra_local={
        "classifier-bayes.conf": bayes_conf(redis, 'password = "s3cret-redis";\n')}))
    # the second one finds its server in the global redis {} section (no
    # conf/redis.conf pulls in local.d/redis.conf yet: rspamd.conf.local)
    b = daemon_factory(extra_local={
        "classifier-bayes.conf": 'backend = "redis";\nmin_learns = 1;\n'})
    with open(os.path.join(b.confdir, "rspamd.conf.local"), "w") as f:
        f.write(f'redis {{\n  servers = "127.0.0.1:{redis.port}";\n'
                f'  password = "s3cret-redis";\n}}\n')
    b.start()
    spam = corpus_files("spam-2", 2)
    assert [learn(a, "spam", p) for p in spam] == [200, 200]
    assert statfiles(b)["BAYES_SPAM"]["revision"] == 2
    # learnt on one host, known as learnt on the other
    assert learn(b, "spam", spam[0]) == 208


def test_scanning_survives_redis_outage(daemon_factory, redis_factory):
    redis = redis_factory()
    d = start_or_skip(daemon_factory(extra_local={"classifier-bayes.conf": bayes_conf(redis)}))
    spam = corpus_files("spam-1", 12)
    ham = corpus_files("easy-ham-1", 12)
    for p in spam[:10]:
        assert learn(d, "spam", p) == 200
    for p in ham[:10]:
        assert learn(d, "ham", p) == 200
    with open(spam[0], "rb") as f:
        msg = f.read()
    status, data = post(d.port, "/checkv2", msg)
    assert status == 200
    assert "BAYES_SPAM" in json.loads(data)["symbols"]

    redis.kill()
    t0 = time.time()
    status, data = post(d.port, "/checkv2", msg)
    assert status == 200 and time.time() - t0 < 5
    assert "BAYES_SPAM" not in json.loads(data)["symbols"]
    assert learn(d, "spam", spam[11]) >= 500

    # back: the worker reconnects (backoff at most 2 s) and learns again
    redis.start()
    deadline = time.time() + 10
    while learn(d, "spam", spam[11]) != 200:
        assert time.time() < deadline, d.log()
        time.sleep(0.3)
    assert statfiles(d)["BAYES_SPAM"]["revision"] == 1
