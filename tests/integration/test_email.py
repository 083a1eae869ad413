#!/usr/bin/env python3
"""The email output against a real SMTP server (python3-aiosmtpd) on 127.0.0.1.

Part 1 (message): `feedwatch once` on a loopback feed sends one multipart/alternative
message per alert: the decoded Subject is the title (non-ASCII too), Message-ID holds the
alert id, text/plain and text/html are both there with the link and why it fired (HTML
escaped), a title with CR/LF injects no header, every line is at most 998 octets.
Part 2 (451): a temporary failure leaves the alert pending; a later run delivers it with the
same Message-ID. Part 3 (550): a dead letter with the server's reply in last_error.
Part 4 (digest): rate_limit = 1 gives one message listing every item.
Part 5 (STARTTLS): the default starttls = "require" against a server without STARTTLS
delivers nothing in clear; the alert stays pending.
Part 6 (stalled): a server that never answers times out (retried) while feeds are still
polled. Part 7 (config): `check` refuses a wrong type or an unknown key with file:line; a bad
value (starttls = "maybe", no `to`, a bad address, an http URL, a password in the URL) keeps
the output down at start with the reason logged, and the alert waits.
Part 8 (AUTH): username + secret file log in (AUTH PLAIN); a refused login (535) is a dead
letter; the password is in no log and no outbox entry.
Part 9 (priority, templates): a watchlist's priority sets Importance / X-Priority (none for
normal), an output's priority overrides it; the title template is the Subject (RFC 2047 when
needed), the body template the text part and, HTML-escaped, the HTML part.
Part 10 (threading): a story's first alert and its update (queued in the outbox as the story
layer will queue them): the update's In-Reply-To and References are the first message's
Message-ID, its Subject "Re: <story title>", and it lists the added items."""
import copy
import json
import os
import subprocess
import sys

# Debian's python3-aiosmtpd lives in the system interpreter: run there when this one lacks it.
try:
    import aiosmtpd  # noqa: F401
except ImportError:
    for _py in ("/usr/bin/python3",):
        if os.path.exists(_py) and os.path.realpath(_py) != os.path.realpath(sys.executable) \
                and subprocess.run([_py, "-c", "import aiosmtpd"]).returncode == 0:
            os.execv(_py, [_py] + sys.argv)
    print("FAIL python3-aiosmtpd is not installed (scripts/install-deps.sh)")
    sys.exit(1)

import email  # noqa: E402
import email.policy  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (Route, check, outbox, output_config, q, queue_payload, read_jsonl,  # noqa: E402
                    rss_feed, run, xml_escape)

TITLE_UTF8 = "Путин in Pjöngjang: Kim empfängt Wladimir Putin \u2014 \U0001F1F0\U0001F1F5 " \
             "a long title that must be folded over several encoded-words in the header"
PASSWORD = "s3cr3t-Pa55w0rd-xyz"


class Smtp:
    """An aiosmtpd server on 127.0.0.1 (a free port) that keeps every message it was given
    (also those it refused) and answers DATA as `mode` says: "ok" (250), or an SMTP reply
    line such as "451 4.3.0 try later"."""

    def __init__(self, auth=False):
        self.mode = "ok"
        self.messages = []  # (mail_from, rcpt_tos, bytes, reply)
        self.logins = []
        self.lock = threading.Lock()
        kw = {}
        if auth:
            kw = dict(authenticator=self._auth, auth_required=True, auth_require_tls=False)
        self.ctl = Controller(self, hostname="127.0.0.1", port=fwtest.free_port(), **kw)
        self.ctl.start()
        self.port = self.ctl.port

    def _auth(self, server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"feedwatch", PASSWORD.encode())
        with self.lock:
            self.logins.append((mechanism, auth_data.login, ok))
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server, session, envelope):
        reply = "250 2.0.0 OK queued" if self.mode == "ok" else self.mode
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  bytes(envelope.original_content or envelope.content), reply))
        return reply

    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def accepted(self):
        with self.lock:
            return [m for m in self.messages if m[3].startswith("250")]

    def close(self):
        self.ctl.stop()


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def parts(msg):
    """{content type: decoded text} of a multipart/alternative message."""
    return {p.get_content_type(): p.get_content() for p in msg.iter_parts()}


def email_output(smtp, extra=""):
    return ('name = "mail"; plugin = "email"; url = %s; from = "feedwatch@example.org"; '
            'to = [ "alice@example.org", "bob@example.net" ]; starttls = "no"; '
            'subject_prefix = "[fw] "; retry_base = 1; retry_max = 1; %s'
            % (q(smtp.url()), extra))


def items(n, first=0):
    return [("mail-%d" % i, "Putin visits place %d" % i, "https://example.org/m/%d?a=1&b=2" % i,
             "Putin went to <place> %d." % i) for i in range(first, first + n)]


def message(srv, smtp, w):
    feed = [("utf8", xml_escape(TITLE_UTF8), "https://example.org/utf8",
             xml_escape("Wladimir <b>Putin</b> & Kim \"met\".")),
            ("inject", "Putin news&#13;&#10;Bcc: mallory@evil.example&#13;&#10;X-Evil: 1",
             "https://example.org/inject", "Putin")]
    srv.routes["/feed.xml"] = Route(rss_feed(feed))
    # from_name comes from the config, where "\r\n" is a real CR LF: also no header of its own.
    conf = output_config(w, srv.url("/feed.xml"), [email_output(
        smtp, 'from_name = "Feed W\u00e4tcher\\r\\nBcc: mallory@evil.example\\r\\nX-Evil: 2";')])
    p = run(["check", "-c", conf])
    check(p.returncode == 0, "check accepts the email config (%s)" % p.stderr.strip()[-300:])
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-400:])
    delivered = set(re.findall(r"delivered alert ([0-9a-f]+)", p.stderr))
    got = smtp.accepted()
    check(len(got) == 2, "two messages reached the server (%d)" % len(got))
    check(outbox(conf, "--pending") == [] and outbox(conf, "--dead") == [],
          "nothing pending or dead")
    by_title = {}
    for mail_from, rcpts, raw, _ in got:
        check(mail_from == "feedwatch@example.org" and
              sorted(rcpts) == ["alice@example.org", "bob@example.net"],
              "envelope: from and both recipients (%s %s)" % (mail_from, rcpts))
        longest = max(len(l) for l in raw.split(b"\r\n"))
        check(longest <= 998, "every line is at most 998 octets (%d)" % longest)
        check(b"\n" not in raw.replace(b"\r\n", b""), "every line ends in CRLF")
        check(all(b < 0x80 for b in raw), "the message is 7-bit (%d bytes)" % len(raw))
        msg = parse(raw)
        by_title[str(msg["Subject"])] = (msg, raw)
    want = "[fw] " + TITLE_UTF8
    check(want in by_title, "Subject decodes to the non-ASCII title (%s)" % list(by_title))
    if want in by_title:
        msg, raw = by_title[want]
        head = raw.split(b"\r\n\r\n", 1)[0]
        check(b"=?UTF-8?B?" in head and b"\r\n =?UTF-8?B?" in head,
              "the Subject is RFC 2047 encoded and folded")
        check(all(len(l) <= 78 for l in head.split(b"\r\n")), "header lines fit in 78")
        check(msg.get_content_type() == "multipart/alternative",
              "multipart/alternative (%s)" % msg.get_content_type())
        for h in ("Date", "From", "To", "Message-ID", "MIME-Version"):
            check(msg[h] is not None, "header %s present" % h)
        check(msg["From"].addresses[0].addr_spec == "feedwatch@example.org", "From")
        check(sorted(a.addr_spec for a in msg["To"].addresses) ==
              ["alice@example.org", "bob@example.net"], "To lists both recipients")
        ps = parts(msg)
        check(sorted(ps) == ["text/html", "text/plain"], "text and HTML parts (%s)" % list(ps))
        txt, html = ps.get("text/plain", ""), ps.get("text/html", "")
        check(TITLE_UTF8 in txt and "https://example.org/utf8" in txt,
              "text part: title and link")
        check("Why it fired" in txt and "@putin" in txt and "watchlist putin" in txt and
              "in title" in txt, "text part: why it fired (term, watchlist, field)")
        check("Wladimir <b>Putin</b> & Kim" in txt, "text part: the summary, as plain text")
        check('href="https://example.org/utf8"' in html and "@putin" in html,
              "HTML part: the link and the why")
        check("&lt;b&gt;Putin&lt;/b&gt; &amp; Kim &quot;met&quot;" in html and
              "<b>Putin</b> &" not in html, "HTML part: the summary escaped")
        # (Python's address parser folds runs of spaces in a display name: compare words.)
        check(msg["From"].addresses[0].display_name.split() ==
              "Feed W\u00e4tcher Bcc: mallory@evil.example X-Evil: 2".split(),
              "From: the display name, CR/LF made spaces (%r)" % str(msg["From"]))
    mids = {str(parse(m[2])["Message-ID"]) for m in got}
    check(mids == {"<%s@feedwatch>" % i for i in delivered} and len(mids) == 2,
          "each Message-ID is <alert-id@feedwatch> of a delivered alert (%s, %s)"
          % (mids, delivered))
    inj = [t for t in by_title if "Bcc" in t or "mallory" in t]
    for t in by_title:
        msg, raw = by_title[t]
        head = raw.split(b"\r\n\r\n", 1)[0].decode()
        check(msg["Bcc"] is None and msg["X-Evil"] is None and
              not re.search(r"^(Bcc|X-Evil):", head, re.M),
              "a title or from_name with CR/LF injects no header (%s)" % t[:40])
    check(len(inj) == 1 or any("Putin news" in t for t in by_title),
          "the injection title arrived as a Subject (%s)" % list(by_title))
    for _, rcpts, _, _ in got:
        check("mallory@evil.example" not in rcpts, "no injected recipient")


def temporary(srv, smtp, w):
    smtp.mode = "451 4.3.0 Mailbox busy, try later"
    srv.routes["/feed.xml"] = Route(rss_feed(items(1)))
    conf = output_config(w, srv.url("/feed.xml"), [email_output(smtp)])
    p = run(["once", "-c", conf])
    pend = outbox(conf, "--pending")
    check(len(pend) == 1, "451: the alert stays pending (%s)" % pend)
    err = pend[0].get("last_error", "") if pend else ""
    check("451" in err and "Mailbox busy" in err, "451: the server's reply is in last_error (%s)"
          % err)
    first = smtp.messages[-1] if smtp.messages else None
    check(first is not None and smtp.accepted() == [], "451: the message was offered, refused")
    smtp.mode = "ok"
    time.sleep(2.5)
    p = run(["once", "-c", conf])
    got = smtp.accepted()
    check(p.returncode == 0 and len(got) == 1, "a later run delivers it (%d)" % len(got))
    check(outbox(conf, "--pending") == [], "nothing pending after the retry")
    if first and got:
        a, b = parse(first[2])["Message-ID"], parse(got[0][2])["Message-ID"]
        check(a == b and pend and pend[0].get("alert_id", "") in a,
              "the retry carries the same Message-ID, holding the alert id (%s, %s)" % (a, b))


def permanent(srv, smtp, w):
    smtp.mode = "550 5.7.1 Relaying denied"
    srv.routes["/feed.xml"] = Route(rss_feed(items(1)))
    conf = output_config(w, srv.url("/feed.xml"), [email_output(smtp)])
    run(["once", "-c", conf])
    dead = outbox(conf, "--dead")
    check(len(dead) == 1 and outbox(conf, "--pending") == [],
          "550: a dead letter at once (%s)" % dead)
    err = dead[0].get("last_error", "") if dead else ""
    check("550" in err and "Relaying denied" in err, "550: the reply is in last_error (%s)" % err)


def digest(srv, smtp, w):
    smtp.mode = "ok"
    srv.routes["/feed.xml"] = Route(rss_feed(items(5)))
    conf = output_config(w, srv.url("/feed.xml"),
                         [email_output(smtp, "rate_limit = 1; rate_window = 60; "
                                       'from_name = "Alerts, Inc. <ceo@evil.example>";')])
    p = run(["once", "-c", conf])
    got = smtp.accepted()
    check(p.returncode == 0 and len(got) == 1, "digest: one message (%d)" % len(got))
    if got:
        msg = parse(got[0][2])
        ps = parts(msg)
        txt, html = ps.get("text/plain", ""), ps.get("text/html", "")
        check("5 alerts" in str(msg["Subject"]), "digest: the Subject counts the alerts (%s)"
              % msg["Subject"])
        check(all("Putin visits place %d" % i in txt and
                  "https://example.org/m/%d?a=1&b=2" % i in txt for i in range(5)),
              "digest: the text part lists every item with its link")
        check(all("https://example.org/m/%d?a=1&amp;b=2" % i in html for i in range(5)),
              "digest: the HTML part lists every link, escaped")
        check(txt.count("@putin") >= 5, "digest: why it fired, per item")
        fr = msg["From"].addresses
        check(len(fr) == 1 and fr[0].addr_spec == "feedwatch@example.org" and
              fr[0].display_name == "Alerts, Inc. <ceo@evil.example>",
              "a from_name with , < @ stays one display name (%r)" % str(msg["From"]))
        check(re.fullmatch(r"<digest-5-[0-9a-f]+@feedwatch>", msg["Message-ID"] or "")
              is not None, "digest: Message-ID <digest-5-id@feedwatch> (%s)" % msg["Message-ID"])
    check(outbox(conf, "--pending") == [], "digest: nothing pending")


def starttls(srv, smtp, w):
    smtp.mode = "ok"
    srv.routes["/feed.xml"] = Route(rss_feed(items(1)))
    out = email_output(smtp).replace('starttls = "no"; ', "")
    conf = output_config(w, srv.url("/feed.xml"), [out])
    p = run(["once", "-c", conf])
    check(smtp.messages == [], "starttls require: nothing sent in clear")
    pend = outbox(conf, "--pending")
    err = pend[0].get("last_error", "") if pend else ""
    check(len(pend) == 1 and "STARTTLS" in err,
          "starttls require: the alert stays pending, retried (%s)" % err)
    conf = output_config(w, srv.url("/feed.xml"),
                         [out.replace("subject_prefix", 'starttls = "try"; subject_prefix')])
    time.sleep(2.5)
    p = run(["once", "-c", conf])
    check(p.returncode == 0 and len(smtp.accepted()) == 1,
          "starttls try: sent when the server offers no STARTTLS")


def stalled(srv, smtp, w):
    """A server that accepts and never answers: the session ends at `timeout` and the alert
    is retried; meanwhile the daemon's loop goes on polling (delivery is on a worker)."""
    import socket
    quiet = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    quiet.bind(("127.0.0.1", 0))
    quiet.listen(8)
    try:
        srv.routes["/feed.xml"] = Route(rss_feed(items(1)))
        out = email_output(smtp, 'timeout = "4s";').replace(
            smtp.url(), "smtp://127.0.0.1:%d" % quiet.getsockname()[1])
        conf = output_config(w, srv.url("/feed.xml"), [out])
        d = fwtest.start(["run", "-c", conf])
        fwtest.wait_for(lambda: srv.count("/feed.xml") >= 1, timeout=20)
        time.sleep(0.5)
        before = srv.count("/feed.xml")
        time.sleep(3)
        during = srv.count("/feed.xml") - before
        check(during >= 2, "while an SMTP session hangs, feeds are still polled (%d polls)"
              % during)
        fwtest.wait_for(lambda: outbox(conf, "--pending") and
                        outbox(conf, "--pending")[0].get("attempts", 0) >= 1, timeout=20)
        rc, _, err = fwtest.stop(d)
        pend = outbox(conf, "--pending")
        e = pend[0].get("last_error", "") if pend else ""
        check(rc == 0 and len(pend) == 1 and "timed out" in e.lower(),
              "a silent server: the session times out and the alert is retried (%s)" % e)
    finally:
        quiet.close()


def auth(srv, w):
    smtp = Smtp(auth=True)
    try:
        srv.routes["/feed.xml"] = Route(rss_feed(items(1)))
        creds = os.path.join(w.path, "creds")
        os.mkdir(creds, 0o700)
        with open(os.path.join(creds, "smtp-password"), "w") as f:
            f.write(PASSWORD + "\n")
        env = {"CREDENTIALS_DIRECTORY": creds}
        conf = output_config(w, srv.url("/feed.xml"), [email_output(
            smtp, 'username = "feedwatch"; secret = "smtp-password";')])
        p = run(["once", "-c", conf], env=env)
        check(p.returncode == 0 and len(smtp.accepted()) == 1 and
              any(ok for _, _, ok in smtp.logins),
              "AUTH with the password file: delivered (%s)" % smtp.logins)
        logs = p.stderr + p.stdout
        # A wrong password: 535 is a permanent failure; its outcome holds no password.
        with open(os.path.join(creds, "smtp-password"), "w") as f:
            f.write("wrong-" + PASSWORD + "\n")
        srv.routes["/feed.xml"] = Route(rss_feed(items(2)))
        p = run(["-v", "once", "-c", conf], env=env)
        logs += p.stderr + p.stdout
        dead = outbox(conf, "--dead")
        check(len(dead) == 1 and "535" in (dead[0].get("last_error") or ""),
              "a refused login (535) is a dead letter (%s)" % [d.get("last_error") for d in dead])
        everything = logs + repr(outbox(conf))
        check(PASSWORD not in everything, "the password is in no log and no outbox entry")
    finally:
        smtp.close()


def config_errors(srv, smtp, w):
    """`check` validates key names and types (the host's part) with file:line; the values
    are the plugin's to judge, in init(): a bad one keeps the output down (nothing sent, the
    alert waits) and the log says why, naming the output."""
    srv.routes["/feed.xml"] = Route(rss_feed(items(1)))
    typed = [
        ("starttls = 1", email_output(smtp).replace('starttls = "no"', "starttls = 1"),
         "'starttls' must be"),
        ("an unknown key", email_output(smtp).replace('starttls = "no"', 'tls = "no"'),
         "unknown key 'tls'"),
        ("to = 5", email_output(smtp).replace(
            'to = [ "alice@example.org", "bob@example.net" ]', "to = 5"), "'to' must be"),
    ]
    for what, out, words in typed:
        conf = output_config(w, srv.url("/feed.xml"), [out])
        with open(conf) as f:
            lines = f.read().splitlines()
        line = next(i + 1 for i, l in enumerate(lines) if 'plugin = "email"' in l)
        p = run(["check", "-c", conf])
        msg = p.stderr.strip()
        check(p.returncode == 1 and ("%s:%d:" % (conf, line)) in msg and words in msg,
              "check refuses %s with file:line (%s)" % (what, msg[-300:]))
    valued = [
        ('starttls = "maybe"', email_output(smtp).replace('starttls = "no"',
                                                          'starttls = "maybe"'),
         'starttls must be "require", "try" or "no"'),
        ("no to", email_output(smtp).replace(
            'to = [ "alice@example.org", "bob@example.net" ]; ', ""), "needs to = ["),
        ("a bad address", email_output(smtp).replace('"bob@example.net"',
                                                     '"bob@example.net\\r\\nBcc: x@y"'),
         "to: element 2 is not a plain address"),
        ("an http url", email_output(smtp).replace(smtp.url(), "http://127.0.0.1:1"),
         "url must be"),
        ("a password in the url", email_output(smtp).replace("smtp://", "smtp://u:pw@"),
         "url must not hold a user or password"),
        ("username without secret", email_output(smtp, 'username = "u";'),
         "username and secret"),
    ]
    for what, out, words in valued:
        conf = output_config(w, srv.url("/feed.xml"), [out])
        p = run(["once", "-c", conf])
        check("output 'mail': " + words in p.stderr and "is down" in p.stderr,
              "%s: the output stays down and the log says why (%s)"
              % (what, p.stderr.strip()[-300:]))
        check(smtp.messages == [] and len(outbox(conf, "--pending")) == 1,
              "%s: nothing sent, the alert waits" % what)
        os.unlink(conf)
        w.cleanup()
        os.makedirs(w.path)


def config(w, feed_url, watchlist_extra, outputs):
    return w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; interval = 1; } );
entities = { putin = [ "Putin" ]; kim = [ "Kim" ]; };
watchlists = ( { name = "war"; match = "@putin"; group = "item"; %s },
               { name = "calm"; match = "@kim"; group = "item"; priority = "low"; } );
outputs = ( %s );
""" % (q(w.state), q(feed_url), watchlist_extra, ",\n".join("{ %s }" % o for o in outputs)))


def by_subject(got):
    return {str(parse(m[2])["Subject"]): parse(m[2]) for m in got}


def priority_templates(srv, smtp, w):
    srv.routes["/feed.xml"] = Route(rss_feed([
        ("t1", "Putin & friends > foes", "https://example.org/t1?a=1&b=2", "Summit talk."),
        ("t2", "Kim sleeps", "https://example.org/t2", "Quiet.")]))
    conf = config(w, srv.url("/feed.xml"),
                  'priority = "urgent"; title = "{watchlist} \u2014 {title}";'
                  ' body = "<{feed}> & {why}\\n{link}";',
                  [email_output(smtp)])
    p = run(["once", "-c", conf])
    got = smtp.accepted()
    check(p.returncode == 0 and len(got) == 2, "two messages (%d; %s)"
          % (len(got), p.stderr.strip()[-300:]))
    subj = by_subject(got)
    war = subj.get("[fw] war \u2014 Putin & friends > foes")
    calm = subj.get("[fw] Kim sleeps")
    check(war is not None, "the title template is the Subject (%s)" % list(subj))
    if war is not None:
        check(war["Importance"] == "high" and war["X-Priority"] == "1 (Highest)",
              "urgent: Importance high, X-Priority 1 (%s, %s)"
              % (war["Importance"], war["X-Priority"]))
        ps = parts(war)
        txt, html = ps.get("text/plain", ""), ps.get("text/html", "")
        check('<world> & @putin "Putin" in title\r\nhttps://example.org/t1?a=1&b=2' in txt
              or '<world> & @putin "Putin" in title\nhttps://example.org/t1?a=1&b=2' in txt,
              "the body template is the text part, as is (%r)" % txt[:300])
        check("&lt;world&gt; &amp; @putin &quot;Putin&quot; in title<br>" in html and
              "https://example.org/t1?a=1&amp;b=2" in html and "<world>" not in html,
              "the body template is HTML-escaped in the HTML part (%r)" % html[:400])
    if check(calm is not None, "the other watchlist keeps the item title (%s)" % list(subj)):
        check(calm["Importance"] == "low" and calm["X-Priority"] == "5 (Lowest)",
              "low: Importance low, X-Priority 5 (%s, %s)"
              % (calm["Importance"], calm["X-Priority"]))

    # An output's priority overrides; normal has no Importance header.
    srv.routes["/feed.xml"] = Route(rss_feed([("t3", "Putin again", "https://example.org/t3",
                                               "x")]))
    conf = config(w, srv.url("/feed.xml"), 'priority = "urgent";',
                  [email_output(smtp, 'priority = "normal";')])
    p = run(["once", "-c", conf])
    m = by_subject(smtp.accepted()).get("[fw] Putin again")
    check(m is not None and m["Importance"] is None and m["X-Priority"] is None,
          "an output's priority normal overrides urgent: no Importance (%s)"
          % (m and m["Importance"]))


def threading_headers(srv, smtp, w):
    srv.routes["/feed.xml"] = Route(rss_feed([("b1", "Putin lands", "https://example.org/b1",
                                               "x")]))
    jl = w.file("alerts.jsonl")
    conf = config(w, srv.url("/feed.xml"), "", [
        email_output(smtp), 'name = "log"; plugin = "log"; path = %s;' % q(jl)])
    p = run(["once", "-c", conf])
    base = read_jsonl(jl)
    if not check(p.returncode == 0 and len(base) == 1, "the base alert went out (%s)"
                 % p.stderr.strip()[-300:]):
        return
    first = copy.deepcopy(base[0])
    first["id"] = "a" * 32
    first["item"]["title"] = "Putin lands in Pyongyang"
    first["story"] = {"id": "s-1", "new": True, "items": 1, "feeds": 1,
                      "first_alert": first["id"], "title": "Putin lands in Pyongyang"}
    upd = copy.deepcopy(first)
    upd["id"] = "b" * 32
    upd["item"]["title"] = "Putin meets Kim"
    upd["story"] = {"id": "s-1", "new": False, "items": 4, "feeds": 2,
                    "first_alert": first["id"], "title": "Putin lands in Pyongyang",
                    "added": [{"title": "Putin meets Kim", "feed": "asia",
                               "link": "https://example.org/k?a=1&b=2",
                               "published": "2024-06-19T08:00:00Z"},
                              {"title": "Talks <begin>", "feed": "world", "link": None,
                               "published": None}], "more": 1}
    queue_payload(w, "mail", first)
    queue_payload(w, "mail", upd)
    p = run(["once", "-c", conf])
    check(p.returncode == 0 and outbox(conf) == [], "both delivered (%s)"
          % p.stderr.strip()[-300:])
    subj = by_subject(smtp.accepted())
    a = subj.get("[fw] Putin lands in Pyongyang")
    b = subj.get("[fw] Re: Putin lands in Pyongyang")
    check(a is not None and b is not None, "the first alert and the update (%s)" % list(subj))
    if a is None or b is None:
        return
    check(a["Message-ID"] == "<%s@feedwatch>" % first["id"] and a["In-Reply-To"] is None,
          "the first alert starts the thread (%s)" % a["Message-ID"])
    check(b["Message-ID"] == "<%s@feedwatch>" % upd["id"] and
          b["In-Reply-To"] == a["Message-ID"] and b["References"] == a["Message-ID"],
          "the update replies to it: In-Reply-To and References (%s, %s)"
          % (b["In-Reply-To"], b["References"]))
    ps = parts(b)
    txt, html = ps.get("text/plain", ""), ps.get("text/html", "")
    check("+3 items from 2 feeds (4 items from 2 feeds in all)" in txt and
          "* Putin meets Kim" in txt and "https://example.org/k?a=1&b=2" in txt and
          "* Talks <begin>" in txt and "and 1 more" in txt,
          "the update lists the added items in text (%r)" % txt[:500])
    check('<a href="https://example.org/k?a=1&amp;b=2">Putin meets Kim</a>' in html and
          "Talks &lt;begin&gt;" in html, "and in HTML, escaped (%r)" % html[:500])


def fresh_smtp_parts():
    """Each part gets its own SMTP server, so what one part sent never counts for another."""
    def wrap(fn):
        def part(srv, w):
            smtp = Smtp()
            try:
                fn(srv, smtp, w)
            finally:
                smtp.close()
        part.__name__ = fn.__name__
        return part
    return [wrap(f) for f in (message, temporary, permanent, digest, starttls, stalled,
                                   config_errors, priority_templates, threading_headers)]


if __name__ == "__main__":
    fwtest.main(*(fresh_smtp_parts() + [auth]))
