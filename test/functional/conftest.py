"""Fixtures that start the real daemon on free loopback ports.

Every daemon gets its own copy of conf/ with local.d overrides for its
ports and its own state dir, so tests never touch 11333/11334 and several
instances can run side by side.
"""
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("RSPAMD_BUILD", os.path.join(REPO, "build"))
BIN = os.path.join(BUILD, "bin")
CORPUS = os.environ.get("CORPUS_DIR", os.path.join(REPO, "..", "shared", "corpus"))


_handed_out = set()


# The seed tutorial's custom rule (local.d/local.lua), used by several tests.
TUTORIAL_RULE = """rspamd_config.MY_RULE = {
  callback = function(task)
    local subject = task:get_header('Subject')
    if subject and subject:find('viagra') then return true end
    return false
  end,
  score = 5.0,
  description = 'Contains suspicious keyword'
}
"""

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def free_port():
    """A free loopback port not handed out before in this run: the kernel
    may give a just-closed port again, and two workers of one daemon on one
    port would share a listener."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def corpus_files(group, limit=None):
    d = os.path.join(CORPUS, group)
    names = sorted(n for n in os.listdir(d) if n.endswith(".eml"))
    if limit is not None:
        names = names[:limit]
    return [os.path.join(d, n) for n in names]


class Daemon:
    """One rspamd instance: config dir, state dir, ports, process."""

    MAIL_WORKERS = ("smtp", "submission", "smtps", "qmgr", "imap", "imaps", "pop3", "pop3s")

    def __init__(self, tmp, workers=1, extra_local=None, mail=False):
        self.tmp = str(tmp)
        self.confdir = os.path.join(self.tmp, "conf")
        self.state = os.path.join(self.tmp, "state")
        shutil.copytree(os.path.join(REPO, "conf"), self.confdir)
        # the copied conf must find the repo's rules/ and lualib/
        for d in ("rules", "lualib"):
            src = os.path.join(REPO, d)
            if os.path.isdir(src):
                os.symlink(src, os.path.join(self.tmp, d))
        self.port = free_port()
        self.controller_port = free_port()
        self.proxy_port = free_port()
        self.host = "127.0.0.1"
        self.workers = workers
        self.write_local("worker-normal.inc",
                         f'bind_socket = "127.0.0.1:{self.port}";\ncount = {workers};\n')
        self.write_local("worker-controller.inc",
                         f'bind_socket = "127.0.0.1:{self.controller_port}";\n')
        self.write_local("worker-proxy.inc",
                         f'bind_socket = "127.0.0.1:{self.proxy_port}";\n')
        self.write_local("logging.inc",
                         'type = "file";\nfilename = "$LOGDIR/rspamd.log";\nlevel = "info";\n')
        # The mail core binds 25/587/465 by default: tests that want it get
        # private ports, the others switch it off.
        self.mail = mail
        self.smtp_port = self.submission_port = self.smtps_port = None
        self.imap_port = self.imaps_port = self.pop3_port = self.pop3s_port = None
        if mail:
            for name in ("smtp", "submission", "smtps", "imap", "imaps", "pop3", "pop3s"):
                port = free_port()
                setattr(self, name + "_port", port)
                self.write_local("worker-%s.inc" % name, 'bind_socket = "127.0.0.1:%d";\n' % port)
            self.write_local("mta.conf", 'myhostname = "mx.test.example";\n')
        else:
            for name in self.MAIL_WORKERS:
                self.write_local("worker-%s.inc" % name, "enabled = false;\n")
        for name, text in (extra_local or {}).items():
            self.write_local(name, text)
        self.proc = None

    def write_local(self, name, text):
        with open(os.path.join(self.confdir, "local.d", name), "w") as f:
            f.write(text)

    @property
    def conf(self):
        return os.path.join(self.confdir, "rspamd.conf")

    def start(self, timeout=20):
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "rspamd"), "-f", "-c", self.conf, "--state-dir", self.state],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace")
                raise RuntimeError(f"rspamd exited with {self.proc.returncode}: {out}\n{self.log()}")
            if self.ping(self.port) and self.ping(self.controller_port):
                return
            time.sleep(0.1)
        raise RuntimeError("rspamd did not become ready\n" + self.log())

    def ping(self, port, timeout=1.0):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=timeout) as r:
                return r.read() == b"pong\r\n"
        except OSError:
            return False

    def worker_pids(self):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return sorted(int(x) for x in out.split())

    def signal(self, sig):
        self.proc.send_signal(sig)

    def log(self):
        try:
            with open(os.path.join(self.state, "log", "rspamd.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def crash(self):
        """SIGKILL the main process and every worker at once, as a power
        cut would (no worker gets to finish anything)."""
        pids = self.worker_pids()
        self.proc.kill()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        deadline = time.time() + 10
        while any(os.path.exists("/proc/%d" % p) for p in pids) and time.time() < deadline:
            time.sleep(0.05)

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture
def daemon_factory(tmp_path):
    made = []

    def make(**kw):
        d = Daemon(tmp_path / f"d{len(made)}", **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        try:
            d.stop()
        except Exception:
            pass


@pytest.fixture(scope="module")
def our_daemon(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("daemon"), workers=2).start()
    yield d
    d.stop()


@pytest.fixture(scope="session")
def pg():
    """A private PostgreSQL server (pg_harness.py) shared by the session's
    tests; each test creates the tables it needs."""
    from pg_harness import PgServer
    why = PgServer.available()
    if why is not None:
        pytest.skip(why)
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def zone():
    """A loopback DNS server answering NXDOMAIN to everything, so a daemon
    under test never waits on real DNS; tests that need records define
    their own `zone`."""
    from dnszone import DnsZone
    z = DnsZone("")
    yield z
    z.stop()
