#!/usr/bin/env python3
"""Health: the Prometheus metrics file, `feedwatch status`, and the one alert of a feed that
has been failing for longer than feed_failing_after; the story index held to story_memory,
said in the log and the metrics."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, q, read_jsonl, run, start, stop, wait_for  # noqa: E402

FEED = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        '<item><title>Putin in Pyongyang</title><guid>g1</guid></item></channel></rss>')


def metrics(path):
    vals = {}
    if not os.path.exists(path):
        return vals
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        k, v = line.rsplit(" ", 1)
        vals[k] = float(v)
    return vals


def health(srv, w):
    srv.routes["/good"] = Route(FEED, etag='"g"')
    srv.routes["/bad"] = Route(b"no", status=500)
    prom = w.file("feedwatch.prom")
    conf = w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
metrics_file = %s;
metrics_interval = 1;
feed_failing_after = 2;
feed_failing_output = "ops";
feeds = ( { name = "good"; url = %s; interval = 1; }, { name = "bad"; url = %s; interval = 1; } );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "w"; match = "@putin"; group = "item"; outputs = [ "alerts" ]; } );
outputs = ( { name = "alerts"; plugin = "log"; path = %s; },
            { name = "ops"; plugin = "log"; path = %s; } );
""" % (q(w.state), q(prom), q(srv.url("/good")), q(srv.url("/bad")),
           q(w.file("alerts.jsonl")), q(w.file("ops.jsonl"))))
    t0 = time.time()
    d = start(["run", "-c", conf])
    check(wait_for(lambda: len(read_jsonl(w.file("ops.jsonl"))) >= 1, 40),
          "a feed failing longer than feed_failing_after raises an alert")
    check(wait_for(lambda: metrics(prom).get("feedwatch_polls_total", 0) >= 4, 20),
          "the metrics file is written and counts polls")
    rc, out, err = stop(d)
    check(rc == 0, "clean stop")
    ops = read_jsonl(w.file("ops.jsonl"))
    check(len(ops) == 1, "exactly one feed-failing alert for the streak (got %d)" % len(ops))
    if ops:
        check(ops[0]["watchlist"] == "feedwatch:feed-failing" and ops[0]["feed"]["name"] == "bad",
              "the feed-failing alert names the feed")
        check("500" in ops[0]["item"]["title"], "and the error (%s)" % ops[0]["item"]["title"])
    m = metrics(prom)
    check(m.get("feedwatch_poll_errors_total", 0) >= 2, "poll errors counted")
    check(m.get("feedwatch_not_modified_total", 0) >= 1, "304s counted")
    check(m.get('feedwatch_alerts_delivered_total{output="alerts"}') == 1, "deliveries per output (%s)" % m)
    check(m.get('feedwatch_alerts_pending{output="alerts"}') == 0, "pending per output")
    check(m.get("feedwatch_feeds_failing") == 1, "failing feeds gauge")
    check("feedwatch_loop_lag_seconds" in m, "loop lag is reported")
    check(not os.path.exists(prom + ".tmp"), "written atomically (no temp file left)")
    # The exposition format as Prometheus reads it: promtool (Debian's prometheus package).
    promtool = shutil.which("promtool")
    check(promtool is not None, "promtool is installed (scripts/install-deps.sh)")
    if promtool:
        with open(prom) as f:
            p = subprocess.run([promtool, "check", "metrics"], stdin=f, capture_output=True,
                               text=True)
        check(p.returncode == 0, "promtool check metrics accepts the file (%s)"
              % (p.stdout + p.stderr).strip()[-400:])
    text = open(prom).read()
    for fam in ("feedwatch_alerts_pending", "feedwatch_alerts_dead"):
        i = text.find("# TYPE %s gauge" % fam)
        check(i >= 0 and text[i:].split("\n")[1].startswith(fam + "{"),
              "%s: its samples right under its own HELP and TYPE" % fam)
    started = m.get("feedwatch_start_time_seconds", 0)
    check(abs(started - t0) < 30, "the start time is exact (%r, started at %.0f)" % (started, t0))
    good = m.get('feedwatch_feed_last_success_timestamp_seconds{feed="good"}', 0)
    check(t0 - 5 <= good <= time.time() + 5, "the good feed's last success is a timestamp (%r)"
          % good)
    check(m.get('feedwatch_feed_last_success_timestamp_seconds{feed="bad"}') == 0,
          "the failing feed never succeeded: 0")
    check(m.get('feedwatch_watchlist_alerts_total{watchlist="w"}') == 1,
          "alerts raised per watchlist")
    check(m.get('feedwatch_poll_duration_seconds_count') == m.get("feedwatch_polls_total") and
          m.get('feedwatch_poll_duration_seconds_bucket{le="+Inf"}') == m.get("feedwatch_polls_total"),
          "a poll-duration histogram with every poll")
    check(any(k.startswith("feedwatch_build_info{version=") for k in m), "build_info")
    check(m.get("feedwatch_story_index_items") == 1 and m.get("feedwatch_story_index_bytes", 0) > 0
          and m.get("feedwatch_story_index_evicted_total") == 0,
          "the story index: its one item, its bytes, nothing evicted")
    s = json.loads(run(["status", "-c", conf, "--json"]).stdout)
    feeds = {f["name"]: f for f in s["feeds"]}
    check(feeds["bad"]["http_status"] == 500 and feeds["bad"]["error_streak"] >= 2,
          "status shows the failing feed's HTTP status and streak")
    check(feeds["good"]["items_seen"] == 1 and feeds["good"]["alerts"] == 1,
          "status shows items seen and alerts per feed")
    outs = {o["name"]: o for o in s["outputs"]}
    check(outs["alerts"]["pending"] == 0 and outs["alerts"]["dead"] == 0, "status shows queues")


def story_memory(srv, w):
    """story_memory = 64K holds 257 items (256 bytes an item at most): a feed of 600
    distinct items fills it, the oldest leave early, counted, and the log says so once."""
    items = "".join("<item><title>Report %d on subject%d in region%d</title><guid>r%d</guid>"
                    "</item>" % (i, i % 97, i % 13, i) for i in range(600))
    srv.routes["/many"] = Route('<?xml version="1.0"?><rss version="2.0"><channel><title>m'
                                '</title>%s</channel></rss>' % items, etag='"m"')
    prom = w.file("feedwatch.prom")
    conf = w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
metrics_file = %s;
metrics_interval = 1;
story_memory = "64K";
feeds = ( { name = "many"; url = %s; interval = 1; } );
watchlists = ( { name = "w"; match = "nothing-matches-this"; outputs = [ "log" ]; } );
outputs = ( { name = "log"; plugin = "log"; path = %s; } );
""" % (q(w.state), q(prom), q(srv.url("/many")), q(w.file("alerts.jsonl"))))
    d = start(["run", "-c", conf])
    full = wait_for(lambda: metrics(prom).get("feedwatch_story_index_evicted_total", 0) >= 343, 30)
    time.sleep(2)
    rc, out, err = stop(d)
    m = metrics(prom)
    check(full and m.get("feedwatch_story_index_items") == 257,
          "the index holds 257 items, and 343 left it early (%s)"
          % {k: v for k, v in m.items() if "story" in k})
    check(err.count("story index full: story_memory = 0.1 MB holds 257 items") == 1,
          "the log says once that the index is full and what it holds (%s)" % err[-600:])
    check(rc == 0, "clean stop")


if __name__ == "__main__":
    fwtest.main(health, story_memory)
