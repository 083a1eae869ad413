#!/usr/bin/env python3
"""sd_notify without systemd: the test binds an AF_UNIX datagram socket, runs `feedwatch run`
with $NOTIFY_SOCKET pointing at it (and $WATCHDOG_USEC=4000000, no $WATCHDOG_PID) and checks
the messages and their order: READY=1 with a STATUS naming feeds, watchlists and outputs;
WATCHDOG=1 from the loop tick; RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a
SIGHUP reload, a broken config included; STOPPING=1 on SIGTERM. `feedwatch once` sends
nothing. Log lines carry sd-daemon <N> prefixes only when $JOURNAL_STREAM names stderr."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (FEEDWATCH, PLUGIN_DIR, NotifySocket, Route, check, output, q,  # noqa: E402
                    rss_feed, run, start, stop, wait_for)

# The environment of a service: these must come from the test alone.
for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
    os.environ.pop(var, None)


def write_config(w, srv, n_feeds, broken=False):
    feeds = ",\n".join('{ name = "f%d"; url = %s; interval = 60; }' % (i, q(srv.url("/f%d" % i)))
                       for i in range(n_feeds))
    lists = ",\n".join('{ name = "w%d"; match = "Putin"; }' % i for i in range(n_feeds))
    text = """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
feeds = ( %s );
watchlists = ( %s );
outputs = ( { name = "alerts"; plugin = "log"; path = %s; } );
""" % (q(w.state), feeds, lists, q(w.file("alerts.jsonl")))
    if broken:
        text += "watchlists = oops;\n"
    # Like an editor: a new file renamed over the old one.
    tmp = w.file("feedwatch.conf.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, w.file("feedwatch.conf"))
    return w.file("feedwatch.conf")


def kinds(msgs):
    """The lifecycle messages in order: READY, RELOADING, STOPPING (WATCHDOG/STATUS left out)."""
    out = []
    for m in msgs:
        for k in ("RELOADING", "READY", "STOPPING"):
            if m.get(k) == "1":
                out.append(k)
    return out


def reloads_end_ready(seq):
    """Every RELOADING is followed by a READY before the next RELOADING or STOPPING."""
    open_reload = False
    for k in seq:
        if k == "RELOADING":
            if open_reload:
                return False
            open_reload = True
        elif k == "READY":
            open_reload = False
        elif k == "STOPPING" and open_reload:
            return False
    return not open_reload


def lifecycle(srv, w):
    ns = NotifySocket(w.path)
    try:
        conf = write_config(w, srv, 1)
        env = {"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "4000000"}
        d = start(["run", "-c", conf], env=env)
        check(wait_for(lambda: ns.having("READY", "1"), timeout=30), "READY=1 at start")
        ready = ns.having("READY", "1")
        st = ready[0].get("STATUS", "") if ready else ""
        check("1 feeds" in st and "1 watchlists" in st and "1 outputs" in st,
              "the first READY carries a STATUS naming feeds, watchlists, outputs (%r)" % st)

        # WatchdogSec=4s: pings at half of it from the 1 s tick.
        check(wait_for(lambda: len(ns.having("WATCHDOG", "1")) >= 2, timeout=15),
              "WATCHDOG=1 at least twice (%d)" % len(ns.having("WATCHDOG", "1")))
        first_ready = next(i for i, m in enumerate(ns.all()) if m.get("READY") == "1")
        first_dog = next(i for i, m in enumerate(ns.all()) if m.get("WATCHDOG") == "1")
        check(first_ready < first_dog, "the first WATCHDOG=1 comes after READY=1")

        # A changed config and SIGHUP: RELOADING=1 (+MONOTONIC_USEC), then READY=1.
        conf = write_config(w, srv, 2)
        before = time.monotonic()
        d.send_signal(signal.SIGHUP)
        check(wait_for(lambda: len(ns.having("READY", "1")) >= 2, timeout=20),
              "READY=1 again after the reload")
        rel = ns.having("RELOADING", "1")
        check(len(rel) >= 1, "RELOADING=1 on SIGHUP")
        if rel:
            mono = rel[0].get("MONOTONIC_USEC", "")
            check(mono.isdigit() and before <= int(mono) / 1e6 <= time.monotonic(),
                  "RELOADING=1 carries MONOTONIC_USEC on CLOCK_MONOTONIC (%r)" % mono)
        st = ns.having("READY", "1")[-1].get("STATUS", "")
        check("2 feeds" in st and "2 watchlists" in st,
              "the READY after the reload has the new STATUS (%r)" % st)
        check(reloads_end_ready(kinds(ns.all())), "the reload ends with READY=1")
        check(wait_for(lambda: srv.count("/f1") >= 1, timeout=20), "the added feed is polled")

        # A broken config and SIGHUP: refused; the daemon says READY=1 again (on the old
        # config), with a STATUS naming the failed reload. The file watcher may reload too.
        n_rel = len(ns.having("RELOADING", "1"))
        write_config(w, srv, 2, broken=True)
        d.send_signal(signal.SIGHUP)
        check(wait_for(lambda: len(ns.having("RELOADING", "1")) > n_rel, timeout=20),
              "RELOADING=1 on the SIGHUP with a broken config")
        check(wait_for(lambda: "reload failed" in output(d)[1], timeout=20),
              "the broken config is refused")
        wait_for(lambda: reloads_end_ready(kinds(ns.all())), timeout=5)
        check(reloads_end_ready(kinds(ns.all())),
                  "a failed reload also ends with READY=1 (%s)" % kinds(ns.all()))
        last = [m for m in ns.all() if "STATUS" in m]
        st = last[-1]["STATUS"] if last else ""
        check("reload" in st.lower() and "fail" in st.lower(),
                  "the last STATUS names the failed reload (%r)" % st)
        check(d.poll() is None, "the daemon keeps running on the old config")

        rc, out, err = stop(d)
        check(rc == 0, "SIGTERM stops the daemon (rc %d)" % rc)
        seq = kinds(ns.all())
        check(seq.count("STOPPING") == 1 and seq[-1] == "STOPPING",
              "STOPPING=1 once, as the last lifecycle message (%s)" % seq)
        check(seq[0] == "READY" and seq.count("RELOADING") >= 2,
              "the order is READY, RELOADING..., STOPPING (%s)" % seq)
        # Order of the good reload: READY, RELOADING, READY.
        check(seq[:3] == ["READY", "RELOADING", "READY"],
              "the first reload is bracketed by RELOADING=1 and READY=1 (%s)" % seq[:3])
    finally:
        ns.close()


def watchdog_other_pid(srv, w):
    """$WATCHDOG_PID naming another process: the watchdog is not ours, no WATCHDOG=1."""
    ns = NotifySocket(w.path)
    try:
        conf = write_config(w, srv, 1)
        d = start(["run", "-c", conf], env={"NOTIFY_SOCKET": ns.path,
                                            "WATCHDOG_USEC": "2200000",
                                            "WATCHDOG_PID": str(os.getpid())})
        check(wait_for(lambda: ns.having("READY", "1"), timeout=30), "READY=1 (other pid)")
        # Bounded: with WatchdogSec=2.2s a ping would come from the second tick on.
        wait_for(lambda: ns.having("WATCHDOG", "1"), timeout=3.5)
        check(ns.having("WATCHDOG", "1") == [], "no WATCHDOG=1 when $WATCHDOG_PID is not ours")
        rc, out, err = stop(d)
        check(rc == 0, "it stops cleanly (rc %d)" % rc)
    finally:
        ns.close()


def once_silent(srv, w):
    ns = NotifySocket(w.path)
    try:
        conf = write_config(w, srv, 1)
        p = run(["once", "-c", conf], env={"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "4000000"})
        check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-200:])
        time.sleep(0.3)  # let the reader thread drain the socket
        check(ns.having("READY") == [] and ns.having("STOPPING") == [],
              "once sends neither READY=1 nor STOPPING=1 (%s)" % ns.all())
        check(ns.all() == [], "once sends nothing at all")
    finally:
        ns.close()


def stderr_of(w, args, journal):
    """Run the binary with stderr on a file; journal: None (no JOURNAL_STREAM), "match"
    (the file's dev:ino) or "other" (some other file's)."""
    path = w.file("stderr.log")
    other = w.file("other.log")
    open(other, "w").close()
    env = dict(os.environ)
    env["FEEDWATCH_PLUGIN_DIR"] = PLUGIN_DIR
    with open(path, "w") as f:
        if journal:
            st = os.fstat(f.fileno()) if journal == "match" else os.stat(other)
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        p = subprocess.run([FEEDWATCH] + args, stdout=subprocess.DEVNULL, stderr=f, env=env,
                           timeout=60)
    with open(path, encoding="utf-8") as f:
        return p.returncode, [l for l in f.read().splitlines() if l]


def journal_prefixes(srv, w):
    conf = write_config(w, srv, 1)
    rc, lines = stderr_of(w, ["-v", "once", "-c", conf], "match")
    check(rc == 0 and len(lines) >= 2, "once -v logs lines (%d)" % len(lines))
    bad = [l for l in lines if not re.match(r"^<[0-7]>[^<]", l)]
    check(bad == [], "with JOURNAL_STREAM = stderr's dev:ino every line starts with <N> (%s)"
          % bad[:2])
    check(any(l.startswith("<6>") and "polling once" in l for l in lines),
          "an info line has <6>")
    check(not any(l.startswith("feedwatch: ") for l in lines), "no plain prefix under journald")

    rc, lines = stderr_of(w, ["-v", "once", "-c", conf], None)
    bad = [l for l in lines if not l.startswith("feedwatch: ")]
    check(len(lines) >= 2 and bad == [],
          "without JOURNAL_STREAM lines start with 'feedwatch: ' (%s)" % bad[:2])
    check(any(l.startswith("feedwatch: info: ") and "polling once" in l for l in lines),
          "the plain info line names its level")
    rc, lines = stderr_of(w, ["-v", "once", "-c", conf], "other")
    check(len(lines) >= 2 and all(l.startswith("feedwatch: ") for l in lines),
          "JOURNAL_STREAM naming another file: plain lines")

    # A warning: a feed that answers 404.
    srv.routes["/f0"] = Route("nope", status=404)
    rc, lines = stderr_of(w, ["once", "-c", conf], "match")
    check(any(l.startswith("<4>") and "f0" in l for l in lines),
          "a failing feed is a <4> (warning) line (%s)" % lines[:3])
    srv.routes["/f0"] = Route(rss_feed([]))


def two_feeds(srv):
    for i in range(2):
        srv.routes["/f%d" % i] = Route(rss_feed([("g%d" % i, "Putin %d" % i, "https://e/%d" % i,
                                                  "x")]))


if __name__ == "__main__":
    fwtest.main(lifecycle, watchdog_other_pid, once_silent, journal_prefixes, setup=two_feeds)
