#!/usr/bin/env python3
"""The webhook output against a scripted receiver on 127.0.0.1.

Part 1 (resilience): `feedwatch run` with several matching items while the receiver answers
503 (Retry-After: 1), then 429 (Retry-After: 1), is down (socket closed), stalls past the
timeout, and recovers; the daemon is stopped with SIGTERM once and killed with SIGKILL once
on the way. Every alert is accepted (2xx) exactly once, and every request carries a valid
Standard Webhooks signature whose webhook-id is the alert id. The URL's secret path never
reaches the log.

Part 2 (formats): slack, discord, ntfy, matrix, mattermost bodies; markup in titles escaped,
mentions disabled (test_webhook_conformance.py checks every limit of every format); 410 disables the output; a rate-limited output sends one digest."""
import base64
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (Route, check, outbox, output_config, q, rss_feed, run, start,  # noqa: E402
                    stop, sw_verify, wait_for, xml_escape)

TOKEN_PATH = "/hooks/T0KEN-s3cr3t-path"
HOSTILE = '<b>Putin</b> & "North Korea" @everyone <!channel> *bold* [x](http://evil)'


def items(n, prefix="Putin visits", first=0):
    return [("item-%d" % i, "%s place %d" % (prefix, i), "https://example.org/a/%d" % i,
             "Putin went to place %d." % i) for i in range(first, first + n)]


def accepted_ids(rcv, path):
    """webhook-id of each request answered 2xx."""
    return [r[2].get("webhook-id") for r in rcv.log(path) if 200 <= r[4] < 300]


def resilience(srv, rcv, w):
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    creds = os.path.join(w.path, "creds")
    os.mkdir(creds, 0o700)
    with open(os.path.join(creds, "hook-secret"), "w") as f:
        f.write(secret + "\n")
    env = {"CREDENTIALS_DIRECTORY": creds}
    srv.routes["/feed.xml"] = Route(rss_feed(items(4)))
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "hook"; plugin = "webhook"; url = %s; format = "generic"; secret = "hook-secret";'
        ' timeout = "1s"; retry_base = 1; retry_max = 2; headers = [ "X-Test: yes" ];'
        % q(rcv.url(TOKEN_PATH))])
    p = run(["check", "-c", conf], env=env)
    check(p.returncode == 0, "check accepts the webhook config (%s)" % p.stderr.strip()[-300:])
    logs = []

    def n_status(st):
        return len(rcv.log(TOKEN_PATH, st))

    # 503 with Retry-After: 1, then 429 with Retry-After: 1.
    rcv.mode = ("status", 503, 1)
    d = start(["run", "-c", conf], env=env)
    check(wait_for(lambda: n_status(503) >= 8, timeout=30),
          "503 + Retry-After: each alert is tried again (%d requests)" % n_status(503))
    rcv.mode = ("status", 429, 1)
    check(wait_for(lambda: n_status(429) >= 4, timeout=30),
          "429 + Retry-After: retried (%d requests)" % n_status(429))
    # Graceful restart in the middle.
    rc, out, err = stop(d)
    logs.append(err)
    check(rc == 0, "SIGTERM stops the daemon cleanly (rc %d)" % rc)
    check("did not close cleanly" not in err and "left open" not in err,
          "no handle left open at shutdown")
    pend = outbox(conf, "--pending")
    check(len(pend) == 4, "four alerts wait in the outbox after the restart (%d)" % len(pend))
    check(all("T0KEN" not in (e.get("last_error") or "") for e in pend),
          "the outbox error names no secret path")

    # Receiver down: connection refused, backoff retry_base = 1s.
    rcv.down()
    d = start(["run", "-c", conf], env=env)

    def refused():
        e = outbox(conf, "--pending")
        return len(e) == 4 and all("127.0.0.1" in (x.get("last_error") or "") and
                                   x["attempts"] >= 4 for x in e)
    check(wait_for(refused, timeout=30), "while the receiver is down, attempts go on")
    # Stalled receiver: the 1s timeout ends each request; then SIGKILL mid-flight.
    rcv.mode = "stall"
    rcv.stall = 2.5
    rcv.up()
    check(wait_for(lambda: len(rcv.log(TOKEN_PATH, 503)) >= 8 + 4, timeout=30),
          "requests to a stalled receiver are made")
    check(wait_for(lambda: any("timed out" in (x.get("last_error") or "")
                               for x in outbox(conf, "--pending")), timeout=20),
          "a stalled request times out and is retried (%s)" %
          [x.get("last_error") for x in outbox(conf, "--pending")][:1])
    rc, out, err = stop(d, signal.SIGKILL)
    logs.append(err)
    check(rc == -signal.SIGKILL, "the daemon was killed with SIGKILL (rc %d)" % rc)
    check(len(accepted_ids(rcv, TOKEN_PATH)) == 0, "nothing was accepted so far")

    # Recovery: everything arrives, each id once.
    time.sleep(rcv.stall)  # let stalled handlers finish before switching mode
    rcv.mode = "ok"
    d = start(["run", "-c", conf], env=env)
    check(wait_for(lambda: len(accepted_ids(rcv, TOKEN_PATH)) >= 4, timeout=40),
          "after recovery all four alerts are accepted (%d)" % len(accepted_ids(rcv, TOKEN_PATH)))
    check(wait_for(lambda: outbox(conf, "--pending") == [], timeout=20),
          "the outbox is empty")
    time.sleep(1.5)
    rc, out, err = stop(d)
    logs.append(err)
    check(rc == 0, "the last run stops cleanly (rc %d, %s)" % (rc, err.strip()[-300:]))
    ids = accepted_ids(rcv, TOKEN_PATH)
    check(len(ids) == 4 and len(set(ids)) == 4, "each alert id accepted exactly once (%s)" % ids)

    # A later run with new items delivers only those.
    srv.routes["/feed.xml"] = Route(rss_feed(items(4) + items(2, first=4)))
    p = run(["once", "-c", conf], env=env)
    logs.append(p.stderr)
    ids = accepted_ids(rcv, TOKEN_PATH)
    check(p.returncode == 0 and len(ids) == 6 and len(set(ids)) == 6,
          "a later once delivers the two new items only (%d accepted)" % len(ids))

    # Every request: signed, id = alert id = Idempotency-Key, configured header sent.
    bad = []
    for m, path, hdrs, body, st in rcv.log(TOKEN_PATH):
        err = sw_verify(secret, hdrs, body)
        try:
            j = json.loads(body)
        except ValueError:
            j = {}
        if err or hdrs.get("Idempotency-Key") != hdrs.get("webhook-id") or \
                j.get("id") != hdrs.get("webhook-id") or hdrs.get("X-Test") != "yes" or m != "POST":
            bad.append(err or "headers")
    check(bad == [], "all %d requests are signed and carry the alert id (%s)"
          % (len(rcv.log(TOKEN_PATH)), bad[:3]))
    first = json.loads(rcv.log(TOKEN_PATH, 200)[0][3])
    check(first.get("item", {}).get("title", "").startswith("Putin visits") and
          first.get("watchlist") == "putin" and "explain" in first,
          "the generic body is the alert JSON")
    alllog = "".join(logs)
    check("T0KEN" not in alllog and "s3cr3t" not in alllog,
          "the URL's secret path never reaches the log")
    check(secret[6:20] not in alllog, "the signing secret never reaches the log")
    check("not delivered" in alllog, "failed attempts are logged")


def formats(srv, rcv, w):
    rcv.mode = "ok"
    tok = w.write("matrix-token", "syt_matrix_token\n")
    # Titles are HTML in feeds: escape twice so that the item's plain-text title is HOSTILE.
    srv.routes["/feed.xml"] = Route(rss_feed([("hostile", xml_escape(HOSTILE),
                                               "https://example.org/h?a=1&b=2",
                                               xml_escape("Putin <script>"))]))
    outs = [
        'name = "slack"; plugin = "webhook"; format = "slack"; url = %s;' % q(rcv.url("/slack")),
        'name = "discord"; plugin = "webhook"; format = "discord"; url = %s;'
        % q(rcv.url("/discord")),
        'name = "ntfy"; plugin = "webhook"; format = "ntfy"; url = %s;' % q(rcv.url("/ntfy")),
        'name = "matrix"; plugin = "webhook"; format = "matrix"; secret = %s; url = %s;'
        % (q(tok), q(rcv.url("/_matrix/client/v3/rooms/!r:x/send/m.room.message"))),
        'name = "mm"; plugin = "webhook"; format = "mattermost"; url = %s;' % q(rcv.url("/mm")),
    ]
    conf = output_config(w, srv.url("/feed.xml"), outs)
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once with five formats exits 0 (%s)" % p.stderr.strip()[-300:])
    aid = (outbox(conf) or [{}])[0].get("alert_id")  # none pending: take id from a request

    r = rcv.log("/slack")
    check(len(r) == 1, "slack: one request")
    if r:
        aid = r[0][2].get("Idempotency-Key")
        j = json.loads(r[0][3])
        blocks = j["attachments"][0]["blocks"]
        t = blocks[0]["text"]["text"]
        check(blocks[0]["type"] == "section" and blocks[0]["text"]["type"] == "mrkdwn",
              "slack: a mrkdwn section block, in a coloured attachment")
        check("&lt;b&gt;Putin&lt;/b&gt; &amp;" in t and "<!channel>" not in t and
              "&lt;!channel&gt;" in t, "slack: <, > and & escaped (%s)" % t[:120])
        check("<https://example.org/h?a=1&amp;b=2|" in t, "slack: the link is <url|title>")
        check(j["text"].startswith("&lt;b&gt;Putin") and "<!channel>" not in j["text"],
              "slack: text is the (escaped) fallback")
    r = rcv.log("/discord")
    check(len(r) == 1, "discord: one request")
    if r:
        j = json.loads(r[0][3])
        c = j["embeds"][0]["title"]
        check(j.get("allowed_mentions") == {"parse": []}, "discord: allowed_mentions parse []")
        check("@everyone" not in c and "@\u200beveryone" in c, "discord: @everyone broken")
        check("\\*bold\\*" in c and "\\[x\\]" in c, "discord: markdown escaped (%s)" % c[:100])
        check(len(c) <= 256, "discord: an embed title of at most 256 characters")
        check(j["embeds"][0].get("url") == "https://example.org/h?a=1&b=2", "discord: embed url")
    r = rcv.log("/ntfy")
    check(len(r) == 1, "ntfy: one request")
    if r:
        h = r[0][2]
        title = h.get("Title", "")
        if title.startswith("=?UTF-8?B?"):
            title = base64.b64decode(title[10:-2]).decode()
        check(title == HOSTILE, "ntfy: the Title header holds the title (%r)" % title)
        check(h.get("Click") == "https://example.org/h?a=1&b=2", "ntfy: Click is the link")
        check(h.get("Tags") == "putin", "ntfy: Tags is the watchlist")
        check(h.get("Markdown") == "yes" and h.get("Priority") == "3",
              "ntfy: Markdown, Priority 3 (normal)")
        check(r[0][3].decode().startswith("world \u00b7 putin"),
              "ntfy: the body is the Markdown detail (%r)" % r[0][3][:60])
    r = rcv.log()
    r = [x for x in r if x[1].startswith("/_matrix/")]
    check(len(r) == 1, "matrix: one request")
    if r:
        m, path, h, body, st = r[0]
        j = json.loads(body)
        check(m == "PUT" and path.endswith("/m.room.message/" + (aid or "?")),
              "matrix: PUT with the alert id as txnId (%s %s)" % (m, path))
        check(h.get("Authorization") == "Bearer syt_matrix_token", "matrix: bearer token")
        check(j["msgtype"] == "m.notice" and j["body"].startswith(HOSTILE),
              "matrix: body is the plain text")
        check(j["format"] == "org.matrix.custom.html" and
              "&lt;b&gt;Putin&lt;/b&gt; &amp; &quot;North Korea&quot;" in j["formatted_body"] and
              "<script>" not in j["formatted_body"], "matrix: formatted_body escaped")
    r = rcv.log("/mm")
    att = json.loads(r[0][3])["attachments"][0] if len(r) == 1 else {}
    check(att.get("title") == HOSTILE and att.get("title_link") == "https://example.org/h?a=1&b=2"
          and "Putin &lt;script&gt;" not in att.get("text", "x") and
          "Putin \\<script\\>" in att.get("text", ""),
          "mattermost: an attachment: plain title, its link, the escaped snippet (%s)" % att)
    for path in ("/slack", "/discord", "/ntfy", "/mm"):
        x = rcv.log(path)
        check(bool(x) and x[0][2].get("Idempotency-Key") == aid,
              "%s: Idempotency-Key is the alert id" % path)


def gone_and_digest(srv, rcv, w):
    srv.routes["/feed.xml"] = Route(rss_feed(items(3, prefix="Putin digest")))
    rcv.mode = "ok"
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "digest"; plugin = "webhook"; url = %s; rate_limit = 1; rate_window = 3600;'
        % q(rcv.url("/digest"))])
    p = run(["once", "-c", conf])
    r = rcv.log("/digest")
    check(p.returncode == 0 and len(r) == 1, "rate limit 1: one request for three alerts")
    if r:
        j = json.loads(r[0][3])
        check(j.get("digest") == 3 and len(j.get("alerts", [])) == 3,
              "the digest body lists the three alerts")
        check(r[0][2].get("webhook-id", "").startswith("digest-3-"), "a digest has its own id")

    srv.routes["/feed.xml"] = Route(rss_feed(items(2, prefix="Putin gone", first=10)))
    rcv.mode = 410
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "gone"; plugin = "webhook"; url = %s;' % q(rcv.url("/gone"))])
    p = run(["once", "-c", conf])
    # Both alerts were in flight at once (up to 8 are); nothing is sent after the 410s.
    check(len(rcv.log("/gone")) == 2, "410: no request after the answers (%d)" % len(rcv.log("/gone")))
    check("disabled" in p.stderr, "410: the output is logged as disabled")
    check(len(outbox(conf, "--pending")) == 2, "410: both alerts stay queued")

    rcv.mode = "ok"
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "bad"; plugin = "webhook"; url = "ftp://x/";'])
    p = run(["once", "-c", conf])
    check("url" in p.stderr and "is down" in p.stderr, "a non-http url is refused at start")


if __name__ == "__main__":
    fwtest.main(resilience, formats, gone_and_digest, shared=(fwtest.Server, fwtest.Receiver))
