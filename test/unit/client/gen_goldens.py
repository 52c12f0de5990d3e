#!/usr/bin/python3
"""Regenerate the golden outputs in data/ from Debian's rspamc 3.4.

Each case in CASES is served by a throw-away HTTP server (one canned reply)
and /usr/bin/rspamc is run against it; its stdout (with the timing figures
normalised to 0, since the unit test passes an elapsed time of 0) becomes
data/<name>.out, and the case is listed in data/cases.tsv for the C test.
Run by hand when adding cases: /usr/bin/python3 test/unit/client/gen_goldens.py
"""
import os
import re
import socket
import subprocess
import threading

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# name, body file, status, reason, command, flags
CASES = [
    ("sym_reject", "check_reject.json", 200, "OK", "symbols", ""),
    ("sym_reject_j", "check_reject.json", 200, "OK", "symbols", "-j"),
    ("sym_reject_compact", "check_reject.json", 200, "OK", "symbols", "--compact"),
    ("sym_reject_ucl", "check_reject.json", 200, "OK", "symbols", "--ucl"),
    ("sym_prefilter", "check_prefilter.json", 200, "OK", "symbols", ""),
    ("sym_greylist", "check_greylist.json", 200, "OK", "symbols", ""),
    ("sym_empty", "check_empty.json", 200, "OK", "symbols", ""),
    ("sym_dkim", "check_dkim.json", 200, "OK", "symbols", ""),
    ("sym_real_spam", "check_real_spam.json", 200, "OK", "symbols", ""),
    ("sym_real_spam_j", "check_real_spam.json", 200, "OK", "symbols", "-j"),
    ("sym_real_ham", "check_real_ham.json", 200, "OK", "symbols", ""),
    ("sym_real_ham_ucl", "check_real_ham.json", 200, "OK", "symbols", "--ucl"),
    ("sym_401", "unauthorized.json", 401, "Unauthorized", "symbols", ""),
    ("sym_401_j", "unauthorized.json", 401, "Unauthorized", "symbols", "-j"),
    ("ucl_edge", "ucl_edge.json", 200, "OK", "symbols", "--ucl"),
    ("ucl_edge_j", "ucl_edge.json", 200, "OK", "symbols", "-j"),
    ("learn_ok", "learn_ok.json", 200, "OK", "learn_spam", ""),
    ("learn_ok_j", "learn_ok.json", 200, "OK", "learn_spam", "-j"),
    ("learn_dup", "learn_dup.json", 208, "Already Reported", "learn_spam", ""),
    ("learn_dup_compact", "learn_dup.json", 208, "Already Reported", "learn_ham", "--compact"),
    ("learn_401", "unauthorized.json", 401, "Unauthorized", "learn_spam", ""),
    ("learn_500_j", "unauthorized.json", 500, "Internal Server Error", "learn_ham", "-j"),
    ("stat", "stat.json", 200, "OK", "stat", ""),
    ("stat_reset", "stat.json", 200, "OK", "stat_reset", ""),
    ("stat_j", "stat.json", 200, "OK", "stat", "-j"),
    ("stat_zero", "stat_zero.json", 200, "OK", "stat", ""),
    ("stat_partial", "stat_partial.json", 200, "OK", "stat", ""),
    ("counters", "counters.json", 200, "OK", "counters", ""),
    ("counters_hits", "counters.json", 200, "OK", "counters", "--sort=hits"),
    ("counters_weight", "counters.json", 200, "OK", "counters", "--sort=weight"),
    ("counters_frequency", "counters.json", 200, "OK", "counters", "--sort=frequency"),
    ("counters_ucl", "counters.json", 200, "OK", "counters", "--ucl"),
    ("counters_bad", "counters_bad.json", 200, "OK", "counters", ""),
    ("uptime_noversion", "uptime_noversion.json", 200, "OK", "uptime", ""),
    ("uptime_j", "uptime_110.json", 200, "OK", "uptime", "-j"),
]
for u in (0, 1, 59, 60, 110, 120, 3599, 3600, 3661, 7199, 7200, 86400, 90061, 180122):
    CASES.append(("uptime_%d" % u, "uptime_%d.json" % u, 200, "OK", "uptime", ""))


def serve_once(sock, body, status, reason):
    conn, _ = sock.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    conn.sendall(b"HTTP/1.1 %d %s\r\nConnection: close\r\n"
                 b"Content-Length: %d\r\n\r\n" % (status, reason.encode(), len(body)) + body)
    conn.close()


def normalise(out):
    out = re.sub(rb"\((\d+(\.\d+)?(e[-+]\d+)?) seconds\)", b"(0 seconds)", out)
    out = re.sub(rb"scan_time = [0-9.]+;", b"scan_time = 0.0;", out)
    out = re.sub(rb'"scan_time": ?[0-9.]+', lambda m: m.group(0).split(b":")[0] +
                 (b": 0.0" if b": " in m.group(0) else b":0.0"), out)
    return out


def main():
    msg = os.path.join(DATA, "m.eml")
    rows = []
    for name, body_file, status, reason, cmd, flags in CASES:
        body = open(os.path.join(DATA, body_file), "rb").read()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        t = threading.Thread(target=serve_once, args=(sock, body, status, reason))
        t.start()
        argv = ["/usr/bin/rspamc", "-h", "127.0.0.1:%d" % port] + flags.split() + [cmd]
        if cmd in ("symbols", "learn_spam", "learn_ham"):
            argv.append("m.eml")
        res = subprocess.run(argv, cwd=DATA, capture_output=True, timeout=30)
        t.join()
        sock.close()
        open(os.path.join(DATA, name + ".out"), "wb").write(normalise(res.stdout))
        rows.append("\t".join([name, body_file, str(status), reason, cmd,
                               flags or "-", str(res.returncode)]))
    with open(os.path.join(DATA, "cases.tsv"), "w") as f:
        f.write("# name\tbody\tstatus\treason\tcommand\tflags\texit\n")
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
