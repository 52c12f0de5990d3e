"""A private PostgreSQL server for tests: initdb into a temp dir, listen on
a free loopback port plus a unix socket inside that dir, trust
authentication for the `postgres` role, stop and remove everything at the
end. Nothing touches a system cluster.

initdb refuses to run as root, and the tests run as root in CI, so as root
the server runs as the `postgres` system user (runuser) in a directory
chowned to it; as any other user it runs as that user.

    with PgServer() as pg:        # or pg = PgServer(); pg.start(); pg.stop()
        pg.psql("CREATE TABLE t (x int)")
        pg.conninfo               # "host=127.0.0.1 port=N user=postgres dbname=postgres"

PgServer.available() says why not, so callers can pytest.skip cleanly.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self):
        self.dir = None
        self.port = None
        self.started = False
        self.as_postgres = os.geteuid() == 0

    @staticmethod
    def available():
        """None when a server can be started here, else the reason."""
        for tool in ("initdb", "pg_ctl", "psql"):
            if not os.access(os.path.join(PG_BIN, tool), os.X_OK):
                return f"{PG_BIN}/{tool} missing (Debian package postgresql)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no postgres user"
            if shutil.which("runuser") is None:
                return "runuser missing"
        return None

    def _run(self, args, **kw):
        if self.as_postgres:
            args = ["runuser", "-u", "postgres", "--"] + args
        return subprocess.run(args, capture_output=True, text=True, **kw)

    @property
    def datadir(self):
        return os.path.join(self.dir, "data")

    @property
    def conninfo(self):
        return (f"host=127.0.0.1 port={self.port} user=postgres "
                f"dbname=postgres connect_timeout=5")

    def start(self, timeout=60):
        self.dir = tempfile.mkdtemp(prefix="pgtest-")
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        r = self._run([os.path.join(PG_BIN, "initdb"), "-D", self.datadir,
                       "-A", "trust", "-U", "postgres", "-E", "UTF8",
                       "--no-sync"], timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stdout}{r.stderr}")
        self.port = _free_port()
        opts = (f"-p {self.port} -h 127.0.0.1 -k {self.dir} "
                f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        r = self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.datadir,
                       "-o", opts, "-l", os.path.join(self.dir, "log"),
                       "-w", "-t", str(timeout), "start"], timeout=timeout + 10)
        if r.returncode != 0:
            log = ""
            try:
                with open(os.path.join(self.dir, "log")) as f:
                    log = f.read()
            except OSError:
                pass
            raise RuntimeError(f"pg_ctl start failed: {r.stdout}{r.stderr}{log}")
        self.started = True
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.psql("SELECT 1", check=False).returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError("postgres did not answer")

    def psql(self, sql, check=True):
        """Runs SQL (several statements allowed); returns the
        CompletedProcess, output unaligned and tuples only."""
        r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-d", self.conninfo, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr}")
        return r

    def stop(self):
        if self.started:
            self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.datadir,
                       "-m", "immediate", "-w", "stop"], timeout=60)
            self.started = False
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
