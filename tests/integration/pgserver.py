#!/usr/bin/env python3
"""pgserver.py - a real PostgreSQL 15 for one test, from Debian's postgresql-15 package.

initdb into a temporary directory, then postgres on a free loopback port (and a Unix
socket in that directory), run as an unprivileged user: the tests run as root in CI, and
PostgreSQL refuses to run as root, so as root the server runs as the package's `postgres`
user (or `nobody`). Trust authentication on loopback only; fsync off (a test's database
needs no durability across power cuts).

As a library:   with PgServer() as pg: pg.url  (a fresh database per PgServer.database();
                pg.stop() and pg.start() stop it and start it again, data and port kept);
                PgServer(settings={"shared_preload_libraries": "pg_stat_statements"}) adds
                server settings
As a command:   pgserver.py CMD ARGS...  runs CMD with FW_TEST_PG set to a database URL and
                returns its exit code (for the C unit tests).
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = "/usr/lib/postgresql/15/bin"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runas():
    """The user to run the server as: None when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


class PgServer:
    def __init__(self, user="feedwatch", settings=None):
        if not os.path.exists(os.path.join(BIN, "postgres")):
            raise RuntimeError("PostgreSQL 15 is not installed (" + BIN + "): scripts/install-deps.sh")
        self.user = user
        self.dir = tempfile.mkdtemp(prefix="fw-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.proc = None
        self.settings = settings or {}
        self._dbs = 0
        pw = _runas()
        self._pre = None
        if pw is not None:
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            uid, gid = pw.pw_uid, pw.pw_gid

            def pre():
                os.setgid(gid)
                os.setuid(uid)

            self._pre = pre
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        env.pop("PGDATA", None)
        subprocess.run([os.path.join(BIN, "initdb"), "-D", self.data, "-U", user, "-A", "trust",
                        "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       preexec_fn=self._pre, env=env, cwd=self.dir)
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.start()
        self.url = self.database("feedwatch")

    def start(self):
        """Start the server (again, after stop(): the same data and port)."""
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        env.pop("PGDATA", None)
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "postgres"), "-D", self.data, "-p", str(self.port),
             "-k", self.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=on", "-c", "full_page_writes=off",
             "-c", "max_connections=200"]
            + [a for k, v in self.settings.items() for a in ("-c", "%s=%s" % (k, v))],
            stdout=self.log, stderr=self.log, preexec_fn=self._pre, env=env, cwd=self.dir)
        deadline = time.time() + 60
        while True:
            r = subprocess.run([os.path.join(BIN, "pg_isready"), "-h", "127.0.0.1", "-p",
                                str(self.port), "-U", self.user, "-d", "postgres"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                break
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise RuntimeError("PostgreSQL did not start; see its log")
            time.sleep(0.1)

    def stop(self, mode=signal.SIGINT):
        """Stop the server (SIGINT: fast shutdown, SIGQUIT: immediate), keeping its data."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(mode)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def psql(self, sql, db="feedwatch"):
        """Run sql with psql; its output (unaligned, tuples only)."""
        r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                            "-d", db, "-c", sql], check=True, capture_output=True, text=True)
        return r.stdout

    def database(self, name=None):
        """Create a fresh database; its URL."""
        if name is None:
            self._dbs += 1
            name = "t%d" % self._dbs
        self.psql("CREATE DATABASE %s" % name, db="postgres")
        return "postgresql://%s@127.0.0.1:%d/%s" % (self.user, self.port, name)

    def close(self):
        self.stop()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def main(argv):
    if not argv:
        print("usage: pgserver.py CMD [ARGS...]", file=sys.stderr)
        return 2
    with PgServer() as pg:
        env = dict(os.environ, FW_TEST_PG=pg.url)
        return subprocess.run(argv, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
