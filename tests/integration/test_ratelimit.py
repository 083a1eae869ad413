#!/usr/bin/env python3
"""Per-output rate limits: rate_limit = 3 alerts per rate_window. The first alerts go out one
by one, the excess is folded into one digest ({"digest": n, "alerts": [...]}), nothing is
dropped (every item id appears exactly once across single alerts and digests), and no window
carries more than rate_limit deliveries. Checked on the log plugin (JSON Lines) and the
webhook plugin against a loopback receiver, with `feedwatch once` and with `feedwatch run`
across two windows. Last, a rate-limited pass that also expires an old alert (max_age)."""
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (Route, check, outbox, output_config, q, read_jsonl, rss_feed, run,  # noqa: E402
                    start, stop, wait_for)

LIMIT = 3


def items(n, first=0):
    return [("rl-%d" % i, "Putin rate %d" % i, "https://example.org/rl/%d" % i, "Putin %d" % i)
            for i in range(first, first + n)]


def ids_of(delivery):
    """Item ids carried by one delivered alert JSON: one, or those of a digest."""
    if "digest" in delivery:
        return [a["item"]["id"] for a in delivery.get("alerts", [])]
    return [delivery["item"]["id"]]


def shape(deliveries):
    """The deliveries as a list: 1 for a single alert, ("digest", n) for a digest."""
    return [("digest", d["digest"]) if "digest" in d else 1 for d in deliveries]


def check_batch(name, deliveries, want_ids, ordered=True):
    """Deliveries of one window: LIMIT - 1 singles then one digest of the rest; each id once.
    ordered=False for the webhook: up to 8 requests are in flight at once, so the receiver
    may see them in any order."""
    n = len(want_ids)
    want = [1] * (LIMIT - 1) + [("digest", n - (LIMIT - 1))]
    got_shape = shape(deliveries)
    if not ordered:
        got_shape = sorted(got_shape, key=str)
        want = sorted(want, key=str)
    check(got_shape == want, "%s: %s deliveries, got %s" % (name, want, got_shape))
    got = [i for d in deliveries for i in ids_of(d)]
    check(sorted(got) == sorted(want_ids) and len(set(got)) == len(got),
          "%s: every item id exactly once (%d of %d)" % (name, len(set(got)), n))
    dig = [d for d in deliveries if "digest" in d]
    if dig:
        check(dig[0]["digest"] == len(dig[0]["alerts"]) and
              all(a.get("watchlist") == "putin" and a.get("id") for a in dig[0]["alerts"]),
              "%s: the digest lists its alerts in full" % name)


def outputs(w, rcv, window, extra=""):
    return [
        'name = "file"; plugin = "log"; path = %s; format = "json"; rate_limit = %d;'
        ' rate_window = %d; %s' % (q(w.file("alerts.jsonl")), LIMIT, window, extra),
        'name = "hook"; plugin = "webhook"; url = %s; rate_limit = %d; rate_window = %d; %s'
        % (q(rcv.url("/hook")), LIMIT, window, extra),
    ]


def hook_bodies(rcv):
    return [json.loads(r[3]) for r in rcv.log("/hook", 200)]


def once_digest(srv, rcv, w):
    """One poll with 12 matching items: 2 singles + one digest of 10, per output."""
    srv.routes["/feed.xml"] = Route(rss_feed(items(12)))
    conf = output_config(w, srv.url("/feed.xml"), outputs(w, rcv, 10))
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip().splitlines()[-1:])
    want = ["rl-%d" % i for i in range(12)]
    check_batch("log, once", read_jsonl(w.file("alerts.jsonl")), want)
    check_batch("webhook, once", hook_bodies(rcv), want, ordered=False)
    hdr = [r[2].get("webhook-id", "") for r in rcv.log("/hook")]
    check(len(hdr) == 3 and len([h for h in hdr if h.startswith("digest-10-")]) == 1 and
          len([h for h in hdr if not h.startswith("digest")]) == 2,
          "webhook: the digest has its own delivery id (%s)" % [h[:12] for h in hdr])
    check(outbox(conf) == [], "nothing is left in the outbox")


def run_windows(srv, rcv, w):
    """`feedwatch run`: a second batch raised while the window is spent waits for the next
    window, then goes out as 2 singles + a digest; no window carries more than 3."""
    window = 10
    srv.routes["/feed.xml"] = Route(rss_feed(items(12)))
    conf = output_config(w, srv.url("/feed.xml"), outputs(w, rcv, window))
    d = start(["run", "-c", conf])
    try:
        check(wait_for(lambda: len(rcv.log("/hook")) >= 3 and
                       len(read_jsonl(w.file("alerts.jsonl"))) >= 3, timeout=30),
              "run: the first window's three deliveries arrive")
        srv.routes["/feed.xml"] = Route(rss_feed(items(12) + items(6, first=12)))

        def held():
            e = outbox(conf, "--pending")
            return sorted(x["output"] for x in e) == ["file"] * 6 + ["hook"] * 6
        # The window is spent: the six new alerts of each output wait in the outbox.
        check(wait_for(held, timeout=12), "run: the next batch waits in the outbox (pending: %d)"
              % len(outbox(conf, "--pending")))
        check(len(rcv.log("/hook")) == 3 and len(read_jsonl(w.file("alerts.jsonl"))) == 3,
              "run: nothing more is sent in the spent window")
        check(wait_for(lambda: len(rcv.log("/hook")) >= 6 and
                       len(read_jsonl(w.file("alerts.jsonl"))) >= 6, timeout=40),
              "run: the next window sends the held alerts")
        check(wait_for(lambda: outbox(conf) == [], timeout=10), "run: the outbox is empty")
        time.sleep(1.0)  # anything wrongly sent late would show now
    finally:
        rc, out, err = stop(d)
    check(rc == 0, "run: stops cleanly (rc %d)" % rc)
    allw = ["rl-%d" % i for i in range(18)]
    for name, dl in (("log", read_jsonl(w.file("alerts.jsonl"))), ("webhook", hook_bodies(rcv))):
        check(len(dl) == 6, "%s, run: six deliveries in two windows (%d)" % (name, len(dl)))
        check_batch(name + ", run window 1", dl[:3], allw[:12], ordered=name == "log")
        check_batch(name + ", run window 2", dl[3:6], allw[12:], ordered=name == "log")
    # No window holds more than LIMIT deliveries: any LIMIT + 1 consecutive arrivals span at
    # least one full window, less 2 s (windows start on whole seconds, and the request of the
    # first window may reach the receiver later than the one of the next). A slow run only
    # widens the span; a fifth delivery in a window would show a span near 0.
    t = [x[0] for x in rcv.stamped("/hook", 200)]
    spans = [t[k + LIMIT] - t[k] for k in range(len(t) - LIMIT)]
    check(len(t) == 6 and all(s >= window - 2 for s in spans),
          "webhook, run: no more than %d deliveries in any %d s window (spans %s)"
          % (LIMIT, window, ["%.1f" % s for s in spans]))


def expiry_in_digest_pass(srv, rcv, w):
    """One outbox pass that both expires an alert (max_age) and folds a digest, with the
    expired row between two live ones: the expired one becomes dead, undelivered, and the two
    live ones go out in one digest."""
    max_age = 60
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "hook"; plugin = "webhook"; url = %s; rate_limit = 1; rate_window = 3600;'
        ' max_age = %d; retry_base = 1; max_attempts = 100;' % (q(rcv.url("/mix")), max_age)])
    d_item, l_item, l2_item = items(1, 100)[0], items(1, 101)[0], items(1, 102)[0]

    def ids(rows):
        return sorted(x["alert"]["item"]["id"] for x in rows)
    # D: raised first, made dead by a 400; then made older than max_age.
    srv.routes["/feed.xml"] = Route(rss_feed([d_item]))
    rcv.mode = 400
    run(["once", "-c", conf])
    check(ids(outbox(conf, "--dead")) == ["rl-100"], "mix: D is a dead letter")
    # Raised two max_ages ago (the store is the daemon's; it is not running now).
    db = sqlite3.connect(os.path.join(w.state, "feedwatch.db"))
    with db:
        db.execute("UPDATE outbox SET created = created - ?", (2 * max_age,))
    db.close()
    # L2: raised now, dead by a 400 too (it will be revived with D).
    srv.routes["/feed.xml"] = Route(rss_feed([d_item, l2_item]))
    run(["once", "-c", conf])
    # L: raised next, retried in 1 s (503, Retry-After: 1).
    srv.routes["/feed.xml"] = Route(rss_feed([d_item, l2_item, l_item]))
    rcv.mode = ("status", 503, 1)
    run(["once", "-c", conf])
    pend = outbox(conf, "--pending")
    check(ids(pend) == ["rl-101"] and pend[0]["attempts"] == 1,
          "mix: L is pending after one attempt")
    check(ids(outbox(conf, "--dead")) == ["rl-100", "rl-102"], "mix: D and L2 are dead")
    time.sleep(2.1)
    # Revive D and L2: both due now, after L. The next pass sees L, D (expired), L2.
    p = run(["outbox", "-c", conf, "retry", "--all"])
    check(p.stdout.startswith("2 "), "mix: D and L2 revived (%s)" % p.stdout.strip())
    rcv.mode = "ok"
    before = len(rcv.log("/mix", 200))
    p = run(["once", "-c", conf])
    ok = rcv.log("/mix", 200)[before:]
    bodies = [json.loads(r[3]) for r in ok]
    got = sorted(i for b in bodies for i in ids_of(b))
    dead = outbox(conf, "--dead")
    check(p.returncode == 0 and "AddressSanitizer" not in p.stderr,
              "mix: the pass does not crash (rc %d%s)"
              % (p.returncode, ", ASan: " + p.stderr.split("ERROR: AddressSanitizer: ")[1][:40]
                 if "ERROR: AddressSanitizer: " in p.stderr else ""))
    check(got == ["rl-101", "rl-102"] and shape(bodies) == [("digest", 2)],
              "mix: L and L2 go out in one digest (%s)" % shape(bodies))
    check([x["alert"]["item"]["id"] for x in dead] == ["rl-100"] and
          "max_age" in (dead[0].get("last_error") or ""),
          "mix: D is dead again, expired (%s)"
          % [(x["alert"]["item"]["id"], x.get("last_error")) for x in dead])
    check("rl-100" not in got, "mix: the expired alert is not delivered")


if __name__ == "__main__":
    fwtest.main(once_digest, run_windows, expiry_in_digest_pass,
                each=(fwtest.TimedReceiver, fwtest.Workdir))
