#!/usr/bin/env python3
"""A feed that outruns its polls (schedule.h part 4), through the real daemon and a real
HTTP server on loopback: a feed that shows its newest 5 items while it publishes 3 a
second, configured at a 6 s interval with adaptive polling off, is found overflowing
(every item new, none dated before the previous poll): the daemon says so, counts it in
feedwatch_feed_gaps_total, and polls it sooner, down to min_interval, so that nearly all of
its items alert where polling at the interval would have lost most of them. When it goes
quiet, its polls return to the interval. A steady feed (one item every 2 s, 20 shown) on
the same daemon keeps its interval throughout.

And what a gap lost comes back where the feed says where its older items are (RFC 5005
rel="next" / rel="prev-archive"): `feedwatch once` after a gap reads the older pages until
one holds an item seen before, on the feed's own origin only."""
import email.utils
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import fwtest  # noqa: E402
from fwtest import check, q  # noqa: E402

INTERVAL = 6
FAST_RATE = 3  # items a second while fast
FAST_FOR = 16  # seconds of publishing, from the daemon's start
RUN = 40
SHOWN = 5


def feed(title, items):
    body = "".join("<item><title>%s item %d</title><guid>%s-%d</guid><pubDate>%s</pubDate>"
                   "<description>d</description></item>"
                   % (title, k, title, k, email.utils.formatdate(t, usegmt=True))
                   for k, t in items)
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>%s</title>'
            "<link>https://example.org/</link><description>x</description>%s</channel></rss>"
            % (title, body)).encode()


def reply(h, data):
    h.send_response(200)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def fill(srv, w):
    t0, t0m = time.time(), time.monotonic()
    fast_total = FAST_RATE * FAST_FOR

    def published_fast(now):
        """Items 0..n-1 published so far, item k at t0 + k / FAST_RATE."""
        return min(int((now - t0) * FAST_RATE) + 1, fast_total)

    def fast(h, body):
        n = published_fast(time.time())
        ks = range(n - 1, max(n - SHOWN, 0) - 1, -1)
        reply(h, feed("fast", [(k, int(t0 + k / FAST_RATE)) for k in ks]))

    def steady(h, body):
        n = int((time.time() - t0) / 2) + 1
        ks = range(n - 1, max(n - 20, 0) - 1, -1)
        reply(h, feed("steady", [(k, int(t0 + 2 * k)) for k in ks]))

    srv.routes["/fast.xml"] = fwtest.Route(handler=fast)
    srv.routes["/steady.xml"] = fwtest.Route(handler=steady)
    prom = w.file("metrics.prom")
    conf = w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
interval = %d;
adaptive = false;
first_poll_max_age = 0;
metrics_file = %s;
metrics_interval = 1;
feeds = ( { name = "fast"; url = %s; }, { name = "steady"; url = %s; } );
watchlists = ( { name = "f"; match = "fast"; group = "item"; outputs = [ "log" ]; } );
outputs = ( { name = "log"; plugin = "log"; path = %s; format = "json"; rate_limit = 0; } );
""" % (q(w.state), INTERVAL, q(prom), q(srv.url("/fast.xml")), q(srv.url("/steady.xml")),
       q(w.file("alerts.jsonl"))))
    check(fwtest.run(["check", "-c", conf]).returncode == 0, "the config is valid")
    start = time.monotonic()
    d = fwtest.start(["run", "-c", conf])
    time.sleep(RUN)
    rc, out, err = fwtest.stop(d)
    check(rc == 0, "the daemon stops cleanly (rc %d: %s)" % (rc, err[-300:]))
    fast_end = start + FAST_FOR

    with srv.lock:
        ft = [t for t, p in srv.times if p == "/fast.xml" and t >= start]
        st = [t for t, p in srv.times if p == "/steady.xml" and t >= start]
    fg = [round(b - a, 2) for a, b in zip(ft, ft[1:])]
    sg = [round(b - a, 2) for a, b in zip(st, st[1:])]
    print("fast feed, gaps between polls: %s\nsteady feed: %s" % (fg, sg))

    # While fast: down to min_interval after the first overflows.
    during = [b - a for a, b in zip(ft, ft[1:]) if a > start + 2 * INTERVAL and b < fast_end]
    check(len(during) >= 3 and max(during) <= 3.0,
          "the overflowing feed is polled every second or two while fast: %s" % fg)
    check(min(fg or [0]) >= 0.8, "never below min_interval (1 s): %s" % fg)
    # Quiet again: back to the interval (a quarter more per quiet poll: 1, 2, 3, 4, 6 s).
    check(fg and fg[-1] >= INTERVAL - 1.5,
          "when it stops publishing, its polls return to the interval: %s" % fg)
    check(sg and min(sg[1:] or sg) >= INTERVAL - 1.5,
          "the steady feed (3 new of 20 a poll) keeps its interval: %s" % sg)

    said = [l for l in err.splitlines() if "scrolled off unseen" in l]
    check(any("feed 'fast'" in l for l in said) and not any("'steady'" in l for l in said),
          "the gap is logged for the fast feed only:\n" + "\n".join(said[:3]))
    text = open(prom).read() if os.path.exists(prom) else ""
    gaps = [l for l in text.splitlines() if l.startswith("feedwatch_feed_gaps_total ")]
    check(gaps and int(gaps[0].split()[1]) >= 2, "feedwatch_feed_gaps_total counts them (%s)"
          % gaps)

    alerted = {a["item"]["id"] for a in fwtest.read_jsonl(w.file("alerts.jsonl"))}
    # Polled at the interval (0, 6, 12 and 18 s), at most SHOWN items a poll would be seen:
    # about 17 of 48. The two overflows before the floor lose about as many.
    print("fast items alerted: %d of %d" % (len(alerted), fast_total))
    check(len(alerted) >= 0.45 * fast_total, "most of the fast feed's items alert (%d of %d)"
          % (len(alerted), fast_total))
    # Once polled at the floor (from its third poll), a poll finds 3 of 5 new: none is lost
    # (a poll late by a second under load may lose one or two).
    later = ["fast-%d" % k for k in range(fast_total)
             if len(ft) > 2 and t0m + k / FAST_RATE > ft[2]]
    lost = [i for i in later if i not in alerted]
    check(len(later) >= 12 and len(lost) <= 2, "after the third poll, %d of %d items lost: %s"
          % (len(lost), len(later), lost))


def atom(title, items, next_href):
    """An Atom document of items (k, date), with a rel="next" link when next_href."""
    entries = "".join("<entry><title>%s item %d</title><id>urn:%s:%d</id><updated>%s</updated>"
                      "<link href=\"https://example.org/%s/%d\"/><summary>s</summary></entry>"
                      % (title, k, title, k, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                         title, k) for k, t in items)
    link = '<link rel="next" href="%s"/>' % next_href if next_href else ""
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>%s</title><id>urn:%s</id><updated>2024-01-01T00:00:00Z</updated>%s%s</feed>"
            % (title, title, link, entries)).encode()


def rss_next(title, items, rel, href):
    """RSS 2.0 carrying an atom:link rel=REL to href."""
    body = "".join("<item><title>%s item %d</title><guid>%s-%d</guid><pubDate>%s</pubDate>"
                   "</item>" % (title, k, title, k, email.utils.formatdate(t, usegmt=True))
                   for k, t in items)
    return ('<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
            '<channel><title>%s</title><link>https://example.org/</link><description>x'
            '</description><atom:link rel="%s" href="%s"/>%s</channel></rss>'
            % (title, rel, href, body)).encode()


def pages(srv, w):
    """Items 0..n-1, the newest first, SHOWN to a page; page p links page p + 1 while older
    items remain."""
    dates = []  # date of item k

    def paged(h, body):
        p = int(h.path.partition("page=")[2] or 1)
        n = len(dates)
        hi = n - SHOWN * (p - 1)
        ks = range(hi - 1, max(hi - SHOWN, 0) - 1, -1)
        nxt = "/paged.xml?page=%d" % (p + 1) if hi - SHOWN > 0 else None
        reply(h, atom("paged", [(k, dates[k]) for k in ks], nxt))

    def offsite(h, body):
        n = len(dates)
        ks = range(n - 1, max(n - SHOWN, 0) - 1, -1)
        href = "http://localhost:%d/older.xml" % srv.port
        reply(h, rss_next("offsite", [(k, dates[k]) for k in ks], "prev-archive", href))

    served = [0]

    def rekey(h, body):
        """The same 5 old items under fresh ids at every request (and a rel=next)."""
        served[0] += 1
        old = int(time.mktime((2024, 1, 1, 0, 0, 0, 0, 1, 0)))
        doc = atom("rekey", [(k, old + k) for k in range(5)], "/rekey.xml?page=2")
        reply(h, doc.replace(b"<id>urn:rekey:", b"<id>urn:rekey%d:" % served[0]))

    srv.routes["/rekey.xml"] = fwtest.Route(handler=rekey)
    srv.routes["/paged.xml"] = fwtest.Route(handler=paged)
    srv.routes["/offsite.xml"] = fwtest.Route(handler=offsite)
    srv.routes["/older.xml"] = fwtest.Route(handler=offsite)
    conf = w.write("feedwatch.conf", """
state_dir = %s;
first_poll_max_age = 0;
min_interval = 1;
interval = 4;
adaptive = false;
feeds = ( { name = "paged"; url = %s; }, { name = "offsite"; url = %s; },
          { name = "rekey"; url = %s; } );
watchlists = ( { name = "all"; match = "item"; group = "item"; outputs = [ "log" ]; } );
outputs = ( { name = "log"; plugin = "log"; path = %s; format = "json"; rate_limit = 0; } );
""" % (q(w.state), q(srv.url("/paged.xml")), q(srv.url("/offsite.xml")),
       q(srv.url("/rekey.xml")), q(w.file("alerts.jsonl"))))

    def publish(n):
        time.sleep(1.1)  # dated after the previous poll, to the second
        dates.extend([int(time.time())] * n)

    def ids(feed):
        return {a["item"]["id"] for a in fwtest.read_jsonl(w.file("alerts.jsonl"))
                if a["feed"]["name"] == feed}

    publish(5)
    p = fwtest.run(["once", "-c", conf])
    check(p.returncode == 0, "the first once exits 0 (%s)" % p.stderr[-300:])
    check(len(ids("paged")) == 5 and srv.count("/paged.xml") == 1,
          "the first poll alerts its 5 items and reads no older page (a first poll has no gap)")
    publish(12)  # items 5..16: the document shows 16..12
    p = fwtest.run(["once", "-c", conf])
    check(p.returncode == 0, "the second once exits 0 (%s)" % p.stderr[-300:])
    got = ids("paged")
    want = {"urn:paged:%d" % k for k in range(17)}
    check(got == want, "after the gap, the older pages bring back every item: missing %s"
          % sorted(want - got, key=lambda x: int(x.rsplit(":", 1)[1])))
    with srv.lock:
        paths = [r[1] for r in srv.requests if r[1].startswith("/paged.xml")]
    check(paths[1:] == ["/paged.xml", "/paged.xml?page=2", "/paged.xml?page=3"],
          "pages 2 and 3 are read, page 3 holding items seen before ends it: %s" % paths)
    check("older page 2 after a gap" in p.stderr and "older page 3 after a gap" in p.stderr,
          "each page read is logged:\n" + p.stderr[-600:])
    pg = [r for r in srv.requests if r[1] == "/paged.xml?page=2"]
    check(pg and "If-None-Match" not in pg[0][2] and "If-Modified-Since" not in pg[0][2],
          "a page is asked for without the feed's validators")
    # Another origin (localhost for 127.0.0.1) is not followed: the gap is only said.
    check(len(ids("offsite")) == 10, "the offsite feed lost 7 of 12 to its gap (%d alerted)"
          % len(ids("offsite")))
    check(srv.count("/older.xml") == 0, "a rel=prev-archive on another origin is not followed")
    check("feed 'offsite': all 5 items new" in p.stderr, "but the gap is said")
    # A feed that re-keys old items (all new, dated long before) is no gap: nothing said,
    # no page read.
    check("feed 'rekey'" not in p.stderr and srv.count("/rekey.xml") == 2,
          "a feed re-keying its old items is not taken for a gap (%d requests)"
          % srv.count("/rekey.xml"))
    # A third once with nothing new: no page, nothing alerted twice.
    n_alerts = len(fwtest.read_jsonl(w.file("alerts.jsonl")))
    p = fwtest.run(["once", "-c", conf])
    check(p.returncode == 0 and len(fwtest.read_jsonl(w.file("alerts.jsonl"))) == n_alerts,
          "once more: nothing new, nothing alerted again")

    # The daemon alike: the pages at once after the gap, then its polls at the interval.
    with srv.lock:
        n0 = len([r for r in srv.requests if r[1].startswith("/paged.xml")])
    d = fwtest.start(["run", "-c", conf])
    before = srv.count("/paged.xml")
    check(fwtest.wait_for(lambda: srv.count("/paged.xml") > before, 20),
          "the daemon polls the feed")
    publish(12)  # items 17..28: the document shows 28..24, page 2 23..19, page 3 18..14
    want = {"urn:paged:%d" % k for k in range(29)}
    check(fwtest.wait_for(lambda: ids("paged") == want, 20),
          "the daemon brings back what the gap lost: missing %s" % sorted(want - ids("paged")))
    time.sleep(9)
    rc, out, err = fwtest.stop(d)
    check(rc == 0, "the daemon stops cleanly (%d)" % rc)
    with srv.lock:
        run_paths = [r[1] for r in srv.requests if r[1].startswith("/paged.xml")][n0:]
    check(run_paths.count("/paged.xml?page=2") == 1 and run_paths.count("/paged.xml?page=3") == 1
          and "/paged.xml?page=4" not in run_paths,
          "each older page read once: %s" % run_paths)
    check(run_paths.count("/paged.xml") >= 3, "and the regular polls go on: %s" % run_paths)


if __name__ == "__main__":
    fwtest.main(fill, pages)
