#!/usr/bin/env python3
"""Security review (GitHub issue 8), one check per point; see docs/reliability.md.

- no local file is read through a feed: XXE (external entity, external DTD) and a redirect
  to file:// (test_faults covers the redirect under `run` too);
- secrets (feed URL credentials and tokens, webhook URL tokens, the HMAC signing key) never
  reach the log, `status`, the outbox listing, or an alert's feed URL;
- plugins load only from the configured directory, never from one writable by others, and
  never by a name that is a path;
- TLS certificates are verified by default (feeds and webhooks); `tls_verify = false` is
  per feed and loud in `check` and in the run log;
- a config file readable by others that holds a secret gets a warning naming the file from
  `check` and `run`.
Markup and JSON escaping of hostile titles are covered by test_desktop and test_webhook,
and the exec plugin's no-shell rule by test_exec."""
import os
import shutil
import signal
import ssl
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (PLUGIN_DIR, Receiver, Route, Workdir, check, free_port,  # noqa: E402
                    http_server, outbox, output, q, read_jsonl, run, start, stop, wait_for)

LOCAL_SECRET = "LOCAL-SECRET-7f3a"
FEED_PASS = "hunter2pw"
FEED_TOKEN = "FEEDTOKEN42"
HOOK_TOKEN = "HOOKTOKEN99xyz"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def rss(title, extra_doctype=""):
    return ('<?xml version="1.0" encoding="UTF-8"?>%s<rss version="2.0"><channel><title>t</title>'
            '<item><title>%s</title><guid>g-%d</guid></item></channel></rss>'
            % (extra_doctype, title, zlib.crc32(title.encode())))


def conf_text(w, feeds, outputs="", extra=""):
    return """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feed_failing_after = 0;
feeds = ( %s );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; outputs = [ "alerts" ]; } );
outputs = ( { name = "alerts"; plugin = "log"; path = %s; format = "json"; } %s );
%s
""" % (q(w.state), ", ".join(feeds), q(w.file("alerts.jsonl")), outputs, extra)


def all_text(w):
    return "".join(str(a) for a in read_jsonl(w.file("alerts.jsonl")))


def test_local_files(srv):
    w = Workdir()
    try:
        secret = w.write("secret.txt", LOCAL_SECRET)
        secret_dtd = w.write("evil.dtd", '<!ENTITY leak "%s">' % LOCAL_SECRET)
        srv.routes["/xxe"] = Route(rss("Putin &xxe;",
                                       '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://%s">]>' % secret))
        srv.routes["/dtd"] = Route(rss("Putin &leak;",
                                       '<!DOCTYPE rss SYSTEM "file://%s">' % secret_dtd))
        srv.routes["/pe"] = Route(rss("Putin param",
                                      '<!DOCTYPE rss [<!ENTITY %% p SYSTEM "file://%s"> %%p;]>'
                                      % secret_dtd))
        srv.routes["/redir"] = Route(b"", status=302, headers={"Location": "file://" + secret})
        feeds = ['{ name = "%s"; url = %s; interval = 1; }' % (n, q(srv.url("/" + n)))
                 for n in ("xxe", "dtd", "pe", "redir")]
        conf = w.write("feedwatch.conf", conf_text(w, feeds))
        p = run(["once", "-c", conf])
        text = all_text(w) + p.stdout + p.stderr
        check(LOCAL_SECRET not in text, "XXE / external DTD / file:// redirect: no local file "
              "content in alerts or the log")
        check("AddressSanitizer" not in p.stderr, "XXE: no sanitizer report")
        check("feed 'redir'" in p.stderr and "file" in p.stderr.split("feed 'redir'")[1][:200],
              "a redirect to file:// is refused with an error naming the protocol")
        for path in ("/xxe", "/dtd"):
            p = run(["parse", srv.url(path)])
            check(LOCAL_SECRET not in p.stdout + p.stderr,
                  "feedwatch parse %s reads no local file" % path)
    finally:
        w.cleanup()


def test_secrets(srv):
    w = Workdir()
    rcv = Receiver()
    rcv.mode = 500
    try:
        secret_file = w.write("whsec", WHSEC + "\n")
        os.chmod(secret_file, 0o600)
        srv.routes["/private"] = Route(rss("Putin private"))
        srv.routes["/broken"] = Route(b"no", status=500)
        url = "http://reader:%s@127.0.0.1:%d/private?token=%s" % (FEED_PASS, srv.port, FEED_TOKEN)
        bad = "http://reader:%s@127.0.0.1:%d/broken?access_token=%s" % (FEED_PASS, srv.port,
                                                                     FEED_TOKEN)
        down = "http://reader:%s@127.0.0.1:%d/x?token=%s" % (FEED_PASS, free_port(), FEED_TOKEN)
        feeds = ['{ name = "private"; url = %s; interval = 1; }' % q(url),
                 '{ name = "broken"; url = %s; interval = 1; }' % q(bad),
                 '{ name = "down"; url = %s; interval = 1; }' % q(down)]
        hook = ', { name = "hook"; plugin = "webhook"; url = %s; secret = %s; retry_base = 1; }' % (
            q("http://bot:%s@127.0.0.1:%d/services/%s" % (FEED_PASS, rcv.port, HOOK_TOKEN)),
            q(secret_file))
        text = conf_text(w, feeds, hook).replace('outputs = [ "alerts" ]',
                                                 'outputs = [ "alerts", "hook" ]')
        conf = w.write("feedwatch.conf", text)
        os.chmod(conf, 0o600)
        p = run(["-v", "once", "-c", conf])
        logs = p.stdout + p.stderr
        d = start(["-v", "run", "-c", conf])
        wait_for(lambda: len(rcv.log()) >= 3, timeout=30)
        rc, out, err = stop(d, signal.SIGTERM)
        logs += out + err
        st = run(["status", "-c", conf]).stdout + run(["status", "-c", conf, "--json"]).stdout
        ob = run(["outbox", "-c", conf, "list"]).stdout + str(outbox(conf))
        check(len(rcv.log()) >= 1, "the webhook was tried (%d requests)" % len(rcv.log()))
        check("feed 'broken'" in logs and "feed 'down'" in logs, "the failing feeds are logged")
        for name, s in (("the log (-v)", logs), ("status", st), ("outbox list", ob)):
            for what, secret in (("feed password", FEED_PASS), ("feed token", FEED_TOKEN),
                                 ("webhook token", HOOK_TOKEN), ("HMAC key", WHSEC[6:])):
                check(secret not in s, "%s holds no %s" % (name, what))
        alerts = all_text(w) + "".join(r[3].decode() for r in rcv.log())
        check(FEED_PASS not in alerts, "alerts carry no feed password")
        check(FEED_TOKEN not in alerts,
              "alerts (log file, webhook body) carry no feed URL token (feed.url query)")
        hdrs = "".join(str(r[2]) for r in rcv.log())
        check(WHSEC[6:] not in hdrs and "webhook-signature" in hdrs.lower(),
              "requests are signed, the key itself never sent")
    finally:
        rcv.close()
        w.cleanup()


def test_plugin_dir(srv):
    w = Workdir()
    try:
        srv.routes["/ok"] = Route(rss("Putin ok"))
        feeds = ['{ name = "ok"; url = %s; interval = 1; }' % q(srv.url("/ok"))]
        pdir = w.file("plugins")
        os.mkdir(pdir, 0o755)
        shutil.copy(os.path.join(PLUGIN_DIR, "log.so"), pdir)
        os.chmod(os.path.join(pdir, "log.so"), 0o755)
        conf = w.write("feedwatch.conf", conf_text(w, feeds, extra="plugin_dir = %s;" % q(pdir)))
        p = run(["check", "-c", conf])
        check(p.returncode == 0, "plugin_dir: a private copy of log.so loads (%s)"
              % p.stderr.strip()[-200:])
        os.chmod(pdir, 0o777)
        p = run(["check", "-c", conf])
        check(p.returncode != 0 and "writable by group or others" in p.stderr and
              pdir in p.stderr, "check refuses a plugin dir writable by others, naming it "
              "(rc %d, %s)" % (p.returncode, p.stderr.strip()[-200:]))
        p = run(["once", "-c", conf])
        check("writable by group or others" in p.stderr and pdir in p.stderr and
              not os.path.exists(w.file("alerts.jsonl")),
              "once does not load a plugin from a dir writable by others (the alert waits in "
              "the outbox) (%s)" % p.stderr.strip()[-200:])
        os.chmod(pdir, 0o755)
        os.chmod(os.path.join(pdir, "log.so"), 0o666)
        p = run(["check", "-c", conf])
        check(p.returncode != 0 and "writable by group or others" in p.stderr,
              "check refuses a plugin file writable by others")
        os.chmod(os.path.join(pdir, "log.so"), 0o755)
        # Only the configured directory: the environment's directory is not a fallback.
        empty = w.file("empty")
        os.mkdir(empty, 0o755)
        conf2 = w.write("c2.conf", conf_text(w, feeds, extra="plugin_dir = %s;" % q(empty)))
        p = run(["check", "-c", conf2])
        check(p.returncode != 0 and "no plugin 'log'" in p.stderr,
              "plugins come from plugin_dir only, not $FEEDWATCH_PLUGIN_DIR (%s)"
              % p.stderr.strip()[-200:])
        # A plugin name is a name, not a path.
        conf3 = w.write("c3.conf", conf_text(w, feeds).replace('plugin = "log"',
                                                                'plugin = "../plugins/log"'))
        p = run(["check", "-c", conf3])
        check(p.returncode != 0 and "plain name" in p.stderr,
              "a plugin name with a slash is refused (%s)" % p.stderr.strip()[-200:])
    finally:
        w.cleanup()


class TLSServer:
    """HTTPS on 127.0.0.1 with a fresh self-signed certificate (openssl req)."""

    def __init__(self, w, body):
        self.ok = False
        cert, key = w.file("cert.pem"), w.file("key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            return
        self.requests = 0

        def serve(h, _body):
            self.requests += 1
            data = body.encode()
            h.send_response(200)
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


def test_tls(srv):
    w = Workdir()
    tls = TLSServer(w, rss("Putin over TLS"))
    try:
        if not check(tls.ok, "a self-signed TLS server for the test"):
            return
        feeds = ['{ name = "strict"; url = %s; interval = 1; }' % q(tls.url("/a")),
                 '{ name = "lax"; url = %s; interval = 1; tls_verify = false; }'
                 % q(tls.url("/b"))]
        hook = ', { name = "hook"; plugin = "webhook"; url = %s; retry_base = 1; }' % q(
            tls.url("/hook"))
        text = conf_text(w, feeds, hook).replace('outputs = [ "alerts" ]',
                                                 'outputs = [ "alerts", "hook" ]')
        conf = w.write("feedwatch.conf", text)
        lax_line = [i + 1 for i, l in enumerate(text.splitlines()) if "tls_verify" in l]
        p = run(["check", "-c", conf])
        check(p.returncode == 0 and "TLS certificate verification is OFF" in p.stderr and
              "'lax'" in p.stderr and ("%s:%d:" % (conf, lax_line[0])) in p.stderr,
              "check warns, with FILE:LINE, that lax has TLS verification off (%s)"
              % p.stderr.strip()[-300:])
        check("'strict'" not in p.stderr, "no warning for the strict feed")
        p = run(["once", "-c", conf])
        err = p.stderr
        strict = [l for l in err.splitlines() if "feed 'strict'" in l]
        check(strict and ("SSL" in strict[0] or "certificate" in strict[0]),
              "a self-signed certificate fails the default feed (%s)" % strict)
        check(not [l for l in err.splitlines() if "feed 'lax'" in l and "failure" in l],
              "the opted-out feed is read")
        titles = [a["feed"]["name"] for a in read_jsonl(w.file("alerts.jsonl"))]
        check(titles == ["lax"], "only the opted-out feed alerts (%s)" % titles)
        check("not delivered" in err and "hook" in err,
              "the webhook to a self-signed receiver is not delivered (verification on)")
        d = start(["run", "-c", conf])
        wait_for(lambda: tls.requests >= 3 and "started:" in output(d)[1], timeout=20)
        rc, out, err = stop(d, signal.SIGTERM)
        check("TLS certificate verification is OFF" in err and "'lax'" in err,
              "the run log says loudly that lax has TLS verification off")
    finally:
        tls.close()
        w.cleanup()


def test_config_perms(srv):
    w = Workdir()
    rcv = Receiver()
    try:
        feeds = ['{ name = "ok"; url = %s; interval = 1; }' % q(srv.url("/ok"))]
        srv.routes["/ok"] = Route(rss("Putin perms"))
        os.chmod(w.write("whsec", WHSEC), 0o600)  # a secret file readable by others warns too
        cases = {
            "webhook token": ', { name = "hook"; plugin = "webhook"; url = %s; }'
                             % q(rcv.url("/services/T0KEN")),
            "userinfo": ', { name = "hook"; plugin = "webhook"; url = %s; }'
                        % q("http://u:pw@127.0.0.1:%d/h" % rcv.port),
            "secret key": ', { name = "hook"; plugin = "webhook"; url = %s; secret = %s; }'
                          % (q(rcv.url("/h")), q(w.file("whsec"))),
        }
        for what, hook in cases.items():
            text = conf_text(w, feeds, hook).replace('outputs = [ "alerts" ]',
                                                     'outputs = [ "alerts", "hook" ]')
            conf = w.write("feedwatch.conf", text)
            os.chmod(conf, 0o644)
            p = run(["check", "-c", conf])
            check("readable by others" in p.stderr and conf in p.stderr,
                  "check: a world-readable config with a %s gets a warning naming the file "
                  "(%s)" % (what, p.stderr.strip()[-200:]))
            d = start(["run", "-c", conf])
            wait_for(lambda: "started:" in output(d)[1], timeout=20)
            rc, out, err = stop(d, signal.SIGTERM)
            check("readable by others" in err and conf in err,
                  "run: a world-readable config with a %s gets a warning naming the file" % what)
            os.chmod(conf, 0o600)
            p = run(["check", "-c", conf])
            check("readable by others" not in p.stderr,
                  "check: no warning once the %s config is mode 0600" % what)
        conf = w.write("feedwatch.conf", conf_text(w, feeds))
        os.chmod(conf, 0o644)
        p = run(["check", "-c", conf])
        check(p.returncode == 0 and "readable by others" not in p.stderr,
              "check: no warning for a world-readable config without secrets")
    finally:
        rcv.close()
        w.cleanup()


if __name__ == "__main__":
    fwtest.main(test_local_files, test_secrets, test_plugin_dir, test_tls, test_config_perms,
                each=())
