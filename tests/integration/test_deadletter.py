#!/usr/bin/env python3
"""Dead letters and disabled outputs, read from the outbox (attempts, next try, last error):

- max_attempts: a receiver that always answers 500, retry_base = 1 s: each retry is scheduled
  within the backoff bounds; after max_attempts requests the alert is dead with its last
  error; `outbox retry --all` revives it and, the receiver recovered, the next run delivers it.
- max_age: an alert older than max_age when it is next due becomes dead, unsent.
- 400: dead at once (a permanent failure), after one request.
- 410: the output is disabled (the log says so); its alerts, and those raised meanwhile, stay
  pending, unsent, until a config change brings the output back (SIGHUP reload, or a
  restart), and are then delivered."""
import calendar
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (Route, Workdir, check, output, outbox, output_config, q, rss_feed,  # noqa: E402
                    run, start, stop, wait_for)



def items(n, first=0):
    return [("dl-%d" % i, "Putin dead letter %d" % i, "https://example.org/dl/%d" % i, "x")
            for i in range(first, first + n)]


def epoch(rfc3339):
    """Seconds of a "2024-06-18T19:44:00Z" date."""
    return calendar.timegm(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S"))


def hook(rcv, path, extra):
    return 'name = "hook"; plugin = "webhook"; url = %s; %s' % (q(rcv.url(path)), extra)


def max_attempts(srv, rcv, w):
    base, cap, limit = 1, 2, 4
    srv.routes["/feed.xml"] = Route(rss_feed(items(1)))
    conf = output_config(w, srv.url("/feed.xml"), [hook(
        rcv, "/a", "retry_base = %d; retry_max = %d; max_attempts = %d;" % (base, cap, limit))])
    rcv.mode = 500
    d = start(["run", "-c", conf])
    seen = {}  # attempts -> next try, as the outbox shows them while pending

    def dead():
        for x in outbox(conf):
            if x["state"] == "pending" and x["attempts"] > 0:
                seen.setdefault(x["attempts"], epoch(x["next"]))
        return outbox(conf, "--dead") != []
    check(wait_for(dead, timeout=40, step=0.02), "max_attempts: the alert becomes dead")
    time.sleep(1.0)  # a request after the last attempt would show now
    rc, out, err = stop(d)
    check(rc == 0, "max_attempts: the daemon stops cleanly (rc %d)" % rc)
    x = (outbox(conf, "--dead") or [{}])[0]
    reqs = rcv.stamped("/a", wall=True)
    check(x.get("attempts") == limit, "max_attempts: dead after %d attempts (%s)"
          % (limit, x.get("attempts")))
    check(len(reqs) == limit, "max_attempts: %d requests were made (%d)" % (limit, len(reqs)))
    check(all(r[2].get("Idempotency-Key") == x.get("alert_id") for _, r in reqs),
          "max_attempts: every request carries the alert id")
    check("HTTP 500" in (x.get("last_error") or ""), "max_attempts: the last error is kept (%s)"
          % x.get("last_error"))
    check(outbox(conf, "--pending") == [], "max_attempts: nothing else pending")
    # Each retry was scheduled backoff(k) after attempt k: base * 2^(k-1) capped at retry_max,
    # +-20% jitter, at least 1 s. The daemon's clock reads the outcome a little after the
    # request reached the receiver, hence the upper slack; never earlier than the backoff.
    check(len(seen) >= 1, "max_attempts: the outbox was seen between attempts (%s)" % seen)
    bad = []
    for k, nxt in sorted(seen.items()):
        if k > len(reqs):
            continue
        b = min(base * 2 ** (k - 1), cap)
        lo, hi = max(1, int(b * 0.8)), int(b * 1.2 + 0.999)
        delay = nxt - int(reqs[k - 1][0])
        if not lo <= delay <= hi + 2:
            bad.append((k, delay, lo, hi))
    check(bad == [], "max_attempts: each retry scheduled within its backoff (%s)" % bad)
    # Each retry went out once due, not before (whole seconds: the outbox keeps seconds).
    early = [k for k, nxt in seen.items() if k < len(reqs) and reqs[k][0] < nxt - 1]
    check(early == [], "max_attempts: no retry before its time (%s)" % early)

    # Revive; the receiver recovers; the next run delivers it, once.
    p = run(["outbox", "-c", conf, "retry", "--all"])
    check(p.returncode == 0 and p.stdout.startswith("1 "), "retry --all revives it (%s)"
          % p.stdout.strip())
    pend = outbox(conf, "--pending")
    check(len(pend) == 1 and pend[0]["attempts"] == 0 and pend[0]["alert_id"] == x.get("alert_id"),
          "the revived alert is pending with its attempts reset")
    rcv.mode = "ok"
    p = run(["once", "-c", conf])
    ok = rcv.log("/a", 200)
    check(p.returncode == 0 and len(ok) == 1 and
          ok[0][2].get("Idempotency-Key") == x.get("alert_id"),
          "the next run delivers the revived alert once")
    check(outbox(conf) == [], "the outbox is empty")


def max_age(srv, rcv, w):
    age = 3
    srv.routes["/feed.xml"] = Route(rss_feed(items(1, 10)))
    conf = output_config(w, srv.url("/feed.xml"), [hook(
        rcv, "/b", "retry_base = 1; max_attempts = 100; max_age = %d;" % age)])
    rcv.mode = ("status", 503, 1)
    run(["once", "-c", conf])
    pend = outbox(conf, "--pending")
    check(len(pend) == 1 and pend[0]["attempts"] == 1, "max_age: pending after one attempt")
    created = epoch(pend[0]["alert"]["created"]) if pend else 0
    check(wait_for(lambda: time.time() >= created + age + 1, timeout=age + 3),
          "max_age: the alert is older than max_age")
    rcv.mode = "ok"
    p = run(["once", "-c", conf])
    dead = outbox(conf, "--dead")
    check(p.returncode == 0 and len(dead) == 1 and "max_age" in (dead[0].get("last_error") or ""),
          "max_age: the old alert is dead, expired (%s)"
          % [x.get("last_error") for x in dead])
    check(rcv.log("/b", 200) == [] and len(rcv.log("/b")) == 1,
          "max_age: it was not sent again (%d requests)" % len(rcv.log("/b")))
    check(len(dead) == 1 and dead[0]["attempts"] == 1,
              "max_age: expiry is not counted as an attempt (attempts %s)"
              % [x["attempts"] for x in dead])


def permanent(srv, rcv, w):
    srv.routes["/feed.xml"] = Route(rss_feed(items(1, 20)))
    conf = output_config(w, srv.url("/feed.xml"), [hook(
        rcv, "/c", "retry_base = 1; max_attempts = 10;")])
    rcv.mode = 400
    p = run(["once", "-c", conf])
    dead = outbox(conf, "--dead")
    check(p.returncode == 4 and len(dead) == 1 and dead[0]["attempts"] == 1,
          "400: dead at once, after one attempt; once exits 4 (rc %d, %s)"
          % (p.returncode, [x["attempts"] for x in dead]))
    check(len(dead) == 1 and "HTTP 400" in (dead[0].get("last_error") or ""),
          "400: the error is kept")
    check(len(rcv.log("/c")) == 1 and "failed for good" in p.stderr,
          "400: one request, logged as a permanent failure")


def gone(srv, rcv, w):
    srv.routes["/feed.xml"] = Route(rss_feed(items(2, 30)))
    out = hook(rcv, "/d", "retry_base = 1; max_attempts = 10;")
    conf = output_config(w, srv.url("/feed.xml"), [out])
    rcv.mode = 410
    d = start(["run", "-c", conf])
    try:
        check(wait_for(lambda: "disabled" in output(d)[1], timeout=30),
              "410: the log says the output is disabled")
        check(wait_for(lambda: len(outbox(conf, "--pending")) == 2, timeout=10),
              "410: both alerts stay pending")
        pend = outbox(conf, "--pending")
        check(all(x["attempts"] == 1 and "HTTP 410" in (x.get("last_error") or "") for x in pend),
              "410: one attempt each, the 410 kept as last error (%s)"
              % [(x["attempts"], x.get("last_error")) for x in pend])
        # A new alert raised while the output is disabled is held too, not sent.
        srv.routes["/feed.xml"] = Route(rss_feed(items(3, 30)))
        check(wait_for(lambda: len(outbox(conf, "--pending")) == 3, timeout=15),
              "410: an alert raised while disabled waits in the outbox")
        n_req = len(rcv.log("/d"))
        check(n_req == 2, "410: no request after the 410s (%d)" % n_req)
        new = [x for x in outbox(conf, "--pending") if x["alert"]["item"]["id"] == "dl-32"]
        check(len(new) == 1 and new[0]["attempts"] == 0,
                  "410: held without an attempt, attempts stay 0 (%s)"
                  % [x["attempts"] for x in new])

        # The receiver is back; a config change (here the timeout) and SIGHUP bring the
        # output back: the held alerts go out.
        rcv.mode = "ok"
        output_config(w, srv.url("/feed.xml"), [out + ' timeout = "5s";'])
        d.send_signal(signal.SIGHUP)
        check(wait_for(lambda: "reloaded" in output(d)[1], timeout=15), "410: the reload happens")
        check(wait_for(lambda: len(rcv.log("/d", 200)) == 3, timeout=5),
                  "410: after the reload the three held alerts are delivered (%d)"
                  % len(rcv.log("/d", 200)))
    finally:
        rc, _, err = stop(d)
    check(rc == 0, "410: the daemon stops cleanly (rc %d)" % rc)

    # A restart brings a disabled output back too.
    w2 = Workdir()
    try:
        srv.routes["/feed.xml"] = Route(rss_feed(items(2, 40)))
        conf = output_config(w2, srv.url("/feed.xml"), [hook(rcv, "/e", "retry_base = 1;")])
        rcv.mode = 410
        p = run(["once", "-c", conf])
        check("disabled" in p.stderr and len(outbox(conf, "--pending")) == 2,
              "410, once: the output is disabled, both alerts pending")
        rcv.mode = "ok"
        p = run(["once", "-c", conf])
        check(len(rcv.log("/e", 200)) == 2 and outbox(conf) == [],
                  "410: the next start delivers the held alerts (%d delivered, %d pending)"
                  % (len(rcv.log("/e", 200)), len(outbox(conf, "--pending"))))
    finally:
        w2.cleanup()


if __name__ == "__main__":
    fwtest.main(max_attempts, max_age, permanent, gone,
                each=(fwtest.TimedReceiver, fwtest.Workdir))
