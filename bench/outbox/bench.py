#!/usr/bin/env python3
"""bench/outbox/bench.py - alerts per second through the outbox, and the latency from a feed
change being served to the webhook receiving the alert (GitHub issue 5, "Measured").

    bench.py FEEDWATCH PLUGIN_DIR WORK [--items N] [--latency-seconds S] [--only PART]

PART is throughput or latency. Standard library only. Everything runs on 127.0.0.1:

- a feed server (threads) serving one RSS feed, recording when each item was first served;
- a webhook receiver (asyncio, HTTP/1.1 keep-alive, answers 200 with an empty body at once,
  100 Continue when asked) recording the arrival time and item id of every request.

throughput: one feed with N matching items; `feedwatch once` with (a) the webhook output and
(b) the log plugin writing JSON Lines to a file, each on a fresh state dir. alerts/s =
(deliveries - 1) / (last arrival - first arrival); for the log file, arrival = when a poller
(1 ms) saw the line count grow. Also the wall time of the whole `once`.

latency: `feedwatch run` with a 1 s interval feed; a new matching item every 0.5 s for S
seconds; per item, receiver arrival minus the time the server first served a body holding it.
"""
import argparse
import asyncio
import http.server
import json
import os
import shutil
import socketserver
import statistics
import subprocess
import sys
import threading
import time


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rss(items):
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
           "<title>bench</title><link>https://example.org/</link><description>b</description>"]
    for guid, title in items:
        out.append("<item><title>%s</title><link>https://example.org/%s</link>"
                   '<guid isPermaLink="false">%s</guid>'
                   "<description>Putin said something about item %s.</description></item>"
                   % (title, guid, guid, guid))
    out.append("</channel></rss>\n")
    return "".join(out).encode()


class Feed:
    """A threaded HTTP server for one feed. items is a list of (guid, title); served[guid] is
    the time.monotonic() when a body holding guid was first written out."""

    def __init__(self):
        self.items = []
        self.served = {}
        self.lock = threading.Lock()
        self.body = rss([])
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                with outer.lock:
                    body, guids = outer.body, [g for g, _ in outer.items]
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                now = time.monotonic()
                with outer.lock:
                    for g in guids:
                        outer.served.setdefault(g, now)

        class TS(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = TS(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/feed.xml" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def set_items(self, items):
        body = rss(items)
        with self.lock:
            self.items = list(items)
            self.body = body

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Receiver:
    """An asyncio webhook receiver on its own thread: arrivals is a list of
    (time.monotonic(), body bytes); expects counts requests that sent Expect: 100-continue."""

    def __init__(self):
        self.arrivals = []
        self.expects = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        outer = self

        class P(asyncio.Protocol):
            def connection_made(self, tr):
                self.tr = tr
                self.buf = b""
                self.continued = False

            def data_received(self, data):
                self.buf += data
                while True:
                    i = self.buf.find(b"\r\n\r\n")
                    if i < 0:
                        return
                    n, expect = 0, False
                    for line in self.buf[:i].split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        k = k.strip().lower()
                        if k == b"content-length":
                            n = int(v)
                        elif k == b"expect" and b"100" in v:
                            expect = True
                    if len(self.buf) < i + 4 + n:
                        if expect and not self.continued:
                            self.continued = True
                            outer.expects += 1
                            self.tr.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                        return
                    body = self.buf[i + 4:i + 4 + n]
                    self.buf = self.buf[i + 4 + n:]
                    self.continued = False
                    outer.arrivals.append((time.monotonic(), body))
                    self.tr.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

        def serve():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(
                self.loop.create_server(P, "127.0.0.1", 0, backlog=256))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait()
        self.url = "http://127.0.0.1:%d/hook" % self.port

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def config(work, name, feed_url, output, interval=60):
    state = os.path.join(work, name, "state")
    shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    os.makedirs(state)
    path = os.path.join(work, name, "feedwatch.conf")
    with open(path, "w") as f:
        f.write("""
state_dir = %s;
min_interval = 1;
first_poll_max_age = 0;
max_alerts_per_poll = 0;  # throughput: every item alerts, none folded
feeds = ( { name = "bench"; url = %s; interval = %d; } );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; outputs = [ "out" ]; } );
outputs = ( { name = "out"; rate_limit = 0; %s } );
""" % (q(state), q(feed_url), interval, output))
    return path


def env(plugin_dir):
    e = dict(os.environ)
    e["FEEDWATCH_PLUGIN_DIR"] = plugin_dir
    return e


def rate(times):
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def throughput(a, feed, rcv):
    n = a.items
    feed.set_items([("t%d" % i, "Putin item %d" % i) for i in range(n)])
    res = {}
    # (a) webhook
    conf = config(a.work, "tp-webhook", feed.url, 'plugin = "webhook"; url = %s;' % q(rcv.url))
    rcv.arrivals.clear()
    t0 = time.monotonic()
    p = subprocess.run([a.feedwatch, "once", "-c", conf], env=env(a.plugin_dir),
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    times = [t for t, _ in rcv.arrivals]
    ids = set()
    for _, b in rcv.arrivals:
        try:
            ids.add(json.loads(b)["item"]["id"])
        except (ValueError, KeyError):
            pass
    res["webhook"] = {"deliveries": len(times), "distinct_items": len(ids), "rc": p.returncode,
                      "first_to_last_s": round(times[-1] - times[0], 3) if times else None,
                      "alerts_per_s": round(rate(times), 1), "once_wall_s": round(wall, 3),
                      "first_delivery_after_start_s": round(times[0] - t0, 3) if times else None,
                      "expect_100": rcv.expects}
    if p.returncode != 0:
        res["webhook"]["stderr"] = p.stderr[-500:]
    # (b) log plugin to a file
    out = os.path.join(a.work, "tp-log.jsonl")
    if os.path.exists(out):
        os.unlink(out)
    conf = config(a.work, "tp-log", feed.url, 'plugin = "log"; path = %s;' % q(out))
    seen = []  # (time, lines) whenever the count grew
    stop = threading.Event()

    def poll():
        last = 0
        while not stop.is_set():
            try:
                with open(out, "rb") as f:
                    c = f.read().count(b"\n")
            except OSError:
                c = 0
            if c > last:
                seen.append((time.monotonic(), c))
                last = c
            time.sleep(0.001)
    th = threading.Thread(target=poll, daemon=True)
    th.start()
    t0 = time.monotonic()
    p = subprocess.run([a.feedwatch, "once", "-c", conf], env=env(a.plugin_dir),
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    time.sleep(0.05)
    stop.set()
    th.join()
    lines = seen[-1][1] if seen else 0
    span = seen[-1][0] - seen[0][0] if len(seen) > 1 else 0
    res["log"] = {"deliveries": lines, "rc": p.returncode, "first_to_last_s": round(span, 3),
                  "alerts_per_s": round((lines - seen[0][1]) / span, 1) if span > 0 else 0.0,
                  "once_wall_s": round(wall, 3),
                  "first_delivery_after_start_s": round(seen[0][0] - t0, 3) if seen else None}
    return res


def pct(v, p):
    v = sorted(v)
    if not v:
        return None
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def latency(a, feed, rcv):
    feed.set_items([])
    conf = config(a.work, "lat", feed.url, 'plugin = "webhook"; url = %s;' % q(rcv.url),
                  interval=1)
    rcv.arrivals.clear()
    with feed.lock:
        feed.served.clear()
    d = subprocess.Popen([a.feedwatch, "run", "-c", conf], env=env(a.plugin_dir),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)  # the first (empty) poll
    items = []
    added = {}
    n = int(a.latency_seconds / 0.5)
    start = time.monotonic()
    for i in range(n):
        items.append(("l%d" % i, "Putin latency %d" % i))
        feed.set_items(items[-50:])  # a feed shows its latest 50 items
        added["l%d" % i] = time.monotonic()
        nxt = start + (i + 1) * 0.5
        time.sleep(max(0.0, nxt - time.monotonic()))
    end = time.monotonic() + 10
    while time.monotonic() < end and len(rcv.arrivals) < n:
        time.sleep(0.1)
    d.terminate()
    try:
        d.wait(timeout=30)
    except subprocess.TimeoutExpired:
        d.kill()
    lat, lat_added = [], []
    got = {}
    for t, b in rcv.arrivals:
        try:
            got.setdefault(json.loads(b)["item"]["id"], t)
        except (ValueError, KeyError):
            pass
    with feed.lock:
        served = dict(feed.served)
    for g, _ in items:
        if g in got and g in served:
            lat.append(got[g] - served[g])
            lat_added.append(got[g] - added[g])
    return {"items": n, "delivered": len(got), "measured": len(lat),
            "median_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p99_ms": round(pct(lat, 99) * 1000, 1) if lat else None,
            "min_ms": round(min(lat) * 1000, 1) if lat else None,
            "max_ms": round(max(lat) * 1000, 1) if lat else None,
            "from_added_median_ms": round(statistics.median(lat_added) * 1000, 1) if lat else None,
            "from_added_p99_ms": round(pct(lat_added, 99) * 1000, 1) if lat else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("feedwatch")
    ap.add_argument("plugin_dir")
    ap.add_argument("work")
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--latency-seconds", type=float, default=60.0)
    ap.add_argument("--only", choices=["throughput", "latency"])
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    feed, rcv = Feed(), Receiver()
    out = {}
    try:
        if a.only in (None, "throughput"):
            out["throughput"] = throughput(a, feed, rcv)
        if a.only in (None, "latency"):
            out["latency"] = latency(a, feed, rcv)
    finally:
        feed.close()
        rcv.close()
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
