"""Shared helpers for feedwatch's integration tests: a scriptable HTTP server on 127.0.0.1,
temporary state, and running the real binary. Standard library only."""
import http.server
import json
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

FEEDWATCH = os.environ.get("FEEDWATCH", "build/daemon/feedwatch")
PLUGIN_DIR = os.environ.get("FW_PLUGIN_DIR", "build/plugins")
DATA = os.environ.get("FW_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))

failures = []
_started = []  # every process from start(): main() ends those a test left running


def check(cond, what):
    """Record one assertion; print it like a test runner would."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def finish():
    if failures:
        print("%d checks failed" % len(failures))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


class Route:
    """What the server answers for one path: a body, or a function of the request."""

    def __init__(self, body=b"", status=200, headers=None, etag=None, handler=None):
        self.body = body
        self.status = status
        self.headers = headers or {}
        self.etag = etag
        self.handler = handler


class _Threaded(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that goes away mid-request (kill -9, timeouts) is part of the tests


def http_server(port, serve, wrap=None):
    """A quiet threaded HTTP/1.1 server on 127.0.0.1:port (0: any free port), started; it
    reads each request's body and calls serve(handler, body) to answer GET, POST or PUT.
    wrap(socket), if given, replaces the listening socket first (TLS)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _serve(self):
            n = int(self.headers.get("Content-Length") or 0)
            serve(self, self.rfile.read(n) if n else b"")

        do_GET = do_POST = do_PUT = _serve

    httpd = _Threaded(("127.0.0.1", port), Handler)
    if wrap:
        httpd.socket = wrap(httpd.socket)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class Server:
    """A threaded HTTP server on 127.0.0.1 with a route table and a request log."""

    def __init__(self):
        self.routes = {}
        self.requests = []  # (method, path, headers dict, body bytes)
        self.times = []  # (time.monotonic(), path) of every request
        self.lock = threading.Lock()
        self.httpd = http_server(0, self._serve)
        self.port = self.httpd.server_address[1]

    def _serve(self, h, body):
        with self.lock:
            self.requests.append((h.command, h.path, dict(h.headers), body))
            self.times.append((time.monotonic(), h.path.split("?")[0]))
            route = self.routes.get(h.path.split("?")[0])
        if route is None:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if route.handler:
            route.handler(h, body)
            return
        if route.etag and h.headers.get("If-None-Match") == route.etag:
            h.send_response(304)
            h.send_header("ETag", route.etag)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = route.body if isinstance(route.body, bytes) else route.body.encode()
        h.send_response(route.status)
        for k, v in route.headers.items():
            h.send_header(k, v)
        if route.etag:
            h.send_header("ETag", route.etag)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def count(self, path, method="GET"):
        with self.lock:
            return sum(1 for r in self.requests if r[1].split("?")[0] == path and r[0] == method)

    def last(self, path):
        with self.lock:
            for r in reversed(self.requests):
                if r[1].split("?")[0] == path:
                    return r
        return None

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Workdir:
    """A temporary folder with a state dir; removed at exit."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="fwtest-")
        self.state = os.path.join(self.path, "state")

    def file(self, name):
        return os.path.join(self.path, name)

    def write(self, name, text):
        p = self.file(name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def q(s):
    """A libconfig string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run(args, timeout=120, env=None, input=None):
    e = dict(os.environ)
    e["FEEDWATCH_PLUGIN_DIR"] = PLUGIN_DIR
    if env:
        e.update(env)
    p = subprocess.run([FEEDWATCH] + args, capture_output=True, text=True, timeout=timeout,
                       env=e, input=input)
    return p


def start(args, env=None):
    """Start the binary in the background. Its stdout and stderr go to temporary files (a
    pipe nobody reads would fill and block a long-running daemon): read them with
    output(proc) at any time, or get them from stop()."""
    e = dict(os.environ)
    e["FEEDWATCH_PLUGIN_DIR"] = PLUGIN_DIR
    if env:
        e.update(env)
    out = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    err = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    proc = subprocess.Popen([FEEDWATCH] + args, stdout=out, stderr=err, text=True, env=e)
    proc.fw_out, proc.fw_err = out, err
    _started.append(proc)
    return proc


def output(proc):
    """(stdout, stderr) so far of a process from start()."""
    res = []
    for f in (proc.fw_out, proc.fw_err):
        f.flush()
        f.seek(0)
        res.append(f.read())
    return res[0], res[1]


def stop(proc, sig=signal.SIGTERM, timeout=30):
    """Signal a process from start(), wait; (returncode, stdout, stderr); -999 on a hang."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = -999
    out, err = output(proc)
    proc.fw_out.close()
    proc.fw_err.close()
    return rc, out, err


def wait_for(pred, timeout=30, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


# --- Helpers for the output plugin tests (webhook, desktop, exec, outbox). ---

def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def rss_feed(items):
    """An RSS 2.0 document; items are (guid, title, link, description) tuples."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
           "<title>test</title><link>https://example.org/</link><description>t</description>"]
    for guid, title, link, desc in items:
        out.append("<item><title>%s</title><link>%s</link><guid isPermaLink=\"false\">%s</guid>"
                   "<pubDate>Tue, 18 Jun 2024 21:44:00 +0200</pubDate>"
                   "<description>%s</description></item>"
                   % (xml_escape(title), xml_escape(link), xml_escape(guid), xml_escape(desc)))
    out.append("</channel></rss>\n")
    return "".join(out)


def output_config(w, feed_url, outputs, match="@putin", extra=""):
    """A config with one feed, one watchlist routed to every output, and the given outputs
    (the inside of each libconfig group, with its name = ...)."""
    names = []
    for o in outputs:
        n = o.split('name = "', 1)[1].split('"', 1)[0]
        names.append(q(n))
    return w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; interval = 1; } );
entities = { putin = [ "Putin", "Путин*" ]; };
watchlists = ( { name = "putin"; match = %s; group = "item"; outputs = [ %s ]; } );
outputs = ( %s );
%s
""" % (q(w.state), q(feed_url), q(match), ", ".join(names),
       ",\n".join("{ %s }" % o for o in outputs), extra))


def outbox(conf, *args):
    """`feedwatch outbox -c conf list --json ...` as a list of dicts."""
    p = run(["outbox", "-c", conf, "list", "--json"] + list(args))
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def sw_verify(secret, headers, body, tolerance=300):
    """Check a Standard Webhooks signature; returns an error string or None."""
    import base64
    import hashlib
    import hmac
    h = {k.lower(): v for k, v in headers.items()}
    mid, ts, sig = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not (mid and ts and sig):
        return "missing webhook-* headers"
    if abs(time.time() - int(ts)) > tolerance:
        return "timestamp too far off"
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    want = base64.b64encode(hmac.new(key, b"%s.%s.%s" % (mid.encode(), ts.encode(), body),
                                     hashlib.sha256).digest()).decode()
    for part in sig.split(" "):
        v, _, s = part.partition(",")
        if v == "v1" and hmac.compare_digest(s, want):
            return None
    return "signature mismatch"


class Receiver:
    """A webhook receiver on a fixed 127.0.0.1 port whose behaviour the test scripts:
    mode is "ok" (200), a status number, ("status", n, retry_after), "stall" (answer 503
    only after stall seconds), or the receiver is down() (the socket closed). Every request
    is logged as (method, path, headers, body, status answered)."""

    def __init__(self):
        self.mode = "ok"
        self.stall = 3.0
        self.requests = []
        self.lock = threading.Lock()
        self.httpd = None
        self.port = 0
        self.up()

    def _serve(self, h, body):
        mode = self.mode
        status, retry_after = 200, None
        if mode == "stall":
            time.sleep(self.stall)
            status = 503
        elif isinstance(mode, int):
            status = mode
        elif isinstance(mode, tuple):
            status, retry_after = mode[1], mode[2]
        with self.lock:
            self.requests.append((h.command, h.path, dict(h.headers), body, status))
        try:
            h.send_response(status)
            if retry_after is not None:
                h.send_header("Retry-After", str(retry_after))
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", "2")
            h.end_headers()
            h.wfile.write(b"{}")
        except OSError:
            pass

    def up(self):
        self.httpd = http_server(self.port, self._serve)
        self.port = self.httpd.server_address[1]

    def down(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def log(self, path=None, status=None):
        with self.lock:
            return [r for r in self.requests
                    if (path is None or r[1] == path) and (status is None or r[4] == status)]

    def close(self):
        self.down()


# --- Helpers for the fault, crash and security tests (test_faults, test_crash, ...). ---

class RawServer:
    """A TCP server on 127.0.0.1 that hands each connection's request (method, path,
    headers) to a script: script(sock, method, path, headers, server) writes whatever it
    likes, raw, then returns; the connection is then closed. Unknown paths get a 404.
    stopping is set by close(), so scripts that stall wait on it and end promptly."""

    def __init__(self, scripts):
        import socket
        self.scripts = scripts
        self.hits = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = c.recv(4096)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, path = head[0].split(" ")[:2]
            headers = {}
            for line in head[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            path = path.split("?")[0]
            with self.lock:
                self.hits[path] = self.hits.get(path, 0) + 1
            script = self.scripts.get(path)
            c.settimeout(None)
            if script is None:
                c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            else:
                script(c, method, path, headers, self)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def count(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass


def free_port():
    """A loopback port with nothing listening on it (bound, then closed)."""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_rss_kb(pid, key="VmRSS"):
    """VmRSS (or VmHWM, the peak) of a process in KiB from /proc, 0 when gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def status_json(conf):
    """`feedwatch status --json` as a dict ({} when it fails)."""
    p = run(["status", "-c", conf, "--json"])
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {}


# --- Helpers for the alert-path tests (rate limit, dead letters, sd_notify). ---

class NotifySocket:
    """An AF_UNIX datagram socket in a temporary folder standing in for systemd's
    $NOTIFY_SOCKET; every datagram is kept as (time.monotonic(), {key: value})."""

    def __init__(self, folder):
        import socket
        self.path = os.path.join(folder, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except OSError:
                continue
            kv = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                if "=" in line:
                    k, _, v = line.partition("=")
                    kv[k] = v
            with self.lock:
                self.messages.append((time.monotonic(), kv))

    def all(self):
        with self.lock:
            return [m for _, m in self.messages]

    def having(self, key, value=None):
        return [m for m in self.all() if key in m and (value is None or m[key] == value)]

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()


class _StampedList(list):
    """A list that also keeps the time.monotonic() and time.time() of each append in .times
    and .walls."""

    def __init__(self):
        super().__init__()
        self.times = []
        self.walls = []

    def append(self, x):
        self.times.append(time.monotonic())
        self.walls.append(time.time())
        super().append(x)


class TimedReceiver(Receiver):
    """A Receiver that also keeps when each request arrived: stamped() gives (time, request)
    pairs in arrival order."""

    def __init__(self):
        super().__init__()
        with self.lock:
            self.requests = _StampedList()

    def stamped(self, path=None, status=None, wall=False):
        """(time, request) pairs; time.time() instead of time.monotonic() when wall."""
        with self.lock:
            pairs = list(zip(self.requests.walls if wall else self.requests.times,
                             list(self.requests)))
        return [(t, r) for t, r in pairs
                if (path is None or r[1] == path) and (status is None or r[4] == status)]


class MountNS:
    """A private mount namespace (root only: unshare -m), kept alive by a sleeping process,
    so that a test can mount a tmpfs or a read-only bind over a folder and run commands
    that see it, while the rest of the machine does not. ok is False when unshare fails."""

    def __init__(self):
        self.proc = None
        self.ok = False
        try:
            self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private",
                                          "sleep", "3600"], stderr=subprocess.DEVNULL)
            time.sleep(0.2)
            self.ok = self.proc.poll() is None and self.sh("true").returncode == 0
        except OSError:
            self.ok = False

    def argv(self, args):
        return ["nsenter", "-t", str(self.proc.pid), "-m", "--"] + list(args)

    def sh(self, script, timeout=60):
        return subprocess.run(self.argv(["sh", "-c", script]), capture_output=True, text=True,
                              timeout=timeout)

    def run(self, args, timeout=120, env=None):
        """run() of the binary inside the namespace."""
        e = dict(os.environ)
        e["FEEDWATCH_PLUGIN_DIR"] = PLUGIN_DIR
        if env:
            e.update(env)
        return subprocess.run(self.argv([os.path.abspath(FEEDWATCH)] + list(args)),
                              capture_output=True, text=True, timeout=timeout, env=e)

    def start(self, args, env=None):
        """start() of the binary inside the namespace (nsenter execs it: same pid)."""
        e = dict(os.environ)
        e["FEEDWATCH_PLUGIN_DIR"] = PLUGIN_DIR
        if env:
            e.update(env)
        out = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        err = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        proc = subprocess.Popen(self.argv([os.path.abspath(FEEDWATCH)] + list(args)),
                                stdout=out, stderr=err, text=True, env=e)
        proc.fw_out, proc.fw_err = out, err
        _started.append(proc)
        return proc

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _close(obj):
    """Close one object main() made: Workdir.cleanup(), or close() (servers, sockets...)."""
    if hasattr(obj, "cleanup"):
        obj.cleanup()
    else:
        obj.close()


def _end_started():
    """Kill what start() started and nobody stopped (a part that failed half-way), so that
    no daemon outlives its test."""
    for proc in _started:
        if proc.poll() is None:
            print("note: killing pid %d, started and never stopped" % proc.pid, flush=True)
            proc.kill()
            proc.wait()
        for f in (proc.fw_out, proc.fw_err):
            if not f.closed:
                f.close()
    del _started[:]


def main(*parts, shared=(Server,), each=(Workdir,), setup=None):
    """The one way an integration test ends. Make one object with each factory in shared
    (a class, or any function of no arguments) for the whole test and call
    setup(*those) if given; then for each part in order make a fresh object with each
    factory in each and call part(*shared objects, *fresh objects). Whatever happens,
    every object is closed (cleanup() or close(), the newest first; a fresh one right
    after its part), and a daemon from start() that a part left running is killed when
    the part ends; then the checks are reported (finish(): exit 1 when one failed). A
    part that raises is a failure: its traceback is printed and the parts after it do
    not run."""
    made = []
    try:
        for make in shared:
            made.append(make())
        if setup:
            setup(*made)
        for part in parts:
            fresh = []
            try:
                for make in each:
                    fresh.append(make())
                part(*(made + fresh))
            finally:
                _end_started()
                _close_all(fresh)
    except Exception:
        import traceback
        traceback.print_exc()
        check(False, "the test ran to its end without an exception")
    finally:
        _close_all(made)
        _end_started()
    finish()


def _close_all(objs):
    """Close objs newest first; a failure to close is reported, and the rest still close."""
    while objs:
        obj = objs.pop()
        try:
            _close(obj)
        except Exception as e:  # noqa: BLE001 - cleanup goes on
            check(False, "closing %s: %r" % (type(obj).__name__, e))


def queue_payload(w, output, payload, alert_id=None):
    """Put one alert JSON (a dict) into the outbox of w's database for `output`, due now, as
    the daemon would have queued it: for payloads the daemon does not make yet (story
    updates). The database must exist (run `once` first)."""
    import sqlite3
    db = sqlite3.connect(os.path.join(w.state, "feedwatch.db"))
    try:
        now = int(time.time())
        db.execute("INSERT INTO outbox (alert_id, output, payload, created, next_at) "
                   "VALUES (?, ?, ?, ?, ?)", (alert_id or payload["id"], output,
                                               json.dumps(payload), now, now))
        db.commit()
    finally:
        db.close()
