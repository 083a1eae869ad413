#!/usr/bin/env python3
"""The desktop output on a private session bus: with no notification server the alert stays
pending in the outbox; once python3-dbusmock's notification_daemon is up, a later run
delivers it, and a hostile title's markup arrives escaped in the body. The configured
urgency, category, desktop-entry hint, app name and the "Open" action reach the server, and
clicking "Open" (the server's ActionInvoked signal) opens the item's link (a stand-in
xdg-open on PATH records it; no URI handler is registered in the test's XDG dirs).
Issue 19: without an urgency key the watchlist's priority sets the urgency (low 0, normal 1,
high and urgent 2), an output's priority overrides it; title and body templates become the
summary and the body (escaped for the spec's markup); the body never repeats a title the
match was in; a story's update replaces the story's earlier notification (replaces_id)."""
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (Route, check, outbox, output_config, q, queue_payload, read_jsonl,  # noqa: E402
                    rss_feed, run, start, stop, wait_for, xml_escape)

BINARY_DIR = os.environ.get("FW_BINARY_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(os.environ.get("FEEDWATCH", "build/daemon/feedwatch")))))

HOSTILE = '<b>Putin</b> & "North Korea" <a href="http://evil/">x</a>'

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def dbusmock_python():
    """An interpreter that can import dbusmock (Debian's python3-dbusmock)."""
    for py in (sys.executable, "/usr/bin/python3"):
        if py and subprocess.run([py, "-c", "import dbusmock"],
                                 capture_output=True).returncode == 0:
            return py
    return None


def notify_calls(log):
    """The Notify entries of a dbusmock log (an entry spans lines when the body does)."""
    if not os.path.exists(log):
        return []
    text = open(log, encoding="utf-8").read()
    entries = re.split(r"\n(?=\d+\.\d+ )", text)
    return [e for e in entries if re.match(r"\d+\.\d+ Notify ", e)]


def body_of(entry):
    """The body argument of a logged Notify call: it starts with the feed name."""
    start = entry.find('"world \u00b7 ')
    end = entry.rfind('" [')
    return entry[start + 1:end] if 0 <= start < end else ""


def has_owner(env, name):
    p = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                        "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                        "string:" + name], capture_output=True, text=True, env=env)
    return "boolean true" in p.stdout


class SessionBus:
    """A private session bus (dbus-daemon in a folder of its own), started by start();
    close() stops it and every process spawn()ed on it, and removes the folder."""

    def __init__(self):
        self.sockdir = tempfile.mkdtemp(prefix="fwbus-")
        self.proc = None
        self.procs = []

    def start(self, w):
        """Start the bus (its config in the Workdir w); returns its address."""
        conf_path = w.write("bus.conf", BUS_CONFIG % self.sockdir)
        self.proc = subprocess.Popen(["dbus-daemon", "--config-file=" + conf_path, "--nofork",
                                      "--print-address=1"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        return self.proc.stdout.readline().strip()

    def spawn(self, args, **kw):
        """A process that lives on the bus until close()."""
        p = subprocess.Popen(args, **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs + ([self.proc] if self.proc else []):
            p.terminate()
            p.wait(timeout=10)
        if self.proc:
            self.proc.stdout.close()
        shutil.rmtree(self.sockdir, ignore_errors=True)


def desktop_bus(srv, w, bus):
    py = dbusmock_python()
    if not check(py is not None and shutil.which("dbus-daemon") is not None,
                 "python3-dbusmock and dbus-daemon are installed (scripts/install-deps.sh)"):
        return
    addr = bus.start(w)
    check(addr.startswith("unix:"), "a private session bus is up (%s)" % addr)
    env = dict(os.environ)
    env["DBUS_SESSION_BUS_ADDRESS"] = addr
    env.pop("DISPLAY", None)
    fenv = {"DBUS_SESSION_BUS_ADDRESS": addr, "DISPLAY": ""}
    items = [("d1", "Putin lands in Pyongyang", "https://example.org/d1", "Putin arrived.")]
    srv.routes["/feed.xml"] = Route(rss_feed(items))
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "desk"; plugin = "desktop"; urgency = "critical"; timeout = "7s";'
        ' app_name = "fw-test"; category = "im.received"; desktop_entry = "feedwatch";'
        ' retry_base = 1; retry_max = 1;'])
    p = run(["check", "-c", conf])
    check(p.returncode == 0, "check accepts the desktop config (%s)" % p.stderr.strip()[-200:])

    # No notification server on the bus: a temporary failure.
    p = run(["once", "-c", conf], env=fenv)
    check(p.returncode == 4 and "1 pending" in p.stderr,
          "once exits 4 without a server: the alert waits (%s)" % p.stderr.strip()[-300:])
    pend = outbox(conf, "--pending")
    check(len(pend) == 1 and "no notification server" in (pend[0].get("last_error") or ""),
          "without a server the alert stays pending (%s)"
          % [x.get("last_error") for x in pend])

    # The server comes up; a later run delivers it.
    log = w.file("notify.log")
    bus.spawn([py, "-m", "dbusmock", "--template", "notification_daemon", "-l", log],
              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check(wait_for(lambda: has_owner(env, "org.freedesktop.Notifications"), timeout=30),
          "the mock notification server is on the bus")
    time.sleep(1.2)  # past the retry delay (retry_base = 1)
    p = run(["once", "-c", conf], env=fenv)
    check(p.returncode == 0, "once exits 0 with a server (%s)" % p.stderr.strip()[-300:])
    check(outbox(conf) == [], "the pending alert was delivered")
    calls = notify_calls(log)
    check(len(calls) == 1, "Notify was called once (%d)" % len(calls))
    if calls:
        c = calls[0]
        check('"fw-test"' in c, "app_name reaches the server")
        check('"Putin lands in Pyongyang"' in c, "the summary is the title")
        check("world" in c and "@putin" in c, "the body names the feed and the term")
        check('"open", "Open"' in c or "'open', 'Open'" in c, "an Open action is offered (%s)" % c)
        check("urgency" in c and "2" in c.split("urgency", 1)[1][:8], "urgency critical")
        check("im.received" in c and "desktop-entry" in c and "feedwatch" in c,
              "category and desktop-entry hints")
        check(c.rstrip().endswith(" 7000"), "timeout 7s = 7000 ms")

    # A hostile title and summary: the title is not repeated in the body (the match is in
    # it), the summary arrives escaped.
    items.append(("d2", xml_escape(HOSTILE), "https://example.org/d2",
                  "Tom & Jerry say 1 < 2 (summary)"))
    srv.routes["/feed.xml"] = Route(rss_feed(items))
    p = run(["once", "-c", conf], env=fenv)
    calls = notify_calls(log)
    check(len(calls) == 2, "the hostile item was notified")
    if len(calls) == 2:
        c = calls[1]
        body = body_of(c)
        check('"%s"' % HOSTILE in c, "the summary is the title as plain text")
        check("Tom &amp; Jerry say 1 &lt; 2 (summary)" in body and "Putin" not in
              body.split("\n", 1)[-1],
              "the summary's markup arrives escaped in the body, the title is not repeated "
              "(%s)" % body[:300])
        check("<b>" not in body and "<a " not in body and '"North' not in body,
              "no raw markup from the item in the body")
    check(outbox(conf) == [], "nothing left in the outbox")

    # The running daemon keeps its notification: "Open" opens the link.
    opened = w.file("opened.txt")
    xdg = os.path.join(w.file("xdg"), "")
    for d in ("bin", "data", "config", "home"):
        os.makedirs(os.path.join(xdg, d))
    with open(os.path.join(xdg, "bin", "xdg-open"), "w") as f:
        f.write('#!/bin/sh\nprintf "%%s\\n" "$*" >> %s\n' % q(opened))
    os.chmod(os.path.join(xdg, "bin", "xdg-open"), 0o755)
    items.append(("d3", "Putin opens a link", "https://example.org/d3?a=1&b=2", "Putin."))
    srv.routes["/feed.xml"] = Route(rss_feed(items))
    renv = dict(fenv)
    renv.update({"PATH": xdg + "bin:" + os.environ.get("PATH", "/usr/bin:/bin"),
                 "XDG_DATA_DIRS": xdg + "data", "XDG_DATA_HOME": xdg + "data",
                 "XDG_CONFIG_DIRS": xdg + "config", "XDG_CONFIG_HOME": xdg + "config",
                 "HOME": xdg + "home"})
    proc = start(["run", "-c", conf], env=renv)
    try:
        check(wait_for(lambda: len(notify_calls(log)) == 3, timeout=30),
              "the running daemon notified the new item")
        # The mock numbers notifications from 1; only the running daemon's is live.
        emit = ("import dbus, sys\n"
                "b = dbus.bus.BusConnection(sys.argv[1])\n"
                "o = b.get_object('org.freedesktop.Notifications',"
                " '/org/freedesktop/Notifications')\n"
                "for i in range(1, 6):\n"
                "    o.EmitSignal('org.freedesktop.Notifications', 'ActionInvoked', 'us',"
                " [dbus.UInt32(i), 'open'], dbus_interface='org.freedesktop.DBus.Mock')\n")
        r = subprocess.run([py, "-c", emit, addr], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 0, "ActionInvoked emitted (%s)" % r.stderr.strip()[-200:])
        def whole_line():
            # the opener's `>>` makes the file before printf writes to it
            if not os.path.exists(opened):
                return False
            with open(opened) as f:
                return f.read().endswith("\n")

        check(wait_for(whole_line, timeout=15), "clicking Open ran the URI opener")
        if os.path.exists(opened):
            with open(opened) as f:
                got = [line for line in f.read().split("\n") if line]
            check(got == ["https://example.org/d3?a=1&b=2"],
                  "it opened the item's link, once, as one argument (%s)" % got)
    finally:
        rc, _, err = stop(proc)
        check(rc == 0, "the daemon stops cleanly (%s)" % err.strip()[-300:])


def mock_server(w, bus):
    """A private bus with the mock notification server; (env for feedwatch, log path), or
    None when python3-dbusmock is missing."""
    py = dbusmock_python()
    if not check(py is not None and shutil.which("dbus-daemon") is not None,
                 "python3-dbusmock and dbus-daemon are installed (scripts/install-deps.sh)"):
        return None
    addr = bus.start(w)
    env = dict(os.environ)
    env["DBUS_SESSION_BUS_ADDRESS"] = addr
    env.pop("DISPLAY", None)
    log = w.file("notify.log")
    bus.spawn([py, "-m", "dbusmock", "--template", "notification_daemon", "-l", log],
              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check(wait_for(lambda: has_owner(env, "org.freedesktop.Notifications"), timeout=30),
          "the mock notification server is on the bus")
    return {"DBUS_SESSION_BUS_ADDRESS": addr, "DISPLAY": ""}, log


def config(w, feed_url, watchlists, outputs):
    return w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; interval = 1; } );
entities = { putin = [ "Putin" ]; kim = [ "Kim" ]; };
watchlists = ( %s );
outputs = ( %s );
""" % (q(w.state), q(feed_url), ",\n".join("{ group = \"item\"; %s }" % x for x in watchlists),
       ",\n".join("{ %s }" % o for o in outputs)))


def notify_args(entry):
    """(replaces_id, summary, body, urgency) of a logged Notify call; the mock logs the
    arguments in order: app_name replaces_id icon summary body actions hints timeout."""
    m = re.match(r'\d+\.\d+ Notify "[^"]*" (\d+) "[^"]*" "(.*?)" "(.*)" \[', entry, re.S)
    u = re.search(r'"urgency": (?:\w+\()?(\d+)', entry)
    if not m:
        return None
    return int(m.group(1)), m.group(2), m.group(3), int(u.group(1)) if u else None


def priority_templates(srv, w, bus):
    got = mock_server(w, bus)
    if not got:
        return
    fenv, log = got
    srv.routes["/feed.xml"] = Route(rss_feed([
        ("u1", "Putin & friends > foes", "https://example.org/u1", "It is Putin."),
        ("l1", "Kim sleeps", "https://example.org/l1", "Quiet day.")]))
    conf = config(w, srv.url("/feed.xml"), [
        'name = "war"; match = "@putin"; priority = "urgent";'
        ' title = "{watchlist}: {title}"; body = "<{feed}> & {why} {{x}}";',
        'name = "calm"; match = "@kim"; priority = "low";'], [
        'name = "desk"; plugin = "desktop";'])
    p = run(["once", "-c", conf], env=fenv)
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])
    # Without desktop_entry the hint names the desktop entry the build installs, so the
    # notification carries feedwatch's name and icon.
    entries = glob.glob(os.path.join(BINARY_DIR, "config", "*.desktop"))
    entry = os.path.basename(entries[0])[:-len(".desktop")] if len(entries) == 1 else None
    raw = notify_calls(log)
    check(entry and raw and all('"desktop-entry": "%s"' % entry in c for c in raw),
          "the default desktop-entry hint is the installed %s.desktop (%s)"
          % (entry, raw[:1]))
    calls = [notify_args(c) for c in raw]
    war = [c for c in calls if c and c[1].startswith("war: ")]
    calm = [c for c in calls if c and c[1] == "Kim sleeps"]
    check(len(war) == 1 and war[0][1] == "war: Putin & friends > foes",
          "the title template is the summary, as plain text (%s)" % calls)
    check(len(war) == 1 and war[0][2] == '&lt;world&gt; &amp; @putin "Putin" in title {x}',
          "the body template is rendered with &, < and > escaped (%s)" % war[:1])
    check(len(war) == 1 and war[0][3] == 2, "urgent is urgency critical (%s)" % war[:1])
    check(len(calm) == 1 and calm[0][3] == 0, "low is urgency low (%s)" % calm)
    check(len(calm) == 1 and "Kim sleeps" not in calm[0][2] and "Quiet day." in calm[0][2],
          "the body does not repeat the title the match was in (%s)" % calm)

    # An output's priority overrides the watchlist's; the urgency key overrides both.
    srv.routes["/feed.xml"] = Route(rss_feed([
        ("u2", "Putin again", "https://example.org/u2", "x")]))
    conf = config(w, srv.url("/feed.xml"), ['name = "war"; match = "@putin"; priority = "urgent";'],
                  ['name = "desk"; plugin = "desktop"; priority = "normal";',
                   'name = "fixed"; plugin = "desktop"; priority = "normal"; urgency = "low";'])
    p = run(["once", "-c", conf], env=fenv)
    calls = [notify_args(c) for c in notify_calls(log)]
    again = sorted(c[3] for c in calls if c and c[1] == "Putin again")
    check(again == [0, 1], "output priority normal: urgency 1; urgency = \"low\": 0 (%s)" % again)


def story_update(srv, w, bus):
    """A story's first alert and its update, queued as the story layer will queue them: the
    update replaces the first notification (Notify with its id as replaces_id) and lists the
    added items; an unrelated alert gets a notification of its own."""
    got = mock_server(w, bus)
    if not got:
        return
    fenv, log = got
    srv.routes["/feed.xml"] = Route(rss_feed([
        ("s1", "Putin lands", "https://example.org/s1", "x")]))
    jl = w.file("alerts.jsonl")
    conf = config(w, srv.url("/feed.xml"), ['name = "war"; match = "@putin";'], [
        'name = "desk"; plugin = "desktop";', 'name = "log"; plugin = "log"; path = %s;' % q(jl)])
    p = run(["once", "-c", conf], env=fenv)
    base = read_jsonl(jl)
    check(p.returncode == 0 and len(base) == 1, "the base alert went out (%s)"
          % p.stderr.strip()[-300:])
    if not base:
        return
    first = copy.deepcopy(base[0])
    first["id"] = "1" * 32
    first["item"]["title"] = "Putin lands in Pyongyang"
    first["story"] = {"id": "s-1", "new": True, "items": 1, "feeds": 1,
                      "first_alert": first["id"], "title": "Putin lands in Pyongyang"}
    upd = copy.deepcopy(first)
    upd["id"] = "2" * 32
    upd["item"]["title"] = "Putin meets Kim"
    upd["story"] = {"id": "s-1", "new": False, "items": 3, "feeds": 2,
                    "first_alert": first["id"], "title": "Putin lands in Pyongyang",
                    "added": [{"title": "Putin meets Kim", "feed": "asia", "link": None,
                               "published": None},
                              {"title": "Talks <begin>", "feed": "world", "link": None,
                               "published": None}], "more": 0}
    other = copy.deepcopy(base[0])
    other["id"] = "3" * 32
    other["item"]["title"] = "Unrelated"
    for a in (first, other, upd):
        queue_payload(w, "desk", a)
    p = run(["once", "-c", conf], env=fenv)
    check(p.returncode == 0 and outbox(conf) == [], "all three delivered (%s)"
          % p.stderr.strip()[-300:])
    calls = [notify_args(c) for c in notify_calls(log)]
    # The mock numbers notifications 1, 2, ... in the order it gets them.
    ids = {c[1]: i + 1 for i, c in enumerate(calls) if c and c[0] == 0}
    upd_calls = [c for c in calls if c and c[0] != 0]
    check(len(calls) == 4 and "Unrelated" in ids and len(upd_calls) == 1,
          "one new notification each for the story and the other alert, one replacement "
          "(%s)" % calls)
    if len(upd_calls) == 1 and "Putin lands in Pyongyang" in ids:
        rid, summary, body, _ = upd_calls[0]
        check(rid == ids["Putin lands in Pyongyang"],
              "the update replaces the story's notification (replaces_id %d, story's id %d)"
              % (rid, ids["Putin lands in Pyongyang"]))
        check(summary == "Putin lands in Pyongyang" and
              body.startswith("+2 items from 2 feeds (3 in all)") and
              "Talks &lt;begin&gt;" in body and "Putin meets Kim" in body,
              "it shows the story's title and the added items (%r, %r)" % (summary, body))


if __name__ == "__main__":
    fwtest.main(desktop_bus, priority_templates, story_update,
                each=(fwtest.Workdir, SessionBus))
