#!/usr/bin/env python3
"""Hostile servers and the feed's credentials (issue 15, points 3, 7 and 8).

- point 3: a feed's configured headers and the credentials of its URL go to its configured
  origin (scheme, host, port) only. A redirect to another origin, or from https to plain
  http, is followed for that poll without them, and never kept as the feed's new URL; a
  permanent redirect on the configured origin is kept (up to the first temporary hop);
  once a chain has left the origin, nothing configured is sent, even back at home;
  redirect loops end after 5 hops.
- point 7: a 6 KB bearer token reaches the server whole; a header over the cap is refused
  by `check` with FILE:LINE.
- point 8: the "readable by others" warning covers feed headers and URL credentials, every
  @include'd file holding such values, and the files named by outputs' `secret`."""
import os
import ssl
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fwtest import (Route, Server, Workdir, check, finish, http_server, q,  # noqa: E402
                    run, status_json)

TOKEN = "Bearer SECRET-TOKEN-5a1f"
API_KEY = "APIKEY-77c2"
USER, PASS = "reader", "pw-9b3e"


def rss(title):
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
            '<item><title>%s</title><guid>g-%d</guid></item></channel></rss>'
            % (title, zlib.crc32(title.encode())))


def redirect(status, location):
    return Route(b"moved", status=status, headers={"Location": location})


def conf_text(w, feeds):
    return """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feed_failing_after = 0;
feeds = ( %s );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; outputs = [ "alerts" ]; } );
outputs = ( { name = "alerts"; plugin = "log"; path = %s; format = "json"; } );
""" % (q(w.state), ", ".join(feeds), q(w.file("alerts.jsonl")))


def feed(name, url, headers=()):
    h = ""
    if headers:
        h = " headers = [ %s ];" % ", ".join(q(x) for x in headers)
    return '{ name = "%s"; url = %s; interval = 1;%s }' % (name, q(url), h)


def lower(headers):
    return {k.lower(): v for k, v in headers.items()}


def requests(srv, path):
    with srv.lock:
        return [lower(r[2]) for r in srv.requests if r[1].split("?")[0] == path]


def leaked(reqs):
    """Configured values found in requests (header dicts, lower-case names)."""
    out = []
    for h in reqs:
        if "x-api-key" in h:
            out.append("X-Api-Key")
        if "authorization" in h:
            out.append("Authorization: " + h["authorization"][:20])
    return out


def feed_state(conf, name):
    for f in status_json(conf).get("feeds", []):
        if f.get("name") == name:
            return f
    return {}


def once(conf):
    p = run(["once", "-c", conf])
    check("AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr,
          "once: no sanitizer report")
    return p


class TLSServer:
    """HTTPS on 127.0.0.1 with a fresh self-signed certificate, answering from a route
    table like Server."""

    def __init__(self, w):
        self.ok = False
        self.routes = {}
        self.requests = []
        cert, key = w.file("cert.pem"), w.file("key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            return

        def serve(h, _body):
            self.requests.append((h.path, lower(dict(h.headers))))
            route = self.routes.get(h.path)
            data = route.body if route else b""
            data = data if isinstance(data, bytes) else data.encode()
            h.send_response(route.status if route else 404)
            for k, v in (route.headers if route else {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd = http_server(0, serve, lambda sock: ctx.wrap_socket(sock, server_side=True))
        self.port = self.httpd.server_address[1]
        self.ok = True

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        if self.ok:
            self.httpd.shutdown()
            self.httpd.server_close()


def test_cross_origin(a, b):
    """Point 3: credentials never follow a redirect to another origin, and such a move is
    never kept."""
    w = Workdir()
    try:
        a.routes["/hdr"] = redirect(301, b.url("/hdr"))
        a.routes["/cred"] = redirect(308, b.url("/cred"))
        a.routes["/temp"] = redirect(302, b.url("/temp"))
        b.routes["/hdr"] = Route(rss("Putin moved away"))
        b.routes["/cred"] = Route(rss("Putin moved with a password"))
        b.routes["/temp"] = Route(rss("Putin temporarily away"))
        cred_url = "http://%s:%s@127.0.0.1:%d/cred" % (USER, PASS, a.port)
        feeds = [feed("hdr", a.url("/hdr"), ["Authorization: " + TOKEN, "X-Api-Key: " + API_KEY]),
                 feed("cred", cred_url),
                 feed("temp", a.url("/temp"), ["X-Api-Key: " + API_KEY])]
        conf = w.write("feedwatch.conf", conf_text(w, feeds))
        errs = [once(conf).stderr for _ in range(3)]
        refused = [l for l in errs[0].splitlines() if "feed 'hdr'" in l and "not kept" in l]
        check(refused and ("127.0.0.1:%d" % a.port) in refused[0]
              and ("127.0.0.1:%d" % b.port) in refused[0],
              "the refused move is a warning naming both origins (%s)" % refused)
        got = requests(a, "/hdr")
        check(len(got) == 3 and got[0].get("authorization") == TOKEN and
              got[0].get("x-api-key") == API_KEY,
              "the configured origin gets the configured headers (%d requests)" % len(got))
        got = requests(a, "/cred")
        check(got and got[0].get("authorization", "").startswith("Basic "),
              "the configured origin gets the URL's credentials")
        for path in ("/hdr", "/cred", "/temp"):
            got = requests(b, path)
            check(len(got) == 3, "another origin's target %s is read on every poll (%d)"
                  % (path, len(got)))
            check(not leaked(got), "another origin (%s) gets no configured header or credential "
                  "(%s)" % (path, leaked(got)))
        check(len(requests(a, "/hdr")) == 3 and len(requests(a, "/cred")) == 3,
              "a permanent redirect to another origin is not kept: every poll starts at the "
              "configured URL")
        for name in ("hdr", "cred", "temp"):
            st = feed_state(conf, name)
            check(st.get("error_streak") == 0 and st.get("items_seen", 0) >= 1,
                  "feed '%s' is read through the redirect (%s)" % (name, st))
        # A cross-origin move stored by an older version is not used, and is forgotten.
        db = os.path.join(w.state, "feedwatch.db")
        subprocess.run(["sqlite3", db, "UPDATE feeds SET moved_url = '%s' WHERE name = 'hdr'"
                        % b.url("/hdr")], check=True)
        before_a, before_b = len(requests(a, "/hdr")), len(requests(b, "/hdr"))
        once(conf)
        got = requests(b, "/hdr")[before_b:]
        check(len(requests(a, "/hdr")) == before_a + 1 and not leaked(got),
              "a stored cross-origin move is not used: the poll starts at the configured URL")
        check(not feed_state(conf, "hdr").get("moved_to"),
              "and the stored move is forgotten (%s)" % feed_state(conf, "hdr").get("moved_to"))
    finally:
        w.cleanup()


def test_same_origin(a, b):
    """Point 3: a permanent move on the configured origin is kept, up to the first temporary
    hop; once a chain left the origin, nothing configured is sent even back home."""
    w = Workdir()
    try:
        a.routes["/old"] = redirect(301, "/new")
        a.routes["/cold"] = redirect(301, a.url("/cnew"))
        a.routes["/cnew"] = Route(rss("Putin moved, password and all"))
        a.routes["/new"] = Route(rss("Putin on the new path"))
        a.routes["/p1"] = redirect(308, a.url("/p2"))
        a.routes["/p2"] = redirect(302, "/p3")
        a.routes["/p3"] = Route(rss("Putin after a temporary hop"))
        a.routes["/out"] = redirect(302, b.url("/bounce"))
        b.routes["/bounce"] = redirect(302, a.url("/back"))
        a.routes["/back"] = Route(rss("Putin back home"))
        a.routes["/loop"] = redirect(302, "/loop")
        a.routes["/spaced"] = redirect(307, "/sp ace/x")
        a.routes["/sp%20ace/x"] = Route(rss("Putin behind a sloppy Location"))
        hdrs = ["Authorization: " + TOKEN, "X-Api-Key: " + API_KEY]
        feeds = [feed("old", a.url("/old"), hdrs), feed("chain", a.url("/p1"), hdrs),
                 feed("bounce", a.url("/out"), hdrs), feed("loop", a.url("/loop")),
                 feed("spaced", a.url("/spaced")),
                 feed("cold", "http://%s:%s@127.0.0.1:%d/cold" % (USER, PASS, a.port))]
        conf = w.write("feedwatch.conf", conf_text(w, feeds))
        once(conf)
        once(conf)
        got = requests(a, "/new")
        check(len(got) == 2 and not [h for h in got if h.get("x-api-key") != API_KEY],
              "a same-origin permanent move keeps the headers (%d requests)" % len(got))
        got = requests(a, "/cnew")
        check(len(got) == 2 and len(requests(a, "/cold")) == 1 and
              not [h for h in got if not h.get("authorization", "").startswith("Basic ")],
              "a same-origin permanent move keeps the URL's credentials (%d requests)"
              % len(got))
        check(len(requests(a, "/old")) == 1,
              "a same-origin permanent move is kept: the second poll goes to the new URL")
        check(feed_state(conf, "old").get("moved_to") == a.url("/new"),
              "status shows the kept move (%s)" % feed_state(conf, "old").get("moved_to"))
        moved = feed_state(conf, "cold").get("moved_to") or ""
        check(moved == a.url("/cnew") and PASS not in moved,
              "status shows a kept move without the URL's credentials (%s)" % moved)
        check(len(requests(a, "/p1")) == 1 and len(requests(a, "/p2")) == 2 and
              len(requests(a, "/p3")) == 2,
              "only the permanent part of a chain is kept as the move (p1 %d, p2 %d, p3 %d)"
              % (len(requests(a, "/p1")), len(requests(a, "/p2")), len(requests(a, "/p3"))))
        check(not leaked(requests(b, "/bounce")), "the other origin of a bounce gets nothing")
        back = requests(a, "/back")
        check(len(back) == 2 and not leaked(back),
              "a chain that left the origin sends nothing configured, even back home (%s)"
              % leaked(back))
        check(feed_state(conf, "bounce").get("error_streak") == 0, "the bounced feed is read")
        check(feed_state(conf, "spaced").get("error_streak") == 0 and
              len(requests(a, "/sp%20ace/x")) == 2,
              "a Location with a space is followed, encoded, as curl did")
        st = feed_state(conf, "loop")
        check(len(requests(a, "/loop")) == 12 and "redirect" in (st.get("last_error") or ""),
              "a redirect loop ends after 5 redirects, with an error (%d requests, %s)"
              % (len(requests(a, "/loop")), st.get("last_error")))
    finally:
        w.cleanup()


def test_https_to_http(a):
    """Point 3: a redirect from https to plain http (same host) drops the credentials and is
    not kept."""
    w = Workdir()
    tls = TLSServer(w)
    try:
        if not check(tls.ok, "a self-signed TLS server for the test"):
            return
        plain = "http://127.0.0.1:%d/down" % a.port
        tls.routes["/tls"] = redirect(301, plain)
        tls.routes["/tls-up"] = Route(rss("Putin over TLS"))
        a.routes["/down"] = Route(rss("Putin in plain text"))
        text = conf_text(w, ['{ name = "tls"; url = %s; interval = 1; tls_verify = false; '
                             'headers = [ %s ]; }' % (q(tls.url("/tls")), q("X-Api-Key: " + API_KEY))])
        conf = w.write("feedwatch.conf", text)
        once(conf)
        once(conf)
        got = [h for p, h in tls.requests if p == "/tls"]
        check(len(got) == 2 and got[0].get("x-api-key") == API_KEY,
              "https origin gets its header; the move to http is not kept (%d)" % len(got))
        down = requests(a, "/down")
        check(len(down) == 2 and not leaked(down),
              "plain http after https gets no configured header (%s)" % leaked(down))
    finally:
        tls.close()
        w.cleanup()


def test_long_header(a):
    """Point 7: a long bearer token is sent whole; an over-long header is refused by check."""
    w = Workdir()
    try:
        token = "Bearer " + "".join("%08x" % zlib.crc32(b"%d" % i) for i in range(750))
        a.routes["/long"] = Route(rss("Putin with a long token"))
        conf = w.write("feedwatch.conf", conf_text(w, [feed("long", a.url("/long"),
                                                            ["Authorization: " + token])]))
        p = run(["check", "-c", conf])
        check(p.returncode == 0, "check accepts a 6 KB header (%s)" % p.stderr.strip()[-200:])
        once(conf)
        got = requests(a, "/long")
        check(len(token) > 6000 and got and got[0].get("authorization") == token,
              "a %d-byte bearer token reaches the server whole (got %d bytes)"
              % (len(token), len(got[0].get("authorization", "")) if got else 0))
        huge = "X-Big: " + "x" * 70000
        text = conf_text(w, [feed("huge", a.url("/long"), [huge])])
        conf = w.write("feedwatch.conf", text)
        line = [i + 1 for i, l in enumerate(text.splitlines()) if "X-Big" in l][0]
        p = run(["check", "-c", conf])
        check(p.returncode != 0 and ("%s:%d:" % (conf, line)) in p.stderr and
              "longer than" in p.stderr,
              "check refuses an over-long header with FILE:LINE (%s)" % p.stderr.strip()[-200:])
    finally:
        w.cleanup()


def test_readable():
    """Point 8: `check` warns about every file readable by others that holds a secret: the
    config with feed headers, an @include'd file, a file named by an output's secret."""
    w = Workdir()
    try:
        inc = w.write("feeds.inc", "feeds = ( %s );\n" % feed(
            "hdr", "http://127.0.0.1:9/f", ["Authorization: " + TOKEN]))
        secret = w.write("whsec", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
        conf = w.write("feedwatch.conf", """
state_dir = %s;
@include "feeds.inc"
outputs = ( { name = "hook"; plugin = "webhook"; url = "http://127.0.0.1:9/h"; secret = %s; } );
""" % (q(w.state), q(secret)))
        os.chmod(conf, 0o600)
        for path in (inc, secret):
            os.chmod(path, 0o644)
        p = run(["check", "-c", conf])
        err = p.stderr
        check(("%s:1: warning: this config file is readable by others" % inc) in err,
              "check names the @include'd file with a header (%s)" % err.strip()[-300:])
        check(secret in err and "the secret file" in err,
              "check names the secret file readable by others")
        check(not [l for l in err.splitlines() if l.startswith(conf) and "this config" in l],
              "no warning about the config file of mode 0600")
        os.chmod(inc, 0o600)
        os.chmod(secret, 0o600)
        p = run(["check", "-c", conf])
        check("readable by others" not in p.stderr, "no warning once all are mode 0600 (%s)"
              % p.stderr.strip()[-200:])
    finally:
        w.cleanup()


def main():
    a, b = Server(), Server()
    try:
        test_cross_origin(a, b)
        test_same_origin(a, b)
        test_https_to_http(a)
        test_long_header(a)
        test_readable()
    finally:
        a.close()
        b.close()
    finish()


if __name__ == "__main__":
    main()
