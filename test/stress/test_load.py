"""Load tests against the real daemon (issue 11, "load"): bounded and
self-stopping, NOT part of `make test` (run with `make stress`; minutes).

  - 2,000 concurrent SMTP sessions: all connected and greeted first,
    then every one runs EHLO, MAIL, RCPT, DATA (a small message), QUIT at
    once; every session must get its 250 for the message and every
    message must land in the mailbox.
  - 5,000 idle logged-in IMAP connections held open for a while, a
    sample answering NOOP; the imap worker's RSS growth per connection
    must stay under 64 KB.
  - a scan storm: 50 concurrent clients posting /checkv2 for
    STRESS_STORM_SECONDS (default 60); every request answered 200, the
    normal workers' RSS less than doubled.

Every test also counts the open file descriptors of every worker before
and after (connections closed): they must come back to the baseline
give or take a few. Figures are printed (run pytest with -s to see them).
Each network step has a timeout and each test an overall deadline, so a
hung server fails the test instead of hanging it.

Environment: RSPAMD_BUILD (build dir), STRESS_SMTP_SESSIONS (2000),
STRESS_IMAP_CONNECTIONS (5000), STRESS_STORM_SECONDS (60),
STRESS_STORM_CLIENTS (50).
"""
import asyncio
import glob
import http.client
import os
import resource
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "functional"))

from conftest import GTUBE, Daemon  # noqa: E402,F401
from dnszone import DnsZone  # noqa: E402
from mailcore import add_mailboxes, maildir  # noqa: E402

SMTP_SESSIONS = int(os.environ.get("STRESS_SMTP_SESSIONS", "2000"))
IMAP_CONNECTIONS = int(os.environ.get("STRESS_IMAP_CONNECTIONS", "5000"))
STORM_SECONDS = float(os.environ.get("STRESS_STORM_SECONDS", "60"))
STORM_CLIENTS = int(os.environ.get("STRESS_STORM_CLIENTS", "50"))
STEP_TIMEOUT = 120.0
CONNECT_CONCURRENCY = 200
LOGIN_CONCURRENCY = 50
FD_SLACK = 5
PASSWORD = "stress-password-1"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@pytest.fixture(scope="module")
def zone():
    z = DnsZone("")
    yield z
    z.stop()


def mail_daemon(tmp, zone, workers=1):
    """Loopback is mynetworks, no per-client limits, plaintext LOGIN on
    loopback: the load all comes from 127.0.0.1."""
    mta = ('myhostname = "mx.test.example";\nmynetworks = "127.0.0.0/8";\n'
           'smtpd_tls_auth_loopback = yes;\n'
           'smtpd_client_connection_count_limit = 0;\n'
           'smtpd_client_connection_rate_limit = 0;\n')
    local = {
        "mta.conf": mta,
        "options.inc": 'dns { nameserver = ["%s"]; timeout = 0.5s; retransmits = 1; }\n'
                       % zone.address,
        "actions.conf": "greylist = null;\n",
    }
    return Daemon(tmp, workers=workers, extra_local=local, mail=True)


# ----- process figures -----

def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(out)


def rss(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def nfds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def listen_inodes(port):
    out = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            next(f)
            for line in f:
                p = line.split()
                if int(p[1].rsplit(":", 1)[1], 16) == port and p[3] == "0A":
                    out.add(p[9])
    return out


def pids_on_port(daemon, port):
    """The worker processes holding `port`'s listening socket."""
    want = {"socket:[%s]" % i for i in listen_inodes(port)}
    found = []
    for pid in children(daemon.proc.pid):
        try:
            links = {os.readlink("/proc/%d/fd/%s" % (pid, fd))
                     for fd in os.listdir("/proc/%d/fd" % pid)}
        except OSError:
            continue
        if links & want:
            found.append(pid)
    return found


def all_fds(daemon):
    pids = [daemon.proc.pid] + children(daemon.proc.pid)
    return {p: nfds(p) for p in pids if nfds(p) is not None}


def check_fds_back(daemon, before, what, timeout=20.0):
    """Every process alive before and after holds at most FD_SLACK more
    descriptors than at the start, once the load is gone."""
    deadline = time.time() + timeout
    while True:
        after = all_fds(daemon)
        over = {p: (before[p], after[p]) for p in before
                if p in after and after[p] > before[p] + FD_SLACK}
        if not over or time.time() > deadline:
            break
        time.sleep(0.5)
    print("[%s] fds before %s after %s" % (what, before, after))
    assert not over, "%s: descriptors not released (pid: before, after): %s" % (what, over)
    assert set(before) <= set(after), "%s: a process went away: %s -> %s" % (
        what, sorted(before), sorted(after))


def percentile(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


# ----- SMTP -----

async def smtp_reply(reader):
    """The full (possibly multi-line) reply: (code, text)."""
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), STEP_TIMEOUT)
        if not line:
            raise ConnectionError("connection closed after %r" % lines)
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


async def smtp_step(reader, writer, text, want):
    writer.write(text)
    await writer.drain()
    code, reply = await smtp_reply(reader)
    if code != want:
        raise RuntimeError("%r -> %r" % (text[:30], reply[:200]))


def smtp_message(i):
    return ("From: Load <load@example.org>\r\nTo: bob@example.test\r\n"
            "Subject: load test %d\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
            "Message-ID: <load.%d.%d@example.org>\r\n\r\n"
            "Small message number %d for the concurrent session test.\r\n"
            % (i, i, time.time_ns(), i)).encode()


async def smtp_storm(port, n):
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    opened = asyncio.Event()
    state = {"connected": 0, "ok": 0, "errors": [], "lat": []}

    async def session(i):
        writer = None
        try:
            async with sem:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), STEP_TIMEOUT)
                code, _ = await smtp_reply(reader)
                assert code == 220
            state["connected"] += 1
            if state["connected"] == n:
                opened.set()
            await asyncio.wait_for(opened.wait(), STEP_TIMEOUT)
            t = time.perf_counter()
            await smtp_step(reader, writer, b"EHLO load.example\r\n", 250)
            await smtp_step(reader, writer, b"MAIL FROM:<load@example.org>\r\n", 250)
            await smtp_step(reader, writer, b"RCPT TO:<bob@example.test>\r\n", 250)
            await smtp_step(reader, writer, b"DATA\r\n", 354)
            await smtp_step(reader, writer, smtp_message(i) + b".\r\n", 250)
            state["lat"].append(time.perf_counter() - t)
            state["ok"] += 1
            await smtp_step(reader, writer, b"QUIT\r\n", 221)
        except Exception as e:  # noqa: BLE001 - counted and reported
            state["errors"].append("%d: %s: %s" % (i, type(e).__name__, e))
            opened.set()  # nobody waits for a session that failed
        finally:
            if writer is not None:
                writer.close()
    t0 = time.time()
    await asyncio.wait_for(asyncio.gather(*(session(i) for i in range(n))),
                           STEP_TIMEOUT * 5)
    state["elapsed"] = time.time() - t0
    return state


def delivered(daemon, email):
    root = maildir(daemon, email)
    return (glob.glob(os.path.join(root, "new", "*")) + glob.glob(os.path.join(root, "cur", "*"))
            + glob.glob(os.path.join(root, ".Junk", "new", "*")))


def test_smtp_2000_concurrent_sessions(tmp_path, zone):
    raise_nofile()
    d = mail_daemon(tmp_path / "smtp", zone)
    add_mailboxes(d, "bob@example.test", password=PASSWORD)
    d.start()
    try:
        smtp_pids = pids_on_port(d, d.smtp_port)
        fds0 = all_fds(d)
        rss0 = {p: rss(p) for p in smtp_pids}
        st = asyncio.run(smtp_storm(d.smtp_port, SMTP_SESSIONS))
        rss1 = {p: rss(p) for p in smtp_pids}
        deadline = time.time() + 300
        while len(delivered(d, "bob@example.test")) < SMTP_SESSIONS and time.time() < deadline:
            time.sleep(0.5)
        got = len(delivered(d, "bob@example.test"))
        print("\n[smtp] sessions %d, 250 for the message %d, errors %d, %.1f s, "
              "latency EHLO..250 p50 %.3f s p99 %.3f s, delivered %d, smtp RSS %s -> %s KB"
              % (SMTP_SESSIONS, st["ok"], len(st["errors"]), st["elapsed"],
                 percentile(st["lat"], 0.5), percentile(st["lat"], 0.99), got,
                 [r // 1024 for r in rss0.values()], [r // 1024 for r in rss1.values()]))
        assert not st["errors"], st["errors"][:10]
        assert st["ok"] == SMTP_SESSIONS
        assert got == SMTP_SESSIONS
        check_fds_back(d, fds0, "smtp")
    finally:
        d.stop()


# ----- IMAP -----

async def imap_tagged(reader, tag):
    while True:
        line = await asyncio.wait_for(reader.readline(), STEP_TIMEOUT)
        if not line:
            raise ConnectionError("connection closed")
        if line.startswith(tag + b" "):
            return line


async def imap_cmd(reader, writer, tag, text):
    writer.write(tag + b" " + text + b"\r\n")
    await writer.drain()
    line = await imap_tagged(reader, tag)
    if not line.startswith(tag + b" OK"):
        raise RuntimeError("%s: %r" % (text[:20], line[:200]))


async def imap_hold(port, n, hold_seconds):
    sem = asyncio.Semaphore(LOGIN_CONCURRENCY)
    sessions, errors = [], []

    async def one(i):
        async with sem:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), STEP_TIMEOUT)
                sessions.append((reader, writer))
                greeting = await asyncio.wait_for(reader.readline(), STEP_TIMEOUT)
                assert greeting.startswith(b"* OK"), greeting
                await imap_cmd(reader, writer, b"a1",
                               b'LOGIN "idle@example.test" "%s"' % PASSWORD.encode())
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append("%d: %s: %s" % (i, type(e).__name__, e))
    t0 = time.time()
    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), STEP_TIMEOUT * 10)
    return sessions, errors, time.time() - t0


async def imap_sample_noop(sessions, every):
    lat, errors = [], []
    for k, (reader, writer) in enumerate(sessions[::every]):
        t = time.perf_counter()
        try:
            await imap_cmd(reader, writer, b"n%d" % k, b"NOOP")
            lat.append(time.perf_counter() - t)
        except Exception as e:  # noqa: BLE001
            errors.append("%s: %s" % (type(e).__name__, e))
    return lat, errors


async def imap_run(d, n, hold_seconds):
    pids = pids_on_port(d, d.imap_port)
    base = sum(rss(p) for p in pids)
    sessions, errors, t_open = await imap_hold(d.imap_port, n, hold_seconds)
    await asyncio.sleep(hold_seconds)
    held = sum(rss(p) for p in pids)
    lat, noop_errors = await imap_sample_noop(sessions, max(1, n // 100))
    for reader, writer in sessions:
        writer.write(b"z LOGOUT\r\n")
    for reader, writer in sessions:
        writer.close()
    await asyncio.sleep(0.5)
    return {"pids": pids, "base": base, "held": held, "errors": errors, "t_open": t_open,
            "noop_lat": lat, "noop_errors": noop_errors, "opened": len(sessions)}


def test_imap_5000_idle_connections(tmp_path, zone):
    raise_nofile()
    d = mail_daemon(tmp_path / "imap", zone)
    add_mailboxes(d, "idle@example.test", password=PASSWORD)
    d.start()
    try:
        fds0 = all_fds(d)
        r = asyncio.run(imap_run(d, IMAP_CONNECTIONS, 10.0))
        per = (r["held"] - r["base"]) / max(1, IMAP_CONNECTIONS)
        print("\n[imap] connections %d logged in in %.1f s, errors %d, imap worker RSS "
              "%d KB -> %d KB (%.1f KB per connection), NOOP sample %d p50 %.2f ms "
              "p99 %.2f ms, errors %d"
              % (IMAP_CONNECTIONS, r["t_open"], len(r["errors"]), r["base"] // 1024,
                 r["held"] // 1024, per / 1024, len(r["noop_lat"]),
                 percentile(r["noop_lat"], 0.5) * 1e3, percentile(r["noop_lat"], 0.99) * 1e3,
                 len(r["noop_errors"])))
        assert r["pids"], "no process holds the IMAP port"
        assert not r["errors"], r["errors"][:10]
        assert not r["noop_errors"], r["noop_errors"][:10]
        assert per < 64 * 1024
        check_fds_back(d, fds0, "imap")
    finally:
        d.stop()


# ----- scan storm -----

def storm_client(port, stop_at, body, out):
    conn = None
    while time.time() < stop_at:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=STEP_TIMEOUT)
        t = time.perf_counter()
        try:
            conn.request("POST", "/checkv2", body=body, headers={"Content-Type": "message/rfc822"})
            resp = conn.getresponse()
            resp.read()
            out["lat"].append(time.perf_counter() - t)
            out["status"][resp.status] = out["status"].get(resp.status, 0) + 1
        except Exception as e:  # noqa: BLE001 - counted and reported
            out["errors"].append("%s: %s" % (type(e).__name__, e))
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def corpus_bodies(limit):
    from conftest import corpus_files
    out = []
    for group in ("easy-ham-1", "spam-1"):
        try:
            for path in corpus_files(group, limit):
                with open(path, "rb") as f:
                    out.append(f.read())
        except OSError:
            pass
    return out or [("Subject: storm\r\n\r\nhello " + "x" * 2000 + "\r\n").encode()]


def test_scan_storm(tmp_path):
    raise_nofile()
    d = Daemon(tmp_path / "storm", workers=2).start()
    try:
        normal = pids_on_port(d, d.port)
        fds0 = all_fds(d)
        rss0 = {p: rss(p) for p in normal}
        bodies = corpus_bodies(25)
        out = {"lat": [], "status": {}, "errors": []}
        stop_at = time.time() + STORM_SECONDS
        threads = [threading.Thread(target=storm_client,
                                    args=(d.port, stop_at, bodies[i % len(bodies)], out))
                   for i in range(STORM_CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(STORM_SECONDS + STEP_TIMEOUT * 2)
        assert not any(t.is_alive() for t in threads), "a client hung"
        rss1 = {p: rss(p) for p in normal}
        total = sum(out["status"].values())
        print("\n[storm] %d clients %.0f s: %d requests (%.0f/s), statuses %s, errors %d, "
              "latency p50 %.1f ms p99 %.1f ms, normal workers RSS %s -> %s KB"
              % (STORM_CLIENTS, STORM_SECONDS, total, total / STORM_SECONDS, out["status"],
                 len(out["errors"]), percentile(out["lat"], 0.5) * 1e3,
                 percentile(out["lat"], 0.99) * 1e3,
                 [rss0[p] // 1024 for p in normal], [rss1[p] // 1024 for p in normal]))
        assert normal, "no process holds the scan port"
        assert not out["errors"], out["errors"][:10]
        assert total > 0 and out["status"] == {200: total}
        for p in normal:
            assert rss1[p] < 2 * rss0[p], "worker %d RSS %d -> %d" % (p, rss0[p], rss1[p])
        check_fds_back(d, fds0, "storm")
    finally:
        d.stop()
