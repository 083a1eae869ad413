#!/usr/bin/env python3
"""Hostile items and hostile receivers against the output plugins (issue 15, points 6, 9,
10, 12).

Part 1 (links, feed_url, matrix): a feed served from a URL with user:password@, credential
query parameters under names no denylist knows (pass=, pw=, jwt=) and a fragment; its items
carry javascript:, data:, file:, and data: links, and a link
that tries to forge the text log's "(why: ...)". Only http(s) links leave the daemon: the
generic webhook JSON, the JSON log, the text log and exec all see null / nothing for the
others; the feed_url is scheme://host/path only; the text log cannot be forged; a Matrix
output sends m.notice with "m.mentions": {} so that "@room" in a title pings nobody.

Part 2 (tokens in outcome messages): webhook receivers shaped like Telegram, Slack, Discord,
ntfy and a generic hook with ?token= and user:password@ answer 500 and echo the request path
(raw, percent-decoded, JSON-escaped, after a long filler so the message cut falls inside the
token) in their error body. No secret part of any URL reaches the daemon's log, `outbox
list` (text and JSON) or any file of the state directory.

Part 3 (host backstop): a careless out-of-tree plugin (tests/data/plugins/leaky.c) quotes
its url key in its outcome message; the host redacts it before logging or storing."""
import base64
import glob
import json
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (DATA, Route, check, http_server, outbox, output_config, q,  # noqa: E402
                    rss_feed, run, xml_escape)

RECORD = os.path.join(DATA, "plugins", "exec_record.py")

BAD_LINKS = {
    "js": "javascript:alert(1)",
    "jsupper": "JavaScript:alert(document.cookie)",
    "data": "data:text/html,<script>alert(1)</script>",
    "file": "file:///etc/passwd",
    "vbs": "vbscript:msgbox(1)",
}
FORGE = "https://example.org/p?q=1> (why: @fake \"forged\" in title)"
SLACK_FORGE = "https://evil.example/x|Official notice from your bank"


def feed_items():
    out = [("bad-" + k, "Putin %s link" % k, v, "Putin.") for k, v in sorted(BAD_LINKS.items())]
    out.append(("forge", "Putin forge", FORGE, "Putin."))
    out.append(("slackforge", "Putin slack", SLACK_FORGE, "Putin."))
    out.append(("upper", "Putin upper", "HTTPS://example.org/upper", "Putin."))
    out.append(("good", "Putin good @room", "https://example.org/good?a=1&b=2", "Putin."))
    return out


def read_all(pattern):
    text = ""
    for p in glob.glob(pattern):
        with open(p, "rb") as f:
            text += f.read().decode("latin-1")
    return text


def links_and_matrix(srv, rcv, w):
    srv.routes["/feed.xml"] = Route(rss_feed(feed_items()))
    feed_url = srv.url("/feed.xml").replace("http://", "http://fuser:FEEDPASSWORD1@") + \
        "?pass=PASSVALUE2&pw=PWVALUE3&jwt=JWTVALUE4&page=1#FRAGMENT5"
    tok = w.write("matrix-token", "syt_matrix_token\n")
    rec = os.path.join(w.path, "rec")
    os.mkdir(rec)
    with open(os.path.join(rec, "mode"), "w") as f:
        f.write("ok")
    text_log, json_log = w.file("alerts.txt"), w.file("alerts.jsonl")
    conf = output_config(w, feed_url, [
        'name = "hook"; plugin = "webhook"; url = %s;' % q(rcv.url("/generic")),
        'name = "slack"; plugin = "webhook"; format = "slack"; url = %s;' % q(rcv.url("/slack")),
        'name = "matrix"; plugin = "webhook"; format = "matrix"; secret = %s; url = %s;'
        % (q(tok), q(rcv.url("/_matrix/client/v3/rooms/!r:x/send/m.room.message"))),
        'name = "text"; plugin = "log"; format = "text"; path = %s;' % q(text_log),
        'name = "json"; plugin = "log"; path = %s;' % q(json_log),
        'name = "cmd"; plugin = "exec"; command = [ %s, %s, %s ];'
        % (q(sys.executable), q(RECORD), q(rec)),
    ])
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])
    n = len(feed_items())

    bodies = [json.loads(r[3]) for r in rcv.log("/generic")]
    check(len(bodies) == n, "generic webhook: one request per item (%d)" % len(bodies))
    by_title = {b["item"]["title"]: b for b in bodies}
    for k in sorted(BAD_LINKS):
        b = by_title.get("Putin %s link" % k, {})
        check("link" in b.get("item", {}) and b["item"]["link"] is None,
              "generic webhook: a %s link is null (%r)" % (k, b.get("item", {}).get("link")))
    good = by_title.get("Putin good @room", {}).get("item", {})
    check(good.get("link") == "https://example.org/good?a=1&b=2",
          "generic webhook: an https link is kept (%r)" % good.get("link"))
    urls = {b["feed"]["url"] for b in bodies}
    want = srv.url("/feed.xml")
    check(urls == {want}, "feed_url is scheme://host/path only (%s)" % urls)
    everything = json.dumps(bodies) + read_all(json_log) + read_all(text_log)
    for secret in ("fuser", "FEEDPASSWORD1", "PASSVALUE2", "PWVALUE3", "JWTVALUE4",
                   "FRAGMENT5"):
        check(secret not in everything, "the feed URL's %s reaches no output" % secret)

    lines = [json.loads(l) for l in read_all(json_log).splitlines() if l.strip()]
    check(len(lines) == n and all(l["item"]["link"] is None for l in lines
                                  if l["item"]["title"].endswith(" link")),
          "json log: bad links are null")
    text = read_all(text_log)
    tl = text.splitlines()
    check(len(tl) == n, "text log: one line per alert (%d)" % len(tl))
    for line in tl:
        if " link" in line.split(" <", 1)[0]:
            check(" <" not in line and "javascript" not in line.lower() and
                  "data:" not in line and "file:" not in line ,
                  "text log: no bad link (%s)" % line)
    forge = [l for l in tl if "Putin forge" in l]
    check(len(forge) == 1 and forge[0].count("(why:") == 1 and "forged" not in
          forge[0].split("(why:")[1] and forge[0].endswith(")"),
          "text log: a link cannot forge the why (%s)" % forge[:1])

    recs = []
    for p_ in sorted(glob.glob(os.path.join(rec, "*.json"))):
        with open(p_) as f:
            recs.append(json.load(f))
    check(len(recs) == n, "exec: one run per item (%d)" % len(recs))
    for r in recs:
        j = json.loads(r["stdin"])
        bad = j["item"]["title"].endswith(" link")
        if bad:
            check(r["env"].get("FEEDWATCH_LINK") == "" and j["item"]["link"] is None,
                  "exec: no %s link in env or stdin" % j["item"]["title"])
        check(r["argv"] == [RECORD, rec], "exec: the link is never an argument")

    # The message is in the blocks of its coloured attachment ("text" is the fallback).
    sl = ["\n".join(b["text"]["text"] for b in json.loads(r[3])["attachments"][0]["blocks"]
                    if b["type"] == "section") for r in rcv.log("/slack")]
    sf = [t for t in sl if "evil.example" in t]
    check(len(sl) == n and len(sf) == 1 and "<https://evil.example/x%7COfficial%20notice%20from"
          "%20your%20bank|Putin slack>" in sf[0], "slack: a \"|\" in a link cannot supply the "
          "link's text (%s)" % sf[:1])
    check(any("<HTTPS://example.org/upper|Putin upper>" in t for t in sl),
          "slack: an upper-case HTTPS link is a link")
    check(not any("javascript" in t.lower() or "data:" in t or "file:" in t for t in sl),
          "slack: no bad link")

    m = [r for r in rcv.log() if r[1].startswith("/_matrix/")]
    check(len(m) == n, "matrix: one request per item (%d)" % len(m))
    for r in m:
        j = json.loads(r[3])
        ok = j.get("msgtype") == "m.notice" and j.get("m.mentions") == {}
        if not ok or "@room" in j.get("body", ""):
            check(ok, "matrix: m.notice with empty m.mentions (%s)" % r[3][:200])
    for r in m:
        j = json.loads(r[3])
        if "Putin good @room" in j.get("body", ""):
            check(True, "matrix: the @room title is sent, as a notice that mentions nobody")
        for k, v in BAD_LINKS.items():
            check(v not in j.get("body", "") and xml_escape(v) not in j.get("formatted_body", ""),
                  "matrix: no %s link" % k)


# Receivers shaped like real services; each secret must stay out of logs and the store.
TELEGRAM = "/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"
SLACK = "/services/T0AB1CD2E/B0FG3HI4J/XyZ9abCDefGHijKLmnOPqrST"
DISCORD = "/api/webhooks/112233445566778899/Disc0rd-T0ken_abcDEFghiJKLmnoPQRstu"
NTFY = "/mysecretalerttopic"
GENERIC = "/hook/s3cr3t%2Fpath?token=QUERYSECRET42&x=1"
SECRETS = ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "XyZ9abCDefGHijKLmnOPqrST",
           "Disc0rd-T0ken_abcDEFghiJKLmnoPQRstu", "mysecretalerttopic", "s3cr3t",
           "QUERYSECRET42", "hookpass99", "B0FG3HI4J", "T0AB1CD2E"]


def echo_serve(h, body):
    """500 with the path, in every spelling a receiver might use, in the body; the last copy
    placed so that the webhook's cut of the message (159 bytes) falls inside its secret."""
    path = h.path
    dec = urllib.parse.unquote(path)
    auth = h.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        auth = base64.b64decode(auth[6:]).decode()
    head = "no route for %s %s decoded %s json %s auth %s " % (
        h.command, path, dec, json.dumps(path.replace("/", "\\/")), auth)
    pos = max([dec.find(x) for x in SECRETS if x in dec] or [0])
    fill = max(0, 159 - len(head) - pos - 8)
    msg = (head + "." * fill + dec + " end").encode()
    h.send_response(500)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", str(len(msg)))
    h.end_headers()
    h.wfile.write(msg)


def echoed_tokens(srv, rcv, w):
    echo = http_server(0, echo_serve)
    base = "http://127.0.0.1:%d" % echo.server_address[1]
    try:
        srv.routes["/feed2.xml"] = Route(rss_feed([("t1", "Putin token", "https://example.org/t",
                                                    "Putin.")]))
        outs = [
            'name = "telegram"; plugin = "webhook"; url = %s;' % q(base + TELEGRAM),
            'name = "slack"; plugin = "webhook"; format = "slack"; url = %s;' % q(base + SLACK),
            'name = "discord"; plugin = "webhook"; format = "discord"; url = %s;'
            % q(base + DISCORD),
            'name = "ntfy"; plugin = "webhook"; format = "ntfy"; url = %s;' % q(base + NTFY),
            'name = "generic"; plugin = "webhook"; url = %s;'
            % q(base.replace("http://", "http://hookuser:hookpass99@") + GENERIC),
        ]
        conf = output_config(w, srv.url("/feed2.xml"), outs)
        p = run(["once", "-c", conf])
        log = p.stdout + p.stderr
        check("HTTP 500" in log, "the 500 answers are logged (%s)" % log.strip()[-300:])
        check("no route for" in log, "the receivers' error text is still logged")
        pend = outbox(conf, "--pending")
        check(len(pend) == len(outs), "each output's alert waits for a retry (%d)" % len(pend))
        check(all("HTTP 500" in (e.get("last_error") or "") for e in pend),
              "the outbox records the 500 (%s)" % [e.get("last_error") for e in pend][:1])
        listing = run(["outbox", "-c", conf, "list"]).stdout + \
            run(["outbox", "-c", conf, "list", "--json"]).stdout
        store = read_all(os.path.join(w.state, "*"))
        for s in SECRETS:
            check(s not in log, "log: no %s" % s)
            check(s not in listing, "outbox list: no %s" % s)
            check(s not in store, "state files: no %s" % s)
        for s in SECRETS:
            check(s[:6] not in log + listing + store, "no prefix of a cut token (%s)" % s[:6])
    finally:
        echo.shutdown()
        echo.server_close()


def host_backstop(srv, rcv, w):
    """A third-party plugin that quotes its url key in its outcome message: the host redacts
    the URL, its path, query and user info before logging or storing the message."""
    pdir = os.path.join(w.path, "plugins")
    os.mkdir(pdir, 0o755)
    src = os.path.join(DATA, "plugins", "leaky.c")
    inc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include")
    p = subprocess.run([os.environ.get("CC", "cc"), "-I", inc, "-shared", "-fPIC", "-o",
                        os.path.join(pdir, "leaky.so"), src], capture_output=True, text=True)
    if not check(p.returncode == 0, "the leaky test plugin builds (%s)" % p.stderr[-300:]):
        return
    srv.routes["/feed3.xml"] = Route(rss_feed([("l1", "Putin leak", "https://example.org/l",
                                                "Putin.")]))
    url = "https://luser:LEAKPASS77@hooks.example.org/v1/LEAKPATHTOKEN/x?k=LEAKQUERY55"
    conf = output_config(w, srv.url("/feed3.xml"),
                         ['name = "leaky"; plugin = "leaky"; url = %s;' % q(url)],
                         extra="plugin_dir = %s;" % q(pdir))
    p = run(["once", "-c", conf])
    dead = outbox(conf, "--dead")
    check(len(dead) == 1 and "cannot post to" in (dead[0].get("last_error") or ""),
          "the leaky plugin's failure is recorded (%s)" % p.stderr.strip()[-300:])
    seen = p.stdout + p.stderr + run(["outbox", "-c", conf, "list"]).stdout + \
        run(["outbox", "-c", conf, "list", "--json"]).stdout + \
        read_all(os.path.join(w.state, "*"))
    for s in ("LEAKPASS77", "LEAKPATHTOKEN", "LEAKQUERY55", "luser"):
        check(s not in seen, "host backstop: no %s in the log, outbox list or state" % s)


if __name__ == "__main__":
    fwtest.main(links_and_matrix, echoed_tokens, host_backstop,
                shared=(fwtest.Server, fwtest.Receiver))
