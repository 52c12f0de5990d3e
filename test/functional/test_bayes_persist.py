"""The LMDB statistics store across restarts and a kill -9 in the middle of
learning: nothing learnt is lost, nothing is corrupt, learning goes on."""
import json
import os
import signal
import subprocess
import time

from conftest import BIN, corpus_files


def rspamc(d, *args):
    return subprocess.run([os.path.join(BIN, "rspamc"), "-h", "127.0.0.1:%d" % d.controller_port]
                          + list(args), capture_output=True, text=True, timeout=120)


def learned(d):
    out = rspamc(d, "stat").stdout
    counts = {}
    for line in out.splitlines():
        if line.startswith("Statfile: "):
            sym = line.split()[1]
            counts[sym] = int(line.split("learned: ")[1].split(";")[0])
    return counts


def restart(d):
    assert d.stop() == 0
    d.proc = None
    d.start()


def test_learns_survive_a_restart(daemon_factory):
    d = daemon_factory().start()
    spam = corpus_files("spam-1", 5)
    assert rspamc(d, "learn_spam", *spam).returncode == 0
    before = learned(d)
    assert before["BAYES_SPAM"] >= 4
    restart(d)
    assert learned(d) == before
    again = rspamc(d, "learn_spam", spam[0])
    assert again.returncode == 0 and "already learned" in again.stdout


def test_kill_9_during_learning_leaves_a_consistent_store(daemon_factory):
    d = daemon_factory().start()
    files = corpus_files("easy-ham-1", 400)
    p = subprocess.Popen([os.path.join(BIN, "rspamc"), "-h", "127.0.0.1:%d" % d.controller_port,
                          "-n", "8", "learn_ham"] + files,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.6)
    # the whole daemon, supervisor and workers, at once
    for pid in d.worker_pids() + [d.proc.pid]:
        os.kill(pid, signal.SIGKILL)
    d.proc.wait()
    p.wait(timeout=60)
    d.proc = None
    d.start()
    n = learned(d)["BAYES_HAM"]
    assert 0 < n < 400
    # the store takes new learns and still knows what it had
    assert rspamc(d, "learn_ham", *files).returncode == 0
    assert learned(d)["BAYES_HAM"] >= n
    scan = subprocess.run(["curl", "-s", "--data-binary", "@" + files[0],
                           "http://127.0.0.1:%d/checkv2" % d.port],
                          capture_output=True, text=True, timeout=30)
    assert json.loads(scan.stdout)["action"]
