"""The controller's web UI in a real browser (headless Chromium driven by
playwright-core, test/browser/webui.test.mjs).

One daemon serves interface/ from its controller, with a read/write
password that loopback must send (secure_ip points elsewhere) and a file
map the UI can edit. The browser script runs once for the module; each of
its tests is reported here as its own pytest test. Screenshots of every
page go to test/browser/artifacts/ (or $WEBUI_ARTIFACTS).

A browser test whose controller endpoint does not exist yet (404 Not
found) is reported as xfail naming that endpoint, never faked.

Skips when node, Chromium or playwright-core (installed from npm into
test/browser/node_modules on first use) are not available.
Run: /usr/bin/python3 -m pytest test/functional/test_webui.py
"""
import http.client
import json
import os
import shutil
import smtplib
import subprocess

import pytest

from conftest import REPO, Daemon, corpus_files
from dnszone import DnsZone
from mailcore import mail_daemon, message

PASSWORD = "webui-pass"
BROWSER_DIR = os.path.join(REPO, "test", "browser")
ARTIFACTS = os.environ.get("WEBUI_ARTIFACTS", os.path.join(BROWSER_DIR, "artifacts"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
MAP_SYMBOL = "WEBUI_BL_DOMAIN"

# Keep in step with the tests in webui.test.mjs.
TESTS = [
    "login_wrong_password",
    "login_right_password",
    "dashboard_matches_stat",
    "throughput_chart_has_points",
    "history_shows_scan_and_symbols",
    "scan_drop_and_learn_spam",
    "add_header_threshold_changes_action",
    "map_edit_takes_effect",
    "queue_page_loads",
    "symbol_weight_edit",
    "phone_sized_screen",
]

# Controller endpoints each test depends on beyond /auth, /stat, /checkv2.
NEEDS = {
    "throughput_chart_has_points": ["/graph?type=day"],
    "history_shows_scan_and_symbols": ["/history"],
    "add_header_threshold_changes_action": ["/actions"],
    "map_edit_takes_effect": ["/maps"],
    "symbol_weight_edit": ["/symbols"],
}


def browser_prerequisites():
    """None when the browser can run, else the reason to skip."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}"
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        if shutil.which("npm") is None:
            return "npm is missing, cannot install playwright-core"
        r = subprocess.run(["npm", "install", "--no-save", "--no-package-lock", "--no-audit",
                            "--no-fund", "--loglevel=error"],
                           cwd=BROWSER_DIR, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            return "cannot install playwright-core: " + r.stderr.strip()[-300:]
    if not os.path.exists(os.path.join(REPO, "interface", "build", "chart.umd.js")):
        subprocess.run([os.path.join(REPO, "scripts", "build-ui.sh")], timeout=300)
    return None


@pytest.fixture(scope="module")
def ctl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("webui")
    mapfile = tmp / "webui_bl_domains.map"
    mapfile.write_text("# sender domains the web UI test blocks\nfirst.example\n")
    d = Daemon(tmp, workers=1, extra_local={
        "multimap.conf": f'{MAP_SYMBOL} {{\n  type = "from";\n  filter = "email:domain";\n'
                         f'  map = "{mapfile}";\n  score = 7.5;\n'
                         f'  description = "Sender domain blocked by the web UI test";\n}}\n',
        "options.inc": "map_watch_interval = 1s;\n",
    })
    d.write_local("worker-controller.inc",
                  f'bind_socket = "127.0.0.1:{d.controller_port}";\n'
                  f'secure_ip = "10.99.99.99";\n'
                  f'password = "{PASSWORD}";\n'
                  f'static_dir = "{os.path.join(REPO, "interface")}";\n')
    d.mapfile = mapfile
    d.start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def webui(ctl):
    why = browser_prerequisites()
    if why is not None:
        pytest.skip(why)
    d, mapfile = ctl, ctl.mapfile
    os.makedirs(ARTIFACTS, exist_ok=True)
    env = dict(os.environ,
               WEBUI_URL=f"http://127.0.0.1:{d.controller_port}",
               WEBUI_SCAN_URL=f"http://127.0.0.1:{d.port}",
               WEBUI_PASSWORD=PASSWORD,
               WEBUI_SPAM=corpus_files("spam-1")[0],
               WEBUI_MAP_HINT=mapfile.name,
               WEBUI_MAP_SYMBOL=MAP_SYMBOL,
               WEBUI_ARTIFACTS=ARTIFACTS,
               CHROMIUM=CHROMIUM)
    results_path = os.path.join(ARTIFACTS, "results.json")
    if os.path.exists(results_path):
        os.unlink(results_path)
    run = run_browser(env)
    missing = {t: [p for p in NEEDS.get(t, []) if endpoint_missing(d, p)] for t in TESTS}
    if not os.path.exists(results_path):
        pytest.fail(f"the browser script crashed (exit {run.returncode}):\n"
                    f"{run.stdout}\n{run.stderr}")
    with open(results_path) as f:
        results = json.load(f)
    yield results, missing, run


def run_browser(env):
    return subprocess.run(["node", os.path.join(BROWSER_DIR, "webui.test.mjs")], env=env,
                          cwd=BROWSER_DIR, capture_output=True, text=True, timeout=600)


def endpoint_missing(d, path):
    c = http.client.HTTPConnection("127.0.0.1", d.controller_port, timeout=10)
    c.request("GET", path, headers={"Password": PASSWORD})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status == 404 and body == b"Not found"


@pytest.mark.parametrize("name", TESTS)
def test_browser(webui, name):
    results, missing, run = webui
    res = results.get(name)
    assert res is not None, f"{name} did not run:\n{run.stdout}\n{run.stderr}"
    if not res["ok"] and missing[name]:
        pytest.xfail(f"controller endpoint {', '.join(missing[name])} not implemented yet")
    assert res["ok"], res["error"]


def test_no_script_errors_in_the_pages(webui):
    results, _, _ = webui
    assert results.get("_page_errors") == [], results.get("_page_errors")


def test_screenshots_saved(webui):
    for name in ("login", "dashboard", "scan", "phone-dashboard"):
        assert os.path.getsize(os.path.join(ARTIFACTS, name + ".png")) > 1000, name


def get(d, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", d.controller_port, timeout=10)
    c.putrequest("GET", path, skip_accept_encoding=True)  # path sent as is
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def test_static_files_need_no_password_and_have_types(ctl):
    with open(os.path.join(REPO, "interface", "index.html"), "rb") as f:
        index = f.read()
    for path, ctype in (("/", "text/html"), ("/index.html", "text/html"),
                        ("/js/app.mjs", "text/javascript"), ("/css/app.css", "text/css")):
        r, body = get(ctl, path)
        assert r.status == 200, path
        assert r.getheader("Content-Type").startswith(ctype), (path, r.getheader("Content-Type"))
        assert r.getheader("Cache-Control") == "no-cache"
        assert r.getheader("X-Content-Type-Options") == "nosniff"
        if path in ("/", "/index.html"):
            assert body == index
    # the API behind the same port still wants the password
    r, _ = get(ctl, "/stat")
    assert r.status == 401


def test_static_etag_revalidation(ctl):
    r, _ = get(ctl, "/css/app.css")
    etag = r.getheader("ETag")
    assert etag and etag.startswith('"')
    r, body = get(ctl, "/css/app.css", {"If-None-Match": etag})
    assert r.status == 304 and body == b""


@pytest.mark.parametrize("path", [
    "/../CMakeLists.txt", "/js/../../CMakeLists.txt", "/%2e%2e/CMakeLists.txt",
    "/js/%2e%2e/%2e%2e/CMakeLists.txt", "/..%2fCMakeLists.txt", "/js/..%5c..%5cCMakeLists.txt",
    "/.gitignore", "/js/.hidden", "/nosuchfile.html", "/js", "/index.html%00.png",
    "//etc/passwd", "/%2fetc%2fpasswd",
])
def test_static_refuses_traversal_and_unknown(ctl, path):
    r, body = get(ctl, path)
    assert (r.status, body) == (404, b"Not found"), path


def test_static_symlink_out_of_root_refused(ctl, tmp_path):
    root = tmp_path / "ui"
    root.mkdir()
    (root / "index.html").write_text("<p>x</p>")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", root / "leak.txt")
    d = Daemon(tmp_path / "d")
    d.write_local("worker-controller.inc",
                  f'bind_socket = "127.0.0.1:{d.controller_port}";\nstatic_dir = "{root}";\n')
    d.start()
    try:
        r, body = get(d, "/")
        assert (r.status, body) == (200, b"<p>x</p>")
        r, body = get(d, "/leak.txt")
        assert (r.status, body) == (404, b"Not found")
    finally:
        d.stop()


def test_browser_mail_queue(tmp_path):
    """The queue page with the mail core running: hold, release, delete and
    flush on real spool entries (the queue manager is off, so messages stay
    where the test puts them)."""
    why = browser_prerequisites()
    if why is not None:
        pytest.skip(why)
    zone = DnsZone("")
    d = mail_daemon(tmp_path / "mq", zone.address, extra_local={
        "mta.conf": 'myhostname = "mx.test.example";\nmynetworks = "127.0.0.0/8";\n',
        "worker-qmgr.inc": "enabled = false;\n",
    })
    d.write_local("worker-controller.inc",
                  f'bind_socket = "127.0.0.1:{d.controller_port}";\n'
                  f'secure_ip = "10.99.99.99";\npassword = "{PASSWORD}";\n'
                  f'static_dir = "{os.path.join(REPO, "interface")}";\n')
    d.start()
    try:
        incoming = os.path.join(d.state, "spool", "incoming")
        for i in range(3):
            with smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30) as s:
                s.sendmail("alice@example.org", ["carol@remote.example"],
                           message(subject=f"webui queue {i}", to="carol@remote.example"))
        ids = sorted(os.listdir(incoming))
        assert len(ids) == 3, ids
        deferred = os.path.join(d.state, "spool", "deferred")
        os.makedirs(deferred, exist_ok=True)
        os.rename(os.path.join(incoming, ids[2]), os.path.join(deferred, ids[2]))
        art = os.path.join(ARTIFACTS, "mail-queue")
        env = dict(os.environ,
                   WEBUI_URL=f"http://127.0.0.1:{d.controller_port}",
                   WEBUI_PASSWORD=PASSWORD,
                   WEBUI_QUEUE_IDS=",".join(ids),
                   WEBUI_ONLY="login_right_password,queue_actions",
                   WEBUI_ARTIFACTS=art,
                   CHROMIUM=CHROMIUM)
        run = run_browser(env)
        assert run.returncode == 0, run.stdout + run.stderr
        with open(os.path.join(art, "results.json")) as f:
            results = json.load(f)
        assert results["queue_actions"]["ok"] and results["_page_errors"] == [], results
    finally:
        d.stop()
        zone.stop()
