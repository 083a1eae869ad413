#!/usr/bin/env python3
"""An item edited in place (same guid, new text) is matched again, through the content hash
the parser thread computes for each item: an edit that makes it match alerts once; an item
that did not change is not matched or alerted again; nor is the edited one on the next poll."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, output_config, q, read_jsonl, rss_feed, run  # noqa: E402


def alert_ids(path):
    return [a.get("item", {}).get("id") for a in read_jsonl(path)] if os.path.exists(path) else []


def edit_detection(srv, w):
    log = w.file("alerts.jsonl")
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "file"; plugin = "log"; path = %s; format = "json";' % q(log)])
    # Many items, so that a hash handed to the wrong item would show.
    calm = [("c%d" % i, "Weather report %d" % i, "https://example.org/c%d" % i, "rain")
            for i in range(150)]
    hit = ("h1", "Putin speaks", "https://example.org/h1", "a speech")

    srv.routes["/feed.xml"] = Route(rss_feed(calm + [hit]))
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "first poll (%s)" % p.stderr.strip()[-300:])
    check(alert_ids(log) == ["h1"], "first poll: the matching item alerts (%s)"
          % alert_ids(log))

    edited = list(calm)
    edited[77] = ("c77", "Putin and the weather 77", "https://example.org/c77", "rain")
    srv.routes["/feed.xml"] = Route(rss_feed(edited + [hit]))
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "second poll (%s)" % p.stderr.strip()[-300:])
    check(alert_ids(log) == ["h1", "c77"],
          "second poll: the item edited to match alerts, nothing else (%s)" % alert_ids(log))

    p = run(["once", "-c", conf])
    check(p.returncode == 0, "third poll (%s)" % p.stderr.strip()[-300:])
    check(alert_ids(log) == ["h1", "c77"], "third poll, nothing changed: no alert (%s)"
          % alert_ids(log))


if __name__ == "__main__":
    fwtest.main(edit_detection)
