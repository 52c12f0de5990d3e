"""Helpers for the mail-core tests: a daemon with SMTP ports, users made
with rspamadm, mailboxes read from its Maildir, TLS contexts for
self-signed certificates.
"""
import glob
import os
import ssl
import subprocess
import time

from conftest import BIN, TUTORIAL_RULE, Daemon


def message(subject="Hello", sender="alice@example.org", to="bob@example.test",
            body="Shall we meet at noon?", mid=None):
    mid = mid or "<%d.%d@example.org>" % (time.time_ns(), os.getpid())
    return ("From: Alice <%s>\r\nTo: %s\r\nSubject: %s\r\n"
            "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: %s\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "%s\r\n" % (sender, to, subject, mid, body))


def mail_daemon(tmp, dns_address, mta="", extra_local=None, workers=1):
    """Our daemon with the SMTP roles on free loopback ports. Loopback is
    NOT in mynetworks here, so tests are an outside client."""
    local = {
        "mta.conf": 'myhostname = "mx.test.example";\nmynetworks = "192.0.2.0/24";\n' + mta,
        "options.inc": 'dns { nameserver = ["%s"]; timeout = 0.5s; retransmits = 1; }\n'
                       % dns_address,
        "actions.conf": "add_header = 4;\ngreylist = null;\n",
        "local.lua": TUTORIAL_RULE,
    }
    local.update(extra_local or {})
    return Daemon(tmp, workers=workers, extra_local=local, mail=True)


def rspamadm(daemon, *args, stdin=None):
    r = subprocess.run([os.path.join(BIN, "rspamadm"), "-c", daemon.conf, "--state-dir",
                        daemon.state] + [str(a) for a in args], input=stdin,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def add_user(daemon, email, password="secret-pw-1", quota=None):
    args = ["user", "add", email, "--password-stdin"]
    if quota:
        args += ["--quota", quota]
    rspamadm(daemon, *args, stdin=password + "\n")


def add_mailboxes(daemon, *emails, password="secret-pw-1"):
    """Adds the domain of each address (once) and each mailbox."""
    for domain in dict.fromkeys(e.rsplit("@", 1)[1] for e in emails):
        rspamadm(daemon, "domain", "add", domain)
    for email in emails:
        add_user(daemon, email, password)


def maildir(daemon, email, folder=""):
    local, domain = email.split("@")
    d = os.path.join(daemon.state, "mail", domain, local)
    return os.path.join(d, "." + folder) if folder else d


def wait_messages(daemon, email, count=1, folder="", timeout=15):
    """The files in new/ of the mailbox once there are at least `count`."""
    pattern = os.path.join(maildir(daemon, email, folder), "new", "*")
    deadline = time.time() + timeout
    while time.time() < deadline:
        files = sorted(glob.glob(pattern))
        if len(files) >= count:
            return files
        time.sleep(0.1)
    return sorted(glob.glob(pattern))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def client_tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def wait_port(port, timeout=20):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False
