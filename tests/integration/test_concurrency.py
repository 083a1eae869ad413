#!/usr/bin/env python3
"""Concurrency limits: at most host_concurrency transfers to one host, at most concurrency
in all, and every feed is still polled."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, q, run  # noqa: E402

FEED = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        '<item><title>x</title><guid>%s</guid></item></channel></rss>')


def connection_caps(s1, s2, w):
    servers = [s1, s2]  # two hosts (two ports)
    lock = threading.Lock()
    state = {"now": 0, "max": 0, "per": {}, "per_max": {}}

    def slow(port):
        def h(req, body):
            with lock:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
                state["per"][port] = state["per"].get(port, 0) + 1
                state["per_max"][port] = max(state["per_max"].get(port, 0), state["per"][port])
            time.sleep(0.4)
            data = (FEED % req.path).encode()
            req.send_response(200)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
            with lock:
                state["now"] -= 1
                state["per"][port] -= 1
        return h

    feeds = []
    for s in servers:
        for i in range(6):
            s.routes["/f%d" % i] = Route(handler=slow(s.port))
            feeds.append((s, "/f%d" % i))
    conf = w.write("feedwatch.conf", """
state_dir = %s;
concurrency = 3;
host_concurrency = 2;
feeds = ( %s );
entities = { x = [ "nothing-matches-this" ]; };
watchlists = ( { name = "w"; match = "@x"; } );
outputs = ( { name = "o"; plugin = "log"; path = %s; } );
""" % (q(w.state), ",\n".join('{ name = "h%d-%s"; url = %s; }' % (s.port, p[1:], q(s.url(p)))
                           for s, p in feeds), q(w.file("alerts.jsonl"))))
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once polls every feed (rc %d, %s)" % (p.returncode, p.stderr[-300:]))
    check(sum(s.count(pth) for s, pth in feeds) == 12, "each of the 12 feeds polled once")
    check(state["max"] <= 3, "at most concurrency = 3 transfers at once (saw %d)" % state["max"])
    check(state["max"] >= 2, "transfers do run in parallel (saw %d)" % state["max"])
    check(all(v <= 2 for v in state["per_max"].values()),
          "at most host_concurrency = 2 per host (saw %s)" % state["per_max"])


if __name__ == "__main__":
    fwtest.main(connection_caps, shared=(fwtest.Server, fwtest.Server))
