#!/usr/bin/env python3
"""The store under faults (GitHub issue 8): a read-only state directory, a full one (a small
tmpfs in a private mount namespace), a corrupted database file, and a database locked by
another process. Each gives a clear error and no crash; nothing is silently lost: the
daemon refuses to start (exit 2 and the reason) rather than forget which items it has
seen, and items that arrive while the store cannot be written alert once it can."""
import collections
import hashlib
import json
import os
import random
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (Receiver, Route, Workdir, check, output, q, read_jsonl, run, stop,  # noqa: E402
                    wait_for)


def feed(n_items, prefix="item"):
    items = "".join("<item><title>Putin story %s %d</title><guid>%s-%d</guid>"
                    "<description>%s</description></item>"
                    % (prefix, i, prefix, i, "x" * 200) for i in range(n_items))
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>%s'
            '</channel></rss>' % items)


def config(w, srv, state):
    return w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feed_failing_after = 0;
max_alerts_per_poll = 0;  # hundreds of alerts in one poll, each counted on its own
feeds = ( { name = "world"; url = %s; interval = 1; } );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; group = "item"; outputs = [ "alerts" ]; } );
outputs = ( { name = "alerts"; plugin = "log"; path = %s; format = "json"; rate_limit = 0; } );
""" % (q(state), q(srv.url("/feed")), q(w.file("alerts.jsonl"))))


def alert_ids(w):
    return [a["item"]["id"] for a in read_jsonl(w.file("alerts.jsonl"))]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def no_sanitizer(err):
    return "AddressSanitizer" not in err and "runtime error" not in err and "LeakSanitizer" not in err


def refused(p, what, reason):
    """Exit 2, the reason, and the refusal line."""
    check(p.returncode == 2, "%s: exit code 2 (rc %d)" % (what, p.returncode))
    check(reason in p.stderr, "%s: the reason is given (%r in %r)" % (what, reason,
                                                                     p.stderr.strip()[-300:]))
    check(no_sanitizer(p.stderr), "%s: no sanitizer report" % what)


def test_read_only(srv, ns):
    w = Workdir()
    try:
        os.makedirs(w.state)
        conf = config(w, srv, w.state)
        srv.routes["/feed"] = Route(feed(3, "ro"))
        ro = "mount --bind %s %s && mount -o remount,ro,bind %s" % ((w.state,) * 3)
        r = ns.sh(ro)
        check(r.returncode == 0, "read-only: the state dir is a read-only bind (%s)" % r.stderr)
        p = ns.run(["once", "-c", conf])
        refused(p, "read-only, no database yet", "Read-only file system")
        check("refusing to start" in p.stderr, "read-only: says it refuses to start")
        check(alert_ids(w) == [], "read-only: nothing delivered that was not recorded")
        ns.sh("umount %s" % w.state)

        # A database made earlier; then the directory turns read-only.
        p = run(["once", "-c", conf])
        check(p.returncode == 0 and len(alert_ids(w)) == 3,
              "read-only: a normal once first (3 alerts, rc %d)" % p.returncode)
        srv.routes["/feed"] = Route(feed(5, "ro"))
        ns.sh(ro)
        p = ns.run(["once", "-c", conf])
        refused(p, "read-only, existing database", "Read-only file system")
        check(len(alert_ids(w)) == 3, "read-only: no alert without its record")
        p = ns.run(["run", "-c", conf], timeout=60)
        refused(p, "read-only, run", "Read-only file system")
        p = ns.run(["status", "-c", conf, "--json"])
        check(p.returncode in (0, 2) and no_sanitizer(p.stderr),
              "read-only: status answers or refuses cleanly (rc %d, %s)"
              % (p.returncode, p.stderr.strip()[-200:]))
        ns.sh("umount %s" % w.state)
        p = run(["once", "-c", conf])
        ids = alert_ids(w)
        check(p.returncode == 0 and len(ids) == 5 and len(set(ids)) == 5,
              "read-only: writable again, the 2 new items alert, nothing twice (%d)" % len(ids))
    finally:
        ns.sh("umount %s 2>/dev/null" % w.state)
        w.cleanup()


def test_full(srv, ns):
    w = Workdir()
    fill = "dd if=/dev/zero of=%s/filler bs=4k 2>/dev/null; sync" % w.state
    try:
        os.makedirs(w.state)
        conf = config(w, srv, w.state)
        r = ns.sh("mount -t tmpfs -o size=8m,mode=0700 fwfull %s" % w.state)
        check(r.returncode == 0, "full: an 8 MB tmpfs holds the state dir (%s)" % r.stderr)
        srv.routes["/feed"] = Route(feed(2, "full"))
        p = ns.run(["once", "-c", conf])
        check(p.returncode == 0 and len(alert_ids(w)) == 2,
              "full: once on the small tmpfs works (rc %d, %s)" % (p.returncode,
                                                                   p.stderr.strip()[-200:]))
        # Full before the start: SQLite cannot even make its -shm file.
        ns.sh(fill)
        df = ns.sh("df -k %s | tail -1" % w.state).stdout.split()
        check(len(df) > 3 and df[3] == "0", "full: the tmpfs is full (%s)" % df)
        srv.routes["/feed"] = Route(feed(300, "full"))
        p = ns.run(["once", "-c", conf])
        refused(p, "full at start", "No space left on device")
        check(len(alert_ids(w)) == 2, "full at start: no alert was sent without its record")
        ns.sh("rm -f %s/filler" % w.state)

        # Full while the daemon runs: polls cannot be stored, then space comes back.
        srv.routes["/feed"] = Route(feed(2, "full"))
        before = srv.count("/feed")
        d = ns.start(["run", "-c", conf])
        check(wait_for(lambda: srv.count("/feed") >= before + 1, timeout=30),
              "full: run polls while there is space")
        ns.sh(fill)
        srv.routes["/feed"] = Route(feed(300, "full"))
        saw = wait_for(lambda: "cannot store the poll" in output(d)[1], timeout=30)
        err = output(d)[1]
        line = [l for l in err.splitlines() if "cannot store the poll" in l][:1]
        print("full: %s" % line)
        check(saw, "full: run logs that it cannot store the poll")
        check(saw and ("full" in line[0] or "No space" in line[0]),
              "full: the error says the disk is full (%s)" % line)
        check(d.poll() is None, "full: run keeps running on a full disk")
        check(wait_for(lambda: any("cannot store the poll" in l and "in a row" in l
                                   for l in output(d)[1].splitlines()), timeout=10),
              "full: a poll that cannot be stored is a failed poll (counted in the error streak)")
        check(len(alert_ids(w)) == 2, "full: no alert was sent without its record")
        ns.sh("rm -f %s/filler" % w.state)
        # 2 items seen before, 298 new: 300 alerts in all, each once.
        got = wait_for(lambda: len(alert_ids(w)) >= 300, timeout=60)
        rc, out, err = stop(d, signal.SIGTERM)
        ids = alert_ids(w)
        check(got and len(ids) == 300 and len(set(ids)) == 300,
              "full: once space is back every item of the full period alerts once (%d)"
              % len(ids))
        check(rc == 0 and no_sanitizer(err), "full: run stops cleanly (rc %d, %s)"
              % (rc, err.strip()[-300:]))
    finally:
        ns.sh("umount %s 2>/dev/null" % w.state)
        w.cleanup()


def test_full_delivery(srv, ns):
    """The disk fills while alerts wait for a webhook: deliveries succeed but their outcome
    cannot be recorded. Each alert must reach the receiver once while the disk is full (not
    once per outbox pass), and once space is back the outbox empties without more copies."""
    w = Workdir()
    rcv = Receiver()
    rcv.mode = 503
    fill = "dd if=/dev/zero of=%s/filler bs=4k 2>/dev/null; sync" % w.state
    try:
        os.makedirs(w.state)
        conf = w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feed_failing_after = 0;
max_alerts_per_poll = 0;  # hundreds of alerts in one poll, each counted on its own
feeds = ( { name = "world"; url = %s; interval = 1; } );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; group = "item"; outputs = [ "hook" ]; } );
outputs = ( { name = "hook"; plugin = "webhook"; url = %s; retry_base = 1; retry_max = 1;
              max_attempts = 1000; rate_limit = 0; } );
""" % (q(w.state), q(srv.url("/feed")), q(rcv.url("/hook"))))
        ns.sh("mount -t tmpfs -o size=8m,mode=0700 fwfull2 %s" % w.state)
        srv.routes["/feed"] = Route(feed(20, "dlv"))
        d = ns.start(["run", "-c", conf])
        check(wait_for(lambda: len(set(r[2].get("Idempotency-Key") for r in rcv.log("/hook")))
                       >= 20, timeout=40),
              "full delivery: 20 alerts were tried against a receiver answering 503")
        ns.sh(fill)
        rcv.mode = "ok"
        wait_for(lambda: d.poll() is not None, timeout=10)  # 10 s of a full disk
        ok_full = [r[2].get("Idempotency-Key") for r in rcv.log("/hook", 200)]
        per = collections.Counter(ok_full)
        print("full delivery: %d deliveries of %d alerts while the disk was full (max %d "
              "copies of one)" % (len(ok_full), len(per), max(per.values() or [0])))
        check(d.poll() is None, "full delivery: the daemon keeps running")
        check(len(per) == 20 and max(per.values() or [0]) == 1,
              "full delivery: each alert reaches the receiver once while its outcome cannot "
              "be recorded (%d deliveries of %d alerts)" % (len(ok_full), len(per)))
        ns.sh("rm -f %s/filler" % w.state)
        time.sleep(4)
        rc, out, err = stop(d, signal.SIGTERM)
        p = ns.run(["status", "-c", conf, "--json"])
        pend = json.loads(p.stdout)["outputs"][0]["pending"] if p.returncode == 0 else -1
        allok = collections.Counter(r[2].get("Idempotency-Key") for r in rcv.log("/hook", 200))
        check(pend == 0, "full delivery: space back, the outbox is empty (%d pending)" % pend)
        check(len(allok) == 20 and max(allok.values()) == 1,
              "full delivery: in all, each alert delivered once (%d deliveries, %d alerts)"
              % (sum(allok.values()), len(allok)))
        check(rc == 0 and no_sanitizer(err), "full delivery: stops cleanly (rc %d)" % rc)
    finally:
        rcv.close()
        ns.sh("umount %s 2>/dev/null" % w.state)
        w.cleanup()


def sql(db, statement):
    """One statement on db, committed, the connection closed (so that the WAL is
    checkpointed into the file): its first row."""
    c = sqlite3.connect(db)
    try:
        row = c.execute(statement).fetchone()
        c.commit()
        return row
    finally:
        c.close()


def garbage(b, rnd):
    """The database bytes b with pages 2 and 3 (4 KiB pages) overwritten by random bytes."""
    return b[:4096] + rnd.randbytes(8192) + b[4096 + 8192:]


def corrupt_cases(srv):
    w = Workdir()
    try:
        conf = config(w, srv, w.state)
        db = os.path.join(w.state, "feedwatch.db")
        srv.routes["/feed"] = Route(feed(400, "cor"))
        p = run(["once", "-c", conf])
        check(p.returncode == 0 and os.path.exists(db), "corrupt: a database with 400 items")
        check(not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0,
              "corrupt: the WAL is checkpointed at a clean exit")
        stamp = sql(db, "SELECT v FROM meta WHERE k = 'checked'")
        check(stamp is not None and abs(stamp[0] - time.time()) < 120,
              "corrupt: the new database is stamped as checked (%r)" % (stamp,))
        # a check is due (the last a day ago): the corruption is found at open
        sql(db, "UPDATE meta SET v = v - 86400 WHERE k = 'checked'")
        good = open(db, "rb").read()
        size = len(good)
        rnd = random.Random(8)
        cases = [
            ("bad header", lambda b: b"Definitely not SQLite" + b[21:], "not a SQLite database"),
            ("garbage pages", lambda b: garbage(b, rnd), "corrupt"),
            ("truncated", lambda b: b[:size // 3], "malformed"),
        ]
        for name, mangle, reason in cases:
            bad = mangle(good)
            with open(db, "wb") as f:
                f.write(bad)
            before = sha(db)
            for cmd in (["once"], ["status", "--json"], ["outbox", "list"]):
                p = run(cmd[:1] + ["-c", conf] + cmd[1:], timeout=60)
                check(p.returncode == 2 and no_sanitizer(p.stderr),
                      "corrupt (%s): %s exits 2, no crash (rc %d: %s)"
                      % (name, cmd[0], p.returncode, p.stderr.strip()[-200:]))
                check(reason in p.stderr.lower() or reason in p.stderr,
                      "corrupt (%s): %s names the problem (%r)" % (name, cmd[0], reason))
            check(sha(db) == before, "corrupt (%s): the file is left as it was" % name)
            check(not os.path.exists(db + "-journal"), "corrupt (%s): no journal left" % name)
        # checked an hour ago: no check at open (a store of gigabytes is not read whole at
        # every `once`), so the corruption shows as the statements' errors; no crash, no
        # alert, and the next open checks and refuses the store
        with open(db, "wb") as f:
            f.write(good)
        sql(db, "UPDATE meta SET v = CAST(strftime('%s', 'now') AS INTEGER) - 3600 "
            "WHERE k = 'checked'")
        fresh = open(db, "rb").read()
        with open(db, "wb") as f:
            f.write(garbage(fresh, random.Random(8)))
        p = run(["once", "-c", conf], timeout=60)
        check(p.returncode == 1 and no_sanitizer(p.stderr) and "malformed" in p.stderr,
              "corrupt between checks: once fails its polls, no crash (rc %d: %s)"
              % (p.returncode, p.stderr.strip()[-200:]))
        p = run(["once", "-c", conf], timeout=60)
        check(p.returncode == 2 and "corrupt" in p.stderr,
              "corrupt between checks: the next open checks and refuses (rc %d: %s)"
              % (p.returncode, p.stderr.strip()[-200:]))
        check(len(alert_ids(w)) == 400, "corrupt: no alert twice (%d)" % len(alert_ids(w)))
    finally:
        w.cleanup()


def locked_cases(srv):
    w = Workdir()
    try:
        conf = config(w, srv, w.state)
        db = os.path.join(w.state, "feedwatch.db")
        srv.routes["/feed"] = Route(feed(2, "lock"))
        p = run(["once", "-c", conf])
        check(p.returncode == 0 and len(alert_ids(w)) == 2, "locked: a database with 2 items")
        srv.routes["/feed"] = Route(feed(4, "lock"))

        # A writer holds the write lock (WAL: readers still read).
        con = sqlite3.connect(db, isolation_level=None, timeout=1)
        con.execute("BEGIN EXCLUSIVE")
        p = run(["once", "-c", conf], timeout=90)
        print("locked (write lock): rc %d; %s" % (p.returncode, p.stderr.strip()[-300:]))
        check(p.returncode != 0 and "locked" in p.stderr,
              "locked (write lock): once fails and says the database is locked (rc %d)"
              % p.returncode)
        check(no_sanitizer(p.stderr), "locked (write lock): no sanitizer report")
        check(len(alert_ids(w)) == 2, "locked (write lock): no alert without its record")
        con.execute("ROLLBACK")

        # Exclusive locking mode: the file cannot even be read.
        con.execute("PRAGMA locking_mode = EXCLUSIVE")
        con.execute("BEGIN EXCLUSIVE")
        con.execute("CREATE TABLE IF NOT EXISTS fw_test_lock (x)")
        p = run(["once", "-c", conf], timeout=90)
        refused(p, "locked (exclusive)", "locked")
        check(len(alert_ids(w)) == 2, "locked (exclusive): no alert without its record")
        con.execute("ROLLBACK")
        con.close()

        p = run(["once", "-c", conf])
        ids = alert_ids(w)
        check(p.returncode == 0 and len(ids) == 4 and len(set(ids)) == 4,
              "locked: released, the 2 new items alert once (%d, rc %d)"
              % (len(ids), p.returncode))
    finally:
        w.cleanup()


def namespace_cases(srv, ns):
    if not ns.ok:
        print("SKIP read-only and full disk: no private mount namespace (unshare -m)")
        return
    test_read_only(srv, ns)
    test_full(srv, ns)
    test_full_delivery(srv, ns)


if __name__ == "__main__":
    fwtest.main(lambda srv, ns: corrupt_cases(srv), lambda srv, ns: locked_cases(srv),
                namespace_cases, shared=(fwtest.Server, fwtest.MountNS), each=())
