#!/usr/bin/env python3
"""Live reload: a change of the config file (replaced the way editors do) and SIGHUP reload
the config; feeds added start, removed ones stop, unchanged ones keep their HTTP state; a
broken config is refused and the old one keeps working."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, output, q, read_jsonl, start, stop, wait_for  # noqa: E402


def rss(items):
    body = "".join("<item><title>%s</title><guid>%s</guid><description>%s</description></item>"
                   % (t, g, d) for t, g, d in items)
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>%s</channel></rss>'
            % body)


def write_config(w, srv, feeds, watchlists):
    text = """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( %s );
entities = { putin = [ "Putin" ]; kim = [ "Kim Jong Un" ]; };
watchlists = ( %s );
outputs = ( { name = "alerts"; plugin = "log"; path = %s; } );
""" % (q(w.state),
       ",\n".join('{ name = "%s"; url = %s; interval = 1; }' % (n, q(srv.url("/" + n)))
                  for n in feeds),
       ",\n".join('{ name = "%s"; match = "%s"; group = "item"; }' % (n, m) for n, m in watchlists),
       q(w.file("alerts.jsonl")))
    # Like an editor: write a new file, then rename it over the old one.
    tmp = w.file("feedwatch.conf.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, w.file("feedwatch.conf"))
    return w.file("feedwatch.conf")


def live_reload(srv, w):
    for n in ("a", "b", "c"):
        srv.routes["/" + n] = Route(rss([("Putin visits %s" % n, n + "-1", "Kim Jong Un met him")]),
                                    etag='"%s1"' % n)
    conf = write_config(w, srv, ["a", "b"], [("putin", "@putin")])
    d = start(["-v", "run", "-c", conf])
    check(wait_for(lambda: srv.count("/a") >= 2 and srv.count("/b") >= 1, 30),
          "feeds a and b are polled")
    check(wait_for(lambda: len(read_jsonl(w.file("alerts.jsonl"))) == 2, 30),
          "two alerts from watchlist putin")

    # Add a watchlist and feed c, remove feed b: by replacing the file.
    conf = write_config(w, srv, ["a", "c"], [("putin", "@putin"), ("kim", "@kim")])
    check(wait_for(lambda: "reloaded: 2 feeds, 2 watchlists" in output(d)[1], 30),
          "the change of the file is noticed and reloaded")
    check(wait_for(lambda: srv.count("/c") >= 1, 30), "the new feed c is polled")
    b_after = srv.count("/b")
    time.sleep(3)
    check(srv.count("/b") <= b_after + 1, "the removed feed b is no longer polled")
    last_a = srv.last("/a")
    check(last_a is not None and last_a[2].get("If-None-Match") == '"a1"',
          "feed a kept its HTTP state across the reload")
    # New items after the reload meet the new watchlist.
    srv.routes["/a"] = Route(rss([("Putin visits a", "a-1", "Kim Jong Un met him"),
                                  ("Kim Jong Un speaks", "a-2", "about Putin")]), etag='"a2"')
    check(wait_for(lambda: any(x["watchlist"] == "kim" and x["item"]["id"] == "a-2"
                               for x in read_jsonl(w.file("alerts.jsonl"))), 30),
          "the added watchlist alerts on a new item")
    before = len(read_jsonl(w.file("alerts.jsonl")))

    # A broken config: refused with FILE:LINE, the old one keeps working.
    with open(w.file("feedwatch.conf.tmp"), "w") as f:
        f.write("feeds = ( { name = \"a\"; url = \"%s\"; } );\nwatchlists = oops;\n" % srv.url("/a"))
    os.rename(w.file("feedwatch.conf.tmp"), conf)
    check(wait_for(lambda: "reload failed" in output(d)[1], 30), "a broken config is refused")
    check("feedwatch.conf:2:" in output(d)[1], "the error names file and line")
    srv.routes["/a"] = Route(rss([("Putin and Kim", "a-3", "x")]), etag='"a3"')
    check(wait_for(lambda: any(x["item"]["id"] == "a-3" for x in read_jsonl(w.file("alerts.jsonl"))), 30),
          "the old config keeps polling and alerting")
    d.send_signal(signal.SIGHUP)
    time.sleep(1)
    check(d.poll() is None, "SIGHUP with a broken config does not stop the daemon")
    check(output(d)[1].count("reload failed") >= 2, "SIGHUP reload is refused too")
    rc, out, err = stop(d)
    check(rc == 0, "clean stop after reloads (rc %d)" % rc)
    check("left open" not in err and "did not close cleanly" not in err,
          "every handle closed after reloads")
    check(len(read_jsonl(w.file("alerts.jsonl"))) >= before + 1, "no alert lost")


if __name__ == "__main__":
    fwtest.main(live_reload)
