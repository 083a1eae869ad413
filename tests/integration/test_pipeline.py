#!/usr/bin/env python3
"""End to end: a loopback HTTP server serves an RSS feed whose item is the founding seed
article; `feedwatch once` twice, then `run` with a restart in between: exactly one alert
reaches the log output, and the South Korea item never alerts."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import DATA, Route, check, q, read_jsonl, run, start, stop, wait_for  # noqa: E402

SEED_FEED = open(os.path.join(DATA, "seed", "seed-feed.xml"), encoding="utf-8").read()

NEW_ITEM = """<item>
<title>Путин и Ким Чен Ын подписали договор в Пхеньяне</title>
<link>https://example.org/world/ru-putin-kim-treaty</link>
<guid>ru-putin-kim-treaty</guid>
<pubDate>Wed, 19 Jun 2024 12:00:00 +0300</pubDate>
<description>&lt;p&gt;Президент России Владимир Путин и лидер КНДР подписали договор о всеобъемлющем стратегическом партнёрстве.&lt;/p&gt;</description>
</item>
"""


def config(w, srv, extra=""):
    return w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; interval = 1; } );
entities = {
  putin = [ "Putin", "Vladimir Putin", "Wladimir Putin", "Путин*" ];
  north_korea = [ "North Korea", "DPRK", "Pyongyang", "Pjöngjang", "Nordkorea", "КНДР" ];
};
watchlists = (
  { name = "putin-north-korea"; match = "@putin AND @north_korea"; group = "item";
    outputs = [ "alerts" ]; }
);
outputs = ( { name = "alerts"; plugin = "log"; path = %s; format = "json"; } );
%s
""" % (q(w.state), q(srv.url("/feed.xml")), q(w.file("alerts.jsonl")), extra))


def pipeline(srv, w):
    srv.routes["/feed.xml"] = Route(SEED_FEED, headers={"Content-Type": "application/rss+xml"},
                                    etag='"v1"')
    conf = config(w, srv)
    alerts = w.file("alerts.jsonl")

    p = run(["check", "-c", conf])
    check(p.returncode == 0, "check accepts the test config (%s)" % p.stderr.strip())

    p = run(["once", "-c", conf])
    check(p.returncode == 0, "first once exits 0 (stderr: %s)" % p.stderr.strip()[-300:])
    got = read_jsonl(alerts)
    check(len(got) == 1, "one alert after the first once (got %d)" % len(got))
    if got:
        a = got[0]
        check(a["watchlist"] == "putin-north-korea", "the alert names its watchlist")
        check(a["item"]["id"] == "seed-putin-north-korea-2024-06-18", "the alert is the seed item")
        check(a["item"]["published"] == "2024-06-18T19:44:00Z", "published in RFC 3339 UTC")
        check(a["feed"]["name"] == "world", "the alert names its feed")
        terms = {e["term"] for e in a.get("explain", [])}
        check("@putin" in terms and "@north_korea" in terms,
              "the alert explains both terms (%s)" % sorted(terms))

    p = run(["once", "-c", conf])
    check(p.returncode == 0, "second once exits 0")
    check(len(read_jsonl(alerts)) == 1, "no second alert for the same item on a second once")
    last = srv.last("/feed.xml")
    check(last is not None and last[2].get("If-None-Match") == '"v1"',
          "the second poll is a conditional GET with the stored ETag")
    ua = last[2].get("User-Agent", "") if last else ""
    check(ua.startswith("feedwatch/"), "the User-Agent names feedwatch (%s)" % ua)

    # The daemon, restarted once in the middle.
    for round_ in (1, 2):
        before = srv.count("/feed.xml")
        d = start(["run", "-c", conf])
        polled = wait_for(lambda: srv.count("/feed.xml") >= before + 2, timeout=30)
        rc, out, err = stop(d, signal.SIGTERM)
        check(polled, "run round %d polled the feed again" % round_)
        check(rc == 0, "run round %d stops cleanly on SIGTERM (rc %d, %s)" % (round_, rc, err.strip()[-300:]))
        check("did not close cleanly" not in err and "left open" not in err,
              "run round %d closes every handle" % round_)
    check(len(read_jsonl(alerts)) == 1, "still exactly one alert after run, restart, run")

    # A new matching item in Russian alerts once more; the South Korea item never does.
    srv.routes["/feed.xml"] = Route(SEED_FEED.replace("</channel>", NEW_ITEM + "</channel>"),
                                    etag='"v2"')
    p = run(["once", "-c", conf])
    got = read_jsonl(alerts)
    check(p.returncode == 0 and len(got) == 2, "a new Russian item alerts (got %d)" % len(got))
    if len(got) == 2:
        ex = got[1]["explain"]
        check(any(e["alias"] == "Путин*" and e["text"].startswith("Путин") for e in ex),
              "the explanation shows the Russian alias and the text as written")
    check(not any("south" in a["item"]["title"].lower() for a in got),
          "the South Korea item never alerts")

    # A broken feed: logged, once exits 1 with a summary, nothing lost.
    srv.routes["/feed.xml"] = Route(b"oops", status=500)
    p = run(["once", "-c", conf])
    check(p.returncode == 1, "once exits 1 when a feed fails (rc %d)" % p.returncode)
    check("HTTP status 500" in p.stderr, "the failure is named on stderr")
    check("1 of 1 feeds failed" in p.stderr, "with a summary line")
    s = run(["status", "-c", conf, "--json"])
    check(s.returncode == 0 and '"error_streak":1' in s.stdout, "status shows the error streak")


if __name__ == "__main__":
    fwtest.main(pipeline)
