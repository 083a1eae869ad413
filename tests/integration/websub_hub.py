"""A small WebSub hub (W3C Recommendation, 23 January 2018) for the tests: standard library
only, on 127.0.0.1. It takes subscription requests (5.1: form-encoded POST, answered 202
Accepted), verifies intent by a GET to the callback with hub.mode, hub.topic,
hub.challenge and hub.lease_seconds (5.3: the subscription holds only when the subscriber
answers 2xx with the challenge as its body), or denies (5.2: hub.mode=denied and
hub.reason) the topics it is told to; keeps leases (a subscription ends at its lease);
distributes content (7: POST of the topic's new content to each callback, with
X-Hub-Signature: METHOD=HMAC(secret, body) when the subscriber gave a secret, 8). It can
go quiet (requests accepted, never verified, nothing distributed)."""
import hashlib
import http.client
import hmac
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from fwtest import http_server


class Hub:
    def __init__(self, max_lease=864000):
        self.max_lease = max_lease
        self.deny = set()  # topics denied
        self.quiet = False
        self.subs = {}  # callback -> {"topic", "secret", "expires"}
        self.requests = []  # (time, form dict) of every subscription request
        self.verifications = []  # (mode, topic, callback, status, echoed challenge ok)
        self.lock = threading.Lock()
        self.httpd = http_server(0, self._serve)
        self.port = self.httpd.server_address[1]

    def url(self):
        return "http://127.0.0.1:%d/hub" % self.port

    def _serve(self, h, body):
        if h.command != "POST" or h.path != "/hub":
            return self._answer(h, 404, b"")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        with self.lock:
            self.requests.append((time.time(), form))
        mode, topic, cb = form.get("hub.mode"), form.get("hub.topic"), form.get("hub.callback")
        secret = form.get("hub.secret")
        if mode not in ("subscribe", "unsubscribe") or not topic or not cb or \
                (secret is not None and len(secret.encode()) >= 200):
            return self._answer(h, 400, b"bad request")
        self._answer(h, 202, b"")
        if not self.quiet:
            threading.Thread(target=self._verify, args=(form,), daemon=True).start()

    @staticmethod
    def _answer(h, status, body):
        h.send_response(status)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _get(self, cb, params):
        sep = "&" if "?" in cb else "?"
        try:
            with urllib.request.urlopen(cb + sep + urllib.parse.urlencode(params), timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return 0, b""

    def _verify(self, form):
        time.sleep(0.05)  # after the 202 has left
        mode, topic, cb = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        if mode == "subscribe" and topic in self.deny:
            status, _ = self._get(cb, {"hub.mode": "denied", "hub.topic": topic,
                                       "hub.reason": "not on this hub"})
            with self.lock:
                self.verifications.append(("denied", topic, cb, status, True))
            return
        challenge = secrets.token_urlsafe(24)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        lease = None
        if mode == "subscribe":
            asked = int(form.get("hub.lease_seconds") or self.max_lease)
            lease = min(asked, self.max_lease)
            params["hub.lease_seconds"] = str(lease)
        status, body = self._get(cb, params)
        ok = 200 <= status < 300 and body == challenge.encode()
        with self.lock:
            self.verifications.append((mode, topic, cb, status, ok))
            if ok and mode == "subscribe":
                self.subs[cb] = {"topic": topic, "secret": form.get("hub.secret"),
                                 "expires": time.time() + lease}
            elif ok and mode == "unsubscribe":
                self.subs.pop(cb, None)

    def active(self, topic=None):
        """Callbacks subscribed now (leases not over), for topic or all."""
        now = time.time()
        with self.lock:
            return {cb: s for cb, s in self.subs.items()
                    if s["expires"] > now and (topic is None or s["topic"] == topic)}

    def verified(self, mode, topic):
        with self.lock:
            return [v for v in self.verifications if v[0] == mode and v[1] == topic and v[4]]

    def requested(self, mode, topic):
        with self.lock:
            return [f for _, f in self.requests
                    if f.get("hub.mode") == mode and f.get("hub.topic") == topic]

    def publish(self, topic, body, algo="sha256", signature=None, content_type="application/rss+xml",
                chunked=False):
        """Distribute body to every subscriber of topic; returns their statuses. signature:
        None signs properly, "" sends none, any other string is sent as it is. chunked:
        sent with Transfer-Encoding: chunked (no Content-Length), in 8 KiB chunks."""
        if self.quiet:
            return []
        statuses = []
        for cb, s in self.active(topic).items():
            headers = {"Content-Type": content_type}
            if signature is None and s["secret"]:
                mac = hmac.new(s["secret"].encode(), body, getattr(hashlib, algo)).hexdigest()
                headers["X-Hub-Signature"] = "%s=%s" % (algo, mac)
            elif signature:
                headers["X-Hub-Signature"] = signature
            statuses.append(post_chunked(cb, body, headers) if chunked else post(cb, body, headers))
        return statuses

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def post_chunked(url, body, headers):
    """POST body with Transfer-Encoding: chunked; the status (0 when the connection failed or
    was closed before an answer)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    chunks = (body[i:i + 8192] for i in range(0, len(body), 8192))
    try:
        conn.request("POST", u.path + ("?" + u.query if u.query else ""), body=chunks,
                     headers=headers, encode_chunked=True)
        r = conn.getresponse()
        r.read()
        return r.status
    except OSError:
        return 0
    finally:
        conn.close()


def post(url, body, headers):
    """POST body; the status (0 when the connection failed)."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0
