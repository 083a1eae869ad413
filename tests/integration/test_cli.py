#!/usr/bin/env python3
"""The command line (issue 18), through the real binary: options before or after the
command and its arguments, `--` ending them, an option a command does not take named with
the command (exit 2), the global options anywhere; `outbox list` on an empty outbox,
`outbox retry|drop` of an unknown row id; `status` and `outbox` before the first run;
`match --text` readable with grep's exit status; `feedwatch init` and the starter config
it writes (which `check` passes and `once` runs as is)."""
import hashlib
import json
import os
import re
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, output_config, q, rss_feed, run  # noqa: E402

PUTIN = rss_feed([("c%d" % i, "Putin cli %d" % i, "https://example.org/c%d" % i, "x")
                  for i in range(2)])


def rc_err(p):
    return "rc %d: %s" % (p.returncode, (p.stderr or "").strip()[-300:])


def hook_config(srv, rcv, w):
    srv.routes["/feed.xml"] = Route(PUTIN)
    return output_config(w, srv.url("/feed.xml"), [
        'name = "hook"; plugin = "webhook"; url = %s;' % q(rcv.url("/in"))])


def before_first_run(srv, rcv, w):
    """status and outbox before any poll: no database yet, said plainly, nothing created."""
    conf = hook_config(srv, rcv, w)
    db = os.path.join(w.state, "feedwatch.db")
    for args in (["status", "-c", conf], ["status", "--json", "-c", conf],
                 ["-c", conf, "outbox", "list"], ["outbox", "retry", "1", "-c", conf],
                 ["outbox", "drop", "--dead", "-c", conf]):
        p = run(args)
        name = " ".join(a for a in args if a != conf)
        check(p.returncode == 1, "no database yet: %s exits 1 (%s)" % (name, rc_err(p)))
        check("no database yet" in p.stderr and db in p.stderr,
              "no database yet: %s says so and names %s" % (name, db))
        check("feedwatch once -c " + conf in p.stderr and "feedwatch run" in p.stderr,
              "no database yet: %s says how to start" % name)
        check("sqlite" not in p.stderr.lower() and "cannot open" not in p.stderr,
              "no database yet: %s shows no raw store error" % name)
        check(p.stdout == "", "no database yet: %s prints nothing on stdout" % name)
    check(not os.path.exists(db) and not os.path.exists(w.state),
          "no database yet: none of them created the state")


def options_anywhere(srv, rcv, w):
    """Options after the command and its arguments, or before the command."""
    conf = hook_config(srv, rcv, w)
    rcv.mode = 400
    p = run(["once", "-c", conf, "-v"])
    check(p.returncode == 4 and "feedwatch: debug:" in p.stderr,
          "once -c FILE -v: -v after the command logs debug lines (exit 4: the receiver's "
          "400 left the alerts undelivered) (%s)" % rc_err(p))
    p = run(["once", "-c", conf])
    check("feedwatch: debug:" not in p.stderr and "feedwatch: info:" in p.stderr,
          "once without -v: no debug lines (so -v above was not ignored)")
    p = run(["once", "-q", "-c", conf, "-q"])
    check(p.returncode == 0 and "info:" not in p.stderr,
          "once -q -c FILE -q: less log (%s)" % rc_err(p))
    p = run(["-c", conf, "status"])
    check(p.returncode == 0 and "FEED" in p.stdout and "world" in p.stdout,
          "-c FILE status: the option before the command (%s)" % rc_err(p))
    p = run(["status", "--json", "-c", conf])
    st = json.loads(p.stdout) if p.returncode == 0 else {}
    check([f.get("name") for f in st.get("feeds", [])] == ["world"],
          "status --json -c FILE: JSON of the right config (%s)" % rc_err(p))
    p = run(["status", "--config=" + conf, "--js"])
    check(p.returncode == 0 and p.stdout.startswith("{"),
          "status --config=FILE --js: '=' values and unambiguous prefixes (%s)" % rc_err(p))
    p = run(["-vc" + conf, "outbox", "list", "--json"])
    dead = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    check(p.returncode == 0 and len(dead) == 2 and all(d["state"] == "dead" for d in dead),
          "-vcFILE outbox list --json: a short bundle with its value; two dead letters (%s)"
          % rc_err(p))
    if len(dead) != 2:
        return
    rowid = dead[0]["rowid"]
    p = run(["outbox", "retry", str(rowid), "-c", conf])
    check(p.returncode == 0 and p.stdout.startswith("1 "),
          "outbox retry ROWID -c FILE: -c after the row id (%s)" % rc_err(p))
    p = run(["outbox", "list", "--pending", "--json", "-c", conf])
    check([json.loads(l)["rowid"] for l in p.stdout.splitlines()] == [rowid],
          "outbox list --pending --json -c FILE: that row is pending again")

    # Unknown row ids are errors naming the id; another output's row says whose it is.
    for verb in ("retry", "drop"):
        p = run(["outbox", verb, "999999", "-c", conf])
        check(p.returncode == 1 and "999999" in p.stderr and p.stdout == "",
              "outbox %s of an unknown row id exits 1 and names it (%s)" % (verb, rc_err(p)))
    p = run(["outbox", "retry", str(dead[1]["rowid"]), "--output", "nosuch", "-c", conf])
    check(p.returncode == 1 and "hook" in p.stderr and "nosuch" in p.stderr,
          "outbox retry ROWID --output OTHER: names the row's output (%s)" % rc_err(p))
    p = run(["outbox", "drop", str(dead[1]["rowid"]), "-c", conf, "--output", "hook"])
    check(p.returncode == 0 and p.stdout.startswith("1 "), "outbox drop ROWID --output OWN")
    p = run(["outbox", "drop", str(rowid), "-c", conf])
    check(p.returncode == 0 and p.stdout.startswith("1 "), "outbox drop ROWID (pending)")

    # The empty outbox: said on stderr; stdout stays empty (JSON Lines: zero lines).
    p = run(["outbox", "list", "-c", conf])
    check(p.returncode == 0 and p.stdout == "" and "no alerts" in p.stderr,
          "outbox list of an empty outbox says so on stderr (%r)" % p.stderr.strip())
    p = run(["outbox", "list", "--json", "-c", conf])
    check(p.returncode == 0 and p.stdout == "", "outbox list --json: nothing on stdout, exit 0")
    p = run(["outbox", "list", "--dead", "--output", "hook", "-c", conf])
    check(p.returncode == 0 and "no dead alerts" in p.stderr and "hook" in p.stderr,
          "outbox list --dead --output NAME: the message names the filter (%r)"
          % p.stderr.strip())

    # `--` ends options: a file whose name starts with '-'.
    with open(w.file("-feed.xml"), "w", encoding="utf-8") as f:
        f.write(PUTIN)
    exe = os.path.abspath(fwtest.FEEDWATCH)
    p = subprocess.run([exe, "parse", "--", "-feed.xml"], cwd=w.path, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0 and len(p.stdout.splitlines()) == 2,
          "parse -- -feed.xml: `--` ends the options (%s)" % rc_err(p))
    p = subprocess.run([exe, "parse", "-feed.xml"], cwd=w.path, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 2 and "-f" in p.stderr and "parse" in p.stderr,
          "parse -feed.xml without `--`: an unknown option, named (%s)" % rc_err(p))


def options_refused(srv, rcv, w):
    """An option a command does not take is never ignored: exit 2, naming both."""
    conf = hook_config(srv, rcv, w)
    polls = srv.count("/feed.xml")
    cases = [
        (["once", "-c", conf, "--json"], "--json", "once"),
        (["run", "-c", conf, "--text", "x"], "--text", "run"),
        (["check", "--all", "-c", conf], "--all", "check"),
        (["parse", "-c", conf, srv.url("/feed.xml")], "-c", "parse"),
        (["status", "--dead", "-c", conf], "--dead", "status"),
        (["match", "--output", "hook", "-c", conf, "--text", "x"], "--output", "match"),
        (["outbox", "list", "--all", "-c", conf], "--all", "outbox list"),
        (["outbox", "retry", "1", "--pending", "-c", conf], "--pending", "outbox retry"),
        (["outbox", "drop", "--json", "1", "-c", conf], "--json", "outbox drop"),
        (["init", "--json", "-c", w.file("x.conf")], "--json", "init"),
        (["status", "--frobnicate", "-c", conf], "--frobnicate", "status"),
        (["once", "-x", "-c", conf], "-x", "once"),
    ]
    for args, opt, cmd in cases:
        p = run(args, timeout=30)
        check(p.returncode == 2 and opt in p.stderr and cmd in p.stderr,
              "%s: exit 2 naming %s and the command (%s)" % (" ".join(a for a in args
                                                                       if a != conf), opt,
                                                              rc_err(p)))
    check(srv.count("/feed.xml") == polls and not os.path.exists(w.state),
          "a refused line polls nothing and creates nothing")
    p = run(["status", "-c"])
    check(p.returncode == 2 and "-c" in p.stderr, "status -c without its value: exit 2")
    p = run(["status", "-c", conf, "extra"])
    check(p.returncode == 2 and "extra" in p.stderr, "status with an extra argument: exit 2")
    p = run(["outbox", "-c", conf])
    check(p.returncode == 2 and "list" in p.stderr, "outbox without a verb: exit 2")
    p = run(["outbox", "retry", "--all", "3", "-c", conf])
    check(p.returncode == 2, "outbox retry ROWID --all: one or the other (exit 2)")
    p = run(["frobnicate", "-c", conf])
    check(p.returncode == 2 and "frobnicate" in p.stderr, "an unknown command: exit 2")


def globals_anywhere(srv, rcv, w):
    """--version, --help (and help COMMAND) wherever they stand."""
    conf = hook_config(srv, rcv, w)
    for args in (["--version"], ["status", "-c", conf, "--version"], ["version"]):
        p = run(args)
        check(p.returncode == 0 and p.stdout.startswith("feedwatch "),
              "%s prints the version" % " ".join(args))
    for args, want in ((["--help"], "usage: feedwatch COMMAND"),
                       (["once", "--help"], "usage: feedwatch once"),
                       (["-h", "status"], "usage: feedwatch status"),
                       (["outbox", "retry", "-c", conf, "--help"], "usage: feedwatch outbox"),
                       (["match", "--text", "x", "-h"], "usage: feedwatch match"),
                       (["help", "init"], "usage: feedwatch init")):
        p = run(args)
        check(p.returncode == 0 and p.stdout.startswith(want),
              "%s prints %r" % (" ".join(a for a in args if a != conf), want))
    p = run([])
    check(p.returncode == 2 and "usage:" in p.stderr, "no command: usage on stderr, exit 2")


def match_text(srv, rcv, w):
    """match --text: readable, grep's exit status; --json and stdin keep JSON Lines."""
    srv.routes["/seed.xml"] = Route(open(os.path.join(fwtest.DATA, "seed", "seed-feed.xml"),
                                         encoding="utf-8").read())
    conf = w.write("feedwatch.conf", """
state_dir = %s;
feeds = ( { name = "world"; url = %s; } );
entities = { putin = [ "Putin", "Путин*" ]; north_korea = [ "North Korea", "Pyongyang" ]; };
watchlists = ( { name = "putin-nk"; match = "@putin AND @north_korea"; outputs = [ "log" ]; },
               { name = "visit"; match = "visit"; outputs = [ "log" ]; } );
outputs = ( { name = "log"; plugin = "log"; path = "-"; } );
""" % (q(w.state), q(srv.url("/seed.xml"))))
    p = run(["match", "--text", "Putin arrives in Pyongyang for a visit", "-c", conf])
    out = p.stdout
    check(p.returncode == 0, "match --text T -c FILE: exit 0 on a match (%s)" % rc_err(p))
    check(not out.lstrip().startswith("{") and "putin-nk" in out and "visit" in out,
          "match --text: readable, names each watchlist that matched (%r)" % out[:300])
    check('@putin' in out and '"Putin"' in out and 'alias "Pyongyang"' in out
          and "in summary" in out and "Putin arrives in Pyongyang for a visit" in out,
          "match --text: why: term, alias, field and snippet")
    p = run(["match", "-c", conf, "--text=Nothing to see here"])
    check(p.returncode == 1 and "no watchlist matched" in p.stdout,
          "match --text=T without a match: exit 1, says so (%s)" % rc_err(p))
    p = run(["match", "--json", "--text", "Putin in Pyongyang", "-c", conf])
    j = json.loads(p.stdout) if p.returncode == 0 else {}
    check(j.get("watchlists") == ["putin-nk"] and j.get("id") == "text"
          and {"watchlist", "term", "alias", "field", "text", "snippet"}
          <= set((j.get("explain") or [{}])[0]),
          "match --json --text: one JSON line with watchlists and explain (%s)" % rc_err(p))
    p = run(["match", "--json", "--text", "nothing", "-c", conf])
    check(p.returncode == 1 and json.loads(p.stdout).get("watchlists") == [],
          "match --json --text without a match: exit 1")
    p = run(["match", "--text", "Putin", "-c", w.file("missing.conf")])
    check(p.returncode == 2, "match --text with a config that does not load: exit 2")

    # Items on stdin: JSON Lines as before, with or without --json.
    items = run(["parse", srv.url("/seed.xml")]).stdout
    for extra in ([], ["--json"]):
        p = run(["match", "-c", conf] + extra, input=items)
        lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        check(p.returncode == 0 and len(lines) == len(items.splitlines()) > 0
              and any("putin-nk" in l["watchlists"] for l in lines),
              "match %s< items: one JSON line per item (%s)" % (" ".join(extra) + " " if extra
                                                                 else "", rc_err(p)))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def init_starter(srv, rcv, w):
    """init writes the starter config to the XDG path, 0700/0600, never over a file."""
    env = {"HOME": w.file("home"), "XDG_CONFIG_HOME": w.file("xdg-config"),
           "XDG_STATE_HOME": w.file("xdg-state"), "FEEDWATCH_CONFIG": ""}
    path = os.path.join(env["XDG_CONFIG_HOME"], "feedwatch", "feedwatch.conf")
    p = run(["init"], env=env)
    check(p.returncode == 0 and os.path.isfile(path),
          "init writes $XDG_CONFIG_HOME/feedwatch/feedwatch.conf (%s)" % rc_err(p))
    if not os.path.isfile(path):
        return
    check(path in p.stdout and "feedwatch once" in p.stdout and "feedwatch check" in p.stdout,
          "init prints the path and the next commands")
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "the file is mode 0600")
    for d in (os.path.dirname(path), env["XDG_CONFIG_HOME"]):
        check(stat.S_IMODE(os.stat(d).st_mode) == 0o700, "%s is created mode 0700" % d)
    text = open(path, encoding="utf-8").read()
    state = os.path.join(env["XDG_STATE_HOME"], "feedwatch")
    check(re.search(r'^state_dir = %s;$' % re.escape(q(state)), text, re.M) is not None,
          "state_dir is set under $XDG_STATE_HOME")
    check(text.count("\n#") > 20, "the starter config keeps the example's comments")
    sample = re.search(r'url = "([^"]*seed-feed\.xml)"', text)
    check(sample is not None and os.path.isabs(sample.group(1))
          and os.path.isfile(sample.group(1)), "the sample feed's path is absolute and valid")

    p = run(["check", "-c", path], env=env)
    check(p.returncode == 0 and "OK" in p.stdout, "check -c the written file passes (%s)"
          % rc_err(p))
    p = run(["check"], env=env)
    check(p.returncode == 0 and path in p.stdout,
          "check without -c finds it through XDG_CONFIG_HOME (%s)" % rc_err(p))
    p = run(["match", "--text", "Putin arrives in Pyongyang"], env=env)
    check(p.returncode == 0 and "putin-north-korea" in p.stdout,
          "its watchlist matches the founding story (%s)" % rc_err(p))

    before = sha(path)
    p = run(["init"], env=env)
    check(p.returncode == 1 and path in p.stderr and sha(path) == before,
          "a second init refuses to overwrite, names the file (%s)" % rc_err(p))

    # As is, offline: the starter config without its real (internet) feeds polls the
    # sample and alerts, with its database under $XDG_STATE_HOME.
    local = re.sub(r'\n\s*\{ name = "[^"]+";\s+url = "https://[^\n]*', "", text)
    local = re.sub(r'\},(\s*(?:#[^\n]*\n\s*)*)\);', r'}\1);', local, count=1)
    conf = w.write("local.conf", local)
    p = run(["once", "-c", conf], env=env)
    check(p.returncode == 0 and "putin-north-korea" in p.stdout
          and os.path.isfile(os.path.join(state, "feedwatch.db")),
          "once on it (internet feeds left out) alerts from the sample, state under "
          "$XDG_STATE_HOME (%s)" % rc_err(p))

    other = w.file("elsewhere/deep/my.conf")
    p = run(["init", "-c", other], env=env)
    check(p.returncode == 0 and os.path.isfile(other) and "-c " + other in p.stdout,
          "init -c PATH writes there and names -c PATH in the next commands (%s)"
          % rc_err(p))
    check(stat.S_IMODE(os.stat(os.path.dirname(other)).st_mode) == 0o700
          and stat.S_IMODE(os.stat(other).st_mode) == 0o600,
          "init -c PATH: directories 0700, file 0600")
    p = run(["init", "-c", other], env=env)
    check(p.returncode == 1 and other in p.stderr, "init -c an existing file: exit 1")


if __name__ == "__main__":
    fwtest.main(before_first_run, options_anywhere, options_refused, globals_anywhere,
                match_text, init_starter, shared=(fwtest.Server, fwtest.Receiver))
