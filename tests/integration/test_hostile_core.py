#!/usr/bin/env python3
"""What one hostile feed or a second process could do to the rest (issue 15, points 1, 4, 5,
13 and 15), through the real binary, a loopback feed server and the real SQLite file:

- an item with a 5,000-byte guid, one whose 4,100-byte link is its id, and one whose alert
  would be over a megabyte do not silence the real matching item beside them (1);
- a second `run` or `once` on the same state directory exits at once naming the holder's
  pid, while `status` and `outbox list` still work (4);
- a poll with 100 fresh matching items raises at most max_alerts_per_poll alerts and one
  notice, the rest are remembered; old items re-issued under fresh guids raise nothing (5),
  nor does the second of two copies in one poll;
- a year-long Retry-After rests the host for at most a day, and `status` shows it (13);
- a zero-length database file is refused, not taken as new (15)."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (Route, Workdir, check, output_config, q, read_jsonl, rss_feed,  # noqa: E402
                    run, start, status_json, stop, wait_for)


def alerts(path):
    return read_jsonl(path)


def item_ids(path):
    return [a["item"]["id"] for a in alerts(path) if "item" in a]


def log_conf(w, srv, extra=""):
    log = w.file("alerts.jsonl")
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "file"; plugin = "log"; path = %s; format = "json"; rate_limit = 0;' % q(log)],
        extra=extra)
    return conf, log


def test_oversized_items(srv):
    w = Workdir()
    try:
        conf, log = log_conf(w, srv)
        big_cat = "".join("<category>Putin %s</category>" % ("c%d" % k * 125000)
                          for k in range(5))
        doc = rss_feed([("first", "Weather", "https://example.org/w", "rain"),
                        ("g" * 5000, "Putin long guid", "https://example.org/g", "x"),
                        ("real", "Putin arrives in Pyongyang", "https://example.org/real",
                         "the story")])
        # an item whose id is its 4,100-byte link (no guid), and one with five 250 KB
        # categories (an alert of over a megabyte)
        extra = ("<item><title>Putin long link</title><link>https://example.org/%s</link>"
                 "</item><item><title>Putin categories</title><guid>cats</guid>%s</item>"
                 % ("l" * 4100, big_cat))
        doc = doc.replace("</channel>", extra + "</channel>")
        srv.routes["/feed.xml"] = Route(doc)
        p = run(["once", "-c", conf])
        check(p.returncode == 0, "oversized items: once succeeds (rc %d, %s)"
              % (p.returncode, p.stderr.strip()[-400:]))
        ids = item_ids(log)
        check("real" in ids, "oversized items: the real matching item beside them alerts (%s)"
              % [i[:20] for i in ids])
        check(any(i.startswith("sha:") for i in ids),
              "oversized items: an over-long id is identified by a hash of it")
        check(len(ids) == 4, "oversized items: every matching item alerts once (%d)" % len(ids))
        check(all(len(json.dumps(a)) < 1024 * 1024 for a in alerts(log)),
              "oversized items: no alert over a megabyte")
        st = status_json(conf)
        feed = (st.get("feeds") or [{}])[0]
        check(feed.get("error_streak") == 0 and not feed.get("last_error"),
              "oversized items: the poll is stored, no error (%s)" % feed)
        p = run(["once", "-c", conf])
        check(p.returncode == 0 and len(item_ids(log)) == 4,
              "oversized items: the next poll alerts nothing again (%d)" % len(item_ids(log)))
    finally:
        w.cleanup()


def test_lock(srv):
    w = Workdir()
    try:
        conf, log = log_conf(w, srv)
        srv.routes["/feed.xml"] = Route(rss_feed([("a", "Putin", "https://example.org/a", "x")]))
        d = start(["run", "-c", conf])
        check(wait_for(lambda: len(item_ids(log)) == 1, timeout=30), "lock: the daemon runs")
        t0 = time.monotonic()
        p = run(["once", "-c", conf], timeout=30)
        took = time.monotonic() - t0
        check(p.returncode == 2, "lock: a second process exits 2 (rc %d)" % p.returncode)
        check(("pid %d" % d.pid) in p.stderr and "running" in p.stderr,
              "lock: its message names the holder's pid (%s)" % p.stderr.strip()[-300:])
        check(took < 10, "lock: at once (%.1f s)" % took)
        try:
            p2 = run(["run", "-c", conf], timeout=20)
            rc2, err2 = p2.returncode, p2.stderr
        except subprocess.TimeoutExpired:
            rc2, err2 = -999, ""
        check(rc2 == 2 and ("pid %d" % d.pid) in err2, "lock: a second run exits too (rc %d)" % rc2)
        check(run(["status", "-c", conf]).returncode == 0, "lock: status works beside it")
        check(run(["outbox", "-c", conf, "list"]).returncode == 0,
              "lock: outbox list works beside it")
        rc, _, err = stop(d)
        check(rc == 0, "lock: the daemon stops cleanly (rc %d)" % rc)
        p = run(["once", "-c", conf])
        check(p.returncode == 0, "lock: released at exit (rc %d, %s)"
              % (p.returncode, p.stderr.strip()[-200:]))
        check(len(item_ids(log)) == 1, "lock: no alert twice (%d)" % len(item_ids(log)))
    finally:
        w.cleanup()


def test_storm(srv):
    w = Workdir()
    try:
        conf, log = log_conf(w, srv, extra="max_alerts_per_poll = 10;")
        many = [("s%d" % i, "Putin storm %d" % i, "https://example.org/s%d" % i, "body %d" % i)
                for i in range(100)]
        srv.routes["/feed.xml"] = Route(rss_feed(many))
        p = run(["once", "-c", conf])
        check(p.returncode == 0, "storm: once (rc %d, %s)" % (p.returncode, p.stderr[-300:]))
        got = alerts(log)
        items = [a for a in got if a.get("watchlist") == "putin"]
        notices = [a for a in got if a.get("watchlist") == "feedwatch:alert-storm"]
        check(len(items) == 10, "storm: max_alerts_per_poll items alert (%d)" % len(items))
        check(len(notices) == 1 and "90 more" in notices[0]["item"]["title"],
              "storm: one notice sums up the rest (%s)"
              % [n["item"]["title"] for n in notices])
        check("max_alerts_per_poll" in p.stderr, "storm: the log says so")
        p = run(["once", "-c", conf])
        check(len(alerts(log)) == 11, "storm: the rest are remembered, not alerted later (%d)"
              % len(alerts(log)))
        # The same items again under fresh guids: nothing new.
        reissued = [("new-" + g, t, l, d) for g, t, l, d in many[:30]]
        srv.routes["/feed.xml"] = Route(rss_feed(many + reissued))
        p = run(["once", "-c", conf])
        check(p.returncode == 0 and len(alerts(log)) == 11,
              "storm: items re-issued under fresh guids raise nothing (%d)" % len(alerts(log)))
        # A genuinely new item still alerts.
        srv.routes["/feed.xml"] = Route(rss_feed(many + [
            ("fresh", "Putin fresh news", "https://example.org/fresh", "new")]))
        run(["once", "-c", conf])
        check(item_ids(log)[-1:] == ["fresh"], "storm: a new item still alerts")
    finally:
        w.cleanup()


def test_copies_in_one_poll(srv):
    """Two items of one text under two guids in the same poll: the first alerts, the second
    is a re-issue of it. Its check sees only the items before it in the feed's order, so a
    poll that marked all its items before it checked any would alert neither."""
    w = Workdir()
    try:
        conf, log = log_conf(w, srv)
        copy = ("Putin copied", "https://example.org/copy", "the same text")
        srv.routes["/feed.xml"] = Route(rss_feed([("one",) + copy, ("two",) + copy,
                                                  ("other", "Putin other", "https://example.org/o",
                                                   "other text")]))
        p = run(["once", "-c", conf])
        check(p.returncode == 0, "copies: once (rc %d, %s)" % (p.returncode, p.stderr[-300:]))
        check(sorted(item_ids(log)) == ["one", "other"],
              "copies: the first of two copies alerts, the second does not (%s)" % item_ids(log))
    finally:
        w.cleanup()


def test_storm_default(srv):
    """With no setting at all, a feed of 1,000 fresh matches cannot flood an output."""
    w = Workdir()
    try:
        log = w.file("alerts.jsonl")
        conf = output_config(w, srv.url("/feed.xml"), [
            'name = "file"; plugin = "log"; path = %s; format = "json";' % q(log)])
        many = [("d%d" % i, "Putin flood %d" % i, "https://example.org/d%d" % i, "b")
                for i in range(1000)]
        srv.routes["/feed.xml"] = Route(rss_feed(many))
        p = run(["once", "-c", conf])
        check(p.returncode == 0, "default storm: once (rc %d)" % p.returncode)
        n = len(alerts(log))
        check(0 < n <= 25, "default storm: the defaults bound what one poll sends (%d)" % n)
    finally:
        w.cleanup()


def test_host_rest(srv):
    w = Workdir()
    try:
        conf, log = log_conf(w, srv)
        srv.routes["/feed.xml"] = Route(b"busy", status=503,
                                        headers={"Retry-After": "30000000"})  # 347 days
        p = run(["once", "-c", conf])
        check(p.returncode == 1, "host rest: a 503 fails the poll (rc %d)" % p.returncode)
        st = status_json(conf)
        rests = st.get("hosts_resting") or []
        check(len(rests) == 1 and rests[0].get("http_status") == 503,
              "host rest: status shows the resting host (%s)" % rests)
        if rests:
            until = time.mktime(time.strptime(rests[0]["until"], "%Y-%m-%dT%H:%M:%SZ")) \
                - time.timezone
            check(until <= time.time() + 86400 + 60,
                  "host rest: at most a day, not a year (%s)" % rests[0]["until"])
        p = run(["status", "-c", conf])
        check("HOST RESTING" in p.stdout and "127.0.0.1" in p.stdout,
              "host rest: the table shows it too")
    finally:
        w.cleanup()


def test_empty_database(srv):
    w = Workdir()
    try:
        conf, log = log_conf(w, srv)
        srv.routes["/feed.xml"] = Route(rss_feed([("a", "Putin", "https://example.org/a", "x")]))
        check(run(["once", "-c", conf]).returncode == 0, "empty db: a first run")
        check(len(item_ids(log)) == 1, "empty db: one alert")
        db = os.path.join(w.state, "feedwatch.db")
        for f in (db + "-wal", db + "-shm"):
            if os.path.exists(f):
                os.unlink(f)
        open(db, "w").close()
        p = run(["once", "-c", conf])
        check(p.returncode == 2 and "empty" in p.stderr,
              "empty db: refused (rc %d, %s)" % (p.returncode, p.stderr.strip()[-200:]))
        check(len(item_ids(log)) == 1, "empty db: nothing delivered again")
        check(os.path.getsize(db) == 0, "empty db: the file is left as it was")
        p = run(["status", "-c", conf])
        check(p.returncode == 2, "empty db: status refuses it too")
    finally:
        w.cleanup()


if __name__ == "__main__":
    fwtest.main(test_oversized_items, test_lock, test_storm, test_copies_in_one_poll,
                test_storm_default, test_host_rest,
                test_empty_database, each=())
