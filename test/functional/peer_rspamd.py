"""Debian's rspamd 3.4, started privately as a peer for compatibility
tests and benchmarks.

A copy of /etc/rspamd with overrides: loopback ports picked at random,
the given number of normal workers, no proxy/fuzzy workers, DNS pointed
at a local stub answering NXDOMAIN to everything (no network, no
timeouts), logs and state in the temp dir. No redis is configured, so
Bayes, neural and the other redis-backed modules stay off.

    peer = DebianRspamd(tmpdir, workers=2).start()
    ... peer.port, peer.controller_port, peer.pids() ...
    peer.stop()
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

DEBIAN_RSPAMD = Path("/usr/bin/rspamd")
START_TIMEOUT = 90  # seconds for rspamd to answer /ping


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/ping" % port, timeout=1) as r:
            return r.read().strip() == b"pong"
    except OSError:
        return False


class NxdomainDns:
    """Answers every DNS query with NXDOMAIN at once, so lookups never time
    out and every scan of a message gives the same symbols (with a dead
    resolver, which lookups time out first varies from run to run)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                q, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(q) < 12:
                continue
            qd_end = 12
            while qd_end < len(q) and q[qd_end] != 0:
                qd_end += q[qd_end] + 1
            qd_end += 5  # root label, QTYPE, QCLASS
            flags = 0x8000 | (q[2] & 0x01) << 8 | 0x0080 | 3  # QR, RD, RA, NXDOMAIN
            # rspamd's resolver sends EDNS and waits out its timeout for a
            # reply that lacks the OPT record, so echo one back.
            opt = b"\x00" + struct.pack(">HHIH", 41, 4096, 0, 0) if q[10:12] != b"\x00\x00" else b""
            reply = (q[:2] + struct.pack(">HHHHH", flags, 1, 0, 0, 1 if opt else 0)
                     + q[12:qd_end] + opt)
            try:
                self.sock.sendto(reply, addr)
            except OSError:
                pass

    def close(self):
        self.sock.close()


class DebianRspamd:
    """One private Debian rspamd: config copy, ports, DNS stub, process."""

    def __init__(self, tmpdir, workers=1):
        self.tmp = Path(tmpdir)
        self.conf = self.tmp / "conf"
        self.workers = workers
        self.host = "127.0.0.1"
        self.port = free_port()
        self.controller_port = free_port()
        self.proc = None
        self.dns = None
        self.out = None

    @staticmethod
    def available():
        return DEBIAN_RSPAMD.exists()

    def write_overrides(self):
        c = self.conf
        (c / "override.d" / "worker-normal.inc").write_text(
            'bind_socket = "127.0.0.1:%d";\ncount = %d;\n' % (self.port, self.workers))
        (c / "override.d" / "worker-controller.inc").write_text(
            'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % self.controller_port)
        (c / "override.d" / "worker-proxy.inc").write_text("enabled = false;\n")
        (c / "override.d" / "worker-fuzzy.inc").write_text("enabled = false;\n")
        (c / "local.d" / "options.inc").write_text(
            'dns { nameserver = ["127.0.0.1:%d"]; timeout = 0.5s; retransmits = 1; }\n'
            % self.dns.port)
        (c / "override.d" / "logging.inc").write_text(
            'type = "file";\nfilename = "%s/rspamd.log";\nlevel = "info";\n' % self.tmp)

    def start(self):
        self.tmp.mkdir(parents=True, exist_ok=True)
        shutil.copytree("/etc/rspamd", self.conf)
        for sub in ("db", "run"):
            (self.tmp / sub).mkdir(exist_ok=True)
        self.dns = NxdomainDns()
        self.write_overrides()
        cmd = [str(DEBIAN_RSPAMD), "-f", "-u", "root", "-g", "root", "-i",
               "-c", str(self.conf / "rspamd.conf")]
        for var, val in (("CONFDIR", self.conf), ("LOCAL_CONFDIR", self.conf),
                         ("RUNDIR", self.tmp / "run"), ("DBDIR", self.tmp / "db"),
                         ("LOGDIR", self.tmp)):
            cmd += ["--var", "%s=%s" % (var, val)]
        self.out = open(self.tmp / "stdout.txt", "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.tmp, stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + START_TIMEOUT
        while not (ping(self.port) and ping(self.controller_port)):
            if self.proc.poll() is not None or time.time() > deadline:
                tail = self.log()[-3000:]
                self.stop()
                raise RuntimeError("Debian rspamd did not start (rc=%s):\n%s"
                                   % (self.proc.poll(), tail))
            time.sleep(0.3)
        return self

    def log(self):
        p = self.tmp / "rspamd.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def pids(self):
        """The main process and its children (workers)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [self.proc.pid] + sorted(int(x) for x in out.split())

    def stop(self, remove=True):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.out is not None:
            self.out.close()
            self.out = None
        if self.dns is not None:
            self.dns.close()
            self.dns = None
        if remove:
            shutil.rmtree(self.tmp, ignore_errors=True)
