#!/usr/bin/env python3
"""Adaptive polling through the real daemon (issue 20): a feed that publishes every second
is polled more often than an idle one, each within its min_interval/max_interval, the
total requests stay within the budget of fixed-interval polling, `status` shows the
learned rates, alerts carry `fetched` and their delivery time, and the metrics file has
the detection and delivery delay histograms, valid under promtool. The same feeds with
`adaptive = false` are polled at their interval alike."""
import email.utils
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import fwtest  # noqa: E402
from fwtest import check, q  # noqa: E402

RUN = 36  # seconds of each daemon run
INTERVAL = 4  # configured interval of both feeds
T0 = time.time()


def busy(h, body):
    """A feed with a new item every second (the newest 20), dated when published."""
    now = int(time.time())
    items = []
    for t in range(now, now - 20, -1):
        items.append("<item><title>busy item %d</title><guid>b%d</guid><pubDate>%s</pubDate>"
                     "<description>d</description></item>"
                     % (t, t, email.utils.formatdate(t, usegmt=True)))
    data = ('<?xml version="1.0"?><rss version="2.0"><channel><title>busy</title>'
            "<link>https://example.org/</link><description>b</description>%s</channel></rss>"
            % "".join(items)).encode()
    h.send_response(200)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


IDLE = ('<?xml version="1.0"?><rss version="2.0"><channel><title>idle</title>'
        "<link>https://example.org/</link><description>i</description>"
        "<item><title>old one</title><guid>i1</guid>"
        "<pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>"
        "<item><title>old two</title><guid>i2</guid>"
        "<pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate></item></channel></rss>")


def times_of(srv, path, since, until=float("inf")):
    with srv.lock:
        return [t for t, p in srv.times if p == path and since <= t < until]


def one_run(adaptive, w):
    srv = fwtest.Server()
    try:
        return run_with(adaptive, w, srv)
    finally:
        srv.close()


def run_with(adaptive, w, srv):
    srv.routes["/busy.xml"] = fwtest.Route(handler=busy)
    srv.routes["/idle.xml"] = fwtest.Route(IDLE, etag='"idle"')
    prom = w.file("metrics.prom")
    conf = w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
interval = %d;
max_interval = 30;
adaptive = %s;
first_poll_max_age = 0;
metrics_file = %s;
metrics_interval = 1;
feeds = (
  { name = "busy"; url = %s; min_interval = 1; },
  { name = "idle"; url = %s; max_interval = 25; }
);
watchlists = ( { name = "b"; match = "busy"; group = "item"; outputs = [ "log" ]; } );
outputs = ( { name = "log"; plugin = "log"; path = %s; format = "json"; rate_limit = 0; } );
""" % (q(w.state), INTERVAL, "true" if adaptive else "false", q(prom), q(srv.url("/busy.xml")),
       q(srv.url("/idle.xml")), q(w.file("alerts.jsonl"))))
    check(fwtest.run(["check", "-c", conf]).returncode == 0, "the config is valid")
    start = time.monotonic()
    d = fwtest.start(["run", "-c", conf])
    time.sleep(RUN)
    st = fwtest.status_json(conf)
    text = fwtest.run(["status", "-c", conf]).stdout
    end = time.monotonic()
    reload_polls = None
    if adaptive:
        # A lower max_interval takes effect at the reload, not after the idle feed's wait.
        before = len(times_of(srv, "/idle.xml", start))
        with open(conf) as f:
            body = f.read()
        with open(conf, "w") as f:
            f.write(body.replace("max_interval = 25;", "max_interval = 5;"))
        d.send_signal(signal.SIGHUP)
        time.sleep(9)
        reload_polls = len(times_of(srv, "/idle.xml", start)) - before
    rc, out, err = fwtest.stop(d)
    check(rc == 0, "the daemon stops cleanly (rc %d: %s)" % (rc, err[-300:]))
    res = {"busy": times_of(srv, "/busy.xml", start, end),
           "idle": times_of(srv, "/idle.xml", start, end),
           "reload_polls": reload_polls, "status": st, "text": text, "prom": prom, "alerts": fwtest.read_jsonl(
               w.file("alerts.jsonl")), "conf": conf}
    return res


def gaps(ts):
    return [b - a for a, b in zip(ts, ts[1:])]


def adaptive(w_fixed, w_ad):
    fixed = one_run(False, w_fixed)
    ad = one_run(True, w_ad)
    fb, fi, ab, ai = (len(fixed["busy"]), len(fixed["idle"]), len(ad["busy"]),
                      len(ad["idle"]))
    print("polls in %ds: fixed busy %d idle %d; adaptive busy %d idle %d" % (RUN, fb, fi, ab, ai))
    # Fixed: both at the interval (4 s +-10%).
    check(abs(fb - fi) <= 2, "adaptive = false: both feeds polled alike (%d, %d)" % (fb, fi))
    # Adaptive: the busy feed far more often than the idle one, each within its bounds.
    check(ab >= 3 * ai, "adaptive: the busy feed is polled at least 3x as often (%d, %d)"
          % (ab, ai))
    check(ab > fb, "adaptive: the busy feed more often than at its interval (%d > %d)" % (ab, fb))
    later = gaps(ad["busy"])[3:]
    check(later and min(later) >= 0.9, "the busy feed never below its min_interval (1 s): %s"
          % [round(g, 2) for g in later])
    check(max(later or [99]) <= INTERVAL, "and below its interval once learned: %s"
          % [round(g, 2) for g in later])
    ig = gaps(ad["idle"])
    # (its first gap may be the interval: when it learns first, it is the only feed of the
    # allocation, with its own budget)
    check(ai <= 3 and all(g >= 0.9 * 10 for g in ig[1:]),
          "the idle feed is polled rarely (%d polls, gaps %s)" % (ai, [round(g, 1) for g in ig]))
    check(all(g <= 25 * 1.1 + 1 for g in ig), "and never past its max_interval (25 s)")
    check(ad["reload_polls"] >= 1, "a lower max_interval counts at the reload (%r polls of the "
          "idle feed in the 9 s after it)" % ad["reload_polls"])
    # The budget: the requests of fixed polling (2 feeds / 4 s), jitter and first polls aside.
    budget = 2.0 * RUN / INTERVAL
    check(ab + ai <= budget * 1.15 + 2, "the budget holds: %d requests, fixed polling %d (%.0f)"
          % (ab + ai, fb + fi, budget))
    check(ab + ai >= budget * 0.6, "and is spent (%d of %.0f)" % (ab + ai, budget))
    # status: learned rates and next polls.
    feeds = {f["name"]: f for f in ad["status"].get("feeds", [])}
    rb = feeds.get("busy", {}).get("rate_per_hour")
    ri = feeds.get("idle", {}).get("rate_per_hour")
    # 36 items in 36 s, shrunk by the prior (0.1 item an hour weighing as an hour seen):
    # (36 + 0.1) / (36 + 3600) s = 36 an hour.
    check(isinstance(rb, float) and 20 <= rb <= 100,
          "status --json: the busy feed's rate, the prior's shrinkage aside (%r)" % rb)
    check(isinstance(ri, float) and ri < 1, "status --json: the idle feed almost none (%r)" % ri)
    check(all(f.get("next_poll", "-") != "-" for f in feeds.values()),
          "status --json: each feed's next poll")
    row = [l.split() for l in ad["text"].splitlines() if l.startswith("busy ")]
    check("RATE/H" in ad["text"] and row and len(row[0]) > 5 and float(row[0][5]) >= 20,
          "status: the RATE/H column:\n" + ad["text"][:400])
    fst = {f["name"]: f for f in fixed["status"].get("feeds", [])}
    check(isinstance(fst.get("busy", {}).get("rate_per_hour"), float),
          "adaptive = false still learns the rate (status shows it)")
    # Alerts: published -> fetched -> delivered.
    al = ad["alerts"]
    check(len(al) > 20 and all(a.get("fetched") for a in al),
          "every alert carries fetched (%d alerts)" % len(al))
    late = [a for a in al if a["item"]["published"] and a["fetched"] >= a["item"]["published"]]
    check(len(late) == len(al), "fetched is never before published (%s)"
          % [(a["item"]["published"], a["fetched"]) for a in al if a not in late][:5])
    p = fwtest.run(["alerts", "-c", ad["conf"], "--json"])
    rows = [l for l in p.stdout.splitlines() if l.strip()]
    outs = [o for l in rows for o in json.loads(l)["outputs"]]
    check(outs and all(o.get("delivered") for o in outs if o["state"] == "delivered"),
          "alerts --json: each delivered output says when (%d)" % len(outs))
    # Metrics: the two histograms, with samples, valid for Prometheus.
    text = open(ad["prom"]).read()
    for fam in ("feedwatch_detection_delay_seconds", "feedwatch_delivery_delay_seconds"):
        check("# TYPE %s histogram" % fam in text, fam + " is a histogram")
        cnt = [l for l in text.splitlines() if l.startswith(fam + "_count ")]
        check(cnt and int(cnt[0].split()[1]) > 0, fam + " has observations (%s)" % cnt)
    promtool = shutil.which("promtool")
    check(promtool is not None, "promtool is installed")
    if promtool:
        with open(ad["prom"]) as f:
            r = subprocess.run([promtool, "check", "metrics"], stdin=f, capture_output=True,
                               text=True)
        check(r.returncode == 0, "promtool check metrics accepts it (%s)"
              % (r.stdout + r.stderr).strip()[-400:])


if __name__ == "__main__":
    fwtest.main(adaptive, shared=(), each=(fwtest.Workdir, fwtest.Workdir))
