#!/usr/bin/env python3
"""Crash safety (GitHub issue 8): rounds of `kill -9` at random moments while two feeds keep
producing matching items and a webhook receiver counts deliveries. After the last restart
every alert has been delivered; a duplicate is only an in-flight one (the receiver had it
when the daemon died, before the outcome was committed), so no alert is delivered twice
by one daemon process, and each kill makes at most FW_OUTPUT_IN_FLIGHT (8) duplicates.

FW_CRASH_ROUNDS (default 50) sets the number of rounds; each waits 0.1 to 1.5 s (random,
seeded by FW_CRASH_SEED, default 8) before the kill."""
import collections
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, q, run, start, stop, wait_for  # noqa: E402

ROUNDS = int(os.environ.get("FW_CRASH_ROUNDS", "50"))
SEED = int(os.environ.get("FW_CRASH_SEED", "8"))
IN_FLIGHT = 8        # FW_OUTPUT_IN_FLIGHT in daemon/alert.c
ITEM_EVERY = 0.25    # seconds between new items, per feed
MAX_ITEMS = 1000     # per feed


class Producer:
    """A feed whose items grow with time: item i exists from t0 + i * ITEM_EVERY on."""

    def __init__(self, name):
        self.name = name
        self.t0 = time.monotonic()
        self.frozen = None
        self.lock = threading.Lock()

    def count(self):
        with self.lock:
            n = self.frozen if self.frozen is not None else \
                int((time.monotonic() - self.t0) / ITEM_EVERY) + 1
        return min(n, MAX_ITEMS)

    def freeze(self):
        n = self.count()
        with self.lock:
            self.frozen = n
        return n

    def handler(self, h, body):
        n = self.count()
        items = "".join("<item><title>Putin update %d from %s</title><guid>%s-%d</guid></item>"
                        % (i, self.name, self.name, i) for i in range(n - 1, -1, -1))
        data = ('<?xml version="1.0"?><rss version="2.0"><channel><title>%s</title>%s'
                '</channel></rss>' % (self.name, items)).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def crash_and_restart(srv, rcv, w):
    rnd = random.Random(SEED)
    feeds = [Producer("alpha"), Producer("beta")]
    for f in feeds:
        srv.routes["/" + f.name] = Route(handler=f.handler)
    conf = w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feed_failing_after = 0;
feeds = ( %s );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; group = "item"; outputs = [ "hook" ]; } );
outputs = ( { name = "hook"; plugin = "webhook"; url = %s; retry_base = 1; retry_max = 2;
              rate_limit = 0; } );  # every alert counted on its own, never in a digest
""" % (q(w.state), ", ".join('{ name = "%s"; url = %s; interval = 1; }'
                             % (f.name, q(srv.url("/" + f.name))) for f in feeds),
       q(rcv.url("/hook"))))
    bounds = [0]  # index into rcv.requests where each daemon process's requests begin
    kills = 0
    t_start = time.monotonic()
    for r in range(ROUNDS):
        d = start(["run", "-c", conf])
        time.sleep(rnd.uniform(0.1, 1.5))
        alive = d.poll() is None
        if alive:
            d.send_signal(signal.SIGKILL)
            kills += 1
        rc, out, err = stop(d, signal.SIGKILL)
        time.sleep(0.05)  # a request the receiver was still reading is logged by now
        with rcv.lock:
            bounds.append(len(rcv.requests))
        if not check(alive and rc == -signal.SIGKILL,
                     "round %d: the daemon ran until killed (rc %s, %s)"
                     % (r + 1, rc, err.strip()[-300:])):
            break
    produced = {f.name: f.freeze() for f in feeds}
    d = start(["run", "-c", conf])
    want = sum(produced.values())

    def delivered_items():
        with rcv.lock:
            reqs = list(rcv.requests)
        return {(json.loads(x[3])["feed"]["name"], json.loads(x[3])["item"]["id"])
                for x in reqs if x[4] == 200}

    done = wait_for(lambda: len(delivered_items()) >= want, timeout=90, step=0.2)
    time.sleep(1.5)  # anything still queued would go out now
    rc, out, err = stop(d, signal.SIGTERM)
    bounds.append(len(rcv.requests))
    check(rc == 0, "the last run stops cleanly (rc %d, %s)" % (rc, err.strip()[-300:]))
    check("AddressSanitizer" not in err and "runtime error" not in err,
          "the last run: no sanitizer report")

    got = delivered_items()
    expect = {(f.name, "%s-%d" % (f.name, i)) for f in feeds for i in range(produced[f.name])}
    missing = sorted(expect - got)
    check(done and not missing, "every one of the %d alerts was delivered (%d missing: %s)"
          % (want, len(missing), missing[:5]))
    check(not (got - expect), "nothing delivered that was not produced")

    # Duplicates, per daemon process.
    with rcv.lock:
        reqs = list(rcv.requests)
    per_alert = collections.Counter()
    same_process = 0
    dups_after_kill = collections.Counter()
    for p in range(len(bounds) - 1):
        ids = [x[2].get("Idempotency-Key") for x in reqs[bounds[p]:bounds[p + 1]]
               if x[4] == 200]
        c = collections.Counter(ids)
        same_process += sum(v - 1 for v in c.values() if v > 1)
        for i in c:
            if per_alert[i] > 0:
                dups_after_kill[p] += 1
            per_alert[i] += 1
    dups = sum(v - 1 for v in per_alert.values())
    worst = max(dups_after_kill.values() or [0])
    took = time.monotonic() - t_start
    print("crash: %d rounds, %d kills, %d alerts, %d deliveries, %d duplicates "
          "(at most %d after one kill), %.0f s" % (ROUNDS, kills, len(per_alert),
                                                  sum(per_alert.values()), dups, worst,
                                                  took))
    check(same_process == 0, "no alert delivered twice by one process (%d)" % same_process)
    check(worst <= IN_FLIGHT,
          "duplicates are in-flight ones only: at most %d per kill (worst %d)"
          % (IN_FLIGHT, worst))
    check(dups <= kills * IN_FLIGHT, "%d duplicates for %d kills" % (dups, kills))
    p = run(["outbox", "-c", conf, "list", "--json"])
    check(p.returncode == 0 and p.stdout.strip() == "",
          "the outbox is empty at the end (%s)" % p.stdout.strip()[:200])


if __name__ == "__main__":
    fwtest.main(crash_and_restart, shared=(fwtest.Server, fwtest.Receiver))
