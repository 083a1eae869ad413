#!/usr/bin/env python3
"""The real daemon on a PostgreSQL store (issue 21): `store = "postgresql://..."` against a
real PostgreSQL 15 (pgserver.py) and a loopback feed. The matching item is alerted once
through the log plugin; `once` again, `run`, a restart and `run` again alert nothing more
(the items seen, the feed's ETag and the alerts live in PostgreSQL, and no SQLite file is
made); a new matching item alerts once more; `feedwatch status` and `feedwatch alerts`
read the PostgreSQL store. A second node with its own state directory and log, on the same
database, alerts nothing the first one alerted (seen items and alerts are shared). The
password of a store URL is never written to a log. PostgreSQL stopped (immediate
shutdown, as a crash) under a running daemon and started again: the daemon goes on, and
what the feed published meanwhile is alerted once when the server is back. A host that
told one node to rest (429, Retry-After) rests for every node of the store, and
host_concurrency holds for all the nodes together."""
import time
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, Server, Workdir, check, q, read_jsonl, rss_feed, run, start, \
    status_json, stop, wait_for  # noqa: E402
from pgserver import PgServer  # noqa: E402

PASSWORD = "s3cr3t-pw-21"

ITEMS = [
    ("a1", "Putin arrives in Pyongyang", "https://example.org/a1", "A state visit."),
    ("b1", "Seoul opens a bridge", "https://example.org/b1", "Traffic news."),
]
NEW = ("a2", "Putin and Kim sign a treaty", "https://example.org/a2", "Partnership.")


def config(w, url, feeds, interval=1, extra=""):
    """A config on the store url polling feeds ((name, URL) pairs) every interval seconds,
    alerting items that name Putin (watchlist "putin") to w's alerts.jsonl, with extra
    top-level settings; readable by its owner only (the store's URL may hold a
    password)."""
    path = w.write("feedwatch.conf", """%s
state_dir = %s;
store = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them
first_poll_max_age = 0;
feeds = ( %s );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; group = "item"; outputs = [ "log" ]; } );
outputs = ( { name = "log"; plugin = "log"; path = %s; format = "json"; } );
""" % (extra, q(w.state), q(url), ", ".join('{ name = "%s"; url = %s; interval = %d; }'
                                     % (n, q(u), interval) for n, u in feeds),
       q(w.file("alerts.jsonl"))))
    os.chmod(path, 0o600)
    return path


def one_feed(srv):
    return [("world", srv.url("/feed.xml"))]


def rc_err(p):
    return "rc %d: %s" % (p.returncode, (p.stderr or "").strip()[-400:])


def with_password(url):
    """The URL with a password (trust authentication on loopback ignores it)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return "%s://%s:%s@%s" % (scheme, user, PASSWORD, host)


def alerts_json(conf):
    import json
    p = run(["alerts", "--json", "-c", conf])
    return p, [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def pipeline(srv, pg, w):
    srv.routes["/feed.xml"] = Route(rss_feed(ITEMS), etag='"v1"',
                                    headers={"Content-Type": "application/rss+xml"})
    url = with_password(pg.database())
    conf = config(w, url, one_feed(srv))
    logs = []

    p = run(["check", "-c", conf])
    check(p.returncode == 0 and "readable by others" not in p.stderr,
          "check accepts the config with a PostgreSQL store (%s)" % rc_err(p))
    os.chmod(conf, 0o644)
    p = run(["check", "-c", conf])
    check(p.returncode == 0 and "readable by others and holds a secret" in p.stderr
          and PASSWORD not in p.stderr,
          "check warns that a config readable by others holds the store's password, "
          "without printing it (%s)" % rc_err(p))
    os.chmod(conf, 0o600)

    p = run(["once", "-c", conf])
    logs.append(p.stderr)
    check(p.returncode == 0, "the first once exits 0 (%s)" % rc_err(p))
    got = read_jsonl(w.file("alerts.jsonl"))
    check([a["item"]["id"] for a in got] == ["a1"],
          "the matching item is alerted once, the other not (%s)" % [a["item"]["id"] for a in got])
    check(not os.path.exists(os.path.join(w.state, "feedwatch.db")),
          "no SQLite database is made beside the PostgreSQL store")
    db = url.rsplit("/", 1)[1]
    check(pg.psql("SELECT count(*) FROM items WHERE feed = 'world'", db=db).strip() == "2",
          "PostgreSQL holds the feed's two items")
    check(pg.psql("SELECT etag FROM feeds WHERE name = 'world'", db=db).strip() == '"v1"',
          "PostgreSQL holds the feed's ETag")

    p = run(["once", "-c", conf])
    logs.append(p.stderr)
    check(p.returncode == 0, "the second once exits 0 (%s)" % rc_err(p))
    last = srv.last("/feed.xml")
    check(last is not None and last[2].get("If-None-Match") == '"v1"',
          "the second poll is a conditional GET with the ETag read back from PostgreSQL")
    check(len(read_jsonl(w.file("alerts.jsonl"))) == 1, "the second once alerts nothing")

    # The daemon, restarted once in the middle; the feed answers 200 each time (no ETag).
    srv.routes["/feed.xml"] = Route(rss_feed(ITEMS))
    for round_ in (1, 2):
        before = srv.count("/feed.xml")
        d = start(["run", "-c", conf])
        polled = wait_for(lambda: srv.count("/feed.xml") >= before + 2, timeout=30)
        rc, out, err = stop(d, signal.SIGTERM)
        logs.append(err)
        check(polled, "run round %d polled the feed (twice)" % round_)
        check(rc == 0, "run round %d stops cleanly on SIGTERM (rc %d, %s)"
              % (round_, rc, err.strip()[-300:]))
    check(len(read_jsonl(w.file("alerts.jsonl"))) == 1,
          "still exactly one alert after run, restart, run")

    srv.routes["/feed.xml"] = Route(rss_feed(ITEMS + [NEW]))
    p = run(["once", "-c", conf])
    logs.append(p.stderr)
    got = read_jsonl(w.file("alerts.jsonl"))
    check(p.returncode == 0 and [a["item"]["id"] for a in got] == ["a1", "a2"],
          "a new matching item alerts once more (%s; %s)"
          % ([a["item"]["id"] for a in got], rc_err(p)))

    st = status_json(conf)
    feeds = {f["name"]: f for f in st.get("feeds", [])}
    world = feeds.get("world", {})
    check(world.get("http_status") == 200 and world.get("error_streak") == 0
          and world.get("last_poll", "-") != "-" and world.get("items_seen") == 3
          and world.get("alerts") == 2,
          "status reads the feed's state from PostgreSQL (%s)" % world)
    check(st.get("outputs") == [{"name": "log", "pending": 0, "dead": 0}],
          "status: nothing pending or dead in the outbox (%s)" % st.get("outputs"))
    p, rows = alerts_json(conf)
    check(p.returncode == 0 and [(a["watchlist"], a["item_id"]) for a in rows]
          == [("putin", "a2"), ("putin", "a1")],
          "alerts lists both alerts from PostgreSQL, newest first (%s; %s)"
          % ([(a.get("watchlist"), a.get("item_id")) for a in rows], rc_err(p)))
    check(all([o["state"] for o in a.get("outputs", [])] == ["delivered"] for a in rows)
          and rows, "each delivered to the log")

    # A second node: its own state directory and log, the same database and config.
    w2 = Workdir()
    try:
        conf2 = config(w2, url, one_feed(srv))
        p = run(["once", "-c", conf2])
        logs.append(p.stderr)
        check(p.returncode == 0, "a second node's once exits 0 (%s)" % rc_err(p))
        check(read_jsonl(w2.file("alerts.jsonl")) == [],
              "the second node alerts nothing the first one alerted: the items are shared")
        check(len(read_jsonl(w.file("alerts.jsonl"))) == 2, "nor does the first one again")
    finally:
        w2.cleanup()

    check(all(PASSWORD not in e for e in logs),
          "the store's password is in no log of once or run")


def refused(srv, pg, w):
    """A store the daemon cannot use is refused, with the password kept out of the log."""
    srv.routes["/feed.xml"] = Route(rss_feed(ITEMS))
    url = with_password(pg.database()).rsplit("/", 1)[0] + "/no_such_db"
    conf = config(w, url, one_feed(srv))
    p = run(["once", "-c", conf])
    check(p.returncode == 2 and "cannot open the store" in p.stderr and PASSWORD not in p.stderr,
          "once refuses a database that is not there, exit 2, password withheld (%s)"
          % rc_err(p))
    check(read_jsonl(w.file("alerts.jsonl")) == [], "and alerts nothing")
    p = run(["status", "-c", conf])
    check(p.returncode == 2 and PASSWORD not in p.stderr + p.stdout,
          "status too (%s)" % rc_err(p))


def host_rest(srv, pg, w):
    """A host's 429 told to one node is kept by the others: a running node with feeds due
    later makes no request to that host once another node has stored its rest."""
    n = 3
    for i in range(n):
        srv.routes["/r%d.xml" % i] = Route(rss_feed(ITEMS[1:]))
    url = with_password(pg.database())
    conf = config(w, url, [("r%d" % i, srv.url("/r%d.xml" % i)) for i in range(n)], 25)
    gets = lambda: sum(srv.count("/r%d.xml" % i) for i in range(n))  # noqa: E731
    d = start(["run", "-c", conf])
    check(wait_for(lambda: gets() >= n, timeout=20), "the running node polls its feeds")
    time.sleep(1)
    for i in range(n):
        srv.routes["/r%d.xml" % i] = Route(b"slow down", status=429,
                                           headers={"Retry-After": "600"})
    # another node, once, polls one feed of the host (the running node holds the others'
    # claims but that one's, handed over): told to rest, it stores the rest
    w2 = Workdir()
    try:
        conf2 = config(w2, url, [("r0", srv.url("/r0.xml"))], 25)
        p = run(["once", "-c", conf2])
        check("429" in p.stderr or "rest" in p.stderr, "the other node is told to rest (%s)"
              % rc_err(p))
    finally:
        w2.cleanup()
    told = gets()
    check(pg.psql("SELECT count(*) FROM hosts WHERE rest_until > extract(epoch from now())",
                  db=url.rsplit("/", 1)[1]).strip() == "1", "the rest is in the store")
    # the running node's feeds come due 25 s after its first round: it must not ask
    time.sleep(32)
    after = gets() - told
    rc, _, err = stop(d, signal.SIGTERM)
    check(after == 0, "the running node makes no request to the resting host (%d GETs)" % after)
    check(rc == 0, "it stops cleanly (rc %d)" % rc)


def host_limit(srv, pg, w):
    """host_concurrency counts the transfers of every node: three running nodes with 12
    slow feeds on one host (host_concurrency = 2) never have more than 2 requests to it at
    once between them, and every feed is still polled."""
    n, lock = 12, threading.Lock()
    state = {"now": 0, "max": 0, "done": 0}
    body = rss_feed(ITEMS[1:]).encode()

    def slow(req, _):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            time.sleep(0.5)
            req.send_response(200)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)
            with lock:
                state["done"] += 1
        finally:
            with lock:
                state["now"] -= 1

    for i in range(n):
        srv.routes["/h%d.xml" % i] = Route(handler=slow)
    url = pg.database()
    feeds = [("h%d" % i, srv.url("/h%d.xml" % i)) for i in range(n)]
    nodes, dirs = [], [w, Workdir(), Workdir()]
    try:
        for k, d in enumerate(dirs):
            conf = config(d, url, feeds, 4, 'node = "n%d";\nhost_concurrency = 2;\n'
                          'concurrency = 8;' % k)
            nodes.append(start(["run", "-c", conf]))
        check(wait_for(lambda: state["done"] >= 2 * n, timeout=60),
              "the nodes poll every feed, twice over (%d polls)" % state["done"])
        polled = [srv.count("/h%d.xml" % i) for i in range(n)]
        for d in nodes:
            rc, _, err = stop(d, signal.SIGTERM)
            check(rc == 0, "a node stops cleanly (rc %d, %s)" % (rc, err.strip()[-300:]))
    finally:
        for d in nodes:
            if d.poll() is None:
                d.kill()
        for d in dirs[1:]:
            d.cleanup()
    check(all(c >= 1 for c in polled), "each feed was polled (%s)" % polled)
    check(state["max"] == 2, "at most host_concurrency = 2 requests to the host at once across "
          "the 3 nodes, and 2 were reached (saw %d)" % state["max"])
    print("host_limit: %d polls, at most %d at once" % (state["done"], state["max"]))


def outage(srv, pg, w):
    """The server goes away under a running daemon of 20 feeds and comes back
    (docs/cluster.md, "what happens when a part fails"). Last: it stops the shared server."""
    n = 20
    for i in range(n):
        srv.routes["/f%d.xml" % i] = Route(rss_feed(ITEMS if i == 0 else ITEMS[1:]))
    url = with_password(pg.database())
    conf = config(w, url, [("f%d" % i, srv.url("/f%d.xml" % i)) for i in range(n)])
    ids = lambda: [a["item"]["id"] for a in read_jsonl(w.file("alerts.jsonl"))]  # noqa: E731
    gets = lambda: sum(srv.count("/f%d.xml" % i) for i in range(n))  # noqa: E731
    d = start(["run", "-c", conf])
    check(wait_for(lambda: ids() == ["a1"], timeout=30), "run alerts the matching item (%s)" % ids())

    pg.stop(signal.SIGQUIT)  # immediate shutdown: every connection cut, as in a crash
    srv.routes["/f0.xml"] = Route(rss_feed(ITEMS + [NEW]))
    down = time.monotonic()
    polled = gets()
    time.sleep(12)
    check(d.poll() is None, "the daemon runs on while PostgreSQL is down")
    check(ids() == ["a1"], "nothing is alerted while the store is down (%s)" % ids())
    check(gets() <= polled + n, "no feed is polled while no claim can be taken (%d GETs in "
          "12 s; at most the %d in flight at the cut)" % (gets() - polled, n))

    pg.start()
    back = time.monotonic()
    came = wait_for(lambda: "a2" in ids(), timeout=60)
    took = time.monotonic() - back
    check(came, "the item published while PostgreSQL was down is alerted once it is back "
          "(%s, %.1f s after the restart, %.1f s down)" % (ids(), took, back - down))
    time.sleep(3)
    check(ids() == ["a1", "a2"], "each alerted once (%s)" % ids())
    rc, _, err = stop(d, signal.SIGTERM)
    check(rc == 0, "the daemon stops cleanly (rc %d, %s)" % (rc, err.strip()[-300:]))
    check(PASSWORD not in err, "the store's password is in no log line about the outage")
    said = err.count("cannot claim polls")
    check(said == 1 and "polls claimed again" in err,
          "the failed claims are said once for the node, not once per feed and retry (%d "
          "times), and their end is said" % said)
    check("cannot claim its poll" not in err, "no per-feed claim warning")
    print("outage: a2 alerted %.1f s after PostgreSQL started again" % took)


if __name__ == "__main__":
    fwtest.main(pipeline, refused, host_rest, host_limit, outage, shared=(Server, PgServer))
