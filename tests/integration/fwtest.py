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


class Server:
    """A threaded HTTP server on 127.0.0.1 with a route table and a request log."""

    def __init__(self):
        self.routes = {}
        self.requests = []  # (method, path, headers dict, body bytes)
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with outer.lock:
                    outer.requests.append((self.command, self.path, dict(self.headers), body))
                    route = outer.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.handler:
                    route.handler(self, body)
                    return
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = route.body if isinstance(route.body, bytes) else route.body.encode()
                self.send_response(route.status)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                if route.etag:
                    self.send_header("ETag", route.etag)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

        class TS(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = TS(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

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
    e = dict(os.environ)
    e["FEEDWATCH_PLUGIN_DIR"] = PLUGIN_DIR
    if env:
        e.update(env)
    return subprocess.Popen([FEEDWATCH] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=e)


def stop(proc, sig=signal.SIGTERM, timeout=30):
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return -999, out, err
    return proc.returncode, out, err


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
