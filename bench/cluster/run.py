#!/usr/bin/env python3
"""bench/cluster/run.py - 1 node against K nodes sharing one PostgreSQL store (issue 21).

    bench/cluster/run.py [--feeds 30000] [--nodes "1 3"] [--items 50] [--runs 1]
                         [--work DIR] [--build DIR]

On gen.py's corpus served by nginx on loopback, for each node count K: a fresh database
on a PostgreSQL 15 this script starts (tests/integration/pgserver.py, with
pg_stat_statements), then K `feedwatch run` daemons with the same config (distinct
`node` names) started together on the cold store. It measures the cold round: the time
until every feed has been fetched once (nginx's access log), the CPU each node used in it
(/proc), the server's CPU (its processes' /proc), and the statements the database ran
(pg_stat_statements: calls, and their time), per poll. Once the alerts stop growing, it
checks that every true match
was raised once for the cluster (the alerts table against gen.py's truth) and that no
feed was fetched twice in the round. Then the figures per poll are extrapolated to
1,000,000 feeds over 30 nodes at a 5-minute interval (an extrapolation, not a measurement).

All nodes run on this machine, so K nodes share its cores with each other, nginx and
PostgreSQL: the round time of K nodes on one machine is not what K machines give; the
CPU per poll and the database's work per poll are what carry over. Needs root (nginx from
a private prefix), nginx and PostgreSQL 15 (scripts/install-deps.sh installs them).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from pgserver import PgServer  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("[cluster %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    """User + system ticks of pid and its threads (0 when gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def pg_ticks(pg):
    """CPU ticks of every process of the PostgreSQL server (postmaster and backends)."""
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % d) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"postgres" in cmd and (pg.data.encode() in cmd or int(st[1]) == pg.proc.pid):
            total += int(st[11]) + int(st[12])
    return total


class Nginx:
    def __init__(self, root):
        self.dir = tempfile.mkdtemp(prefix="fw-cluster-nginx.")
        self.port = free_port()
        with open(os.path.join(ROOT, "bench", "nginx", "nginx.conf.in")) as f:
            conf = f.read()
        conf = (conf.replace("@PREFIX@", self.dir).replace("@ROOT@", root)
                .replace("@PORT@", str(self.port)).replace("@WORKERS@", "1"))
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        subprocess.run(["nginx", "-p", self.dir, "-e", self.dir + "/error.log", "-c",
                        self.dir + "/nginx.conf"], check=True)
        pidfile = os.path.join(self.dir, "nginx.pid")
        for _ in range(100):
            if os.path.exists(pidfile) and os.path.getsize(pidfile):
                break
            time.sleep(0.05)
        with open(pidfile) as f:
            self.pid = int(f.read())
        self.base = "http://127.0.0.1:%d" % self.port
        self.access = os.path.join(self.dir, "access.log")

    def lines(self):
        try:
            with open(self.access) as f:
                return f.readlines()
        except OSError:
            return []

    def close(self):
        try:
            os.kill(self.pid, signal.SIGQUIT)
        except OSError:
            pass
        for _ in range(50):
            try:
                os.kill(self.pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)


def corpus(work, feeds, items):
    data = os.path.join(work, "data-%d" % feeds)
    truth = os.path.join(data, "truth.json")
    if not os.path.exists(truth):
        log("generating %d feeds x %d items" % (feeds, items))
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen", "gen.py"), "--feeds",
                        str(feeds), "--items", str(items), "--out", data], check=True)
    with open(truth) as f:
        return data, json.load(f)


def config(data, base, out, url, lease):
    """gen.py's feedwatch.conf (bench/lib/configs.py), on the shared store."""
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ, FW_BENCH_GROUP="item")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "lib", "configs.py"), data, base,
                    out], check=True, env=env, stdout=subprocess.DEVNULL)
    path = os.path.join(out, "feedwatch.conf")
    with open(path) as f:
        conf = f.read()
    conf = conf.replace('interval = "1h";', 'interval = "1h";\nstore = "%s";\nlease = "%ds";'
                        % (url, lease), 1)
    with open(path, "w") as f:
        f.write(conf)
    os.chmod(path, 0o600)
    return path


def round_k(fw, pg, ngx, data, truth, k, work, lease):
    url = pg.database()
    out = os.path.join(work, "k%d" % k)
    shutil.rmtree(out, ignore_errors=True)
    conf = config(data, ngx.base, out, url, lease)
    db = url.rsplit("/", 1)[1]
    pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db=db)
    subprocess.run([fw, "check", "-c", conf], check=True, stdout=subprocess.DEVNULL)
    pg.psql("SELECT pg_stat_statements_reset()", db=db)
    n = len(truth["paths"])
    mark = len(ngx.lines())
    pg0 = pg_ticks(pg)
    t0 = time.monotonic()
    procs = []
    for i in range(k):
        logf = open(os.path.join(out, "node%d.log" % i), "w")
        # the default node name, <host>-<pid>, is distinct per process
        procs.append((subprocess.Popen([fw, "run", "-c", conf], stdout=logf, stderr=logf), logf))
    last = {}
    deadline = t0 + 3600
    fetched = set()
    lines = []
    while time.monotonic() < deadline:
        for p, _ in procs:
            last[p.pid] = max(last.get(p.pid, 0), cpu_ticks(p.pid))
        lines = ngx.lines()[mark:]
        fetched = {ln.split('"')[1].split()[1] for ln in lines if ln.count('"') >= 2}
        if len(fetched) >= n:
            break
        if any(p.poll() is not None for p, _ in procs):
            raise SystemExit("a node exited; see %s" % out)
        time.sleep(0.5)
    wall = time.monotonic() - t0

    def count_alerts():
        return int(pg.psql("SELECT count(*) FROM alerts WHERE watchlist = 'putin-north-korea'",
                           db=db).strip() or 0)

    # the last polls fetched may still wait for the story lock: count once the alerts
    # stop growing (10 s without a new one, 300 s at most)
    alerts, still, settle0 = count_alerts(), 0, time.monotonic()
    while still < 10 and time.monotonic() - settle0 < 300:
        time.sleep(1)
        now_alerts = count_alerts()
        still = still + 1 if now_alerts == alerts else 0
        alerts = now_alerts
    settle = time.monotonic() - settle0 - still
    for p, _ in procs:
        last[p.pid] = max(last.get(p.pid, 0), cpu_ticks(p.pid))
    pgcpu = (pg_ticks(pg) - pg0) / HZ
    stats = pg.psql("SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) "
                    "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())", db=db).strip().split("|")
    top = pg.psql("SELECT calls, round(total_exec_time::numeric, 1), "
                  "regexp_replace(left(query, 70), '\\s+', ' ', 'g') FROM pg_stat_statements "
                  "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = "
                  "current_database()) ORDER BY calls DESC LIMIT 40", db=db)
    gets = {}
    for ln in lines:
        if ln.count('"') >= 2:
            path = ln.split('"')[1].split()[1]
            gets[path] = gets.get(path, 0) + 1
    twice = sum(1 for v in gets.values() if v > 1)
    for p, logf in procs:
        p.send_signal(signal.SIGTERM)
    for p, logf in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        logf.close()
    return {
        "nodes": k, "feeds": n, "round_s": round(wall, 2),
        "cpu_per_node_s": [round(v / HZ, 2) for v in last.values()],
        "pg_cpu_s": round(pgcpu, 2),
        "statements": int(float(stats[0])), "statement_ms": round(float(stats[1]), 1),
        "statements_per_poll": round(int(float(stats[0])) / n, 2),
        "alerts": alerts, "settle_s": round(settle, 1), "true_matches": truth["matches"], "fetched_twice": twice,
        "top": top.strip(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=30000)
    ap.add_argument("--nodes", default="1 3")
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--lease", type=int, default=60)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    work = a.work or os.path.join(a.build, "bench-cluster")
    os.makedirs(work, exist_ok=True)
    if not os.path.exists(os.path.join(a.build, "CMakeCache.txt")):
        subprocess.run(["cmake", "-S", ROOT, "-B", a.build, "-DCMAKE_BUILD_TYPE=Release",
                        "-DFW_TESTS=OFF"], check=True)
    subprocess.run(["cmake", "--build", a.build, "-j2"], check=True, stdout=subprocess.DEVNULL)
    fw = os.path.join(a.build, "daemon", "feedwatch")
    data, truth = corpus(work, a.feeds, a.items)
    ngx = Nginx(data)
    results = []
    try:
        with PgServer(settings={"shared_preload_libraries": "pg_stat_statements",
                                "pg_stat_statements.max": "1000"}) as pg:
            for run in range(a.runs):
                for k in [int(x) for x in a.nodes.split()]:
                    log("run %d: %d node(s), %d feeds" % (run + 1, k, a.feeds))
                    r = round_k(fw, pg, ngx, data, truth, k, work, a.lease)
                    r["run"] = run + 1
                    results.append(r)
                    log(json.dumps({x: r[x] for x in r if x != "top"}))
                    print(r["top"], file=sys.stderr)
    finally:
        ngx.close()
    with open(os.path.join(work, "results.jsonl"), "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    report(results)


def report(results):
    print("| nodes | feeds | cold round (s) | CPU per node (s) | PostgreSQL CPU (s) | "
          "statements per poll | alerts / true | last alert after the round (s) | fetched twice |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print("| %d | %d | %.1f | %s | %.1f | %.2f | %d / %d | %.1f | %d |" % (
            r["nodes"], r["feeds"], r["round_s"], ", ".join("%.1f" % c for c in r["cpu_per_node_s"]),
            r["pg_cpu_s"], r["statements_per_poll"], r["alerts"], r["true_matches"],
            r["settle_s"], r["fetched_twice"]))
    for r in results:
        polls_s = 1_000_000 / 300.0
        q = r["statements_per_poll"] * polls_s
        cores = r["pg_cpu_s"] / r["feeds"] * polls_s
        node = sum(r["cpu_per_node_s"]) / r["feeds"] * polls_s / 30
        print("\nExtrapolated from the %d-node run (cold polls: every item new, the dearest "
              "case): 1,000,000 feeds at a 5-minute interval are %.0f polls/s; the database "
              "would run %.0f statements/s and need %.1f cores of PostgreSQL CPU; each of "
              "30 nodes %.2f cores." % (r["nodes"], polls_s, q, cores, node))


if __name__ == "__main__":
    main()
