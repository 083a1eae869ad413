#!/usr/bin/env python3
"""`feedwatch outbox list|retry|drop` against a real store: a receiver that answers 400 makes
dead letters; `list --dead` shows them; `retry ROWID` makes one pending and a later run
delivers it; `drop --dead` deletes the rest."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, outbox, output_config, q, rss_feed, run  # noqa: E402


def outbox_commands(srv, rcv, w):
    srv.routes["/feed.xml"] = Route(rss_feed([
        ("o%d" % i, "Putin outbox %d" % i, "https://example.org/o%d" % i, "x")
        for i in range(3)]))
    conf = output_config(w, srv.url("/feed.xml"), [
        'name = "hook"; plugin = "webhook"; url = %s;' % q(rcv.url("/in"))])
    rcv.mode = 400
    p = run(["once", "-c", conf])
    check(p.returncode == 4 and "3 alerts of this run were not delivered (0 pending, 3 dead)"
          in p.stderr, "once exits 4: the 400s left 3 dead alerts (%s)" % p.stderr.strip()[-300:])
    check("failed for good" in p.stderr and "HTTP 400" in p.stderr,
          "a 400 is logged as a permanent failure")
    check(len(rcv.log("/in", 400)) == 3, "three requests, each answered 400")
    dead = outbox(conf, "--dead")
    check(len(dead) == 3 and all(d["state"] == "dead" for d in dead),
          "outbox list --dead shows three dead letters")
    check(all("HTTP 400" in (d.get("last_error") or "") for d in dead),
          "each names its last error")
    check(outbox(conf, "--pending") == [], "nothing is pending")
    p = run(["outbox", "-c", conf, "list", "--dead"])
    check(p.returncode == 0 and "dead" in p.stdout and "ROWID" in p.stdout,
          "the text listing has a header and the rows")

    # Retry one: pending again, delivered by the next run.
    rowid = dead[0]["rowid"]
    p = run(["outbox", "-c", conf, "retry", str(rowid)])
    check(p.returncode == 0 and p.stdout.startswith("1 "), "outbox retry ROWID (%s)"
          % p.stdout.strip())
    pend = outbox(conf, "--pending")
    check([x["rowid"] for x in pend] == [rowid], "that row is pending again")
    rcv.mode = "ok"
    p = run(["once", "-c", conf])
    ok = rcv.log("/in", 200)
    check(len(ok) == 1 and ok[0][2].get("Idempotency-Key") == dead[0]["alert_id"],
          "a later run delivers exactly that alert")
    check(len(outbox(conf, "--dead")) == 2 and outbox(conf, "--pending") == [],
          "two dead letters remain")

    p = run(["outbox", "-c", conf, "retry", "999999"])
    check(p.returncode == 1 and "999999" in p.stderr,
          "retry of an unknown row is an error naming it (issue 18: it used to change nothing, "
          "silently)")
    p = run(["outbox", "-c", conf, "drop", "--dead"])
    check(p.returncode == 0 and p.stdout.startswith("2 "), "outbox drop --dead (%s)"
          % p.stdout.strip())
    check(outbox(conf) == [], "the outbox is empty")
    p = run(["once", "-c", conf])
    check(len(rcv.log("/in")) == 4, "dropped alerts are not sent again")
    p = run(["outbox", "-c", conf, "frobnicate"])
    check(p.returncode == 2, "an unknown verb exits 2")


if __name__ == "__main__":
    fwtest.main(outbox_commands, shared=(fwtest.Server, fwtest.Receiver))
