#!/usr/bin/env python3
"""The telegram, pushover and gotify formats of the webhook output against loopback
receivers that enforce each API's documented rules and answer as the API does (2xx when a
request is valid, the API's own 4xx and error body when it is not), through the real daemon
and the built webhook.so.

Telegram (Bot API sendMessage): POST <url>/bot<token>/sendMessage, JSON with chat_id,
text of 1 to 4096 UTF-16 code units, parse_mode "HTML" whose text uses only the tags the
Bot API allows, balanced, with <, > and & escaped as the only named entities Telegram knows.
Pushover (messages API): token and user, message of 1 to 1024 characters, title <= 250,
url <= 512, url_title <= 100, priority -2..2 (2 needs retry >= 30 and expire <= 10800),
html = 1 with Pushover's tags only. Gotify (POST /message): X-Gotify-Key, a message, an
integer priority, extras client::display contentType and client::notification click url.

Every alert must be accepted (none pending, none dead). A wrong token is refused by the
receiver, whose error body echoes it: the alert is a dead letter, and neither the log nor
the outbox shows the token. `feedwatch check` refuses each format without its keys."""
import html
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, outbox, output_config, q, rss_feed, run, xml_escape  # noqa: E402

TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
PO_TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
PO_USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
GO_TOKEN = "AvKvv6wMWRt4Wh0"
CHAT = "-1001234567890"
MARKUP = '<b>Putin</b> & "North Korea" *x* _y_ a|b > [x](y) @everyone 🇷🇺 '
ITEMS = [
    ("markup", MARKUP * 30, "https://en.wikipedia.org/wiki/Putin_(disambiguation)", MARKUP * 4),
    ("ru", "Путин " + "Президент прибыл с визитом в Северную Корею. " * 40,
     "https://ru.wikipedia.org/wiki/Путин_(значения)", "Путин " * 60),
    ("zh-ar", "Putin 普京抵达朝鲜进行国事访问。" * 30 + "وصل الرئيس بوتين " * 20,
     "https://example.org/a?b=<c>&d=\"e\"", "Putin"),
    ("long", "Putin long", "https://example.org/" + "Путин_(x)/" * 18, "Putin"),
    ("nolink", "Putin without a link", "", "Putin"),
]
TG_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
           "blockquote", "tg-spoiler", "span", "tg-emoji"}
PO_TAGS = {"b", "i", "u", "font", "a"}
TAG = re.compile(r"<(/?)([a-zA-Z-]+)([^<>]*)>")


def html_errors(text, allowed):
    """What an HTML-subset parser (Telegram's, Pushover's) refuses in text."""
    errs, stack = [], []
    for m in TAG.finditer(text):
        close, name, attr = m.group(1), m.group(2).lower(), m.group(3)
        if name not in allowed:
            errs.append("unsupported tag <%s>" % name)
        elif close:
            if not stack or stack.pop() != name:
                errs.append("unbalanced </%s>" % name)
        else:
            stack.append(name)
            if name == "a" and not re.fullmatch(r' href="[^"]*"', attr):
                errs.append("an <a> without a quoted href")
    if stack:
        errs.append("unclosed %s" % stack)
    rest = TAG.sub("", text)
    if "<" in rest or ">" in rest:
        errs.append("a raw < or >")
    if re.search(r"&(?!lt;|gt;|amp;|quot;|#[0-9]+;|#x[0-9a-fA-F]+;)", text):
        errs.append("an unsupported entity or raw &")
    return errs


def answer(h, status, obj):
    data = json.dumps(obj).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


class Api:
    """The three APIs on one loopback server; every refusal is recorded."""

    def __init__(self, srv):
        self.refused = []
        self.accepted = []
        srv.routes["/tg/bot%s/sendMessage" % TG_TOKEN] = Route(handler=self.telegram)
        srv.routes["/tg/botWRONG%s/sendMessage" % TG_TOKEN[:20]] = Route(handler=self.tg_bad)
        srv.routes["/po/1/messages.json"] = Route(handler=self.pushover)
        srv.routes["/gotify/message"] = Route(handler=self.gotify)

    def refuse(self, h, what, status, obj):
        self.refused.append((h.path.split("/")[1], what))
        answer(h, status, obj)

    def telegram(self, h, body):
        try:
            j = json.loads(body)
        except ValueError:
            return self.refuse(h, "not JSON", 400, {"ok": False, "error_code": 400})
        text = j.get("text", "")
        units = len(text.encode("utf-16-le")) // 2
        errs = [] if j.get("chat_id") == CHAT else ["chat not found"]
        if not 1 <= units <= 4096:
            errs.append("text must be 1-4096 characters (%d)" % units)
        if j.get("parse_mode") != "HTML":
            errs.append("parse_mode")
        errs += html_errors(text, TG_TAGS)
        if not h.headers.get("Content-Type", "").startswith("application/json"):
            errs.append("Content-Type")
        if errs:
            return self.refuse(h, errs, 400, {"ok": False, "error_code": 400,
                                               "description": "Bad Request: " + errs[0]})
        self.accepted.append(("tg", j))
        answer(h, 200, {"ok": True, "result": {"message_id": len(self.accepted)}})

    def tg_bad(self, h, body):
        # The Bot API says only "Unauthorized"; this one echoes the path, token and all,
        # also with the colon percent-encoded.
        self.refuse(h, "token", 401, {"ok": False, "error_code": 401,
                                      "description": "Unauthorized: %s (%s)"
                                      % (h.path, h.path.replace(":", "%3A"))})

    def pushover(self, h, body):
        try:
            j = json.loads(body)
        except ValueError:
            return self.refuse(h, "not JSON", 400, {"status": 0, "errors": ["not JSON"]})
        if j.get("token") != PO_TOKEN:
            return self.refuse(h, "token", 400, {
                "token": "invalid", "status": 0,
                "errors": ["application token is invalid: %s" % j.get("token")]})
        errs = [] if j.get("user") == PO_USER else ["user identifier is invalid"]
        msg = j.get("message", "")
        if not 1 <= len(msg) <= 1024:
            errs.append("message must be 1-1024 characters (%d)" % len(msg))
        for k, n in (("title", 250), ("url", 512), ("url_title", 100)):
            if len(j.get(k, "")) > n:
                errs.append("%s is longer than %d" % (k, n))
        p = j.get("priority", 0)
        if not isinstance(p, int) or not -2 <= p <= 2:
            errs.append("priority")
        if p == 2 and not (j.get("retry", 0) >= 30 and 0 < j.get("expire", 0) <= 10800):
            errs.append("retry/expire")
        if j.get("html") != 1:
            errs.append("html")
        errs += html_errors(msg, PO_TAGS)
        if errs:
            return self.refuse(h, errs, 400, {"status": 0, "errors": errs})
        self.accepted.append(("po", j))
        answer(h, 200, {"status": 1, "request": "647d2300-702c-4b38-8b2f-d56326ae460b"})

    def gotify(self, h, body):
        if h.headers.get("X-Gotify-Key") != GO_TOKEN:
            return self.refuse(h, "token", 401, {
                "error": "Unauthorized", "errorCode": 401,
                "errorDescription": "invalid token %s" % h.headers.get("X-Gotify-Key")})
        try:
            j = json.loads(body)
        except ValueError:
            return self.refuse(h, "not JSON", 400, {"error": "Bad Request"})
        errs = []
        if not isinstance(j.get("message"), str) or not j["message"]:
            errs.append("message")
        if not isinstance(j.get("title"), str) or not isinstance(j.get("priority"), int):
            errs.append("title/priority")
        ex = j.get("extras", {})
        if ex.get("client::display", {}).get("contentType") not in ("text/plain",
                                                                    "text/markdown"):
            errs.append("client::display")
        click = ex.get("client::notification", {}).get("click", {}).get("url", "")
        if "client::notification" in ex and not re.fullmatch(r"https?://[!-~]+", click):
            errs.append("click url %r" % click)
        if errs:
            return self.refuse(h, errs, 400, {"error": "Bad Request", "errorCode": 400,
                                              "errorDescription": ", ".join(errs)})
        self.accepted.append(("go", j))
        answer(h, 200, {"id": len(self.accepted), "appid": 1, "message": j["message"]})


def feed(srv):
    srv.routes["/feed.xml"] = Route(rss_feed([(g, xml_escape(t), l, xml_escape(d))
                                              for g, t, l, d in ITEMS]))


def secrets(w):
    return (w.write("tg", TG_TOKEN + "\n"), w.write("po", PO_TOKEN + "\n"),
            w.write("go", GO_TOKEN + "\n"), w.write("bad", "WRONG" + TG_TOKEN[:20] + "\n"))


def accepted(srv, w):
    feed(srv)
    api = Api(srv)
    tg, po, go, _ = secrets(w)
    outs = [
        'name = "tg"; plugin = "webhook"; format = "telegram"; url = %s; secret = %s; '
        'chat_id = %s; rate_limit = 0;' % (q(srv.url("/tg")), q(tg), q(CHAT)),
        'name = "po"; plugin = "webhook"; format = "pushover"; url = %s; secret = %s; '
        'user = %s; rate_limit = 0;' % (q(srv.url("/po/1/messages.json")), q(po), q(PO_USER)),
        'name = "go"; plugin = "webhook"; format = "gotify"; url = %s; secret = %s; '
        'rate_limit = 0;' % (q(srv.url("/gotify/")), q(go)),
    ]
    conf = output_config(w, srv.url("/feed.xml"), outs, extra="max_alerts_per_poll = 0;")
    p = run(["check", "-c", conf])
    check(p.returncode == 0, "check accepts the three formats (%s)" % p.stderr.strip()[-300:])
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])
    check(api.refused == [], "every request follows its API (%s)" % api.refused[:3])
    for kind in ("tg", "po", "go"):
        n = sum(k == kind for k, _ in api.accepted)
        check(n == len(ITEMS), "%s: each of the %d alerts accepted once (%d)"
              % (kind, len(ITEMS), n))
    check(outbox(conf, "--pending") == [] and outbox(conf, "--dead") == [],
          "nothing pending, nothing dead")
    for tok in (TG_TOKEN, PO_TOKEN, GO_TOKEN):
        check(tok not in p.stderr, "no token in the log")
    tg_texts = [j["text"] for k, j in api.accepted if k == "tg"]
    check(any("<a href=\"https://en.wikipedia.org/wiki/Putin_%28disambiguation%29\">" in t
              for t in tg_texts), "telegram: the link as <a href>, percent-encoded")
    check(any("&lt;b&gt;Putin&lt;/b&gt; &amp; &quot;North Korea&quot;" in t for t in tg_texts),
          "telegram: the title's markup escaped")
    pos = [j for k, j in api.accepted if k == "po"]
    check(any(j.get("url") == "https://en.wikipedia.org/wiki/Putin_%28disambiguation%29" and
              j.get("url_title") for j in pos), "pushover: url and url_title")
    check(any("url" not in j and "<a href=\"https://example.org/" in j["message"] for j in pos),
          "pushover: a link longer than 512 characters goes into the message as <a href>")
    gos = [j for k, j in api.accepted if k == "go"]
    check(any(j["extras"].get("client::notification", {}).get("click", {}).get("url") ==
              "https://ru.wikipedia.org/wiki/%D0%9F%D1%83%D1%82%D0%B8%D0%BD_%28%D0%B7%D0%BD%D0"
              "%B0%D1%87%D0%B5%D0%BD%D0%B8%D1%8F%29" for j in gos),
          "gotify: click url percent-encoded")
    check(all(j["priority"] == 5 for j in gos) and all(j["priority"] == 0 for j in pos),
          "normal priority: gotify 5, pushover 0")


def refused(srv, w):
    feed(srv)
    api = Api(srv)
    tg, po, go, bad = secrets(w)
    outs = [
        'name = "tg"; plugin = "webhook"; format = "telegram"; url = %s; secret = %s; '
        'chat_id = %s; rate_limit = 0;' % (q(srv.url("/tg")), q(bad), q(CHAT)),
        'name = "po"; plugin = "webhook"; format = "pushover"; url = %s; secret = %s; '
        'user = %s; rate_limit = 0;' % (q(srv.url("/po/1/messages.json")), q(bad), q(PO_USER)),
        'name = "go"; plugin = "webhook"; format = "gotify"; url = %s; secret = %s; '
        'rate_limit = 0;' % (q(srv.url("/gotify")), q(bad)),
    ]
    conf = output_config(w, srv.url("/feed.xml"), outs, extra="max_alerts_per_poll = 0;")
    p = run(["once", "-c", conf])
    dead = outbox(conf, "--dead")
    check(len(dead) == 3 * len(ITEMS), "a refused token: every alert a dead letter (%d)"
          % len(dead))
    check(len(api.refused) == 3 * len(ITEMS) and api.accepted == [],
          "the receivers refused every request (%d)" % len(api.refused))
    badtok = "WRONG" + TG_TOKEN[:20]
    text = p.stderr + json.dumps(dead)
    check(badtok not in text and badtok[5:] not in text and "AAHdqTcv" not in text,
          "the echoed token is in neither the log nor the outbox")
    check("[redacted]" in text and "HTTP 401" in text and "HTTP 400" in text,
          "the outcome keeps the status and the receiver's words, redacted")

    for fmt, keys, what in (
            ("telegram", 'secret = %s;' % q(tg), "chat_id"),
            ("pushover", 'secret = %s;' % q(po), "user"),
            ("gotify", 'url = "http://127.0.0.1:1/";', "secret"),
            ("telegram", 'chat_id = "1";', "secret"),
            ("slack", 'url = "http://127.0.0.1:1/"; chat_id = "1";', "chat_id")):
        c = output_config(w, srv.url("/feed.xml"), [
            'name = "x"; plugin = "webhook"; format = "%s"; %s' % (fmt, keys)])
        p = run(["check", "-c", c])
        check(p.returncode != 0 and what in p.stderr,
              "check: %s with %s refused, naming %s (%s)" % (fmt, keys, what,
                                                             p.stderr.strip()[-160:]))


if __name__ == "__main__":
    fwtest.main(accepted, refused)
