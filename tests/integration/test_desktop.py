#!/usr/bin/env python3
"""The desktop output on a private session bus: with no notification server the alert stays
pending in the outbox; once python3-dbusmock's notification_daemon is up, a later run
delivers it, and a hostile title's markup arrives escaped in the body. The configured
urgency, category, desktop-entry hint, app name and the "Open" action reach the server, and
clicking "Open" (the server's ActionInvoked signal) opens the item's link (a stand-in
xdg-open on PATH records it; no URI handler is registered in the test's XDG dirs)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (Route, check, outbox, output_config, q, rss_feed, run, start,  # noqa: E402
                    stop, wait_for, xml_escape)

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

    # A hostile title: escaped in the body.
    items.append(("d2", xml_escape(HOSTILE), "https://example.org/d2", "Putin again."))
    srv.routes["/feed.xml"] = Route(rss_feed(items))
    p = run(["once", "-c", conf], env=fenv)
    calls = notify_calls(log)
    check(len(calls) == 2, "the hostile item was notified")
    if len(calls) == 2:
        c = calls[1]
        body = body_of(c)
        check('"%s"' % HOSTILE in c, "the summary is the title as plain text")
        check("&lt;b&gt;Putin&lt;/b&gt; &amp; &quot;North Korea&quot; &lt;a href=&quot;"
              in body, "the title's markup arrives escaped in the body (%s)" % body[:300])
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
        check(wait_for(lambda: os.path.exists(opened), timeout=15),
              "clicking Open ran the URI opener")
        if os.path.exists(opened):
            with open(opened) as f:
                got = [line for line in f.read().split("\n") if line]
            check(got == ["https://example.org/d3?a=1&b=2"],
                  "it opened the item's link, once, as one argument (%s)" % got)
    finally:
        rc, _, err = stop(proc)
        check(rc == 0, "the daemon stops cleanly (%s)" % err.strip()[-300:])


if __name__ == "__main__":
    fwtest.main(desktop_bus, each=(fwtest.Workdir, SessionBus))
