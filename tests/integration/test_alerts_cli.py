#!/usr/bin/env python3
"""`feedwatch alerts` (issue 18) through the real binary after real polls (`once` against a
loopback feed): newest first, with title, link, watchlist, why, and per output delivered
(a webhook that answered 200, the log), pending (a webhook whose receiver is down) or dead
(a webhook that answered 400); --watchlist and --since narrow it; --json; before the first
run and with nothing to show."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Receiver, Route, check, q, rss_feed, run  # noqa: E402


def rc_err(p):
    return "rc %d: %s" % (p.returncode, (p.stderr or "").strip()[-400:])


def config(w, srv, ok, bad, down_port):
    return w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; } );
entities = { putin = [ "Putin" ]; north_korea = [ "North Korea", "Pyongyang" ]; };
watchlists = (
  { name = "putin"; match = "@putin"; outputs = [ "log", "ok", "bad", "down" ]; },
  { name = "korea"; match = "@north_korea"; outputs = [ "log" ]; }
);
outputs = (
  { name = "log"; plugin = "log"; path = %s; },
  { name = "ok"; plugin = "webhook"; url = %s; },
  { name = "bad"; plugin = "webhook"; url = %s; max_attempts = 1; },
  { name = "down"; plugin = "webhook"; url = "http://127.0.0.1:%d/in"; retry_base = "1h"; }
);
""" % (q(w.state), q(srv.url("/feed.xml")), q(w.file("alerts.jsonl")), q(ok.url("/ok")),
       q(bad.url("/bad")), down_port))


def alerts(conf, *args):
    p = run(["alerts", "--json", "-c", conf] + list(args))
    return p, [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def history(srv, w):
    ok, bad, down = Receiver(), Receiver(), Receiver()
    bad.mode = 400
    down_port = down.port
    down.close()  # nothing listens there: every attempt fails, the alert stays pending
    try:
        conf = config(w, srv, ok, bad, down_port)
        p = run(["alerts", "-c", conf])
        check(p.returncode == 1 and "no database yet" in p.stderr,
              "before the first run: no database yet, exit 1 (%s)" % rc_err(p))
        srv.routes["/feed.xml"] = Route(rss_feed([
            ("a1", "Putin arrives in Pyongyang", "https://example.org/a1", "state visit")]))
        p = run(["once", "-c", conf])
        check(p.returncode == 4 and "1 pending, 1 dead" in p.stderr,
              "the first once exits 4: an alert dead, one pending (%s)" % rc_err(p))
        time.sleep(5)  # created is in whole seconds: --since 3s then parts the runs
        srv.routes["/feed.xml"] = Route(rss_feed([
            ("a1", "Putin arrives in Pyongyang", "https://example.org/a1", "state visit"),
            ("a2", "North Korea opens a road", "https://example.org/a2?x=1&y=2", "roads")]))
        p = run(["once", "-c", conf])
        check(p.returncode == 0, "the second once (%s)" % rc_err(p))

        p, got = alerts(conf)
        check(p.returncode == 0 and [(a["watchlist"], a["title"]) for a in got]
              == [("korea", "North Korea opens a road"),
                  ("korea", "Putin arrives in Pyongyang"),
                  ("putin", "Putin arrives in Pyongyang")]
              or [(a["watchlist"], a["title"]) for a in got]
              == [("korea", "North Korea opens a road"),
                  ("putin", "Putin arrives in Pyongyang"),
                  ("korea", "Putin arrives in Pyongyang")],
              "--json: three alerts, newest first (%s; %s)"
              % ([(a["watchlist"], a["title"]) for a in got], rc_err(p)))
        by = {(a["watchlist"], a["item_id"]): a for a in got}
        putin = by.get(("putin", "a1"), {})
        states = {o["output"]: o["state"] for o in putin.get("outputs", [])}
        check(states == {"log": "delivered", "ok": "delivered", "bad": "dead",
                         "down": "pending"},
              "per output: delivered, dead, pending (%s)" % putin.get("outputs"))
        dead = [o for o in putin.get("outputs", []) if o["output"] == "bad"]
        check(dead and "400" in (dead[0].get("last_error") or ""),
              "the dead one keeps its last error (%s)" % dead)
        check(putin.get("link") == "https://example.org/a1" and putin.get("feed") == "world",
              "title, link and feed")
        ex = putin.get("explain") or [{}]
        check(ex[0].get("term") == "@putin" and ex[0].get("text") == "Putin"
              and ex[0].get("field") == "title", "explain from the alert (%s)" % ex)
        road = by.get(("korea", "a2"), {})
        check(road.get("link") == "https://example.org/a2?x=1&y=2"
              and [o["state"] for o in road.get("outputs", [])] == ["delivered"],
              "the korea alert: one output, delivered")
        check(len(ok.log("/ok")) == 1 and len(bad.log("/bad")) == 1,
              "the receivers saw one alert each (the states are real)")

        p, got = alerts(conf, "--watchlist", "putin")
        check([a["watchlist"] for a in got] == ["putin"], "--watchlist putin: only its alert")
        p, got = alerts(conf, "--since", "3s")
        check([a["item_id"] for a in got] == ["a2"],
              "--since 3s: only the alert of the second poll (%s)" % [a["item_id"] for a in got])
        p, got = alerts(conf, "--watchlist", "nope")
        check(p.returncode == 0 and got == [] and "no alerts" in p.stderr,
              "nothing to show: said on stderr, exit 0")
        p = run(["alerts", "--since", "soon", "-c", conf])
        check(p.returncode == 2 and "'soon' is not a duration" in p.stderr,
              "a bad --since: exit 2")

        p = run(["alerts", "-c", conf, "--watchlist", "putin"])
        lines = p.stdout.splitlines()
        check(p.returncode == 0 and len(lines) == 4 and "putin  world: Putin arrives in "
              "Pyongyang" in lines[0] and lines[1] == "  https://example.org/a1"
              and lines[2] == '  why: @putin "Putin" in title'
              and lines[3].startswith("  outputs: bad dead (1 attempts: ")
              and "down pending" in lines[3] and "log delivered; ok delivered" in lines[3],
              "readable: when, watchlist, feed, title; link; why; outputs (%s)" % lines)
    finally:
        ok.close()
        bad.close()


if __name__ == "__main__":
    fwtest.main(history)
