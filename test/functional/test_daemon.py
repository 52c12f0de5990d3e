"""The supervisor: start, crash restart, reload without dropping sockets,
graceful stop, config errors."""
import http.client
import json
import os
import signal
import subprocess
import threading
import time

from conftest import BIN
from test_scan_protocol import HAM, checkv2



def test_crashed_worker_is_restarted(daemon_factory):
    d = daemon_factory(workers=2).start()
    # ready means the scanner and controller answer; the milter proxy may
    # still be forking
    deadline = time.time() + 15
    while len(d.worker_pids()) < 4 and time.time() < deadline:
        time.sleep(0.05)
    before = d.worker_pids()
    assert len(before) == 4  # 2 normal + controller + milter proxy
    os.kill(before[0], signal.SIGKILL)
    deadline = time.time() + 15
    while time.time() < deadline:
        pids = d.worker_pids()
        if len(pids) == 4 and before[0] not in pids:
            break
        time.sleep(0.1)
    assert len(d.worker_pids()) == 4
    assert before[0] not in d.worker_pids()
    assert d.ping(d.port) and d.ping(d.controller_port)
    assert "restarting" in d.log()


def test_sighup_reload_keeps_serving_and_applies_config(daemon_factory):
    d = daemon_factory(workers=2).start()
    assert json.loads(checkv2(d, HAM)[1])["required_score"] == 15.0
    failures, done = [], threading.Event()

    def hammer():
        while not done.is_set():
            try:
                c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
                c.request("GET", "/ping")
                if c.getresponse().read() != b"pong\r\n":
                    failures.append("bad reply")
                c.close()
            except OSError as e:
                failures.append(repr(e))

    t = threading.Thread(target=hammer)
    t.start()
    old = d.worker_pids()
    d.write_local("actions.conf", "reject = 21;\n")
    d.signal(signal.SIGHUP)
    deadline = time.time() + 20
    while time.time() < deadline:
        if json.loads(checkv2(d, HAM)[1])["required_score"] == 21.0:
            break
        time.sleep(0.2)
    time.sleep(1)
    done.set()
    t.join()
    assert json.loads(checkv2(d, HAM)[1])["required_score"] == 21.0
    assert failures == []
    assert not set(old) & set(d.worker_pids())


def test_bad_reload_keeps_old_config(daemon_factory):
    d = daemon_factory().start()
    d.write_local("actions.conf", "reject = ;;; {\n")
    d.signal(signal.SIGHUP)
    time.sleep(1.5)
    assert d.proc.poll() is None
    assert d.ping(d.port)
    assert json.loads(checkv2(d, HAM)[1])["required_score"] == 15.0
    assert "reload failed" in d.log()


def test_sigterm_stops_cleanly(daemon_factory):
    d = daemon_factory(workers=2).start()
    workers = d.worker_pids()
    assert d.stop() == 0
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_config_error_names_file_and_line(daemon_factory):
    d = daemon_factory()
    d.write_local("actions.conf", "reject = 15;\ngreylist = {{{\n")
    p = subprocess.run([os.path.join(BIN, "rspamd"), "-f", "-c", d.conf, "--state-dir", d.state],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "local.d/actions.conf:2" in p.stderr


def test_second_instance_beside_the_first(daemon_factory):
    a = daemon_factory().start()
    b = daemon_factory().start()
    assert a.ping(a.port) and b.ping(b.port)
    assert a.port != b.port


def test_stuck_lua_rule_costs_one_request_not_the_worker(daemon_factory):
    d = daemon_factory(workers=1, extra_local={
        "options.inc": "task_timeout = 1s;\n",
        "local.lua": ("rspamd_config.LOOPER = { callback = function(task)\n"
                      "  if task:get_subject() == 'loop forever' then while true do end end\n"
                      "  return false end, score = 1.0 }\n"),
    }).start()
    worker = [p for p in d.worker_pids()]
    stuck = HAM.replace(b"Subject: lunch tomorrow", b"Subject: loop forever")
    t = time.time()
    try:
        checkv2(d, stuck)
    except (OSError, http.client.HTTPException):
        pass  # the stuck worker was killed under this request
    assert time.time() - t < 30
    deadline = time.time() + 20
    while time.time() < deadline and not d.ping(d.port):
        time.sleep(0.2)
    r, data = checkv2(d, HAM)
    assert r.status == 200 and json.loads(data)["action"] == "no action"
    assert set(worker) != set(d.worker_pids())


def test_two_kinds_of_worker_on_one_socket_refused(daemon_factory):
    d = daemon_factory()
    d.write_local("worker-controller.inc", 'bind_socket = "127.0.0.1:%d";\n' % d.port)
    p = subprocess.run([os.path.join(BIN, "rspamd"), "-f", "-c", d.conf, "--state-dir", d.state],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "is used by workers normal and controller" in p.stderr
