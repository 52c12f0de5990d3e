"""rspamadm domain/user/alias on the default SQLite database under the state
dir, and on PostgreSQL (a private server from pg_harness.py) configured in
local.d/mta.conf with a tutorial-style '%s' query: adds, lists, deletes,
the errors an operator meets (unknown domain, duplicate user, bad address),
passwords only through --password-stdin and never echoed or stored in
clear, and `user check` / `user auth` showing what the SMTP and IMAP
workers would decide. The C test of the asynchronous libpq path
(test_users_pgsql) runs against the same server with PG_CONNINFO."""
import os
import shutil
import sqlite3
import subprocess

import pytest

from conftest import BUILD, BIN, REPO

SECRET = "s3cret-Pa55 word"


def make_conf(tmp, mta_conf=None):
    conf = tmp / "conf"
    shutil.copytree(os.path.join(REPO, "conf"), conf,
                    ignore=shutil.ignore_patterns("local.d", "override.d"))
    os.makedirs(conf / "local.d", exist_ok=True)
    if mta_conf is not None:
        (conf / "local.d" / "mta.conf").write_text(mta_conf)
    return str(conf / "rspamd.conf")


class Adm:
    def __init__(self, conf, state):
        self.conf = conf
        self.state = state

    def __call__(self, *args, stdin=None):
        r = subprocess.run([os.path.join(BIN, "rspamadm"), "-c", self.conf,
                            "--state-dir", self.state] + list(args),
                           input=stdin, capture_output=True, text=True, timeout=60)
        return r

    def ok(self, *args, stdin=None):
        r = self(*args, stdin=stdin)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout


@pytest.fixture
def adm(tmp_path):
    return Adm(make_conf(tmp_path), str(tmp_path / "state"))


def test_sqlite_domains_users_aliases(adm, tmp_path):
    adm.ok("domain", "add", "Example.COM")
    adm.ok("domain", "add", "example.org")
    assert adm.ok("domain", "list").split() == ["example.com", "example.org"]
    r = adm("domain", "add", "example.com")
    assert r.returncode == 1 and "exists" in r.stderr

    r = adm("user", "add", "alice@example.com", "--quota", "1G", "--password-stdin",
            stdin=SECRET + "\n")
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout and SECRET not in r.stderr
    r = adm("user", "add", "alice@example.com", "--password-stdin", stdin="x\n")
    assert r.returncode == 1 and "exists" in r.stderr
    r = adm("user", "add", "bob@unknown.net", "--password-stdin", stdin="x\n")
    assert r.returncode == 1 and "unknown domain unknown.net" in r.stderr
    for bad in ("no-at-sign", "a@b@example.com", "sp ace@example.com", "@example.com",
                "x" * 250 + "@example.com"):
        r = adm("user", "add", bad, "--password-stdin", stdin="x\n")
        assert r.returncode == 1 and "bad address" in r.stderr, bad
    # without a terminal and without --password-stdin there is no password
    r = adm("user", "add", "carol@example.com", stdin="")
    assert r.returncode == 1 and "password-stdin" in r.stderr
    adm.ok("user", "add", "bob@example.com", "--password", "bobpw", "--quota", "500M")
    out = adm.ok("user", "list", "example.com")
    assert out.splitlines() == ["alice@example.com\tquota=1G",
                                "bob@example.com\tquota=500M"]

    # the hash is crypt(3) yescrypt, the clear password is nowhere in the file
    db = os.path.join(adm.state, "db", "users.sqlite")
    with sqlite3.connect(db) as c:
        (pw,) = c.execute("SELECT password FROM virtual_users "
                          "WHERE email='alice@example.com'").fetchone()
    assert pw.startswith("$y$")
    with open(db, "rb") as f:
        assert SECRET.encode() not in f.read()

    assert adm("user", "auth", "alice@example.com", "--password-stdin",
               stdin=SECRET + "\n").stdout.strip() == "ok"
    r = adm("user", "auth", "alice@example.com", "--password-stdin", stdin="nope\n")
    assert r.returncode == 1 and r.stdout.strip() == "fail"
    adm.ok("user", "passwd", "alice@example.com", "--password-stdin", stdin="newpw\n")
    assert adm("user", "auth", "ALICE@example.com", "--password-stdin",
               stdin="newpw\n").returncode == 0

    adm.ok("alias", "add", "team@example.com", "alice@example.com")
    adm.ok("alias", "add", "team@example.com", "bob@example.com")
    adm.ok("alias", "add", "team@example.com", "friend@remote.net")
    adm.ok("alias", "add", "@example.com", "alice@example.com")
    r = adm("alias", "add", "team@example.com", "bob@example.com")
    assert r.returncode == 1 and "exists" in r.stderr
    r = adm("alias", "add", "x@remote.net", "bob@example.com")
    assert r.returncode == 1 and "unknown domain" in r.stderr
    assert len(adm.ok("alias", "list", "example.com").splitlines()) == 4

    out = adm.ok("user", "check", "Team@Example.com")
    assert "status: found" in out
    assert "mailbox: alice@example.com quota=1G" in out
    assert "mailbox: bob@example.com quota=500M" in out
    assert "remote: friend@remote.net" in out
    out = adm.ok("user", "check", "whoever@example.com")
    assert "catchall: yes" in out and "mailbox: alice@example.com" in out
    r = adm("user", "check", "someone@gmail.com")
    assert r.returncode == 1 and "status: not-local" in r.stdout
    assert adm("user", "sender", "bob@example.com", "team@example.com").returncode == 0
    assert adm("user", "sender", "bob@example.com", "alice@example.com").returncode == 1

    r = adm("domain", "del", "example.com")
    assert r.returncode == 1 and "still has users" in r.stderr
    adm.ok("alias", "del", "@example.com")
    r = adm("user", "check", "whoever@example.com")
    assert r.returncode == 1 and "status: unknown" in r.stdout
    adm.ok("alias", "del", "team@example.com", "friend@remote.net")
    assert len(adm.ok("alias", "list").splitlines()) == 2
    adm.ok("user", "del", "bob@example.com")
    r = adm("user", "del", "bob@example.com")
    assert r.returncode == 1 and "unknown user" in r.stderr
    adm.ok("domain", "del", "example.org")
    assert adm.ok("domain", "list").split() == ["example.com"]


SCHEMA = """
CREATE TABLE virtual_domains (name text PRIMARY KEY);
CREATE TABLE virtual_users (email text PRIMARY KEY, password text NOT NULL,
                            quota_bytes bigint NOT NULL DEFAULT 0);
CREATE TABLE virtual_aliases (source text NOT NULL, destination text NOT NULL,
                              PRIMARY KEY (source, destination));
"""


def test_pgsql_backend(pg, tmp_path):
    pg.psql("DROP TABLE IF EXISTS virtual_domains, virtual_users, virtual_aliases;" + SCHEMA)
    # an existing Dovecot table: a SHA512-CRYPT hash with its {SCHEME} prefix
    h = subprocess.run(["python3", "-c", "import crypt; print(crypt.crypt('dovepw', "
                        "crypt.mksalt(crypt.METHOD_SHA512)))"],
                       capture_output=True, text=True)
    pg.psql("INSERT INTO virtual_domains VALUES ('example.net');")
    if h.returncode == 0 and h.stdout.startswith("$6$"):
        pg.psql("INSERT INTO virtual_users VALUES ('old@example.net', "
                f"'{{SHA512-CRYPT}}{h.stdout.strip()}', 0);")
    conf = make_conf(tmp_path, f"""
users {{
  backend = "pgsql";
  conninfo = "{pg.conninfo}";
  cache_ttl = 0;
  query_domain = "SELECT 1 FROM virtual_domains WHERE name='%s'";
}}
""")
    adm = Adm(conf, str(tmp_path / "state"))
    adm.ok("domain", "add", "example.com")
    adm.ok("user", "add", "ann@example.com", "--quota", "2G", "--password-stdin",
           stdin="annpw\n")
    r = adm("user", "add", "ann@example.com", "--password-stdin", stdin="x\n")
    assert r.returncode == 1 and "exists" in r.stderr
    adm.ok("alias", "add", "list@example.com", "ann@example.com")
    adm.ok("alias", "add", "list@example.com", "out@remote.org")
    assert pg.psql("SELECT email FROM virtual_users ORDER BY email").stdout.split() \
        == (["ann@example.com", "old@example.net"] if h.returncode == 0 else ["ann@example.com"])
    out = adm.ok("user", "check", "list@example.com")
    assert "mailbox: ann@example.com quota=2G" in out and "remote: out@remote.org" in out
    r = adm("user", "check", "x@example.org")
    assert "status: not-local" in r.stdout
    assert adm("user", "auth", "ann@example.com", "--password-stdin",
               stdin="annpw\n").stdout.strip() == "ok"
    if h.returncode == 0:
        assert adm("user", "auth", "old@example.net", "--password-stdin",
                   stdin="dovepw\n").stdout.strip() == "ok"
    # no SQLite file appears when the backend is PostgreSQL
    assert not os.path.exists(os.path.join(adm.state, "db", "users.sqlite"))

    # the server goes away: a temporary failure, not "unknown user"
    bad = Adm(make_conf(tmp_path / "bad", 'users { backend = "pgsql"; '
                        'conninfo = "host=127.0.0.1 port=1 connect_timeout=2"; }\n'),
              str(tmp_path / "state2"))
    r = bad("user", "check", "ann@example.com")
    assert r.returncode == 2 and "status: tempfail" in r.stdout


def test_pgsql_async_unit(pg):
    """The libpq-on-libev path, from C."""
    exe = os.path.join(BUILD, "tests", "unit_users_test_users_pgsql")
    if not os.path.exists(exe):
        pytest.skip("unit_users_test_users_pgsql not built")
    r = subprocess.run([exe], env=dict(os.environ, PG_CONNINFO=pg.conninfo),
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 passed, 0 failed" in r.stdout
