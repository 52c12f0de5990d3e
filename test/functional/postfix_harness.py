"""A private instance of Debian's real Postfix for milter tests and benchmarks.

Everything lives under one directory of its own: config_directory (a
main.cf and master.cf written here, plus copies of the package's meta
files so `postfix check` never writes under /etc/postfix), queue_directory,
data_directory, the Maildirs and the mail log. smtpd listens on one free
loopback port only (never 25), there are no chroots, local delivery is off
and the only destination is the virtual domain example.test, delivered by
the `virtual` agent into Maildirs under <root>/mail.

    pf = PrivatePostfix(milter="inet:127.0.0.1:11332").start()
    smtplib.SMTP("127.0.0.1", pf.port) ...
    pf.wait_delivered("bob", 1)  -> [bytes of each message file]
    pf.stop()

Needs root (master starts as root and drops to the postfix user) and the
postfix package (/usr/sbin/postfix). Every wait is bounded in time.

Postfix daemons and the `virtual` agent run as unprivileged users, so the
instance directory must be reachable by them: pytest's tmp_path sits under
a 0700 directory, hence by default the harness makes its own directory
under /tmp (0755) and removes it in stop().
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

POSTFIX = Path("/usr/sbin/postfix")
SENDMAIL = Path("/usr/sbin/sendmail")
META_FILES = ("postfix-files", "dynamicmaps.cf", "main.cf.proto",
              "master.cf.proto", "makedefs.out")
META_DIRS = ("postfix-files.d", "dynamicmaps.cf.d")
DOMAIN = "example.test"
USERS = ("bob", "carol")
MAIL_UID = 65534  # nobody: `virtual` refuses to deliver as root
MAIL_GID = 65534

# Every service the instance needs, none chrooted (the queue lives in a
# temp dir, the chroot would lack /etc files). smtpd's line is added with
# the port.
MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class PostfixError(RuntimeError):
    pass


class PrivatePostfix:
    """One private Postfix: its own directories, one smtpd port, a milter."""

    def __init__(self, tmpdir=None, milter="inet:127.0.0.1:11332", extra_main=None,
                 smtpd_processes=20):
        if tmpdir is None:
            tmpdir = tempfile.mkdtemp(prefix="pfx-", dir="/tmp")
            self.owned = True
        else:
            os.makedirs(tmpdir, exist_ok=True)
            self.owned = False
        self.root = Path(tmpdir)
        os.chmod(self.root, 0o755)
        self.confdir = self.root / "etc"
        self.queue = self.root / "spool"
        self.data = self.root / "data"
        self.mail = self.root / "mail"
        self.maillog = self.root / "maillog"
        self.port = free_port()
        self.milter = milter
        self.extra_main = dict(extra_main or {})
        self.smtpd_processes = smtpd_processes
        self.started = False

    @staticmethod
    def available():
        return POSTFIX.exists() and os.geteuid() == 0

    # -- configuration --------------------------------------------------

    def main_cf(self):
        p = {
            "compatibility_level": "3.6",
            "config_directory": str(self.confdir),
            "meta_directory": str(self.confdir),
            "queue_directory": str(self.queue),
            "data_directory": str(self.data),
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.root),
            "myhostname": "mx.example.test",
            "mydomain": DOMAIN,
            "myorigin": DOMAIN,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "mydestination": "",
            "local_transport": "error:local delivery is disabled",
            "alias_maps": "",
            "alias_database": "",
            "relayhost": "",
            "default_transport": "error:no outbound mail from the test instance",
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_base": str(self.mail),
            "virtual_mailbox_maps": "texthash:" + str(self.confdir / "vmailbox"),
            "virtual_uid_maps": "static:%d" % MAIL_UID,
            "virtual_gid_maps": "static:%d" % MAIL_GID,
            "virtual_minimum_uid": "100",
            "smtpd_banner": "$myhostname ESMTP test",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtpd_milters": self.milter or "",
            "non_smtpd_milters": "$smtpd_milters",
            "milter_protocol": "6",
            "milter_default_action": "accept",
            "milter_mail_macros": "i {mail_addr} {client_addr} {client_name} {auth_authen}",
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "30s",
            "milter_content_timeout": "60s",
            # quick retries and no DNS: the test box has no network
            "smtp_host_lookup": "native",
            "disable_dns_lookups": "yes",
            "queue_run_delay": "5s",
            "minimal_backoff_time": "5s",
            "maximal_backoff_time": "10s",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "default_process_limit": str(self.smtpd_processes),
            "in_flow_delay": "0s",
            "biff": "no",
            "mailbox_size_limit": "0",
            "message_size_limit": "20480000",
        }
        p.update(self.extra_main)
        return "".join("%s = %s\n" % kv for kv in p.items())

    def master_cf(self):
        return MASTER_CF + "127.0.0.1:%d inet n - n - %d smtpd\n" % (
            self.port, self.smtpd_processes)

    def write_config(self):
        self.confdir.mkdir(parents=True, exist_ok=True)
        for name in META_FILES:
            shutil.copy2(Path("/etc/postfix") / name, self.confdir / name)
        for name in META_DIRS:
            (self.confdir / name).mkdir(exist_ok=True)
        (self.confdir / "main.cf").write_text(self.main_cf())
        (self.confdir / "master.cf").write_text(self.master_cf())
        (self.confdir / "vmailbox").write_text(
            "".join("%s@%s %s/\n" % (u, DOMAIN, u) for u in USERS))
        self.queue.mkdir(mode=0o755, exist_ok=True)
        self.mail.mkdir(exist_ok=True)
        os.chown(self.mail, MAIL_UID, MAIL_GID)
        self.maillog.touch()

    # -- lifecycle ------------------------------------------------------

    def postfix(self, *args, timeout=60, check=True):
        r = subprocess.run([str(POSTFIX), "-c", str(self.confdir)] + list(args),
                           capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, MAIL_CONFIG=str(self.confdir)))
        if check and r.returncode != 0:
            raise PostfixError("postfix %s failed (%d):\n%s%s%s\n%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr,
                self.tty_stderr(args), self.log()[-3000:]))
        return r

    def tty_stderr(self, args):
        """Postfix commands print their fatal errors on stderr only when it
        is a terminal (else to syslog, which a test box may lack): run the
        failed command again under script(1) to get the reason."""
        if not shutil.which("script"):
            return ""
        cmd = " ".join([str(POSTFIX), "-c", str(self.confdir)] + list(args))
        try:
            r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                               text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return ""
        return r.stdout

    def start(self, timeout=30):
        self.write_config()
        self.postfix("check")
        self.postfix("start")
        self.started = True
        deadline = time.time() + timeout
        while not port_open(self.port):
            if time.time() > deadline:
                log = self.log()[-3000:]
                self.stop()
                raise PostfixError("postfix smtpd did not listen on %d\n%s" % (self.port, log))
            time.sleep(0.1)
        return self

    def stop(self, remove=None):
        if self.started:
            try:
                self.postfix("stop", check=False, timeout=30)
            except subprocess.TimeoutExpired:
                pass
            self.wait_master_gone(15)
            self.started = False
        if remove is None:
            remove = self.owned
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def master_pid(self):
        try:
            return int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def wait_master_gone(self, timeout):
        pid = self.master_pid()
        deadline = time.time() + timeout
        while pid and time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)

    def reload(self):
        (self.confdir / "main.cf").write_text(self.main_cf())
        self.postfix("reload")

    def flush(self):
        self.postfix("flush", check=False)

    # -- observation ----------------------------------------------------

    def log(self):
        try:
            return self.maillog.read_text(errors="replace")
        except OSError:
            return ""

    def maildir(self, user):
        return self.mail / user

    def messages(self, user):
        """The delivered messages of one user, oldest first."""
        new = self.maildir(user) / "new"
        cur = self.maildir(user) / "cur"
        files = []
        for d in (new, cur):
            if d.is_dir():
                files += [d / n for n in os.listdir(d)]
        files.sort(key=lambda p: (p.stat().st_mtime, p.name))
        return [p.read_bytes() for p in files]

    def wait_delivered(self, user, count, timeout=30):
        deadline = time.time() + timeout
        while True:
            msgs = self.messages(user)
            if len(msgs) >= count:
                return msgs
            if time.time() > deadline:
                raise PostfixError("%d of %d messages delivered to %s in %ds\n%s" % (
                    len(msgs), count, user, timeout, self.log()[-4000:]))
            time.sleep(0.1)

    def wait_log(self, text, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return True
            time.sleep(0.1)
        return False

    def sendmail(self, msg, sender, rcpts, timeout=30):
        """Local submission through the sendmail binary (pickup ->
        cleanup, so non_smtpd_milters apply)."""
        r = subprocess.run([str(SENDMAIL), "-C", str(self.confdir), "-f", sender, "-i"]
                           + list(rcpts), input=msg, capture_output=True, timeout=timeout,
                           env=dict(os.environ, MAIL_CONFIG=str(self.confdir)))
        if r.returncode != 0:
            raise PostfixError("sendmail failed (%d): %s" % (
                r.returncode, r.stderr.decode(errors="replace")))


def debian_rspamd_milter(tmpdir, workers=1, local=None):
    """Debian's rspamd 3.4 (peer_rspamd.DebianRspamd) with its proxy worker
    switched back on as a milter that scans in-process (self_scan), on a
    free loopback port: the reference our milter is compared with. `local`
    maps extra local.d file names to their text. Returns the unstarted
    peer; its milter port is .milter_port."""
    from peer_rspamd import DebianRspamd

    class _Peer(DebianRspamd):
        def write_overrides(self):
            super().write_overrides()
            (self.conf / "override.d" / "worker-proxy.inc").write_text(
                'bind_socket = "127.0.0.1:%d";\nmilter = yes;\ntimeout = 120s;\n'
                'count = %d;\nmax_retries = 5;\nspam_header = "X-Spam";\n'
                'reject_message = "Spam message rejected";\n'
                'upstream "local" { default = yes; self_scan = yes; hosts = "127.0.0.1"; }\n'
                % (self.milter_port, self.workers))
            for name, text in (local or {}).items():
                (self.conf / "local.d" / name).write_text(text)

    peer = _Peer(tmpdir, workers=workers)
    peer.milter_port = free_port()
    return peer
