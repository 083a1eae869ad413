#!/usr/bin/env python3
"""WebSub through the real daemon against a spec-following hub started by the test
(websub_hub.py): discovery from Link headers and from the feed's atom:link, verification
of intent (and refusal of unsolicited ones: 404), content distribution with each
signature method (a wrong or missing signature is answered 2xx, counted, and alerts
nothing), a pushed item's alert carrying `pushed` and a polled one's `fetched`, an
oversized push refused (413) whether it says its Content-Length or comes chunked, each
feed's subscription in `feedwatch status` (state, lease, pushes, bad signatures), polling slowed to a safety poll while pushes
arrive and back when they stop, a hub that denies, leases renewed and then ended when the
hub goes quiet (polling takes over), unsubscription when a feed leaves the config; a hub whose URL is http:// is not
subscribed to unless websub's insecure_hubs is set (hub.secret only over HTTPS), and a
subscription made there before insecure_hubs was turned off (at start or by a reload) is
never renewed but unsubscribed and shown insecure; a client trickling its request is cut
off at the request deadline."""
import calendar
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, output, q, read_jsonl, start, stop, wait_for  # noqa: E402
from websub_hub import Hub, post  # noqa: E402

ATOM_NS = "http://www.w3.org/2005/Atom"


def rss(items, links="", date=None):
    """items: (title, guid, description); date: a pubDate (Unix seconds) for each."""
    pub = "<pubDate>%s</pubDate>" % time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                                   time.gmtime(date)) if date else ""
    body = "".join("<item><title>%s</title><guid>%s</guid><description>%s</description>%s</item>"
                   % (t, g, d, pub) for t, g, d in items)
    return ('<?xml version="1.0"?><rss version="2.0" xmlns:atom="%s"><channel><title>t</title>%s%s'
            '</channel></rss>' % (ATOM_NS, links, body))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(w, srv, port, feeds, safety=6, websub=True, insecure=True, extra=""):
    text = """
state_dir = %s;
min_interval = 1;
first_poll_max_age = 0;
adaptive = false;  # every feed at its interval: the test counts polls against it
max_body = "64k";
metrics_file = %s;
metrics_interval = 1;
feeds = ( %s );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; group = "item"; } );
outputs = ( { name = "alerts"; plugin = "log"; path = %s; format = "json"; } );
%s
""" % (q(w.state), q(w.file("metrics.prom")),
       ",\n".join('{ name = "%s"; url = %s; interval = 2; }' % (n, q(srv.url("/" + n)))
                  for n in feeds),
       q(w.file("alerts.jsonl")),
       'websub = { listen = "127.0.0.1:%d"; callback_url = "http://127.0.0.1:%d/websub";\n'
       '           lease = "1d"; safety_poll = %d;%s %s };'
       % (port, port, safety, " insecure_hubs = true;" if insecure else "", extra)
       if websub else "")
    tmp = w.file("feedwatch.conf.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, w.file("feedwatch.conf"))
    return w.file("feedwatch.conf")


def metric(w, name):
    try:
        with open(w.file("metrics.prom"), encoding="utf-8") as f:
            for line in f:
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        pass
    return -1


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def get_status(url):
    """The status of a GET, or None when nothing listens."""
    try:
        return get(url)[0]
    except OSError:
        return None


def alert_ids(w):
    return [a["item"]["id"] for a in read_jsonl(w.file("alerts.jsonl"))]


def alert_of(w, item_id):
    for a in read_jsonl(w.file("alerts.jsonl")):
        if a["item"]["id"] == item_id:
            return a
    return None


def epoch(rfc3339):
    """Unix seconds of an RFC 3339 UTC time ("2026-12-07T01:02:03Z"), None when it is not one."""
    if not isinstance(rfc3339, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rfc3339):
        return None
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


def status_json(conf):
    p = fwtest.run(["status", "--json", "-c", conf])
    try:
        return {f["name"]: f for f in json.loads(p.stdout)["feeds"]}
    except (ValueError, KeyError, TypeError):
        return {}


def websub_status(conf, feed):
    return (status_json(conf).get(feed) or {}).get("websub") or {}


def websub(srv, w):
    hub = Hub(max_lease=4)
    try:
        run(srv, w, hub)
    finally:
        hub.close()


def run(srv, w, hub):
    topic = {n: "http://127.0.0.1:%d/topic/%s" % (srv.port, n) for n in ("a", "b", "c")}
    # a: hub and self in Link headers (and a decoy in the body: headers come first)
    srv.routes["/a"] = Route(rss([("Old news", "a-0", "x")],
                                 '<atom:link rel="hub" href="http://127.0.0.1:1/decoy"/>'),
                             headers={"Link": '<%s>; rel="hub", <%s>; rel="self"'
                                      % (hub.url(), topic["a"])})
    # b: only in the body, as atom:link in the RSS channel
    srv.routes["/b"] = Route(rss([("Old news", "b-0", "x")],
                                 '<atom:link rel="hub" href="%s"/><atom:link rel="self" href="%s"/>'
                                 % (hub.url(), topic["b"])))
    # c: a hub that denies
    hub.deny.add(topic["c"])
    srv.routes["/c"] = Route(rss([("Old news", "c-0", "x")]),
                             headers={"Link": '<%s>; rel="hub"' % hub.url() + ', <%s>; rel="self"'
                                      % topic["c"]})
    port = free_port()
    conf = write_config(w, srv, port, ["a", "b", "c"])
    d = start(["-v", "run", "-c", conf])

    check(wait_for(lambda: hub.verified("subscribe", topic["a"]), 30),
          "discovery from Link headers: the daemon subscribed to a's self at the hub and "
          "echoed the challenge")
    check(wait_for(lambda: hub.verified("subscribe", topic["b"]), 30),
          "discovery from the body (atom:link in RSS): subscribed to b's self")
    ra, rb = hub.requested("subscribe", topic["a"])[0], hub.requested("subscribe", topic["b"])[0]
    check(ra["hub.callback"].startswith("http://127.0.0.1:%d/websub/" % port) and
          ra["hub.callback"] != rb["hub.callback"],
          "each subscription has its own callback path under callback_url")
    check(0 < len(ra["hub.secret"]) < 200 and ra["hub.secret"] != rb["hub.secret"],
          "a fresh hub.secret per subscription, under 200 bytes")
    check(ra.get("hub.lease_seconds") == "86400", "hub.lease_seconds is the configured lease")
    check(not any(f["hub.callback"] for _, f in hub.requests if "decoy" in f.get("hub.callback", "")),
          "the Link header's hub is used, not the body's")

    # Refusal of verification the daemon did not ask for.
    cb_a = ra["hub.callback"]
    check(get(cb_a + "?hub.mode=subscribe&hub.topic=http://evil/&hub.challenge=x")[0] == 404,
          "verification with another topic: 404")
    check(get(cb_a + "?hub.mode=unsubscribe&hub.topic=%s&hub.challenge=x" % topic["a"])[0] == 404,
          "unsubscribe verification nobody asked for: 404")
    check(get("http://127.0.0.1:%d/websub/0123456789abcdef?hub.mode=subscribe&hub.topic=%s"
              "&hub.challenge=x" % (port, topic["a"]))[0] == 404,
          "verification on an unknown callback path: 404")
    check(wait_for(lambda: hub.verifications and any(v[0] == "denied" for v in hub.verifications), 30),
          "the hub denied c")
    check(wait_for(lambda: "denied the subscription" in output(d)[1], 10), "the denial is logged")

    # Pushes: each signature method, new items, no fetch of them.
    detected = metric(w, "feedwatch_detection_delay_seconds_count")
    for algo, n in (("sha256", 1), ("sha384", 2), ("sha512", 3), ("sha1", 4)):
        body = rss([("Putin pushed %d" % n, "a-push-%d" % n, "pushed by %s" % algo)],
                   date=int(time.time()) - 30).encode()
        sent = time.time()
        st = hub.publish(topic["a"], body, algo=algo)
        check(st == [202], "push signed with %s answered 202 (%s)" % (algo, st))
        check(wait_for(lambda: "a-push-%d" % n in alert_ids(w), 10),
              "the pushed item signed with %s alerts" % algo)
    a1 = alert_of(w, "a-push-4") or {}
    check(epoch(a1.get("pushed")) is not None and abs(epoch(a1.get("pushed")) - sent) <= 2 and
          a1.get("fetched") is None,
          "a pushed item's alert carries pushed (RFC 3339, when the push came) and no fetched "
          "(pushed %r, fetched %r)" % (a1.get("pushed"), a1.get("fetched")))
    check(wait_for(lambda: metric(w, "feedwatch_detection_delay_seconds_count") >= detected + 4, 5),
          "the detection-delay histogram counts pushed items (published -> pushed)")
    # Wrong and missing signatures: 2xx, ignored, counted.
    bad = rss([("Putin forged", "a-forged", "x")]).encode()
    check(hub.publish(topic["a"], bad, signature="sha256=" + "00" * 32) == [202],
          "a wrong signature is answered 2xx")
    check(hub.publish(topic["a"], bad, signature="") == [202], "a missing signature is answered 2xx")
    check(hub.publish(topic["a"], bad, signature="md5=abcd") == [202],
          "an unknown method is answered 2xx")
    # Oversized (max_body 64k): refused.
    big = rss([("Putin big", "a-big", "x" * 100000)]).encode()
    check(hub.publish(topic["a"], big) == [413], "a push over max_body is refused (413)")
    st = hub.publish(topic["a"], big, chunked=True)
    check(st == [413], "a chunked push over max_body (no Content-Length) is answered 413 too (%s)"
          % st)
    check(wait_for(lambda: metric(w, "feedwatch_websub_bad_signature_total") == 3, 10),
          "bad signatures counted (feedwatch_websub_bad_signature_total 3)")
    check(metric(w, "feedwatch_websub_sha1_total") == 1, "sha1 accepted and counted")
    check(metric(w, "feedwatch_websub_pushes_total") == 4, "four valid pushes counted")
    check(wait_for(lambda: metric(w, "feedwatch_websub_too_big_total") == 2, 5),
          "both oversized pushes counted")
    ok = hub.publish(topic["a"], rss([("Putin after big", "a-after-big", "x")]).encode())
    check(ok == [202] and wait_for(lambda: "a-after-big" in alert_ids(w), 10),
          "the callback server answers the next push as before (%s)" % ok)
    check(metric(w, "feedwatch_websub_refused_total") >= 3, "refused verifications counted")
    check(metric(w, "feedwatch_websub_denied_total") == 1, "the denial counted")
    time.sleep(1)
    check("a-forged" not in alert_ids(w) and "a-big" not in alert_ids(w),
          "nothing alerted from the forged or oversized pushes")
    check(d.poll() is None, "the daemon runs on")

    # status: each feed's subscription, with its pushes and bad signatures (in the store)
    check(wait_for(lambda: websub_status(conf, "a").get("pushes") == 5, 10),
          "status --json: a's pushes received (5): %r" % websub_status(conf, "a"))
    sa = websub_status(conf, "a")
    check(sa.get("hub") == hub.url() and sa.get("topic") == topic["a"] and
          sa.get("state") == "active" and sa.get("bad_signatures") == 3 and
          epoch(sa.get("lease_expires")) is not None and epoch(sa.get("last_push")) is not None,
          "status --json: a's hub, topic, state active, lease expiry, last push, 3 bad "
          "signatures: %r" % sa)
    check(websub_status(conf, "c").get("state") == "denied",
          "status --json: c's subscription was denied: %r" % websub_status(conf, "c"))
    p = fwtest.run(["status", "-c", conf])
    check(p.returncode == 0 and re.search(r"^a +active .* 5 +3\b", p.stdout, re.M) and
          topic["a"] in p.stdout and re.search(r"^c +denied", p.stdout, re.M),
          "status (text) shows each feed's subscription:\n" + p.stdout)

    # A polled item's alert keeps fetched (and has no pushed).
    srv.routes["/b"].body = rss([("Old news", "b-0", "x"), ("Putin polled", "b-polled", "x")],
                                '<atom:link rel="hub" href="%s"/><atom:link rel="self" href="%s"/>'
                                % (hub.url(), topic["b"])).encode()
    check(wait_for(lambda: "b-polled" in alert_ids(w), 10), "a polled item alerts")
    b1 = alert_of(w, "b-polled") or {}
    check(epoch(b1.get("fetched")) is not None and b1.get("pushed") is None,
          "a polled item's alert carries fetched and no pushed (fetched %r, pushed %r)"
          % (b1.get("fetched"), b1.get("pushed")))

    # While pushes arrive, a is only safety-polled (safety_poll 6 s); b is polled every 2 s.
    check(hub.publish(topic["a"], rss([("Putin pushed 5", "a-push-5", "x")]).encode()) == [202],
          "another push")
    polls_a, polls_b = srv.count("/a"), srv.count("/b")
    time.sleep(4)
    check(srv.count("/a") - polls_a == 0 and srv.count("/b") - polls_b >= 1,
          "a is not polled while pushes arrive (%d), b is (%d)"
          % (srv.count("/a") - polls_a, srv.count("/b") - polls_b))
    check(srv.count("/c") >= 3, "the denied feed c goes on being polled")
    # Pushes stop: after the safety interval, a is polled at its interval again.
    check(wait_for(lambda: srv.count("/a") - polls_a >= 2, 15),
          "pushes stopped: a is polled again")

    # Leases (4 s) are renewed before they end.
    check(wait_for(lambda: len(hub.verified("subscribe", topic["a"])) >= 2, 15),
          "a's lease is renewed before it ends")
    # Unsubscribe when a feed leaves the config.
    conf = write_config(w, srv, port, ["a", "c"])
    check(wait_for(lambda: hub.verified("unsubscribe", topic["b"]), 20),
          "b removed from the config: the daemon unsubscribed and confirmed")
    check(not hub.active(topic["b"]), "the hub holds no subscription of b")

    # A restart keeps the subscriptions (the store): the next push still verifies and alerts.
    rc, _, err = stop(d)
    check(rc == 0, "clean stop before the restart (rc %d)" % rc)
    sa = websub_status(conf, "a")
    check(sa.get("pushes") == 6 and sa.get("bad_signatures") == 3,
          "the push figures are in the store when the daemon has stopped (6 pushes, 3 bad "
          "signatures; status reads them with no daemon running): %r" % sa)
    d = start(["-v", "run", "-c", conf])
    check(wait_for(lambda: get_status(cb_a) is not None, 20), "restarted: the callback listens")
    st = hub.publish(topic["a"], rss([("Putin after restart", "a-push-6", "x")]).encode())
    check(st == [202], "push after the restart answered 202 (%s)" % st)
    check(wait_for(lambda: "a-push-6" in alert_ids(w), 10),
          "the subscription and its secret survived the restart: the push alerts")

    # websub leaves the config: every subscription is ended (the callback server stays until
    # the hub has verified), then the server stops.
    conf = write_config(w, srv, port, ["a", "c"], websub=False)
    check(wait_for(lambda: hub.verified("unsubscribe", topic["a"]), 20),
          "websub removed from the config: a is unsubscribed and confirmed")
    check(wait_for(lambda: get_status(cb_a) is None, 10), "then the callback server stops")
    # And back: the next poll discovers the hub again and subscribes afresh.
    conf = write_config(w, srv, port, ["a", "c"])
    check(wait_for(lambda: len(hub.requested("subscribe", topic["a"])) >= 1 and hub.active(topic["a"]), 20),
          "websub back in the config: a is subscribed again")
    check(hub.active(topic["a"]) and
          list(hub.active(topic["a"]).values())[0]["secret"] != ra["hub.secret"],
          "with a fresh secret")

    # The hub goes quiet: renewals are never verified, the lease ends, polling is back.
    hub.quiet = True
    check(wait_for(lambda: metric(w, "feedwatch_websub_expired_total") >= 1, 20),
          "the lease ended unrenewed (counted)")
    check(wait_for(lambda: "ended: polling again" in output(d)[1], 5), "and it is logged")
    before = srv.count("/a")
    check(wait_for(lambda: srv.count("/a") >= before + 2, 15), "a is polled after the lease ended")

    rc, out, err = stop(d)
    check(rc == 0, "clean stop (rc %d)" % rc)
    check("left open" not in err and "did not close cleanly" not in err, "every handle closed")
    check(len(alert_ids(w)) == len(set(alert_ids(w))), "no alert twice")


def insecure_hub(srv, w):
    """An http:// hub without insecure_hubs: not subscribed to (hub.secret would travel in the
    clear), the feed stays polled, status and the log (once) say why; check accepts the key."""
    hub = Hub()
    try:
        topic = "http://127.0.0.1:%d/topic/a" % srv.port
        srv.routes["/a"] = Route(rss([("Old news", "a-0", "x")]),
                                 headers={"Link": '<%s>; rel="hub", <%s>; rel="self"'
                                          % (hub.url(), topic)})
        conf = write_config(w, srv, free_port(), ["a"], insecure=False)
        polls = srv.count("/a")  # the server is shared with the parts before
        d = start(["-v", "run", "-c", conf])
        check(wait_for(lambda: srv.count("/a") >= polls + 3, 15), "the feed is polled")
        check(hub.requests == [], "no subscription request reached the http:// hub (%d)"
              % len(hub.requests))
        err = output(d)[1]
        check(err.count("insecure_hubs") == 1,
              "the log says once why the hub is not used:\n" + err)
        sa = websub_status(conf, "a")
        check(sa.get("state") == "insecure" and sa.get("hub") == hub.url() and
              "insecure_hubs" in (sa.get("reason") or ""),
              "status --json says why a is not subscribed: %r" % sa)
        p = fwtest.run(["status", "-c", conf])
        check("insecure_hubs" in p.stdout, "status (text) says why:\n" + p.stdout)
        rc, _, _ = stop(d)
        check(rc == 0, "clean stop (rc %d)" % rc)
        conf = write_config(w, srv, free_port(), ["a"], insecure=True)
        p = fwtest.run(["check", "-c", conf])
        check(p.returncode == 0, "feedwatch check accepts insecure_hubs = true:\n" + p.stderr)
        hub.max_lease = 4  # short leases: a renewal would come within seconds
        d = start(["-v", "run", "-c", conf])
        check(wait_for(lambda: hub.verified("subscribe", topic), 30),
              "with insecure_hubs = true the same hub is subscribed to")
        check(wait_for(lambda: len(hub.verified("subscribe", topic)) >= 2, 15),
              "and its 4 s lease renewed")
        rc, _, _ = stop(d)
        check(rc == 0, "clean stop (rc %d)" % rc)
        insecure_again(srv, w, hub, topic)
    finally:
        hub.close()


def insecure_again(srv, w, hub, topic):
    """insecure_hubs turned off (at start or by a reload) while the store holds an active
    subscription at the http:// hub: it is never renewed (a renewal would send hub.secret
    in the clear), it is unsubscribed (no secret in that), and status says insecure. The
    feed names no hub meanwhile, so no discovery comes to the rescue: the subscriber's own
    check must hold (a pushed feed is polled once an hour; a failing one names no hub)."""
    with_hub = srv.routes["/a"]
    no_hub = Route(rss([("Old news", "a-0", "x")]))
    srv.routes["/a"] = no_hub
    # At start: the store's subscription is active with a 4 s lease.
    port = free_port()
    conf = write_config(w, srv, port, ["a"], insecure=False)
    n_sub = len(hub.requested("subscribe", topic))
    d = start(["-v", "run", "-c", conf])
    check(wait_for(lambda: hub.verified("unsubscribe", topic), 15),
          "insecure_hubs off at start: the http:// hub's subscription is unsubscribed")
    time.sleep(6)  # past the lease: a renewal would have gone out by now
    subs = hub.requested("subscribe", topic)[n_sub:]
    check(subs == [], "no subscribe (no hub.secret) reached the http:// hub: %r" % subs)
    check(all("hub.secret" not in f for f in hub.requested("unsubscribe", topic)),
          "the unsubscription carries no secret")
    sa = websub_status(conf, "a")
    check(sa.get("state") == "insecure" and "insecure_hubs" in (sa.get("reason") or ""),
          "status --json says insecure: %r" % sa)
    # By a reload: allowed again (subscribed afresh), then turned off.
    srv.routes["/a"] = with_hub
    conf = write_config(w, srv, port, ["a"], insecure=True)
    n_ver = len(hub.verified("subscribe", topic))
    check(wait_for(lambda: len(hub.verified("subscribe", topic)) > n_ver, 30),
          "insecure_hubs back on by a reload: subscribed again")
    srv.routes["/a"] = no_hub
    n_unsub = len(hub.verified("unsubscribe", topic))
    conf = write_config(w, srv, port, ["a"], insecure=False)
    check(wait_for(lambda: len(hub.verified("unsubscribe", topic)) > n_unsub, 15),
          "insecure_hubs off by a reload: the http:// hub's subscription is unsubscribed")
    time.sleep(6)
    with hub.lock:
        t_unsub = max((t for t, f in hub.requests if f.get("hub.mode") == "unsubscribe"), default=0)
        subs = [f for t, f in hub.requests if f.get("hub.mode") == "subscribe" and t > t_unsub]
    check(subs == [], "after the reload no subscribe reached the http:// hub: %r" % subs)
    sa = websub_status(conf, "a")
    check(sa.get("state") == "insecure", "status --json says insecure after the reload: %r" % sa)
    rc, _, _ = stop(d)
    check(rc == 0, "clean stop (rc %d)" % rc)


def trickle_for(port, head, drip, limit):
    """Connect, send head, then drip one byte every 0.5 s (cycling) until the server closes
    the connection or limit seconds pass; seconds until closed (None: still open)."""
    c = socket.create_connection(("127.0.0.1", port), timeout=limit)
    start = time.monotonic()
    try:
        c.sendall(head)
        c.settimeout(0.5)
        i = 0
        while time.monotonic() - start < limit:
            try:
                if c.recv(4096) == b"":
                    return time.monotonic() - start
            except socket.timeout:
                pass
            except OSError:
                return time.monotonic() - start
            try:
                c.sendall(drip[i % len(drip):i % len(drip) + 1])
            except OSError:
                return time.monotonic() - start
            i += 1
        return None
    finally:
        c.close()


def trickle(srv, w):
    """A client trickling a byte every half second stays under the idle timeout
    (connection_timeout 1s here) yet is cut off at the request deadline (3 x
    connection_timeout), whether it trickles its headers, a body, or an oversized chunked
    body being drained; the server then answers the next request as before."""
    srv.routes["/a"] = Route(rss([("Old news", "a-0", "x")]))
    port = free_port()
    conf = write_config(w, srv, port, ["a"], extra='connection_timeout = "1s";')
    d = start(["-v", "run", "-c", conf])
    cb = "http://127.0.0.1:%d/websub/0123" % port
    check(wait_for(lambda: get_status(cb) is not None, 20), "the callback server listens")
    post_head = (b"POST /websub/0123 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Type: application/rss+xml\r\n\r\n")
    cases = (("headers", b"GET /websub/0123 HTTP/1.1\r\nHost: x\r\n", b"X-Slow: aaaa\r\n"),
             ("a chunked body", post_head, b"1\r\nx\r\n"),
             ("an oversized chunked body being drained",
              post_head + b"10000\r\n" + b"x" * 65536 + b"\r\n" + b"10000\r\n" + b"x" * 65536
              + b"\r\n", b"1\r\nx\r\n"))
    for what, head, drip in cases:
        took = trickle_for(port, head, drip, 12)
        check(took is not None and took < 6,
              "a client trickling %s is cut off within the deadline (3 s; took %s)"
              % (what, "%.1f s" % took if took is not None else "over 12 s, still open"))
    check(get_status(cb + "?hub.mode=subscribe&hub.topic=x&hub.challenge=y") == 404,
          "the callback server answers the next request")
    rc, _, _ = stop(d)
    check(rc == 0, "clean stop (rc %d)" % rc)


def unsolicited_only(srv, w):
    """A daemon whose feeds name no hub: every verification is refused, config errors."""
    bad = w.write("bad.conf", 'state_dir = %s;\nfeeds = ( { name = "a"; url = "http://x/"; } );\n'
                  'websub = { listen = "localhost:80"; callback_url = "ftp://x"; };\n' % q(w.state))
    p = fwtest.run(["check", "-c", bad])
    check(p.returncode != 0 and "bad.conf:3:" in p.stderr and "listen" in p.stderr and
          "callback_url" in p.stderr, "bad websub keys are FILE:LINE errors:\n" + p.stderr)


if __name__ == "__main__":
    fwtest.main(websub, insecure_hub, trickle, unsolicited_only)
