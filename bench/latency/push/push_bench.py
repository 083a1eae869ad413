#!/usr/bin/env python3
"""bench/latency/push: WebSub push path on loopback, hub POST -> alert line written by the
log plugin. Starts the daemon on one feed whose Link headers name a hub stand-in (the
test suite's spec-following hub, tests/integration/websub_hub.py), waits for the
subscription to be verified, then POSTs signed pushes (X-Hub-Signature sha256), each with
one new matching item, at RATE per second for SECONDS (open loop: each push has its slot
on a fixed clock), over one keep-alive connection. Latency of a push: from just before its
POST is sent to the moment its alert line is read from the log output's file (the file is
tailed every millisecond). Prints p50, p95, p99, max, the pushes answered, the alerts
seen, and the rate achieved. Standard library only."""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import fwtest  # noqa: E402
from websub_hub import Hub  # noqa: E402

WORDS = ("summit missile sanctions border talks treaty envoy ceasefire harbour pipeline grain "
         "drone embassy reactor satellite convoy election parliament frigate airbase").split()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def item_doc(i):
    # distinct words per item: no two items are the same story or a re-issue of another
    words = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(5))
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>'
            '<item><title>Putin %d %s</title><guid>push-%d</guid><description>%s item %d'
            '</description></item></channel></rss>' % (i, words, i, words, i)).encode()


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feedwatch", default=os.path.join(ROOT, "build-rel", "daemon", "feedwatch"))
    ap.add_argument("--plugins", default=None)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    plugins = args.plugins or os.path.join(os.path.dirname(os.path.dirname(args.feedwatch)), "plugins")
    work = tempfile.mkdtemp(prefix="fw-pushbench-")
    srv, hub, d = fwtest.Server(), Hub(), None
    try:
        topic = srv.url("/topic")
        srv.routes["/feed"] = fwtest.Route(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>b</title></channel></rss>',
            headers={"Link": '<%s>; rel="hub", <%s>; rel="self"' % (hub.url(), topic)})
        port = free_port()
        alerts = os.path.join(work, "alerts.jsonl")
        conf = os.path.join(work, "feedwatch.conf")
        with open(conf, "w") as f:
            f.write("""
state_dir = "%s/state";
min_interval = 1;
first_poll_max_age = 0;
feeds = ( { name = "bench"; url = "%s"; interval = 2; } );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; group = "item"; } );
outputs = ( { name = "alerts"; plugin = "log"; path = "%s"; format = "json"; rate_limit = 0; } );
websub = { listen = "127.0.0.1:%d"; callback_url = "http://127.0.0.1:%d/websub"; insecure_hubs = true; };
""" % (work, srv.url("/feed"), alerts, port, port))
        env = dict(os.environ, FEEDWATCH_PLUGIN_DIR=plugins)
        d = subprocess.Popen([args.feedwatch, "run", "-c", conf], env=env,
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "log"), "w"))
        if not fwtest.wait_for(lambda: hub.active(topic), 60):
            sys.exit("no verified subscription within 60 s (see %s/log)" % work)
        cb, sub = next(iter(hub.active(topic).items()))
        u = urllib.parse.urlsplit(cb)
        n = int(args.rate * args.seconds)
        sent, seen, status = [0.0] * n, {}, {}
        stop = threading.Event()

        def tail():
            while not os.path.exists(alerts) and not stop.is_set():
                time.sleep(0.001)
            with open(alerts) as fh:
                buf = ""
                while not stop.is_set():
                    chunk = fh.read()
                    if not chunk:
                        time.sleep(0.001)
                        continue
                    now = time.monotonic()
                    buf += chunk
                    lines = buf.split("\n")
                    buf = lines.pop()
                    for line in lines:
                        if line.strip():
                            gid = json.loads(line)["item"]["id"]
                            if gid.startswith("push-"):
                                seen[int(gid[5:])] = now

        t = threading.Thread(target=tail, daemon=True)
        t.start()
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        t0 = time.monotonic() + 0.5
        for i in range(n):
            body = item_doc(i)
            sig = hmac.new(sub["secret"].encode(), body, hashlib.sha256).hexdigest()
            slot = t0 + i / args.rate
            delay = slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[i] = time.monotonic()
            try:
                conn.request("POST", u.path, body, {"Content-Type": "application/rss+xml",
                                                    "X-Hub-Signature": "sha256=" + sig})
                r = conn.getresponse()
                r.read()
                status[r.status] = status.get(r.status, 0) + 1
            except (OSError, http.client.HTTPException):
                status[0] = status.get(0, 0) + 1
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        elapsed = time.monotonic() - t0
        fwtest.wait_for(lambda: len(seen) >= n, 10)
        stop.set()
        lat = [(seen[i] - sent[i]) * 1000 for i in range(n) if i in seen]
        print("pushes: %d in %.1f s (%.1f/s achieved), answers %s" % (n, elapsed, n / elapsed, status))
        print("alerts seen: %d of %d" % (len(lat), n))
        print("latency ms: p50 %.1f  p95 %.1f  p99 %.1f  max %.1f  mean %.1f"
              % (pct(lat, 50), pct(lat, 95), pct(lat, 99), max(lat) if lat else float("nan"),
                 sum(lat) / len(lat) if lat else float("nan")))
        ok = len(lat) == n and pct(lat, 99) < 200
        print("target p99 < 200 ms at %.0f/s: %s" % (args.rate, "met" if ok else "NOT met"))
        return 0 if ok else 1
    finally:
        if d and d.poll() is None:
            d.terminate()
            d.wait(30)
        hub.close()
        srv.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
