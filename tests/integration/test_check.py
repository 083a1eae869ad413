#!/usr/bin/env python3
"""`check` checks every value, plugin keys included (plugin ABI 1.1's check()): a bad value
of each bundled plugin makes `feedwatch check` exit 1 naming FILE:LINE of the key with the
plugin's message; a valid config passes; a running daemon refuses a config with such a
value on SIGHUP and on the file-change reload, and keeps delivering with the old output;
a plugin built against ABI 1.0 (tests/data/plugins/abi10.c) still loads and delivers."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import DATA, Route, check, output, q, read_jsonl, rss_feed, run, start, stop, \
    wait_for  # noqa: E402

SOURCE_DIR = os.environ.get("FW_SOURCE_DIR", os.path.join(DATA, "..", ".."))


def config(w, feed_url, output_lines, name="feedwatch.conf"):
    """A config whose one output is the given lines (each a libconfig member); returns the
    path and the config's text, so that a test can find the line of a key."""
    text = """state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; interval = 1; } );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; group = "item"; outputs = [ "out" ]; } );
outputs = ( {
  name = "out";
%s
} );
""" % (q(w.state), q(feed_url), "\n".join("  " + l for l in output_lines))
    # Like an editor: a new file renamed over the old one.
    tmp = w.file(name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.rename(tmp, w.file(name))
    return w.file(name), text


def line_of(text, needle):
    for i, l in enumerate(text.splitlines(), 1):
        if needle in l:
            return i
    raise AssertionError("no line with %r" % needle)


def bad_values(srv, w):
    feed = srv.url("/feed.xml")
    srv.routes["/feed.xml"] = Route(rss_feed([]))
    secret_missing = w.file("no-such-secret")
    cases = [
        ("log format", ['plugin = "log";', 'path = "-";', 'format = "txt";'],
         'format = "txt"', 'format must be "json" or "text", not "txt"'),
        ("log path in a missing directory", ['plugin = "log";',
                                             'path = %s;' % q(w.file("nodir/x.log"))],
         'path = ', "cannot create a file in"),
        ("desktop urgency", ['plugin = "desktop";', 'urgency = "urgent";', 'actions = true;'],
         'urgency = "urgent"', 'urgency must be "low", "normal" or "critical", not "urgent"'),
        ("desktop timeout", ['plugin = "desktop";', 'timeout = "3d";'],
         'timeout = "3d"', "timeout must be between 1s and 1d"),
        ("webhook without url", ['plugin = "webhook";', 'format = "slack";'],
         'outputs = ( {', 'needs a url'),
        ("webhook url scheme", ['plugin = "webhook";', 'url = "ftp://127.0.0.1/x";'],
         'url = "ftp', "url must start with http:// or https://"),
        ("webhook format", ['plugin = "webhook";', 'url = "http://127.0.0.1:9/x";',
                            'format = "teams";'],
         'format = "teams"', 'unknown format "teams"'),
        ("webhook missing secret file", ['plugin = "webhook";', 'url = "http://127.0.0.1:9/x";',
                                         'secret = %s;' % q(secret_missing)],
         'secret = ', "cannot read the secret file"),
        ("exec without command", ['plugin = "exec";', 'timeout = "5s";'],
         'outputs = ( {', "no command: needs command = ["),
        ("exec empty command", ['plugin = "exec";', 'command = [ "" ];'],
         'command = [ "" ]', "the command is empty"),
        ("exec timeout", ['plugin = "exec";', 'command = [ "/bin/true" ];', 'timeout = 0;'],
         'timeout = 0', "timeout must be between 1s and 1d"),
        ("email starttls", ['plugin = "email";', 'url = "smtp://127.0.0.1:2525";',
                            'from = "a@example.org";', 'to = [ "b@example.org" ];',
                            'starttls = "maybe";'],
         'starttls = "maybe"', 'starttls must be "require", "try" or "no", not "maybe"'),
        ("email without to", ['plugin = "email";', 'url = "smtp://127.0.0.1:2525";',
                              'from = "a@example.org";'],
         'outputs = ( {', 'needs to = ['),
        ("email address", ['plugin = "email";', 'url = "smtp://127.0.0.1:2525";',
                           'from = "a@example.org";', 'to = [ "b@example.org", "nobody" ];'],
         'to = [', "to: element 2 is not a plain address"),
        ("email url scheme", ['plugin = "email";', 'url = "http://127.0.0.1:2525";',
                              'from = "a@example.org";', 'to = [ "b@example.org" ];'],
         'url = "http://127.0.0.1:2525"', 'url must be "smtp://host[:port]"'),
        ("misspelt key", ['plugin = "desktop";', 'urgncy = "low";'],
         'urgncy', "unknown key 'urgncy' for plugin 'desktop' (did you mean 'urgency'?)"),
    ]
    for what, lines, needle, message in cases:
        conf, text = config(w, feed, lines)
        want = "%s:%d: output 'out': " % (conf, line_of(text, needle))
        p = run(["check", "-c", conf])
        check(p.returncode == 1, "%s: check exits 1 (rc %d)" % (what, p.returncode))
        hit = [l for l in p.stderr.splitlines() if l.startswith(want) and message in l]
        check(len(hit) == 1, "%s: check says %r at %s (%s)" % (what, message, want,
                                                               p.stderr.strip()[-400:]))
        check(" OK " not in p.stdout, "%s: and does not say OK" % what)

    # A secret named in $CREDENTIALS_DIRECTORY: judged when that is set (a missing file is an
    # error), a warning when it is not (check from a shell for a LoadCredential= service).
    lines = ['plugin = "webhook";', 'url = "http://127.0.0.1:9/x";', 'secret = "hook";']
    conf, text = config(w, feed, lines)
    at = "%s:%d:" % (conf, line_of(text, 'secret = "hook"'))
    creds = w.file("creds")
    os.mkdir(creds)
    p = run(["check", "-c", conf], env={"CREDENTIALS_DIRECTORY": creds})
    check(p.returncode == 1 and at + " output 'out': cannot read the secret file" in p.stderr,
          "a credential missing from $CREDENTIALS_DIRECTORY is an error (%s)"
          % p.stderr.strip()[-300:])
    p = run(["check", "-c", conf], env={"CREDENTIALS_DIRECTORY": ""})
    check(p.returncode == 0 and at + " warning: output 'out': secret 'hook' is a name in "
          "$CREDENTIALS_DIRECTORY, which is not set here" in p.stderr,
          "without $CREDENTIALS_DIRECTORY it is a warning (%s)" % p.stderr.strip()[-300:])
    with open(os.path.join(creds, "hook"), "w") as f:
        f.write("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" + "\n")
    os.chmod(os.path.join(creds, "hook"), 0o600)
    p = run(["check", "-c", conf], env={"CREDENTIALS_DIRECTORY": creds})
    check(p.returncode == 0 and "warning" not in p.stderr,
          "a good credential passes (%s)" % p.stderr.strip()[-300:])
    with open(os.path.join(creds, "hook"), "w") as f:
        f.write("not-a-signing-secret\n")
    p = run(["check", "-c", conf], env={"CREDENTIALS_DIRECTORY": creds})
    check(p.returncode == 1 and at + " output 'out': the secret must be \"whsec_\"" in p.stderr,
          "a malformed signing secret is an error at its line (%s)" % p.stderr.strip()[-300:])

    # A warning only (a program that is not there yet): exit 0, the warning at its line.
    conf, text = config(w, feed, ['plugin = "exec";', 'command = [ %s ];' % q(w.file("later"))])
    p = run(["check", "-c", conf])
    check(p.returncode == 0, "a warning alone: check exits 0 (%s)" % p.stderr.strip()[-300:])
    check("%s:%d: warning: output 'out': %s is not executable" % (conf, line_of(text, "command"),
                                                                   w.file("later")) in p.stderr,
          "the warning is at the command's line (%s)" % p.stderr.strip()[-300:])

    # Valid configs of every plugin pass.
    secret = w.file("whsec")
    with open(secret, "w") as f:
        f.write("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" + "\n")
    for lines in (['plugin = "log";', 'path = %s;' % q(w.file("alerts.jsonl")),
                   'format = "text";'],
                  ['plugin = "desktop";', 'urgency = "critical";', 'timeout = "10s";'],
                  ['plugin = "webhook";', 'url = "https://127.0.0.1:9/hook";',
                   'secret = %s;' % q(secret), 'format = "generic";'],
                  ['plugin = "exec";', 'command = [ "/bin/true" ];', 'timeout = "5s";'],
                  ['plugin = "email";', 'url = "smtp://127.0.0.1:2525";',
                   'from = "a@example.org";', 'to = [ "b@example.org" ];', 'starttls = "no";']):
        conf, _ = config(w, feed, lines)
        p = run(["check", "-c", conf])
        check(p.returncode == 0 and " OK (" in p.stdout,
              "valid %s: check exits 0 (%s)" % (lines[0], p.stderr.strip()[-300:]))
        check(not os.path.exists(w.file("alerts.jsonl")), "check opened no file for writing")


def presentation_keys(srv, w):
    """priority, title and body of watchlists and outputs (issue 19): a bad priority, an
    unknown template field and an unbalanced brace are errors at their FILE:LINE; good ones
    pass."""
    feed = srv.url("/feed.xml")
    srv.routes["/feed.xml"] = Route(rss_feed([]))
    log = ['plugin = "log";', 'path = "-";']
    cases = [
        ("watchlist priority", ['priority = "hgih";'], log, 'priority = "hgih"',
         "watchlist 'putin': priority must be \"low\", \"normal\", \"high\" or \"urgent\", "
         "not \"hgih\""),
        ("watchlist priority type", ['priority = 3;'], log, 'priority = 3',
         "watchlist 'putin': priority must be \"low\", \"normal\", \"high\" or \"urgent\", "
         "not an integer"),
        ("watchlist title field", ['title = "{watchlist}: {titel}";'], log, "{titel}",
         "watchlist 'putin': title: unknown template field {titel} at column 14 "
         "(did you mean {title}?)"),
        ("watchlist body brace", ['body = "{why} }";'], log, 'body = ',
         "watchlist 'putin': body: unbalanced '}' at column 7 (write '}}' for a brace)"),
        ("output priority", [], log + ['priority = "critical";'], 'priority = "critical"',
         "output 'out': priority must be \"low\", \"normal\", \"high\" or \"urgent\", "
         "not \"critical\""),
        ("output body field", [], log + ['body = "{story.item}";'], "{story.item}",
         "output 'out': body: unknown template field {story.item} at column 1 "
         "(did you mean {story.items}?)"),
        ("output title brace", [], log + ['title = "{title";'], 'title = "{title"',
         "output 'out': title: unclosed '{' at column 1 (write '{{' for a brace)"),
    ]
    for what, wl_lines, out_lines, needle, message in cases:
        conf, text = config(w, feed, out_lines)
        if wl_lines:
            text = text.replace('outputs = [ "out" ]; }',
                                'outputs = [ "out" ];\n    %s }' % " ".join(wl_lines))
            with open(conf, "w", encoding="utf-8") as f:
                f.write(text)
        want = "%s:%d: %s" % (conf, line_of(text, needle), message)
        p = run(["check", "-c", conf])
        check(p.returncode == 1, "%s: check exits 1 (rc %d)" % (what, p.returncode))
        check(want in p.stderr.splitlines(), "%s: check says %r (%s)"
              % (what, want, p.stderr.strip()[-400:]))
    conf, text = config(w, feed, log + ['priority = "urgent";', 'title = "{{{priority}}} {title}";',
                                        'body = "{why}\\n{story.items} items";'])
    text = text.replace('outputs = [ "out" ]; }', 'outputs = [ "out" ]; priority = "low"; '
                        'title = "{watchlist}: {title}"; body = "{snippet} {link}"; }')
    with open(conf, "w", encoding="utf-8") as f:
        f.write(text)
    p = run(["check", "-c", conf])
    check(p.returncode == 0 and " OK (" in p.stdout,
          "valid priorities and templates pass (%s)" % p.stderr.strip()[-300:])


def reload_refused(srv, w):
    items = [("p1", "Putin one", "https://example.org/1", "x")]
    srv.routes["/feed.xml"] = Route(rss_feed(items), etag='"1"')
    alerts = w.file("alerts.jsonl")
    good = ['plugin = "log";', 'path = %s;' % q(alerts), 'format = "json";']
    conf, _ = config(w, srv.url("/feed.xml"), good)
    d = start(["-v", "run", "-c", conf])
    check(wait_for(lambda: len(read_jsonl(alerts)) == 1, 30), "the daemon delivers an alert")

    # The file changes to a bad value: the file-change reload refuses it.
    conf, text = config(w, srv.url("/feed.xml"), good[:2] + ['format = "txt";'])
    at = "%s:%d: output 'out': format must be" % (conf, line_of(text, 'format = "txt"'))
    check(wait_for(lambda: "reload failed" in output(d)[1], 30),
          "the file-change reload refuses the bad value")
    check(at in output(d)[1], "naming FILE:LINE of the key (%s)" % output(d)[1][-500:])
    # And SIGHUP refuses it too.
    n = output(d)[1].count("reload failed")
    d.send_signal(signal.SIGHUP)
    check(wait_for(lambda: output(d)[1].count("reload failed") > n, 30),
          "SIGHUP refuses the bad value")
    check(d.poll() is None, "the daemon keeps running")
    # The old output keeps delivering.
    items.append(("p2", "Putin two", "https://example.org/2", "x"))
    srv.routes["/feed.xml"] = Route(rss_feed(items), etag='"2"')
    check(wait_for(lambda: len(read_jsonl(alerts)) == 2, 30),
          "the old output (format json) delivers the next alert")
    # A good config is taken again.
    config(w, srv.url("/feed.xml"), good[:2] + ['format = "text";'])
    d.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "reloaded:" in output(d)[1], 30), "a good config reloads")
    rc, _, err = stop(d)
    check(rc == 0, "clean stop (rc %d)" % rc)


def abi10_plugin(srv, w):
    pdir = w.file("plugins")
    os.mkdir(pdir)
    os.chmod(pdir, 0o755)
    so = os.path.join(pdir, "abi10.so")
    cc = os.environ.get("CC", "cc")
    p = subprocess.run([cc, "-I", os.path.join(SOURCE_DIR, "include"), "-std=c11", "-Wall",
                        "-Wextra", "-Wpedantic", "-Werror", "-shared", "-fPIC", "-o", so,
                        os.path.join(DATA, "plugins", "abi10.c")], capture_output=True, text=True)
    check(p.returncode == 0, "the ABI 1.0 plugin compiles (%s)" % p.stderr[-500:])
    if p.returncode != 0:
        return
    os.chmod(so, 0o755)
    srv.routes["/feed.xml"] = Route(rss_feed([("s1", "Putin meets an old plugin",
                                               "https://example.org/s1", "x")]))
    out = w.file("abi10.txt")
    conf, _ = config(w, srv.url("/feed.xml"), ['plugin = "abi10";', 'path = %s;' % q(out)])
    with open(conf, "a") as f:
        f.write("plugin_dir = %s;\n" % q(pdir))
    p = run(["check", "-c", conf])
    check(p.returncode == 0, "check loads the ABI 1.0 plugin and calls nothing past its struct "
          "(%s)" % p.stderr.strip()[-300:])
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])
    got = open(out).read().splitlines() if os.path.exists(out) else []
    check(len(got) == 1 and got[0].endswith(" Putin meets an old plugin"),
          "the ABI 1.0 plugin delivered the alert (%s)" % got)
    # Its keys are still checked by name.
    conf, text = config(w, srv.url("/feed.xml"), ['plugin = "abi10";', 'pth = "x";'])
    with open(conf, "a") as f:
        f.write("plugin_dir = %s;\n" % q(pdir))
    p = run(["check", "-c", conf])
    check(p.returncode == 1 and "%s:%d: output 'out': unknown key 'pth' for plugin 'abi10' "
          "(did you mean 'path'?)" % (conf, line_of(text, "pth")) in p.stderr,
          "an ABI 1.0 plugin's keys are still checked by name (%s)" % p.stderr.strip()[-300:])


if __name__ == "__main__":
    fwtest.main(bad_values, presentation_keys, reload_refused, abi10_plugin)
