#!/usr/bin/env python3
"""bench/latency/replay.py - heterogeneous feeds replayed over accelerated time.

Two parts, one file:

  gen(n, days, seed)   the publication times of n feeds over [-BACK, days] (days, relative
                       to the origin), by a documented mix of publishers (below);
  serve(...)           a loopback HTTP server: GET /f/<i>.xml answers feed i's newest 20
                       items published up to "now" on the accelerated clock
                       now = origin + (real - origin) * scale (the same clock
                       FEEDWATCH_TIME_SCALE / FEEDWATCH_TIME_ORIGIN give the daemon), with
                       an ETag (a 304 when nothing changed), and counts requests.

The publishers (fractions of the feeds; rates drawn per feed, log-uniformly):
  hourly  15%  Poisson, 0.5 to 4 items an hour (wire services, busy news sections)
  daily   35%  Poisson, 1 to 8 items a day
  rare    25%  Poisson, one item every 2 to 10 days
  bursty  15%  bursts (Poisson, 0.5 to 3 a day) of 3 to 12 items within 20 minutes
               (live blogs, a desk publishing a batch)
  onoff   10%  alternating: active 6 to 24 hours at 1 to 4 items an hour, then silent
               1 to 4 days (a conference feed, a weekly show, a blog that wakes up)
Every feed also has a back catalogue (its process run over the 10 days before the origin),
so the first poll sees what a real first poll sees.

Usage:
  replay.py serve --port P --origin T --scale S --feeds N --days D --seed K --stats FILE
      (writes {"requests": total, "per_feed": [...]} to FILE on SIGTERM or GET /stats)
  replay.py delays --origin T --warmup H --log FILE [--until T2]
      (mean and p95 of fetched - published over the alerts of items published after
       origin + warmup hours and before T2, as JSON)
"""
import argparse
import bisect
import email.utils
import hashlib
import json
import math
import random
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BACK = 10.0  # days of back catalogue
KEEP = 20  # items per feed document


def loguniform(rng, lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def poisson_times(rng, rate_per_day, start, end):
    out, t = [], start
    while True:
        t += rng.expovariate(rate_per_day)
        if t >= end:
            return out
        out.append(t)


def gen_feed(rng, kind, start, end):
    """Publication times (days) of one feed of the given kind over [start, end)."""
    if kind == "hourly":
        return poisson_times(rng, 24 * loguniform(rng, 0.5, 4), start, end)
    if kind == "daily":
        return poisson_times(rng, loguniform(rng, 1, 8), start, end)
    if kind == "rare":
        return poisson_times(rng, 1 / loguniform(rng, 2, 10), start, end)
    if kind == "bursty":
        out = []
        for b in poisson_times(rng, loguniform(rng, 0.5, 3), start, end):
            k = rng.randint(3, 12)
            out += sorted(b + rng.uniform(0, 20 / 1440) for _ in range(k))
        return sorted(t for t in out if t < end)
    # onoff
    out, t = [], start - rng.uniform(0, 4)
    while t < end:
        on = rng.uniform(0.25, 1.0)
        out += [x for x in poisson_times(rng, 24 * loguniform(rng, 1, 4), t, t + on)
                if start <= x < end]
        t += on + rng.uniform(1, 4)
    return out


KINDS = [("hourly", 0.15), ("daily", 0.35), ("rare", 0.25), ("bursty", 0.15), ("onoff", 0.10)]


MIX = "news"  # or "longtail": every feed Poisson, rate log-uniform from 1 a month to 6 an hour


def gen(n, days, seed):
    """[(kind, [times in days relative to the origin])] for n feeds."""
    rng = random.Random(seed)
    if MIX == "longtail":
        return [("longtail", poisson_times(rng, loguniform(rng, 1 / 30, 144), -BACK, days))
                for _ in range(n)]
    feeds, acc, bounds = [], 0.0, []
    for kind, frac in KINDS:
        acc += frac
        bounds.append((acc, kind))
    for i in range(n):
        x = (i + 0.5) / n
        kind = next(k for a, k in bounds if x <= a + 1e-12)
        feeds.append((kind, gen_feed(rng, kind, -BACK, days)))
    return feeds


def rss(i, items):
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
             f"<title>bench feed {i}</title><link>http://127.0.0.1/f/{i}</link>",
             "<description>replay</description>"]
    for k, t in items:
        parts.append(f"<item><title>bench item {i}-{k}</title>"
                     f"<link>http://127.0.0.1/f/{i}/{k}</link><guid>f{i}-{k}</guid>"
                     f"<pubDate>{email.utils.formatdate(t, usegmt=True)}</pubDate>"
                     f"<description>replayed item {k} of feed {i}</description></item>")
    parts.append("</channel></rss>\n")
    return "".join(parts).encode()


def serve(a):
    feeds = gen(a.feeds, a.days, a.seed)
    times = [[a.origin + t * 86400 for t in ts] for _, ts in feeds]
    counts = [0] * a.feeds
    lock = threading.Lock()

    def now():
        return a.origin + (time.time() - a.origin) * a.scale

    def stats():
        with lock:
            return {"requests": sum(counts), "per_feed": counts[:],
                    "kinds": [k for k, _ in feeds]}

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/stats":
                body = json.dumps(stats()).encode()
                return self.reply(200, body, "application/json")
            try:
                i = int(self.path.rsplit("/", 1)[1].split(".")[0])
                ts = times[i]
            except (ValueError, IndexError):
                return self.reply(404, b"", "text/plain")
            with lock:
                counts[i] += 1
            n = bisect.bisect_right(ts, now())
            etag = f'"{i}-{n}"'
            if self.headers.get("If-None-Match") == etag:
                return self.reply(304, b"", None, etag)
            items = [(k, ts[k]) for k in range(n - 1, max(n - KEEP, 0) - 1, -1)]
            self.reply(200, rss(i, items), "application/rss+xml", etag)

        def reply(self, code, body, ctype, etag=None):
            self.send_response(code)
            if ctype:
                self.send_header("Content-Type", ctype)
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), H)

    def stop(*_):
        with open(a.stats, "w") as f:
            json.dump(stats(), f)
        threading.Thread(target=srv.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    srv.serve_forever()


def parse_time(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def delays(a):
    d, seen = [], set()
    start = a.origin + a.warmup * 3600
    for line in open(a.log):
        try:
            o = json.loads(line)
            pub, fetched = o["item"]["published"], o.get("fetched")
        except (ValueError, KeyError, TypeError):
            continue
        if not pub or not fetched:
            continue
        p = parse_time(pub)
        if p < start or (a.until and p > a.until):
            continue
        seen.add(o["item"]["id"])
        d.append(parse_time(fetched) - p)
    d.sort()
    expected = 0
    for i, (_, ts) in enumerate(gen(a.feeds, a.days, a.seed)):
        for t in ts:
            t = int(a.origin + t * 86400)
            expected += start <= t and (not a.until or t <= a.until)
    out = {"alerts": len(d), "published": expected, "missed": expected - len(seen)}
    if d:
        out["mean_s"] = sum(d) / len(d)
        out["p95_s"] = d[min(len(d) - 1, int(math.ceil(0.95 * len(d))) - 1)]
        out["median_s"] = d[len(d) // 2]
    print(json.dumps(out))


def main():
    global MIX
    p = argparse.ArgumentParser()
    p.add_argument("--mix", choices=["news", "longtail"], default="news")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--origin", type=float, required=True)
    s.add_argument("--scale", type=float, required=True)
    s.add_argument("--feeds", type=int, default=1000)
    s.add_argument("--days", type=float, default=3)
    s.add_argument("--seed", type=int, default=20)
    s.add_argument("--stats", required=True)
    d = sub.add_parser("delays")
    d.add_argument("--origin", type=float, required=True)
    d.add_argument("--warmup", type=float, default=6)
    d.add_argument("--until", type=float, default=0)
    d.add_argument("--log", required=True)
    d.add_argument("--feeds", type=int, default=1000)
    d.add_argument("--days", type=float, default=3)
    d.add_argument("--seed", type=int, default=20)
    g = sub.add_parser("describe")
    g.add_argument("--feeds", type=int, default=1000)
    g.add_argument("--days", type=float, default=3)
    g.add_argument("--seed", type=int, default=20)
    a = p.parse_args()
    MIX = a.mix
    if a.cmd == "serve":
        serve(a)
    elif a.cmd == "delays":
        delays(a)
    else:
        feeds = gen(a.feeds, a.days, a.seed)
        for kind, _ in KINDS + [("longtail", 1)]:
            ts = [t for k, v in feeds if k == kind for t in v if t >= 0]
            print(kind, sum(1 for k, _ in feeds if k == kind), "feeds,", len(ts),
                  "items in the replay")
        # The square-root optimum with each feed's exact replay rate and no bounds, as a
        # fraction of fixed polling's mean delay: (sum sqrt r)^2 / (N sum r) (Poisson
        # feeds; schedule.h derives it). What a rate-only policy can reach on this mix.
        r = [sum(1 for t in v if 0 <= t < a.days) for _, v in feeds]
        print("sqrt-rule bound, exact rates: %.2f x fixed"
              % (sum(math.sqrt(x) for x in r) ** 2 / (len(r) * sum(r))))


if __name__ == "__main__":
    sys.exit(main())
