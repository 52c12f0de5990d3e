"""Shared helpers of the corpus tools: start our daemon from the repo's
conf (test/functional/conftest.py's Daemon), scan a list of messages
over /checkv2 with a pool of keep-alive connections, and read the
symbol definitions (name, default weight, group) from the sources.

Environment: RSPAMD_BUILD = build dir (default <repo>/build),
CORPUS_DIR = corpus (default ../shared/corpus).
"""
import http.client
import json
import os
import re
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "test", "functional"))

import conftest  # noqa: E402

TRAIN = {"ham": ["easy-ham-1", "hard-ham-1"], "spam": ["spam-1"]}
TEST = {"ham": ["easy-ham-2"], "spam": ["spam-2"]}


def split_files(split):
    """[(path, is_spam)] in the README's order: groups sorted by name."""
    out = []
    for label in ("ham", "spam"):
        for group in split[label]:
            out += [(p, label == "spam") for p in conftest.corpus_files(group)]
    return out


def start_daemon(workers=2, extra_local=None):
    d = conftest.Daemon(tempfile.mkdtemp(prefix="corpus-"), workers=workers,
                        extra_local=extra_local)
    d.write_local("logging.inc",
                  'type = "file";\nfilename = "$LOGDIR/rspamd.log";\nlevel = "error";\n')
    return d.start()


def scan_all(port, files, pass_all=False, clients=8):
    """Scans every file; returns a list of reply dicts in file order."""
    local = threading.local()
    headers = {"Pass": "all"} if pass_all else {}

    def one(path):
        with open(path, "rb") as f:
            body = f.read()
        for attempt in range(3):
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("POST", "/checkv2", body, headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    raise RuntimeError("%s: HTTP %d %r" % (path, resp.status, data[:200]))
                return json.loads(data)
            except (OSError, http.client.HTTPException):
                conn.close()
                local.conn = None
                if attempt == 2:
                    raise
        return None

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, files))


_LUA_NAME = re.compile(r"^rspamd_config\.([A-Z0-9_]+)\s*=|^reconf\['([A-Z0-9_]+)'\]|^(\w+)\('([A-Z0-9_]+)'")
_GROUP = re.compile(r"group\s*=\s*'([^']+)'")
_SCORE = re.compile(r"^\s*score\s*=\s*(-?[0-9.]+)")
_HELPER_SCORE = re.compile(r"^\w+\('[A-Z0-9_]+',.*?,\s*(-?[0-9.]+),\s*$")


def symbol_defs():
    """{name: (default weight, group)} of the built-in checks (symbols.c)
    and of the rules in rules/*.lua."""
    defs = {}
    with open(os.path.join(REPO, "src", "scan", "symbols.c")) as f:
        for m in re.finditer(r'\{ "([A-Z0-9_]+)", (-?[0-9.]+), "([a-z_]+)"', f.read()):
            defs[m.group(1)] = (float(m.group(2)), m.group(3))
    rules = os.path.join(REPO, "rules")
    for fn in sorted(os.listdir(rules)):
        if fn.endswith(".lua"):
            defs.update(_lua_defs(os.path.join(rules, fn)))
    return defs


def _lua_defs(path):
    """Names, scores and groups in one rule file. A helper such as
    body('NAME', re, score, desc) takes the group of the helper's body."""
    lines = open(path).read().split("\n")
    helper_group = {}
    for i, line in enumerate(lines):
        m = re.match(r"^local function (\w+)\(", line)
        if m:
            for j in range(i, min(i + 12, len(lines))):
                g = _GROUP.search(lines[j])
                if g:
                    helper_group[m.group(1)] = g.group(1)
                    break
    out = {}
    for i, line in enumerate(lines):
        m = _LUA_NAME.match(line)
        if not m:
            continue
        if m.group(3):
            if m.group(3) not in helper_group:
                continue
            name, group = m.group(4), helper_group[m.group(3)]
            score = None
            for j in range(i, min(i + 4, len(lines))):
                s = re.search(r"\]=?\],\s*(-?[0-9]+\.[0-9]+),", lines[j])
                if s:
                    score = float(s.group(1))
                    break
        else:
            name = m.group(1) or m.group(2)
            group, score = None, None
            for j in range(i + 1, min(i + 60, len(lines))):
                if _LUA_NAME.match(lines[j]):
                    break
                s = _SCORE.match(lines[j])
                if s and score is None:
                    score = float(s.group(1))
                g = _GROUP.search(lines[j])
                if g and group is None:
                    group = g.group(1)
        out[name] = (score if score is not None else 0.0, group or "rules")
    return out
