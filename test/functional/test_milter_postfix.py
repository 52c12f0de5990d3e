"""Our milter proxy worker behind Debian's real Postfix.

A private Postfix (postfix_harness.PrivatePostfix: own directories, one
loopback smtpd port, virtual Maildirs, smtpd_milters and non_smtpd_milters
pointing at our proxy worker, milter_default_action = accept) in front of
our daemon, mail sent with smtplib:

- GTUBE is refused by Postfix at end of DATA with our 5xx 5.7.1 reply;
- a 'viagra' subject (the tutorial's MY_RULE in local.d/local.lua) is
  delivered with X-Spam: Yes (action `add header`), and with our
  X-Spamd-Result header naming MY_RULE;
- a sender of a whitelisted domain (local.d/whitelist.conf) is delivered
  with no action taken (no X-Spam header, subject untouched);
- local submission is DKIM-signed (key from rspamadm dkim_keygen,
  local.d/dkim_signing.conf) and python3-dkim verifies the signature.
  Postfix can only pass {auth_authen} after SASL, which needs Cyrus or
  Dovecot; the signer's other trigger, mail from a local address
  (sign_local), goes through the same code path from the milter's
  envelope to the DKIM-Signature insertion, so the test submits from
  127.0.0.1 through smtpd and through the sendmail binary (pickup ->
  cleanup, non_smtpd_milters);
- with the scanner stopped Postfix still delivers (milter_default_action).

Skipped when Postfix is not installed, when not root (master must start as
root) or when the proxy worker is not in the tree/build yet.
"""
import email
import email.policy
import os
import smtplib
import socket
import subprocess
import time

import dkim
import pytest

from conftest import BIN, REPO, TUTORIAL_RULE, Daemon, free_port
from postfix_harness import PrivatePostfix

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

WHITELIST = 'whitelist_domains = ["trusted.example"];\n'
# MY_RULE alone (5.0) must reach `add header` and nothing must greylist
# (our milter answers greylist with a 451, which would keep the test mail
# in the client's hands).
ACTIONS = "add_header = 4;\ngreylist = null;\n"
MILTER_HEADERS = ('use = ["x-spamd-result", "x-spam-status"];\n'
                  "skip_local = false;\nskip_authenticated = false;\n")


def msg(subject, sender="alice@example.org", to="bob@example.test", body="Shall we meet at noon?",
        mid=None):
    mid = mid or "<%s@example.org>" % abs(hash((subject, sender, body, time.time())))
    return ("From: Alice <%s>\r\nTo: %s\r\nSubject: %s\r\n"
            "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: %s\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "%s\r\n" % (sender, to, subject, mid, body)).encode()


def proxy_missing():
    """Why the proxy worker cannot be tested yet, or None."""
    if not os.path.exists(os.path.join(REPO, "src", "worker", "worker_proxy.c")):
        return "the milter proxy worker (src/worker/worker_proxy.c) is not written yet"
    with open(os.path.join(REPO, "src", "worker", "worker.c")) as f:
        if '"rspamd_proxy"' not in f.read():
            return "src/worker/worker.c has no \"rspamd_proxy\" worker row yet"
    with open(os.path.join(REPO, "conf", "rspamd.conf")) as f:
        if "rspamd_proxy" not in f.read():
            return "conf/rspamd.conf has no worker \"rspamd_proxy\" block yet"
    binary = os.path.join(BIN, "rspamd")
    if not os.path.exists(binary):
        return "no daemon binary at %s" % binary
    with open(binary, "rb") as f:
        if b"rspamd_proxy" not in f.read():
            return "%s was built before the proxy worker: rebuild it" % binary
    return None


def skip_reason():
    if not os.path.exists("/usr/sbin/postfix"):
        return "Debian's postfix is not installed (/usr/sbin/postfix; scripts/setup-deps.sh)"
    if os.geteuid() != 0:
        return "a private Postfix master has to start as root"
    return proxy_missing()


SKIP = skip_reason()
pytestmark = pytest.mark.skipif(SKIP is not None, reason=str(SKIP))


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("milter port %d never opened" % port)


def keygen(tmp):
    keyfile = os.path.join(tmp, "example.com.mail.key")
    out = subprocess.run([os.path.join(BIN, "rspamadm"), "dkim_keygen", "-d", "example.com",
                          "-s", "mail", "-t", "rsa", "-k", keyfile],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    record = "".join(s for line in out.splitlines() for s in line.split('"')[1::2])
    return keyfile, record


def start_scanner(tmp, keyfile):
    d = Daemon(tmp, extra_local={
        "local.lua": TUTORIAL_RULE,
        "whitelist.conf": WHITELIST,
        "actions.conf": ACTIONS,
        "milter_headers.conf": MILTER_HEADERS,
        "dkim_signing.conf": 'domain { example.com { selector = "mail"; path = "%s"; } }\n'
                             % keyfile,
    })
    milter_port = getattr(d, "proxy_port", None) or free_port()
    d.write_local("worker-proxy.inc",
                  'bind_socket = "127.0.0.1:%d";\nmilter = yes;\n' % milter_port)
    d.milter_port = milter_port
    d.start()
    wait_port(milter_port)
    return d


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("milter")
    keyfile, record = keygen(str(tmp))
    d = start_scanner(tmp / "daemon", keyfile)
    pf = PrivatePostfix(milter="inet:127.0.0.1:%d" % d.milter_port)
    try:
        pf.start()
    except Exception:
        d.stop()
        raise
    yield d, pf, record
    pf.stop()
    d.stop()


def send(pf, data, sender="alice@example.org", rcpts=("bob@example.test",)):
    with smtplib.SMTP("127.0.0.1", pf.port, timeout=90) as s:
        return s.sendmail(sender, list(rcpts), data)


def delivered(pf, user, marker, timeout=30):
    """The one delivered message of `user` whose bytes contain `marker`."""
    deadline = time.time() + timeout
    while True:
        found = [m for m in pf.messages(user) if marker in m]
        if found:
            assert len(found) == 1
            return email.message_from_bytes(found[0], policy=email.policy.compat32)
        if time.time() > deadline:
            raise AssertionError("no message with %r for %s\n%s" % (marker, user, pf.log()[-4000:]))
        time.sleep(0.1)


def test_gtube_rejected_with_our_reply(setup):
    d, pf, _ = setup
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(pf, msg("hello", body=GTUBE.decode()))
    code, text = e.value.smtp_code, e.value.smtp_error
    # our REPLYCODE (550 5.7.1, issue 10; Rspamd says 554) with the rule's text
    assert code == 550, (code, text)
    assert text == b"5.7.1 Gtube pattern", text
    assert pf.wait_log("milter-reject: END-OF-MESSAGE")
    assert b"GTUBE" not in b"".join(pf.messages("bob"))


def test_viagra_delivered_marked_spam(setup):
    d, pf, _ = setup
    assert send(pf, msg("cheap viagra", mid="<viagra@example.org>")) == {}
    m = delivered(pf, "bob", b"<viagra@example.org>")
    assert m.get_all("X-Spam") == ["Yes"], m.items()
    assert m["Subject"] == "cheap viagra"


def test_viagra_has_our_result_header(setup):
    """The issue's X-Spamd-Result (milter_headers) naming MY_RULE."""
    d, pf, _ = setup
    assert send(pf, msg("cheap viagra", mid="<viagra-hdr@example.org>")) == {}
    m = delivered(pf, "bob", b"<viagra-hdr@example.org>")
    result = m.get_all("X-Spamd-Result")
    assert result and len(result) == 1, "no X-Spamd-Result header: %s" % m.items()
    assert "MY_RULE(5.00)" in result[0], result[0]


def test_whitelisted_sender_untouched(setup):
    d, pf, _ = setup
    data = msg("cheap viagra", sender="carla@trusted.example", mid="<wl@trusted.example>")
    assert send(pf, data, sender="carla@trusted.example") == {}
    m = delivered(pf, "bob", b"<wl@trusted.example>")
    assert m.get_all("X-Spam") is None, m.items()
    assert m["Subject"] == "cheap viagra"
    assert m.get_payload() == "Shall we meet at noon?\n"
    # the whitelist settles the verdict (our engine stops at it, -20)
    result = m.get("X-Spamd-Result")
    if result is not None:
        assert "WHITELIST_DOMAIN" in result and result.startswith("default: False"), result


def verify(m, record):
    raw = m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def dnsfunc(name, timeout=5):
        assert name == b"mail._domainkey.example.com."
        return record.encode()

    return dkim.verify(raw, dnsfunc=dnsfunc)


def test_local_submission_dkim_signed_smtp(setup):
    d, pf, record = setup
    data = msg("report", sender="alice@example.com", mid="<dkim-smtp@example.com>")
    assert send(pf, data, sender="alice@example.com") == {}
    m = delivered(pf, "bob", b"<dkim-smtp@example.com>")
    sigs = m.get_all("DKIM-Signature")
    assert sigs and len(sigs) == 1, m.items()
    assert "d=example.com" in sigs[0] and "s=mail" in sigs[0]
    assert verify(m, record)


def test_local_submission_dkim_signed_sendmail(setup):
    d, pf, record = setup
    data = msg("report", sender="alice@example.com", to="carol@example.test",
               mid="<dkim-sendmail@example.com>")
    pf.sendmail(data, "alice@example.com", ["carol@example.test"])
    m = delivered(pf, "carol", b"<dkim-sendmail@example.com>")
    sigs = m.get_all("DKIM-Signature")
    assert sigs and len(sigs) == 1, m.items()
    assert verify(m, record)


def test_foreign_domain_not_signed(setup):
    d, pf, _ = setup
    assert send(pf, msg("lunch", mid="<nosig@example.org>")) == {}
    m = delivered(pf, "bob", b"<nosig@example.org>")
    assert m.get_all("DKIM-Signature") is None


def test_two_messages_one_connection(setup):
    d, pf, _ = setup
    with smtplib.SMTP("127.0.0.1", pf.port, timeout=90) as s:
        with pytest.raises(smtplib.SMTPDataError):
            s.sendmail("alice@example.org", ["bob@example.test"], msg("x", body=GTUBE.decode()))
        s.rset()
        assert s.sendmail("alice@example.org", ["bob@example.test"],
                          msg("cheap viagra", mid="<second@example.org>")) == {}
    m = delivered(pf, "bob", b"<second@example.org>")
    assert m.get_all("X-Spam") == ["Yes"], m.items()


def test_scanner_stopped_mail_still_flows(tmp_path):
    keyfile, _ = keygen(str(tmp_path))
    d = start_scanner(tmp_path / "daemon", keyfile)
    pf = PrivatePostfix(milter="inet:127.0.0.1:%d" % d.milter_port)
    try:
        pf.start()
        assert send(pf, msg("cheap viagra", mid="<before@example.org>")) == {}
        assert delivered(pf, "bob", b"<before@example.org>").get_all("X-Spam") == ["Yes"]
        d.stop()
        assert send(pf, msg("cheap viagra", mid="<after@example.org>")) == {}
        m = delivered(pf, "bob", b"<after@example.org>")
        assert m.get("X-Spam") is None and m.get("X-Spamd-Result") is None, m.items()
        # Postfix noticed the dead milter and went on (milter_default_action)
        assert "connect to Milter service inet:127.0.0.1:%d" % d.milter_port in pf.log()
    finally:
        pf.stop()
        d.stop()
