"""The controller endpoints the web UI uses (spec/controller.md sections 2
and 3): shapes, access rules, cross-site request refusal, and that the
settings the UI saves reach every worker.

The main daemon runs two normal workers, `secure_ip` set to an address we
never connect from (so loopback must authenticate), a plaintext read-only
`password` and `enable_password`, one multimap IP list and one whitelist
domain file. A second daemon keeps the default secure_ip (loopback needs
no password) for the cross-site tests, since that is the case a forged
browser request would exploit.

Run: /usr/bin/python3 -m pytest test/functional/test_controller_ui_api.py
Environment: RSPAMD_BUILD (default <repo>/build), CORPUS_DIR.
"""
import http.client
import json
import os
import time

import pytest

from conftest import Daemon, corpus_files

READ_PW = "ui-read-pass"
ENABLE_PW = "ui-enable-pass"

HAM = corpus_files("easy-ham-1", 6)

MULTIMAP = """LOCAL_BL_IP {
  type = "ip";
  map = "$LOCAL_CONFDIR/local.d/bl_ip.map";
  description = "Local IP blacklist";
  score = 7.5;
}
"""

READ_PATHS = ["/stat", "/graph?type=day", "/pie", "/history", "/errors", "/symbols",
              "/actions", "/maps", "/neighbours"]

WRITE_REQUESTS = [
    ("/saveactions", b"[15, null, 6, 4]", {}),
    ("/savesymbols", b'[{"name":"LOCAL_BL_IP","value":1.0}]', {}),
    ("/savemap", b"192.0.2.1\n", {"Map": "0"}),
    ("/historyreset", None, {}),
    ("/statreset", None, {}),
    ("/learnspam", b"Subject: x\n\nbody\n", {}),
    ("/learnham", b"Subject: x\n\nbody\n", {}),
]


def make_daemon(tmp, secure_ip, passwords):
    d = Daemon(tmp, workers=2)
    ctl = f'bind_socket = "127.0.0.1:{d.controller_port}";\n'
    if secure_ip:
        ctl += f'secure_ip = "{secure_ip}";\n'
    if passwords:
        ctl += f'password = "{READ_PW}";\nenable_password = "{ENABLE_PW}";\n'
    d.write_local("worker-controller.inc", ctl)
    d.write_local("options.inc", "map_watch_interval = 1s;\nhistory_rows = 50;\n")
    d.write_local("multimap.conf", MULTIMAP)
    d.write_local("bl_ip.map", "# blocked hosts\n192.0.2.200\n")
    d.write_local("wl_domains.map", "trusted.example\n")
    d.write_local("whitelist.conf",
                  'whitelist_domains = "$LOCAL_CONFDIR/local.d/wl_domains.map";\n')
    return d


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    d = make_daemon(tmp_path_factory.mktemp("ui"), "10.1.1.1", True)
    d.start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def open_ui(tmp_path_factory):
    d = make_daemon(tmp_path_factory.mktemp("ui_open"), None, False)
    d.start()
    yield d
    d.stop()


def request(d, path, password=None, body=None, headers=None, method=None, port=None):
    conn = http.client.HTTPConnection("127.0.0.1", port or d.controller_port, timeout=30)
    h = dict(headers or {})
    if password is not None:
        h["Password"] = password
    conn.request(method or ("POST" if body is not None else "GET"), path, body=body,
                 headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data, r


def get_json(d, path, password=READ_PW):
    st, body, _ = request(d, path, password)
    assert st == 200, (path, st, body)
    return json.loads(body)


def scan(d, path, ip="192.0.2.10", extra=None):
    with open(path, "rb") as f:
        msg = f.read()
    h = {"IP": ip, "From": "sender@example.org", "Rcpt": "user@example.org"}
    h.update(extra or {})
    st, body, _ = request(d, "/checkv2", body=msg, headers=h, port=d.port)
    assert st == 200, body
    return json.loads(body)


def scan_text(d, text, ip="192.0.2.10"):
    h = {"IP": ip, "From": "sender@example.org", "Rcpt": "user@example.org"}
    st, body, _ = request(d, "/checkv2", body=text.encode(), headers=h, port=d.port)
    assert st == 200, body
    return json.loads(body)


def wait_for(fn, timeout=15.0, step=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    return last


def map_id(d, suffix):
    for m in get_json(d, "/maps"):
        if m["uri"].endswith(suffix):
            return m
    raise AssertionError(f"no map {suffix}")


# --- shapes -------------------------------------------------------------

def test_graph_shape_and_data_after_scans(ui):
    for p in HAM[:3]:
        scan(ui, p)
    g = get_json(ui, "/graph?type=day")
    assert isinstance(g, list) and len(g) == 6
    for series in g:
        assert all(set(pt) == {"x", "y"} for pt in series)
        xs = [pt["x"] for pt in series]
        assert xs == sorted(xs)
    # the newest point of some action has a rate after the scans
    assert any(series[-1]["y"] not in (None, 0) for series in g)
    for t in ("week", "month", "year"):
        assert len(get_json(ui, f"/graph?type={t}")) == 6
    st, body, _ = request(ui, "/graph?type=fortnight", READ_PW)
    assert st == 400 and json.loads(body) == {"error": "Invalid graph type"}


def test_pie_shape(ui):
    pie = get_json(ui, "/pie")
    assert [p["label"] for p in pie] == ["Clean", "Temporarily rejected", "Probable spam",
                                         "Greylisted", "Rejected"]
    assert all(set(p) == {"color", "label", "data", "value"} for p in pie)


def test_history_rows(ui):
    scan(ui, HAM[0], ip="192.0.2.55", extra={"Subject-Tag": "x"})
    h = get_json(ui, "/history")
    assert h["version"] == 2 and h["rows"]
    row = h["rows"][0]
    for key in ("unix_time", "ip", "sender_smtp", "sender_mime", "rcpt_smtp", "rcpt_mime",
                "subject", "score", "required_score", "action", "symbols", "time_real",
                "scan_time", "size", "message-id", "user", "is_skipped", "id"):
        assert key in row, key
    assert row["ip"] == "192.0.2.55"
    assert row["rcpt_smtp"] == ["user@example.org"]
    assert row["size"] == os.path.getsize(HAM[0])
    for name, sym in row["symbols"].items():
        assert sym["name"] == name and "score" in sym and "metric_score" in sym
    rows = [r["unix_time"] for r in h["rows"]]
    assert rows == sorted(rows, reverse=True)
    two = get_json(ui, "/history?from=0&to=1")
    assert len(two["rows"]) == min(2, len(h["rows"]))


def test_symbols_and_actions_shape(ui):
    groups = get_json(ui, "/symbols")
    assert isinstance(groups, list) and groups
    names = set()
    for g in groups:
        assert set(g) == {"group", "rules"}
        for r in g["rules"]:
            assert {"symbol", "weight", "frequency", "frequency_stddev", "time"} <= set(r)
            names.add(r["symbol"])
    assert "LOCAL_BL_IP" in names
    acts = get_json(ui, "/actions")
    assert [a["action"] for a in acts][:3] == ["greylist", "add header", "reject"]
    assert {a["action"] for a in acts} == {"greylist", "add header", "reject", "soft reject",
                                            "rewrite subject", "no action"}


def test_errors_and_neighbours(ui):
    errs = get_json(ui, "/errors")
    assert isinstance(errs, list)
    for e in errs:
        assert set(e) == {"ts", "pid", "type", "id", "module", "message"}
    assert get_json(ui, "/neighbours") == {}


def test_errors_records_warnings(ui):
    # a wrong password is logged as a warning by the controller
    request(ui, "/stat", "wrong-password")
    errs = wait_for(lambda: [e for e in get_json(ui, "/errors")
                             if "authentication failed" in e["message"]])
    assert errs and errs[-1]["module"] == "controller"


def test_maps_and_getmap(ui):
    maps = get_json(ui, "/maps")
    assert all(set(m) >= {"map", "description", "uri", "editable"} for m in maps)
    bl = map_id(ui, "bl_ip.map")
    wl = map_id(ui, "wl_domains.map")
    assert bl["editable"] and bl["type"] == "ip" and wl["type"] == "domain"
    st, body, r = request(ui, "/getmap", READ_PW, headers={"Map": str(bl["map"])})
    assert st == 200 and r.getheader("Content-Type").startswith("text/plain")
    assert b"192.0.2.200" in body
    st, _, _ = request(ui, "/getmap", READ_PW, headers={"Map": "12345"})
    assert st == 404


# --- access rules -------------------------------------------------------

@pytest.mark.parametrize("path", READ_PATHS)
def test_read_needs_password_from_non_secure_ip(ui, path):
    st, body, _ = request(ui, path)
    assert st == 401 and json.loads(body) == {"error": "Unauthorized"}
    st, _, _ = request(ui, path, READ_PW)
    assert st == 200


@pytest.mark.parametrize("path,body,headers", WRITE_REQUESTS)
def test_write_refuses_bad_passwords(ui, path, body, headers):
    before = open(os.path.join(ui.confdir, "local.d", "bl_ip.map")).read()
    for pw in (None, "wrong", READ_PW):
        st, _, _ = request(ui, path, pw, body=body, headers=headers,
                           method="POST" if body is not None else "GET")
        assert st in (401, 403), (path, pw, st)
    assert not os.path.exists(os.path.join(ui.confdir, "local.d", "actions.conf"))
    assert not os.path.exists(os.path.join(ui.confdir, "local.d", "symbols.conf"))
    assert open(os.path.join(ui.confdir, "local.d", "bl_ip.map")).read() == before


def test_write_refuses_password_in_query(ui):
    st, body, _ = request(ui, f"/historyreset?password={ENABLE_PW}")
    assert st == 403, body
    st, _, _ = request(ui, f"/stat?password={READ_PW}")
    assert st == 200


# --- cross-site requests ------------------------------------------------

def test_csrf_form_post_refused_on_secure_ip(open_ui):
    # loopback is secure here: no password needed, which a forged form exploits
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    st, _, _ = request(open_ui, "/saveactions", body=b"x=1", headers=form)
    assert st == 403
    st, _, _ = request(open_ui, "/historyreset", body=b"", headers=form)
    assert st == 403
    st, _, _ = request(open_ui, "/learnspam", body=b"--b\r\n",
                       headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert st == 403
    assert not os.path.exists(os.path.join(open_ui.confdir, "local.d", "actions.conf"))
    # the same write as the UI sends it (no form type) is allowed
    st, _, _ = request(open_ui, "/historyreset")
    assert st == 200


def test_csrf_foreign_origin_refused(open_ui, ui):
    evil = {"Origin": "http://evil.example"}
    st, _, _ = request(open_ui, "/historyreset", headers=evil)
    assert st == 403
    st, _, _ = request(open_ui, "/saveactions", body=b"[15,null,6,4]",
                       headers={"Origin": "http://evil.example", "Content-Type": "text/plain"})
    assert st == 403
    st, _, _ = request(open_ui, "/stat", headers={"Sec-Fetch-Site": "cross-site"})
    assert st == 403
    # even with the right password a foreign page may not use it
    st, _, _ = request(ui, "/historyreset", ENABLE_PW, headers=evil)
    assert st == 403
    own = {"Origin": f"http://127.0.0.1:{open_ui.controller_port}"}
    st, _, _ = request(open_ui, "/stat", headers=own)
    assert st == 200


# --- writes -------------------------------------------------------------

def test_saveactions_reaches_every_worker(ui):
    msg = HAM[1]
    first = scan(ui, msg)
    assert first["action"] == "no action", first
    st, body, _ = request(ui, "/saveactions", ENABLE_PW, body=b"[null, null, -100, null]")
    assert st == 200 and json.loads(body) == {"success": True}
    conf = open(os.path.join(ui.confdir, "local.d", "actions.conf")).read()
    assert "add_header = -100" in conf

    def applied():
        acts = {a["action"]: a["value"] for a in get_json(ui, "/actions")}
        return acts["add header"] == -100 and acts["reject"] is None
    assert wait_for(applied)
    # every normal worker (two) answers with the new threshold
    actions = set()
    for _ in range(3):
        for p in HAM[:4]:
            actions.add(scan(ui, p)["action"])
    assert actions == {"add header"}, actions
    # put the defaults back for the other tests
    st, _, _ = request(ui, "/saveactions", ENABLE_PW, body=b"[15, null, 6, 4]")
    assert st == 200
    assert wait_for(lambda: {a["action"]: a["value"] for a in get_json(ui, "/actions")}
                    ["add header"] == 6)


def test_saveactions_bad_shape(ui):
    for bad in (b"[1,2,3]", b'{"reject":1}', b'[1,2,3,"x"]', b"not json", b"[1,2,3,4,5]"):
        st, body, _ = request(ui, "/saveactions", ENABLE_PW, body=bad)
        assert st == 400 and json.loads(body) == {"error": "Cannot parse input"}, bad


def test_savesymbols(ui):
    st, body, _ = request(ui, "/savesymbols", ENABLE_PW,
                          body=b'[{"name":"LOCAL_BL_IP","value":7.5}]')
    assert st == 404 and json.loads(body) == {"error": "No symbols to save"}
    st, body, _ = request(ui, "/savesymbols", ENABLE_PW,
                          body=b'[{"name":"LOCAL_BL_IP","value":3.25}]')
    assert st == 200, body

    def weight():
        for g in get_json(ui, "/symbols"):
            for r in g["rules"]:
                if r["symbol"] == "LOCAL_BL_IP":
                    return r["weight"] == 3.25
        return False
    assert wait_for(weight)
    res = scan(ui, HAM[2], ip="192.0.2.200")
    assert res["symbols"]["LOCAL_BL_IP"]["score"] == 3.25


def test_savemap_validates_and_takes_effect(ui):
    bl = map_id(ui, "bl_ip.map")
    hdr = {"Map": str(bl["map"])}
    st, body, _ = request(ui, "/savemap", ENABLE_PW, body=b"192.0.2.1\nnot-an-ip\n",
                          headers=hdr)
    assert st == 400 and b"line 2" in body
    assert "not-an-ip" not in open(os.path.join(ui.confdir, "local.d", "bl_ip.map")).read()
    assert "LOCAL_BL_IP" not in scan(ui, HAM[3], ip="198.51.100.7")["symbols"]
    st, body, _ = request(ui, "/savemap", ENABLE_PW,
                          body=b"# edited\n198.51.100.0/24\n2001:db8::/32\n", headers=hdr)
    assert st == 200 and json.loads(body) == {"success": True}
    st, body, _ = request(ui, "/getmap", READ_PW, headers=hdr)
    assert b"198.51.100.0/24" in body
    # every worker's map watcher picks the new file up
    assert wait_for(lambda: all("LOCAL_BL_IP" in scan(ui, HAM[3], ip="198.51.100.7")["symbols"]
                                for _ in range(4)))
    wl = map_id(ui, "wl_domains.map")
    st, _, _ = request(ui, "/savemap", ENABLE_PW, body=b"bad\x01domain\n",
                       headers={"Map": str(wl["map"])})
    assert st == 400


def test_historyreset_and_persistence(ui):
    st, body, _ = request(ui, "/historyreset", ENABLE_PW)
    assert st == 200 and json.loads(body) == {"success": True}
    assert get_json(ui, "/history")["rows"] == []
    marker = "history-persist-%d" % os.getpid()
    scan_text(ui, f"From: a@example.org\nTo: b@example.org\nSubject: {marker}\n"
                  "Message-ID: <persist@example.org>\n\nhello\n", ip="192.0.2.77")
    rows = get_json(ui, "/history")["rows"]
    assert rows[0]["subject"] == marker and rows[0]["message-id"] == "persist@example.org"
    assert rows[0]["sender_mime"] == "a@example.org" and rows[0]["rcpt_mime"] == ["b@example.org"]
    graph_before = get_json(ui, "/graph?type=day")
    ui.stop()
    ui.start()
    rows = get_json(ui, "/history")["rows"]
    assert rows and rows[0]["subject"] == marker
    # the throughput buckets were saved with the counters too
    graph_after = get_json(ui, "/graph?type=day")
    total = lambda g: sum(pt["y"] or 0 for s in g for pt in s[-2:])  # noqa: E731
    assert total(graph_after) > 0 and total(graph_before) > 0


def test_history_ring_keeps_history_rows(ui):
    for i in range(55):
        scan_text(ui, f"Subject: ring {i}\n\nx\n")
    rows = get_json(ui, "/history")["rows"]
    assert len(rows) == 50
    assert rows[0]["subject"] == "ring 54"
