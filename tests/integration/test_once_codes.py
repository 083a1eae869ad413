#!/usr/bin/env python3
"""`feedwatch once` says through its exit status what went wrong (issue 18), through the
real binary against a loopback feed and webhook receiver: 0 when every feed was polled and
every alert delivered; 1 a feed failed; 4 an alert of this run was not delivered (the
receiver answers 500: pending; 400: dead), also when a feed failed too; 3 an output could
not start (a plugin that does not exist), before 4; a second run with nothing new exits 0
(alerts of earlier runs do not count against it)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, output_config, q, rss_feed, run  # noqa: E402


def feed(srv, path, n):
    srv.routes[path] = Route(rss_feed([("%s%d" % (path, i), "Putin once %d" % i,
                                        "https://example.org/%d" % i, "x") for i in range(n)]))


def codes(srv, rcv, w):
    feed(srv, "/a.xml", 1)
    hook = 'name = "hook"; plugin = "webhook"; url = %s;' % q(rcv.url("/in"))
    conf = output_config(w, srv.url("/a.xml"), [hook])
    p = run(["once", "-c", conf])
    check(p.returncode == 0 and len(rcv.log("/in")) == 1,
          "all well: exit 0 (rc %d: %s)" % (p.returncode, p.stderr.strip()[-300:]))

    feed(srv, "/a.xml", 2)
    rcv.mode = 500
    p = run(["once", "-c", conf])
    check(p.returncode == 4 and "1 alerts of this run were not delivered (1 pending, 0 dead)"
          in p.stderr, "a 500: the alert is pending, exit 4 (rc %d: %s)"
          % (p.returncode, p.stderr.strip()[-300:]))

    rcv.mode = "ok"
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "nothing new, the receiver back: exit 0 (rc %d: %s)"
          % (p.returncode, p.stderr.strip()[-300:]))

    feed(srv, "/a.xml", 3)
    rcv.mode = 400
    p = run(["once", "-c", conf])
    check(p.returncode == 4 and "(0 pending, 1 dead)" in p.stderr,
          "a 400: the alert is dead, exit 4 (rc %d)" % p.returncode)
    rcv.mode = "ok"


def feed_failed(srv, rcv, w):
    feed(srv, "/b.xml", 1)
    srv.routes["/gone.xml"] = Route("", status=500)
    hook = 'name = "hook"; plugin = "webhook"; url = %s;' % q(rcv.url("/in"))
    conf = output_config(w, srv.url("/b.xml"), [hook], extra="")
    text = open(conf).read().replace(
        'interval = 1; } );', 'interval = 1; }, { name = "gone"; url = %s; } );'
        % q(srv.url("/gone.xml")))
    w.write("feedwatch.conf", text)
    p = run(["once", "-c", conf])
    check(p.returncode == 1 and "1 of 2 feeds failed" in p.stderr,
          "a feed failed, the alerts delivered: exit 1 (rc %d: %s)"
          % (p.returncode, p.stderr.strip()[-300:]))
    feed(srv, "/b.xml", 2)
    rcv.mode = 503
    p = run(["once", "-c", conf])
    check(p.returncode == 4 and "1 of 2 feeds failed" in p.stderr
          and "not delivered" in p.stderr,
          "a feed failed and an alert pending: exit 4, both said (rc %d)" % p.returncode)
    rcv.mode = "ok"


def output_down(srv, rcv, w):
    feed(srv, "/c.xml", 1)
    conf = output_config(w, srv.url("/c.xml"), [
        'name = "hook"; plugin = "webhook"; url = %s;' % q(rcv.url("/in")),
        'name = "gone"; plugin = "nosuchplugin";'])
    p = run(["once", "-c", conf])
    check(p.returncode == 3 and "1 output could not start" in p.stderr
          and "not delivered" in p.stderr,
          "an output that cannot start: exit 3 (before 4), both said (rc %d: %s)"
          % (p.returncode, p.stderr.strip()[-400:]))


if __name__ == "__main__":
    fwtest.main(codes, feed_failed, output_down, shared=(fwtest.Server, fwtest.Receiver))
