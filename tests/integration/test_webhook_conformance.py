#!/usr/bin/env python3
"""Every chat and push format of the webhook output against the documented limits of its
platform, through the real daemon and the built webhook.so, captured by a loopback receiver.

Part 1 (single alerts): items with long Russian, Chinese and Arabic titles, emoji, titles
full of markup (<b>, *, _, |, >, [x](y), @everyone), links with parentheses, non-ASCII
and markup characters, a very long link and no link. For each format and alert: the body is
well formed (JSON; mrkdwn, Markdown or HTML whose markup is balanced and whose text is
escaped), every length is within the platform's limit as the platform counts it (Unicode
characters, UTF-16 code units for Telegram, bytes for ntfy and Matrix), no cut falls inside
a UTF-8 sequence (the bodies decode), and the item's link arrives percent-encoded and whole
(percent-decoded it equals the alert's link).

Part 2 (digests): 50 alerts folded into one digest (rate_limit = 1). Each format lists the
items that fit and ends with "… and N more" where listed + N = 50 (none dropped silently),
within its limits (Slack: at most 50 blocks, one section per item); every listed link
survives.

The generic output (the alert JSON) is captured alongside as the reference of what each
alert holds."""
import base64
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, output_config, q, rss_feed, run, xml_escape  # noqa: E402

RU = "Президент Путин прибыл с визитом в Северную Корею, где обсудит сотрудничество. "
ZH = "普京抵达朝鲜进行国事访问，双方将讨论合作与安全问题。"
AR = "وصل الرئيس بوتين إلى كوريا الشمالية في زيارة رسمية لبحث التعاون. "
EMOJI = "🇷🇺🚀🔥👍🏽👨‍👩‍👧 "
MARKUP = '<b>Putin</b> *bold* _it_ a|b > q [x](y) @everyone <!channel> `c` ~~s~~ #h \\ '
LONG_LINK = "https://example.org/long/" + "Путин_(стр)/" * 13 + "end?q=a|b&r=[1]"
ITEMS = [
    ("ru", RU * 30, "https://ru.wikipedia.org/wiki/Путин_(значения)", RU * 10),
    ("zh", "Putin " + ZH * 40, "https://zh.wikipedia.org/wiki/普京?a=1&b=(2)", ZH * 20),
    ("ar", "Putin " + AR * 30, "https://ar.wikipedia.org/wiki/بوتين#x", AR * 10),
    ("emoji", "Putin " + EMOJI * 200, "https://example.org/e/🚀?x=👍", EMOJI * 40),
    ("markup", MARKUP * 25, "https://en.wikipedia.org/wiki/Putin_(disambiguation)",
     MARKUP * 5),
    ("chars", "Putin | > <x> ]) *_ link", "https://example.org/a_b*c|d[e]f?g=<h>&i=\"j\"&k=`l`",
     "Putin"),
    ("long", "Putin long link " + RU, LONG_LINK, RU),
    ("nolink", "Putin and no link " + MARKUP, "", MARKUP),
]

FORMATS = ["slack", "discord", "mattermost", "matrix", "ntfy", "telegram", "pushover",
           "gotify"]
PATHS = {"slack": "/slack", "discord": "/discord", "mattermost": "/mm", "ntfy": "/ntfy",
         "telegram": "/tg/botTG-TOKEN-12345/sendMessage", "pushover": "/po/1/messages.json",
         "gotify": "/gotify/message"}
MORE = re.compile("\u2026 and (\\d+) more$")


def outputs(rcv, w, rate_limit):
    tok = w.write("token", "TOKEN-abcdef-123456\n")
    tg = w.write("tg-token", "TG-TOKEN-12345\n")
    extra = "rate_limit = %d; rate_window = 3600;" % rate_limit
    return [
        'name = "gen"; plugin = "webhook"; url = %s; %s' % (q(rcv.url("/gen")), extra),
        'name = "slack"; plugin = "webhook"; format = "slack"; url = %s; %s'
        % (q(rcv.url("/slack")), extra),
        'name = "discord"; plugin = "webhook"; format = "discord"; url = %s; %s'
        % (q(rcv.url("/discord")), extra),
        'name = "mm"; plugin = "webhook"; format = "mattermost"; url = %s; %s'
        % (q(rcv.url("/mm")), extra),
        'name = "matrix"; plugin = "webhook"; format = "matrix"; secret = %s; url = %s; %s'
        % (q(tok), q(rcv.url("/_matrix/client/v3/rooms/!r:x/send/m.room.message")), extra),
        'name = "ntfy"; plugin = "webhook"; format = "ntfy"; url = %s; %s'
        % (q(rcv.url("/ntfy")), extra),
        'name = "tg"; plugin = "webhook"; format = "telegram"; url = %s; secret = %s; '
        'chat_id = "-100123"; %s' % (q(rcv.url("/tg")), q(tg), extra),
        'name = "po"; plugin = "webhook"; format = "pushover"; url = %s; secret = %s; '
        'user = "USERKEY-0123456789"; %s' % (q(rcv.url("/po/1/messages.json")), q(tok), extra),
        'name = "gotify"; plugin = "webhook"; format = "gotify"; url = %s; secret = %s; %s'
        % (q(rcv.url("/gotify")), q(tok), extra),
    ]


def utf16(s):
    return len(s.encode("utf-16-le")) // 2


def same_link(u, link):
    """u is a percent-encoded form of link: plain printable ASCII without the characters
    a markup ends a link on, and percent-decoded equal to the link."""
    plain = all(0x21 <= ord(c) < 0x7f for c in u) and not any(c in u for c in ' ()<>|[]"')
    return plain and urllib.parse.unquote(u) == urllib.parse.unquote(link)


def md_check(t):
    """Markdown as the builders write it: with backslash escapes, [text](url) links and
    ** bold taken out, no markup character is left; no raw @everyone. Returns (errors,
    urls)."""
    errs = []
    urls = re.findall(r"\]\(([^()\s]*)\)", re.sub(r"\\.", "", t))
    s = re.sub(r"\\.", "", t)
    s = re.sub(r"\[[^\[\]]*\]\([^()\s]*\)", "", s)
    s = s.replace("**", "")
    raw = [c for c in "[]()<>|*_`~" if c in s]
    if raw:
        errs.append("raw markup %r in %r" % (raw, s[:200]))
    if re.search(r"@(everyone|here|channel)", t):
        errs.append("a mass mention")
    return errs, urls


def mrkdwn_check(t):
    """Slack mrkdwn: <url|text> links, no other < or >, every & an entity."""
    errs = []
    links = re.findall(r"<([^<>|]*)\|([^<>]*)>", t)
    s = re.sub(r"<[^<>|]*\|[^<>]*>", "", t)
    if "<" in s or ">" in s:
        errs.append("raw < or > outside a link: %r" % s[:200])
    if re.search(r"&(?!amp;|lt;|gt;)", t):
        errs.append("a raw &")
    if re.search(r"@(everyone|here|channel)", t):
        errs.append("a mass mention")
    return errs, [u.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                  for u, _ in links]


TAG = re.compile(r'<(/?)([a-z]+)((?: href="[^"<>]*")?)>')


def html_check(t, allowed):
    """HTML as the builders write it: only allowed tags, balanced; no raw < or >; every &
    one of the four named entities (all Telegram knows). Returns (errors, hrefs)."""
    errs, stack, urls = [], [], []
    for m in TAG.finditer(t):
        close, name, attr = m.group(1), m.group(2), m.group(3)
        if name not in allowed:
            errs.append("tag <%s>" % name)
        elif name == "br":
            continue
        elif close:
            if not stack or stack.pop() != name:
                errs.append("unbalanced </%s>" % name)
        else:
            stack.append(name)
            if name == "a":
                urls.append(attr[7:-1].replace("&amp;", "&").replace("&quot;", '"'))
    if stack:
        errs.append("unclosed %s" % stack)
    s = TAG.sub("", t)
    if "<" in s or ">" in s:
        errs.append("raw < or >: %r" % s[:200])
    if re.search(r"&(?!amp;|lt;|gt;|quot;)", t):
        errs.append("an & that is not &amp; &lt; &gt; &quot;")
    return errs, urls


def rfc2047(v):
    if v.startswith("=?UTF-8?B?") and v.endswith("?="):
        return base64.b64decode(v[10:-2]).decode("utf-8")
    return v


def limit(fmt, what, value, n):
    check(value <= n, "%s: %s %d <= %d" % (fmt, what, value, n))


def texts(fmt, req):
    """(errors, urls, list lines, tail count or None) of one captured request; checks its
    limits on the way."""
    method, path, h, body, st = req
    errs, urls, text = [], [], ""
    if fmt == "ntfy":
        text = body.decode("utf-8")
        limit(fmt, "body bytes", len(body), 4096)
        title = rfc2047(h.get("Title", ""))
        limit(fmt, "Title bytes", len(title.encode()), 250)
        tags = rfc2047(h.get("Tags", ""))
        check(len(tags.split(",")) == 1, "ntfy: Tags is one tag (%r)" % tags)
        check(h.get("Markdown") == "yes" and h.get("Priority") in ("2", "3", "4", "5"),
              "ntfy: Markdown: yes and a Priority 2-5")
        if h.get("Click"):
            urls.append(h["Click"])
        e, u = md_check(text)
        return errs + e, urls + u, text
    j = json.loads(body)
    if fmt == "slack":
        blocks = j["attachments"][0]["blocks"]
        limit(fmt, "blocks", len(blocks), 50)
        check(bool(j.get("text")) and re.match(r"#[0-9a-f]{6}$", j["attachments"][0]["color"])
              is not None, "slack: a fallback text and a colour (%r, %r)"
              % (j.get("text", "")[:40], j["attachments"][0].get("color")))
        lines = []
        for b in blocks:
            t = b["text"]["text"] if b["type"] == "section" else b["elements"][0]["text"]
            limit(fmt, "block text characters", len(t), 3000)
            e, u = mrkdwn_check(t)
            errs += e
            urls += u
            lines.append(t)
        return errs, urls, "\n".join(lines)
    if fmt == "discord":
        embeds = j["embeds"]
        limit(fmt, "embeds", len(embeds), 10)
        total = 0
        for e in embeds:
            limit(fmt, "embed title characters", len(e.get("title", "")), 256)
            limit(fmt, "embed description characters", len(e.get("description", "")), 4096)
            total += len(e.get("title", "")) + len(e.get("description", ""))
            check(isinstance(e.get("color"), int) and "timestamp" in e,
                  "discord: a colour and a timestamp")
            if e.get("url"):
                urls.append(e["url"])
        limit(fmt, "characters in all embeds", total, 6000)
        check(j.get("allowed_mentions") == {"parse": []}, "discord: no mention pings")
        text = embeds[0].get("description", "")
        e, u = md_check(embeds[0].get("title", "") + "\n" + text)
        return errs + e, urls + u, text
    if fmt == "mattermost":
        a = j["attachments"][0]
        limit(fmt, "attachment title characters", len(a.get("title", "")), 256)
        limit(fmt, "attachment text characters", len(a.get("text", "")), 4000)
        if a.get("title_link"):
            urls.append(a["title_link"])
        e, u = md_check(a["text"])
        return errs + e, urls + u, a["text"]
    if fmt == "matrix":
        limit(fmt, "body bytes", len(j["body"].encode()), 24000)
        limit(fmt, "formatted_body bytes", len(j["formatted_body"].encode()), 24000)
        check(j["msgtype"] == "m.notice" and j["m.mentions"] == {}, "matrix: m.notice")
        e, u = html_check(j["formatted_body"], {"a", "b", "br"})
        return errs + e, urls + u, j["body"]
    if fmt == "telegram":
        limit(fmt, "text UTF-16 units", utf16(j["text"]), 4096)
        check(j["parse_mode"] == "HTML" and j["chat_id"] == "-100123",
              "telegram: parse_mode HTML, the chat")
        e, u = html_check(j["text"], {"a", "b"})
        return errs + e, urls + u, j["text"]
    if fmt == "pushover":
        limit(fmt, "message characters", len(j["message"]), 1024)
        limit(fmt, "title characters", len(j.get("title", "")), 250)
        limit(fmt, "url characters", len(j.get("url", "")), 512)
        limit(fmt, "url_title characters", len(j.get("url_title", "")), 100)
        check(j["html"] == 1 and j["priority"] in (-1, 0, 1, 2) and j["message"] and
              j["token"] == "TOKEN-abcdef-123456" and j["user"] == "USERKEY-0123456789",
              "pushover: token, user, a message, html = 1, priority -1..2 (%r)"
              % {k: v for k, v in j.items() if k != "message"})
        if j.get("url"):
            urls.append(j["url"])
        e, u = html_check(j["message"], {"a", "b"})
        return errs + e, urls + u, j["message"]
    if fmt == "gotify":
        check(h.get("X-Gotify-Key") == "TOKEN-abcdef-123456", "gotify: X-Gotify-Key")
        check(j["extras"]["client::display"]["contentType"] == "text/markdown" and
              isinstance(j["priority"], int), "gotify: markdown extras, a priority")
        limit(fmt, "title characters", len(j["title"]), 250)
        limit(fmt, "message characters", len(j["message"]), 4000)
        c = j["extras"].get("client::notification", {}).get("click", {}).get("url")
        if c:
            urls.append(c)
        e, u = md_check(j["message"])
        return errs + e, urls + u, j["message"]
    raise AssertionError(fmt)


def requests_of(rcv, fmt):
    if fmt == "matrix":
        return [r for r in rcv.log() if r[1].startswith("/_matrix/")]
    return rcv.log(PATHS[fmt])


def by_id(rcv, fmt):
    out = {}
    for r in requests_of(rcv, fmt):
        out[r[2].get("Idempotency-Key")] = r
    return out


def single(srv, w, rcv):
    # Titles are HTML in feeds: escape twice so that the item's plain-text title holds the
    # markup itself.
    srv.routes["/feed.xml"] = Route(rss_feed([(g, xml_escape(t), l, xml_escape(d))
                                              for g, t, l, d in ITEMS]))
    conf = output_config(w, srv.url("/feed.xml"), outputs(rcv, w, 0),
                         extra="max_alerts_per_poll = 0;")
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])
    ref = {r[2].get("Idempotency-Key"): json.loads(r[3]) for r in rcv.log("/gen")}
    check(len(ref) == len(ITEMS), "every item raised one alert (%d)" % len(ref))
    for fmt in FORMATS:
        got = by_id(rcv, fmt)
        check(set(got) == set(ref), "%s: one request per alert (%d)" % (fmt, len(got)))
        for aid, req in got.items():
            a = ref.get(aid, {})
            link = a.get("item", {}).get("link")
            guid = a.get("item", {}).get("id", "?")
            try:
                errs, urls, _ = texts(fmt, req)
            except (ValueError, KeyError, IndexError, TypeError) as e:
                check(False, "%s %s: the body is what the format documents (%r)" % (fmt, guid, e))
                continue
            check(errs == [], "%s %s: well formed (%s)" % (fmt, guid, errs[:2]))
            if link:
                check(any(same_link(u, link) for u in urls),
                      "%s %s: the link survives, percent-encoded (%s)" % (fmt, guid, urls[:3]))
            check(all(same_link(u, link or "") for u in urls),
                  "%s %s: no other or broken link (%s)" % (fmt, guid, urls[:3]))
    markup = [r for r in rcv.log("/mm") if "Putin_%28disambiguation%29" in r[3].decode()]
    check(len(markup) == 1, "mattermost: the (disambiguation) link arrives as %28...%29")


def list_lines(fmt, text):
    bullet = "\u2022 " if fmt in ("telegram", "pushover", "slack") else "- "
    return [l for l in text.split("\n") if l.startswith(bullet)]


def fold(srv, w, rcv, fmt, outs):
    """Raise the 50 alerts for the outputs outs (a fresh state) and deliver them as one
    digest per output: a first run whose requests fail for good (400: dead letters; the
    rest of the window stays pending), every alert made pending again, then a run in a
    fresh rate window folds all of them into one digest. The requests of that last run."""
    w.state = os.path.join(w.path, "state-" + fmt)
    conf = output_config(w, srv.url("/feed.xml"), outs, extra="max_alerts_per_poll = 0;")
    rcv.mode = 400
    run(["once", "-c", conf])
    p = run(["outbox", "-c", conf, "retry", "--all"])
    check(p.returncode == 0, "%s: outbox retry --all (%s)" % (fmt, p.stderr.strip()[-200:]))
    rcv.mode = "ok"
    with rcv.lock:
        del rcv.requests[:]
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "%s: once exits 0 (%s)" % (fmt, p.stderr.strip()[-300:]))
    return conf


def digest(srv, w, rcv):
    items = [("d%d" % i, "Putin digest %d %s%s" % (i, RU * 3, EMOJI),
              "https://en.wikipedia.org/wiki/Putin_(disambiguation)?n=%d" % i, "x")
             for i in range(50)]
    srv.routes["/feed.xml"] = Route(rss_feed([(g, xml_escape(t), l, d) for g, t, l, d in items]))
    outs = outputs(rcv, w, 1)
    for k, fmt in enumerate(FORMATS):
        # One format at a time: the outbox pump looks at a bounded batch of rows per pass.
        fold(srv, w, rcv, fmt, [outs[0], outs[k + 1]])
        ref = {r[2].get("Idempotency-Key"): json.loads(r[3]) for r in rcv.log("/gen")}
        digests = {k: v for k, v in ref.items() if v.get("digest")}
        check(list(ref) == list(digests) and [v["digest"] for v in digests.values()] == [50],
              "%s: the 50 alerts leave as one digest (%s)"
              % (fmt, [v.get("digest") for v in ref.values()]))
        got = by_id(rcv, fmt)
        for aid, d in digests.items():
            req = got.get(aid)
            if not check(req is not None, "%s: the digest was sent" % fmt):
                continue
            links = [a["item"]["link"] for a in d["alerts"]]
            errs, urls, text = texts(fmt, req)
            check(errs == [], "%s digest: well formed (%s)" % (fmt, errs[:2]))
            lines = list_lines(fmt, text)
            m = MORE.search(text.rstrip())
            more = int(m.group(1)) if m else 0
            check(len(lines) + more == d["digest"],
                  "%s digest: %d listed + %d more = %d" % (fmt, len(lines), more, d["digest"]))
            if fmt != "matrix":  # 24,000 bytes hold them all
                check(more > 0, "%s digest: 50 long items do not all fit (%d listed)"
                      % (fmt, len(lines)))
            check(all(any(same_link(u, l) for l in links) for u in urls) and
                  len(urls) >= (len(lines) if fmt != "ntfy" else 0),
                  "%s digest: every listed link survives (%d links)" % (fmt, len(urls)))
            if fmt == "slack":
                blocks = json.loads(req[3])["attachments"][0]["blocks"]
                check(len(blocks) == 50 and sum(b["type"] == "section" for b in blocks) == 49,
                      "slack digest: a section per item, 50 blocks (%d)" % len(blocks))


if __name__ == "__main__":
    fwtest.main(single, digest, shared=(fwtest.Server,), each=(fwtest.Workdir, fwtest.Receiver))
