"""/checkv2 throughput: ours against Debian's rspamd 3.4, same machine, same run.

Both daemons get the same number of scanner processes (2, the core count)
and the same message (a mid-sized corpus spam). wrk drives 16 keep-alive
connections; Rspamd closes after each reply, so wrk reconnects for it, which
is how every Rspamd client works. Prints requests/s for each and the ratio.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "functional"))

from conftest import Daemon, corpus_files  # noqa: E402

try:
    from peer_rspamd import DebianRspamd  # noqa: E402
except ImportError:
    DebianRspamd = None


def wrk(port, body_file, seconds):
    script = os.path.join(tempfile.mkdtemp(), "post.lua")
    with open(script, "w") as f:
        f.write('local f = io.open("%s", "rb")\n'
                'wrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n'
                'wrk.headers["Content-Type"] = "text/plain"\n' % body_file)
    out = subprocess.run(["wrk", "-t2", "-c16", "-d%ds" % seconds, "-s", script,
                          "http://127.0.0.1:%d/checkv2" % port],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print("  warning: %s non-2xx replies" % errors.group(1))
    return float(m.group(1)) if m else 0.0


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    msg = sorted(corpus_files("spam-2"), key=os.path.getsize)[len(corpus_files("spam-2")) // 2]
    print("message: %s (%d bytes)" % (os.path.basename(msg), os.path.getsize(msg)))
    ours = Daemon(tempfile.mkdtemp(), workers=2)
    ours.write_local("logging.inc", 'type = "file";\nfilename = "$LOGDIR/rspamd.log";\nlevel = "error";\n')
    ours.start()
    try:
        ours_rps = wrk(ours.port, msg, seconds)
    finally:
        ours.stop()
    print("ours:   %10.1f requests/s" % ours_rps)
    if DebianRspamd is None or not os.path.exists("/usr/bin/rspamd"):
        print("peer:   Debian rspamd not available, no ratio")
        return
    peer = DebianRspamd(tempfile.mkdtemp(), workers=2)
    peer.start()
    try:
        peer_rps = wrk(peer.port, msg, seconds)
    finally:
        peer.stop()
    print("rspamd: %10.1f requests/s" % peer_rps)
    if peer_rps > 0:
        print("ratio ours/rspamd: %.2f" % (ours_rps / peer_rps))


if __name__ == "__main__":
    main()
