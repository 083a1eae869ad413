#!/usr/bin/env python3
"""The nats output against a real `nats-server -js` (Debian's nats-server) that the test
starts on a free loopback port with a temporary store directory. The stream is read back
through the JetStream API ($JS.API.STREAM.INFO / STREAM.MSG.GET) by a minimal NATS client
below (standard library, the text protocol): nothing is mocked.

Part 1 (publish): `feedwatch once` creates the missing stream (subject feedwatch.alerts.>),
and every alert is in it exactly once, on feedwatch.alerts.<watchlist as one token>, with
Nats-Msg-Id = the alert id and the alert JSON as data; a second run adds nothing; an alert
published again (the daemon died after the publish, before done() was recorded) is
acknowledged as a duplicate, delivered, and still in the stream once.
Part 2 (server down): nats-server not running: the alerts stay pending with the reason;
once it is up they go out, each once.
Part 3 (restarts): `feedwatch run` with 150 alerts; nats-server is killed (SIGKILL) while
they are being published, then the daemon (SIGKILL); both start again (the server on the
same store dir): every alert is in the stream exactly once, nothing pending.
Part 4 (digest): rate_limit = 1 folds 5 alerts into a digest: 5 messages, each with its own
id, delivered together.
Part 5 (stream): a stream that exists but takes other subjects = a dead letter naming it; a
missing stream that cannot be created (its subject overlaps another stream's) = a dead
letter with the server's reason.
Part 6 (token): a server with a token: the secret file's token logs in; a wrong one disables
the output and the alerts wait; the token is in no log and no outbox entry.
Part 7 (config): `check` refuses a missing url with file:line, a bad subject, a bad stream
name, without any server."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, outbox, q, queue_payload, rss_feed, run  # noqa: E402

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
WATCHLIST = "Putin & Kim.visits"      # must become one subject token
TOKEN_OF = "Putin___Kim_visits"
TOKEN = "t0k3n-Very-Secret-42"


class Client:
    """A minimal NATS client: CONNECT, PING/PONG, request/reply (headers on) over one
    socket, enough to ask the JetStream API."""

    def __init__(self, port, token=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.sid = 0
        self._line()  # INFO
        opts = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                "protocol": 1, "name": "fwtest"}
        if token:
            opts["auth_token"] = token
        self.sock.sendall(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        while True:
            line = self._line()
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                raise OSError(line.decode())

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise OSError("nats-server closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def request(self, subject, payload=b"", timeout=10):
        """The first reply's payload (headers dropped); None on no responders."""
        self.sid += 1
        inbox = "_INBOX.fwtest.%d" % self.sid
        self.sock.settimeout(timeout)
        self.sock.sendall(b"SUB %s %d\r\nPUB %s %s %d\r\n%s\r\n" % (
            inbox.encode(), self.sid, subject.encode(), inbox.encode(), len(payload), payload))
        try:
            while True:
                line = self._line()
                if line == b"PING":
                    self.sock.sendall(b"PONG\r\n")
                    continue
                w = line.split()
                if w and w[0] == b"MSG":
                    return self._bytes(int(w[-1]))
                if w and w[0] == b"HMSG":
                    raw = self._bytes(int(w[-1]))
                    hdr, body = raw[:int(w[-2])], raw[int(w[-2]):]
                    if b" 503" in hdr.split(b"\r\n", 1)[0]:
                        return None
                    return body
                if w and w[0] == b"-ERR":
                    raise OSError(line.decode())
        finally:
            self.sock.sendall(b"UNSUB %d\r\n" % self.sid)

    def api(self, what, req=None):
        body = self.request("$JS.API." + what, json.dumps(req).encode() if req else b"")
        return json.loads(body) if body is not None else None

    def close(self):
        self.sock.close()


class NatsServer:
    """nats-server -js on 127.0.0.1 (a free port) with its store in a temporary directory;
    stop() kills it, start() starts it again on the same port and store."""

    def __init__(self, token=None):
        self.port = fwtest.free_port()
        self.dir = tempfile.mkdtemp(prefix="fwnats-")
        self.token = token
        self.proc = None
        self.start()

    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def start(self):
        args = [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                "-sd", os.path.join(self.dir, "store"), "-l", os.path.join(self.dir, "log")]
        if self.token:
            args += ["--auth", self.token]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = fwtest.wait_for(self._ready, timeout=30, step=0.1)
        if not ok:
            raise OSError("nats-server did not start on port %d" % self.port)

    def _ready(self):
        try:
            c = Client(self.port, self.token)
        except OSError:
            return False
        try:
            r = c.api("INFO")
            return r is not None and "error" not in r
        except (OSError, ValueError):
            return False
        finally:
            c.close()

    def stop(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def client(self):
        return Client(self.port, self.token)

    def stream(self, name="FEEDWATCH_ALERTS"):
        """(stream info or None when missing, [(subject, headers dict, data bytes)])."""
        c = self.client()
        try:
            info = c.api("STREAM.INFO." + name)
            if info is None or "error" in info:
                return None, []
            msgs = []
            st = info["state"]
            for seq in range(st["first_seq"], st["last_seq"] + 1) if st["messages"] else []:
                m = c.api("STREAM.MSG.GET." + name, {"seq": seq})
                if m is None or "message" not in m:
                    continue
                m = m["message"]
                hdrs = {}
                for line in base64.b64decode(m.get("hdrs", "")).decode().split("\r\n")[1:]:
                    if ":" in line:
                        k, _, v = line.partition(":")
                        hdrs[k.strip()] = v.strip()
                msgs.append((m["subject"], hdrs, base64.b64decode(m.get("data", ""))))
            return info, msgs
        finally:
            c.close()

    def count(self, name="FEEDWATCH_ALERTS"):
        try:
            c = self.client()
        except OSError:
            return -1
        try:
            info = c.api("STREAM.INFO." + name)
            return info["state"]["messages"] if info and "state" in info else 0
        except (OSError, ValueError):
            return -1
        finally:
            c.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def items(n, first=0):
    return [("n-%d" % i, "Putin visits place %d" % i, "https://example.org/n/%d" % i,
             "Putin went to place %d." % i) for i in range(first, first + n)]


def config(w, feed_url, output, interval=1):
    return w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; interval = %d; } );
max_alerts_per_poll = 0;
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = %s; match = "@putin"; group = "item"; outputs = [ "js" ]; } );
outputs = ( { name = "js"; plugin = "nats"; %s } );
""" % (q(w.state), q(feed_url), interval, q(WATCHLIST), output))


def nats_output(url, extra=""):
    return "url = %s; timeout = \"3s\"; retry_base = 1; retry_max = 1; %s" % (q(url), extra)


def exactly_once(msgs, ids, what):
    """Every id in ids is in msgs exactly once, and msgs holds nothing else."""
    got = [h.get("Nats-Msg-Id") for _, h, _ in msgs]
    check(sorted(got) == sorted(ids) and len(set(got)) == len(got),
          "%s: every alert in the stream exactly once (%d messages, %d alerts, %d distinct)"
          % (what, len(got), len(ids), len(set(got))))


def delivered_ids(conf):
    """The ids of every alert the store knows, from `feedwatch alerts --json`."""
    p = run(["alerts", "-c", conf, "--json"])
    out = []
    for line in p.stdout.splitlines():
        try:
            out.append(json.loads(line)["id"])
        except (ValueError, KeyError):
            pass
    return out


def publish(srv, w):
    nats = NatsServer()
    try:
        srv.routes["/feed.xml"] = Route(rss_feed(items(3)))
        conf = config(w, srv.url("/feed.xml"), nats_output(nats.url()))
        check(nats.stream()[0] is None, "no stream before the first run")
        p = run(["check", "-c", conf])
        check(p.returncode == 0, "check accepts the nats config (%s)" % p.stderr.strip()[-300:])
        p = run(["once", "-c", conf])
        check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-400:])
        ids = re.findall(r"delivered alert ([0-9a-f]+)", p.stderr)
        check(len(ids) == 3, "three alerts delivered (%s)" % p.stderr.strip()[-400:])
        check("created JetStream stream FEEDWATCH_ALERTS" in p.stderr,
              "the plugin says it created the stream")
        info, msgs = nats.stream()
        check(info is not None and info["config"]["subjects"] == ["feedwatch.alerts.>"],
              "the stream was created with subject feedwatch.alerts.> (%s)"
              % (info or {}).get("config", {}).get("subjects"))
        if info:
            check(info["config"].get("duplicate_window") == 86400 * 10**9,
                  "its duplicate window is one day (%s)" % info["config"].get("duplicate_window"))
        exactly_once(msgs, ids, "publish")
        for subj, hdrs, data in msgs:
            a = json.loads(data)
            check(subj == "feedwatch.alerts." + TOKEN_OF,
                  "subject is feedwatch.alerts.<watchlist as one token> (%s)" % subj)
            check(a["id"] == hdrs.get("Nats-Msg-Id") and a["watchlist"] == WATCHLIST and
                  a["item"]["title"].startswith("Putin visits place"),
                  "data is the alert JSON, its id the Nats-Msg-Id")
        check(outbox(conf, "--pending") == [] and outbox(conf, "--dead") == [],
              "nothing pending or dead")
        time.sleep(1.1)
        run(["once", "-c", conf])
        check(nats.count() == 3, "a second run adds nothing (%d)" % nats.count())
        # The daemon died after the publish, before done() was recorded: the outbox still
        # holds the alert, and it is published again with the same id.
        if msgs:
            queue_payload(w, "js", json.loads(msgs[0][2]))
            p = run(["once", "-c", conf])
            check(outbox(conf, "--pending") == [] and outbox(conf, "--dead") == [],
                  "a republished alert is delivered (a duplicate ack counts)")
            check("alert %s was already in stream FEEDWATCH_ALERTS: duplicate"
                  % json.loads(msgs[0][2])["id"] in p.stderr,
                  "the server acknowledged it as a duplicate (%s)" % p.stderr.strip()[-300:])
            exactly_once(nats.stream()[1], ids, "publish again")
    finally:
        nats.close()


def server_down(srv, w):
    nats = NatsServer()
    try:
        nats.stop()
        srv.routes["/feed.xml"] = Route(rss_feed(items(4)))
        conf = config(w, srv.url("/feed.xml"), nats_output(nats.url()))
        p = run(["once", "-c", conf])
        pend = outbox(conf, "--pending")
        check(len(pend) == 4 and outbox(conf, "--dead") == [],
              "server down: the alerts stay pending (%d)" % len(pend))
        err = pend[0].get("last_error", "") if pend else ""
        check("cannot connect: " in err and "No server available" in err,
              "server down: last_error says why (%s)" % err)
        nats.start()
        time.sleep(2.2)
        p = run(["once", "-c", conf])
        check(outbox(conf, "--pending") == [] and outbox(conf, "--dead") == [],
              "server back: nothing pending (%s)" % p.stderr.strip()[-300:])
        exactly_once(nats.stream()[1], [a["alert_id"] for a in pend], "server back")
    finally:
        nats.close()


def restarts(srv, w):
    n = 150
    nats = NatsServer()
    try:
        srv.routes["/feed.xml"] = Route(rss_feed(items(n)))
        conf = config(w, srv.url("/feed.xml"), nats_output(nats.url()), interval=3600)
        d = fwtest.start(["run", "-c", conf])
        # Kill the server as soon as the first alerts are in the stream.
        mid = fwtest.wait_for(lambda: nats.count() > 0, timeout=60, step=0.005)
        nats.stop()
        first = nats_count = None
        check(mid, "the daemon started publishing")
        time.sleep(1.0)
        pend = outbox(conf, "--pending")
        check(len(pend) > 0, "with the server killed, alerts are pending (%d of %d)"
              % (len(pend), n))
        rc, out, err = fwtest.stop(d, signal.SIGKILL)
        nats.start()
        first = nats.count()
        check(0 < first < n, "the server kept what it acknowledged before it died (%d of %d)"
              % (first, n))
        d = fwtest.start(["run", "-c", conf])
        done = fwtest.wait_for(lambda: outbox(conf, "--pending") == [], timeout=120, step=0.5)
        rc, out, err = fwtest.stop(d)
        check(done and rc == 0, "after both restarts nothing is pending (rc %s, %s)"
              % (rc, err.strip()[-300:]))
        check(outbox(conf, "--dead") == [], "no dead letters")
        ids = delivered_ids(conf)
        check(len(ids) == n, "the store knows %d alerts (%d)" % (n, len(ids)))
        nats_count = nats.count()
        exactly_once(nats.stream()[1], ids, "restarts")
        print("note: %d of %d in the stream before the restarts, %d after"
              % (first, n, nats_count))
    finally:
        nats.close()


def digest(srv, w):
    nats = NatsServer()
    try:
        srv.routes["/feed.xml"] = Route(rss_feed(items(5)))
        conf = config(w, srv.url("/feed.xml"),
                      nats_output(nats.url(), "rate_limit = 1; rate_window = 60;"))
        p = run(["once", "-c", conf])
        check(outbox(conf, "--pending") == [] and outbox(conf, "--dead") == [],
              "digest: nothing pending or dead (%s)" % p.stderr.strip()[-300:])
        check(re.search(r"delivered alert digest|messages acknowledged", p.stderr) is not None
              or len(re.findall(r"delivered alert", p.stderr)) >= 1, "digest: delivered")
        msgs = nats.stream()[1]
        exactly_once(msgs, delivered_ids(conf), "digest")
        check(all("digest" not in json.loads(m[2]) for m in msgs),
              "digest: each message is one alert, not the digest")
    finally:
        nats.close()


def other_stream(srv, w):
    nats = NatsServer()
    try:
        c = nats.client()
        r = c.api("STREAM.CREATE.OTHER", {"name": "OTHER", "subjects": ["elsewhere.>"],
                                          "storage": "file", "retention": "limits",
                                          "max_consumers": -1, "max_msgs": -1,
                                          "max_bytes": -1, "max_age": 0,
                                          "num_replicas": 1, "discard": "old"})
        c.close()
        check(r is not None and "error" not in r, "a stream OTHER on elsewhere.> (%s)" % r)
        srv.routes["/feed.xml"] = Route(rss_feed(items(1)))
        conf = config(w, srv.url("/feed.xml"), nats_output(nats.url(), 'stream = "OTHER";'))
        run(["once", "-c", conf])
        dead = outbox(conf, "--dead")
        err = dead[0].get("last_error", "") if dead else ""
        check(len(dead) == 1 and "stream OTHER does not take subject feedwatch.alerts." in err,
              "a stream that does not take the subject: a dead letter saying so (%s)" % err)
        check(nats.count("OTHER") == 0, "nothing published to OTHER")
        # A missing stream that cannot be created: its subject overlaps OTHER's.
        w2 = fwtest.Workdir()
        try:
            c = nats.client()
            r = c.api("STREAM.UPDATE.OTHER", dict(r["config"], subjects=["feedwatch.>"]))
            c.close()
            check(r is not None and "error" not in r, "OTHER now takes feedwatch.> (%s)" % r)
            conf = config(w2, srv.url("/feed.xml"), nats_output(nats.url(), 'stream = "NEW";'))
            run(["once", "-c", conf])
            dead = outbox(conf, "--dead")
            err = dead[0].get("last_error", "") if dead else ""
            check(len(dead) == 1 and outbox(conf, "--pending") == [] and
                  "creating stream NEW for feedwatch.alerts.>" in err and "overlap" in err,
                  "a stream that cannot be created (subjects overlap): a dead letter (%s)" % err)
        finally:
            w2.cleanup()
    finally:
        nats.close()


def token(srv, w):
    nats = NatsServer(token=TOKEN)
    try:
        srv.routes["/feed.xml"] = Route(rss_feed(items(2)))
        good = w.write("token", TOKEN + "\n")
        conf = config(w, srv.url("/feed.xml"),
                      nats_output(nats.url(), "secret = %s;" % q(good)))
        p = run(["once", "-c", conf])
        check(outbox(conf, "--pending") == [] and nats.count() == 2,
              "the token from the secret file logs in (%s)" % p.stderr.strip()[-300:])
        logs = p.stderr + p.stdout
        w.write("token", "wrong-token\n")
        srv.routes["/feed.xml"] = Route(rss_feed(items(2, 10)))
        time.sleep(1.1)
        p = run(["once", "-c", conf])
        logs += p.stderr + p.stdout
        pend = outbox(conf, "--pending")
        check(len(pend) == 2 and outbox(conf, "--dead") == [] and nats.count() == 2,
              "a wrong token: nothing published, the alerts wait (%d pending)" % len(pend))
        check("disabled" in p.stderr and "refused the login" in p.stderr,
              "a wrong token disables the output, saying why (%s)" % p.stderr.strip()[-300:])
        logs += repr(outbox(conf))
        check(TOKEN not in logs and "wrong-token" not in logs,
              "the token is in no log and no outbox entry")
    finally:
        nats.close()


def config_errors(srv, w):
    srv.routes["/feed.xml"] = Route(rss_feed(items(1)))
    cases = [
        ("a missing url", 'timeout = "3s";', "needs url = "),
        ("an http url", 'url = "http://127.0.0.1:1";', "url must be nats://"),
        ("a tls url (not offered yet)", 'url = "tls://127.0.0.1:1";', "url must be nats://"),
        ("a token in the url", 'url = "nats://tok@127.0.0.1:1";', "url must not hold a user"),
        ("a wildcard subject", 'url = "nats://127.0.0.1:1"; subject = "a.*.{watchlist}";',
         "subject must not hold the wildcards"),
        ("an unknown placeholder", 'url = "nats://127.0.0.1:1"; subject = "a.{feed}";',
         "subject: the only placeholder is {watchlist}"),
        ("an empty token", 'url = "nats://127.0.0.1:1"; subject = "a..{watchlist}";',
         "subject has an empty token"),
        ("a bad stream name", 'url = "nats://127.0.0.1:1"; stream = "a.b";',
         "stream must be a name"),
        ("a missing secret file", 'url = "nats://127.0.0.1:1"; secret = "/nonexistent/x";',
         "cannot read the secret file"),
    ]
    for what, out, words in cases:
        conf = config(w, srv.url("/feed.xml"), out)
        with open(conf) as f:
            lines = f.read().splitlines()
        group = next(i + 1 for i, l in enumerate(lines) if 'plugin = "nats"' in l)
        t0 = time.monotonic()
        p = run(["check", "-c", conf])
        msg = p.stderr.strip()
        check(p.returncode == 1 and ("%s:%d:" % (conf, group)) in msg and
              "output 'js': " + words in msg,
              "check refuses %s with file:line (%s)" % (what, msg[-300:]))
        check(time.monotonic() - t0 < 10, "check does not try to connect (%s)" % what)
    conf = config(w, srv.url("/feed.xml"), 'url = "nats://127.0.0.1:1";')
    p = run(["check", "-c", conf])
    check(p.returncode == 0, "check accepts a valid config with no server up (%s)"
          % p.stderr.strip()[-300:])


if __name__ == "__main__":
    if not os.path.exists(NATS_SERVER):
        print("FAIL nats-server is not installed (scripts/install-deps.sh)")
        sys.exit(1)
    fwtest.main(publish, server_down, restarts, digest, other_stream, token, config_errors)
