#!/usr/bin/env python3
"""Polite polling, decided from what servers say: ttl, Cache-Control, Expires, Retry-After,
errors and backoff, redirects (chains, loops, permanent, to file://), timeouts, gzip,
conditional GET, host-wide rest after 429. Assertions are on the decisions the daemon
records in its store (`feedwatch status --json`) and on the requests the server saw."""
import datetime
import email.utils
import gzip
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, q, run, start, stop, wait_for  # noqa: E402

FEED = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>%s'
        '<item><title>Item %s</title><guid>%s</guid></item></channel></rss>')


def feed(tag, extra=""):
    return FEED % (extra, tag, tag)


def redirect(to, code=302):
    def h(req, body):
        req.send_response(code)
        req.send_header("Location", to)
        req.send_header("Content-Length", "0")
        req.end_headers()
    return h


def slow(seconds):
    def h(req, body):
        time.sleep(seconds)
        data = feed("slow").encode()
        try:
            req.send_response(200)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        except OSError:
            pass
    return h


def gz(req, body):
    data = gzip.compress(feed("gzip").encode())
    if "gzip" not in (req.headers.get("Accept-Encoding") or ""):
        data = b"client did not ask for gzip"
    req.send_response(200)
    req.send_header("Content-Encoding", "gzip")
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    req.wfile.write(data)


def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def status(conf):
    p = run(["status", "-c", conf, "--json"])
    return {f["name"]: f for f in json.loads(p.stdout)["feeds"]}


def delay(st, name):
    f = st[name]
    return ts(f["next_poll"]) - ts(f["last_poll"])


def polite(srv, w):
    expires = email.utils.formatdate(time.time() + 5000, usegmt=True)
    srv.routes.update({
        "/ttl": Route(feed("ttl", "<ttl>120</ttl>")),
        "/maxage": Route(feed("maxage"), headers={"Cache-Control": "public, max-age=3000"}),
        "/expires": Route(feed("expires"), headers={"Expires": expires}),
        "/e500": Route(b"boom", status=500),
        "/ra429": Route(b"slow down", status=429, headers={"Retry-After": "900"}),
        "/r1": Route(handler=redirect("/r2")), "/r2": Route(handler=redirect("/r3", 307)),
        "/r3": Route(feed("chain")),
        "/loop": Route(handler=redirect("/loop")),
        "/tofile": Route(handler=redirect("file:///etc/passwd")),
        "/perm": Route(handler=redirect("/moved", 301)), "/moved": Route(feed("moved")),
        "/slow": Route(handler=slow(4)),
        "/gzip": Route(handler=gz),
        "/etag": Route(feed("etag"), etag='"e1"',
                       headers={"Last-Modified": "Tue, 18 Jun 2024 19:44:00 GMT"}),
    })
    names = ["ttl", "maxage", "expires", "e500", "ra429", "r1", "loop", "tofile", "perm",
             "slow", "gzip", "etag"]
    conf = w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
interval = 600;
feeds = ( %s );
entities = { x = [ "x" ]; };
watchlists = ( { name = "w"; match = "@x"; } );
outputs = ( { name = "o"; plugin = "log"; path = %s; } );
""" % (q(w.state), ",\n".join('{ name = "%s"; url = %s; %s }' % (
        n, q(srv.url("/" + n)), 'timeout = 2;' if n == "slow" else "") for n in names),
           q(w.file("alerts.jsonl"))))
    p = run(["once", "-c", conf])
    check(p.returncode == 1, "once reports failing feeds with exit 1")
    st = status(conf)
    check(7200 * 0.9 <= delay(st, "ttl") <= 7200 * 1.1, "<ttl>120</ttl> lengthens the interval to 2h (%d s)" % delay(st, "ttl"))
    check(3000 * 0.9 <= delay(st, "maxage") <= 3000 * 1.1, "Cache-Control max-age=3000 is honoured (%d s)" % delay(st, "maxage"))
    check(4900 * 0.9 <= delay(st, "expires") <= 5000 * 1.1, "Expires is honoured (%d s)" % delay(st, "expires"))
    check(st["e500"]["error_streak"] == 1 and st["e500"]["http_status"] == 500, "a 500 counts as an error")
    check(540 <= delay(st, "e500") <= 660, "the first error keeps the interval (%d s)" % delay(st, "e500"))
    check(delay(st, "ra429") >= 900, "Retry-After: 900 on a 429 is honoured (%d s)" % delay(st, "ra429"))
    check(st["r1"]["error_streak"] == 0 and srv.count("/r3") == 1, "a redirect chain is followed")
    check(st["loop"]["error_streak"] == 1 and "redirect" in (st["loop"]["last_error"] or "").lower(),
          "a redirect loop ends in a clear error (%s)" % st["loop"]["last_error"])
    check(st["tofile"]["error_streak"] == 1, "a redirect to file:// is refused (%s)" % st["tofile"]["last_error"])
    alerts = open(w.file("alerts.jsonl")).read() if os.path.exists(w.file("alerts.jsonl")) else ""
    check("root:" not in alerts and "root:" not in p.stderr, "nothing of /etc/passwd leaks")
    check(st["slow"]["error_streak"] == 1 and "timeout" in (st["slow"]["last_error"] or "").lower(),
          "a response slower than the timeout fails (%s)" % st["slow"]["last_error"])
    check(st["gzip"]["error_streak"] == 0, "a gzip response is asked for and decoded")
    ua = srv.last("/etag")[2]
    check(ua.get("User-Agent", "").startswith("feedwatch/"), "User-Agent names feedwatch")

    # Second round: conditional GET, and the permanent redirect remembered.
    perm_before = srv.count("/perm")
    p = run(["once", "-c", conf])
    h = srv.last("/etag")[2]
    check(h.get("If-None-Match") == '"e1"', "ETag is sent back as If-None-Match")
    check(h.get("If-Modified-Since") == "Tue, 18 Jun 2024 19:44:00 GMT", "Last-Modified is sent back")
    check(srv.count("/perm") == perm_before and srv.count("/moved") == 2,
          "a permanent redirect is remembered: the new URL is polled directly")
    st = status(conf)
    check(st["e500"]["error_streak"] == 2, "a second error extends the streak")
    check(1080 <= delay(st, "e500") <= 1320, "the second error doubles the wait (%d s)" % delay(st, "e500"))
    srv.routes["/e500"] = Route(feed("ok"))
    run(["once", "-c", conf])
    st = status(conf)
    check(st["e500"]["error_streak"] == 0 and 540 <= delay(st, "e500") <= 660,
          "success recovers the interval at once")

    # Host-wide rest: a 429 on one feed of a host holds back the others on that host.
    calls = []

    def busy(req, body):
        # 429 once, then healthy: the host must rest for the Retry-After, then recover.
        calls.append(1)
        data = b"" if len(calls) == 1 else feed("busy").encode()
        req.send_response(429 if len(calls) == 1 else 200)
        if len(calls) == 1:
            req.send_header("Retry-After", "4")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    srv.routes["/busy"] = Route(handler=busy)
    srv.routes["/other"] = Route(feed("other"))
    conf2 = w.write("host.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
feeds = ( { name = "busy"; url = %s; interval = 1; }, { name = "other"; url = %s; interval = 1; } );
entities = { x = [ "x" ]; };
watchlists = ( { name = "w"; match = "@x"; } );
outputs = ( { name = "o"; plugin = "log"; path = %s; } );
""" % (q(w.file("state2")), q(srv.url("/busy")), q(srv.url("/other")), q(w.file("a2.jsonl"))))
    d = start(["run", "-c", conf2])
    wait_for(lambda: srv.count("/busy") >= 1, 30)
    t429 = [t for t, pth in srv.times if pth == "/busy"][0]
    time.sleep(15)  # the rest (4 s) plus the per-feed spread after it (< 10 s)
    stop(d)
    others = [t for t, pth in srv.times if pth == "/other" and t > t429 + 0.5]
    gap = [t for t in others if t < t429 + 3.5]
    check(len(others) > 0 and not gap,
          "after a 429 with Retry-After: 4 the host rests (%d polls of another feed in the window)" % len(gap))


if __name__ == "__main__":
    fwtest.main(polite)
