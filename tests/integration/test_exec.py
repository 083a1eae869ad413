#!/usr/bin/env python3
"""The exec output runs a real command without a shell: the alert JSON on stdin, the
FEEDWATCH_* variables in a clean environment, a hostile title verbatim and never executed;
exit 75 is retried, other codes are dead letters with stderr's first line logged; a hung
command's whole process group is killed at the timeout; a command that does not read a
large digest on stdin does not take the daemon down (SIGPIPE)."""
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (DATA, Route, Workdir, check, outbox, output_config, q, rss_feed,  # noqa: E402
                    run)

RECORD = os.path.join(DATA, "plugins", "exec_record.py")

def records(d):
    out = []
    for p in sorted(glob.glob(os.path.join(d, "*.json"))):
        with open(p) as f:
            out.append(json.load(f))
    return out

def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False

def exec_plugin(srv, w):
    pwned = os.path.join(w.path, "pwned")
    rec = os.path.join(w.path, "rec")
    os.mkdir(rec)
    mode = os.path.join(rec, "mode")

    def set_mode(m):
        with open(mode, "w") as f:
            f.write(m)

    hostile = 'Putin $(touch %s) `touch %s`; rm -rf %s; echo "$HOME" \'x\' \\ end' % (
        pwned, pwned, rec)
    feed = [("h1", hostile, "https://example.org/h?a=1&b=2", "Putin is here.")]
    srv.routes["/feed.xml"] = Route(rss_feed(feed))
    arg = "$(touch %s); two words" % pwned
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "cmd"; plugin = "exec"; command = [ %s, %s, %s, %s ]; timeout = 2;'
        ' retry_base = 1; retry_max = 1;' % (q(sys.executable), q(RECORD), q(rec), q(arg))])
    p = run(["check", "-c", conf])
    check(p.returncode == 0, "check accepts the exec config (%s)" % p.stderr.strip()[-200:])

    set_mode("ok")
    env = {"FOO_SECRET": "do-not-pass", "HOME": "/home/test-home"}
    p = run(["once", "-c", conf], env=env)
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])
    r = records(rec)
    check(len(r) == 1, "the command ran once (%d)" % len(r))
    if r:
        r = r[0]
        e = r["env"]
        a = json.loads(r["stdin"])
        check(a["item"]["title"] == hostile, "stdin holds the alert JSON with the title")
        check(e.get("FEEDWATCH_TITLE") == hostile, "FEEDWATCH_TITLE is the title verbatim")
        check(e.get("FEEDWATCH_ALERT_ID") == a["id"], "FEEDWATCH_ALERT_ID is the alert id")
        check(e.get("FEEDWATCH_WATCHLIST") == "putin", "FEEDWATCH_WATCHLIST")
        check(e.get("FEEDWATCH_FEED") == "world", "FEEDWATCH_FEED")
        check(e.get("FEEDWATCH_LINK") == "https://example.org/h?a=1&b=2", "FEEDWATCH_LINK")
        check(e.get("FEEDWATCH_ITEM_ID") == "h1", "FEEDWATCH_ITEM_ID")
        check(e.get("HOME") == "/home/test-home" and e.get("PATH") == os.environ.get("PATH"),
              "HOME and PATH are passed through")
        check("FOO_SECRET" not in e, "nothing else of the daemon's environment leaks")
        check(r["argv"] == [RECORD, rec, arg], "argv arrives verbatim (%s)" % r["argv"])
        check(int(r["sigblk"], 16) == 0, "the command starts with no blocked signals")
        check(r["pgid_is_pid"], "the command leads its own process group")
    check(not os.path.exists(pwned), "no shell ran: nothing was touched")
    check(os.path.isdir(rec), "no shell ran: nothing was removed")
    check(outbox(conf) == [], "delivered: the outbox is empty")

    # Exit 75: retried; then a later run delivers it.
    feed.append(("t1", "Putin tempfail", "https://example.org/t", "x"))
    srv.routes["/feed.xml"] = Route(rss_feed(feed))
    set_mode("tempfail")
    p = run(["once", "-c", conf])
    pend = outbox(conf, "--pending")
    check(len(pend) == 1 and "exited with 75" in (pend[0].get("last_error") or ""),
          "exit 75 leaves the alert pending (%s)" % pend)
    time.sleep(1.2)
    set_mode("ok")
    p = run(["once", "-c", conf])
    check(outbox(conf) == [], "a later run delivers it")

    # Exit 3: a dead letter, the first line of stderr in the log.
    feed.append(("f1", "Putin fail", "https://example.org/f", "x"))
    srv.routes["/feed.xml"] = Route(rss_feed(feed))
    set_mode("fail")
    p = run(["once", "-c", conf])
    dead = outbox(conf, "--dead")
    check(len(dead) == 1, "exit 3 makes a dead letter")
    check("exited with 3: boom: bad thing" in p.stderr and "second line" not in p.stderr,
          "the first line of stderr is logged (%s)" % p.stderr.strip()[-200:])
    run(["outbox", "-c", conf, "drop", "--dead"])

    # A hung command: its process group is killed at the timeout, the alert retried.
    feed.append(("s1", "Putin sleeps", "https://example.org/s", "x"))
    srv.routes["/feed.xml"] = Route(rss_feed(feed))
    set_mode("sleep")
    t0 = time.monotonic()
    p = run(["once", "-c", conf])
    took = time.monotonic() - t0
    pend = outbox(conf, "--pending")
    check(len(pend) == 1 and "timed out" in (pend[0].get("last_error") or ""),
          "a hung command times out and stays pending (%s)" % pend)
    check(took < 15, "once does not wait for the hung command (%.1fs)" % took)
    gpid = os.path.join(rec, "grandchild.pid")
    gp = int(open(gpid).read()) if os.path.exists(gpid) else 0
    check(gp > 0 and not pid_alive(gp), "the grandchild in its process group was killed")

    # A large digest to a command that never reads stdin: no SIGPIPE death.
    time.sleep(1.2)
    many = [("d%d" % i, "Putin digest %d" % i, "https://example.org/d%d" % i, "y" * 900)
            for i in range(100)]
    srv.routes["/feed.xml"] = Route(rss_feed(feed + many))
    w2 = Workdir()  # a fresh state: every item alerts at once, folded into one digest
    conf2 = output_config(w2, srv.url("/feed.xml"), [
        'name = "cmd"; plugin = "exec"; command = [ %s, %s, %s ]; rate_limit = 1;'
        ' rate_window = 3600;' % (q(sys.executable), q(RECORD), q(rec))],
        extra="max_alerts_per_poll = 0;")  # every item its own alert, folded by the rate limit
    set_mode("noread")
    p = run(["once", "-c", conf2])
    check(p.returncode == 0, "the daemon survives a command that ignores stdin (rc %d, %s)"
          % (p.returncode, p.stderr.strip()[-300:]))
    nr = glob.glob(os.path.join(rec, "noread-*"))
    want = str(len(feed) + len(many))
    check(len(nr) == 1 and open(nr[0]).read() == want,
          "the digest of %s alerts was handed to the command (%s)"
          % (want, [open(x).read() for x in nr]))
    check(outbox(conf2) == [], "and counts as delivered (exit 0)")
    w2.cleanup()
    check(not os.path.exists(pwned), "still nothing touched")


if __name__ == "__main__":
    fwtest.main(exec_plugin)
