#!/usr/bin/env python3
"""The item archive (issue 18): `feedwatch once` against a loopback server archives every new
item's text; `backtest` runs a watchlist or a query over it (text and --json contract,
--since); a watchlist added by a reload alerts once on an archived item, never again after a
restart, and not on items older than its backfill window; the hourly prune empties an
archive past its `archive` duration, and so does `once` (at most hourly); the daemon indexes the archive's words as the matcher
folds them; `archive = 0` keeps nothing."""
import email.utils
import json
import os
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import Route, check, output, q, read_jsonl, run, start, stop, wait_for  # noqa: E402


def rss(items):
    """items: (guid, title, description, unix time) tuples."""
    body = "".join(
        "<item><title>%s</title><link>https://example.org/%s</link><guid>%s</guid>"
        "<pubDate>%s</pubDate><description>%s</description><category>World</category>"
        "<category>Asia</category></item>"
        % (t, g, g, email.utils.formatdate(when, usegmt=True), d)
        for g, t, d, when in items)
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>%s</channel></rss>'
            % body)


def write_config(w, srv, watchlists, extra=""):
    text = """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; interval = 1; } );
entities = {
  putin = [ "Putin", "Путин*" ];
  north_korea = [ "North Korea", "Pjöngjang", "КНДР" ];
  kim = [ "Kim Jong Un" ];
};
watchlists = ( %s );
outputs = ( { name = "alerts"; plugin = "log"; path = %s; format = "json"; } );
%s
""" % (q(w.state), q(srv.url("/world")), ",\n".join(watchlists), q(w.file("alerts.jsonl")), extra)
    tmp = w.file("feedwatch.conf.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, w.file("feedwatch.conf"))
    return w.file("feedwatch.conf")


NOW = time.time()
ITEMS = [
    ("w-1", "Putin arrives in Pjöngjang", "A visit to North Korea.", NOW - 3600),
    ("w-2", "Weather report", "Rain in the north.", NOW - 1800),
    ("w-3", "Kim Jong Un speaks", "A speech on the radio.", NOW - 600),
]
PUTIN = '{ name = "putin"; match = "@putin AND @north_korea"; group = "item"; }'


def backtest(srv, w):
    srv.routes["/world"] = Route(rss(ITEMS), etag='"v1"')
    conf = write_config(w, srv, [PUTIN])
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])

    p = run(["backtest", "-c", conf, "putin"])
    check(p.returncode == 0, "backtest of a watchlist that matched exits 0 (rc %d, %s)"
          % (p.returncode, p.stderr.strip()))
    lines = p.stdout.splitlines()
    check(len(lines) >= 2 and lines[0].startswith("[putin] world: Putin arrives in Pjöngjang "
                                                  "<https://example.org/w-1>"),
          "the match is printed with watchlist, feed, title and link (%r)" % lines[:1])
    check(any(l.startswith("  why: @putin \"Putin\" in title") for l in lines),
          "with the explanation of each term (%r)" % lines)
    check(any(l.startswith("  why: @north_korea \"Pjöngjang\" in title") for l in lines),
          "of every term, with the field it was found in")
    check(lines[-1:] == ["1 of 3 archived items matched"],
          "then N of M archived items matched (%r)" % lines[-1:])

    p = run(["backtest", "putin", "--json", "-c", conf])
    objs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    check(p.returncode == 0 and len(objs) == 1, "--json: one object per match (%r)" % p.stdout)
    if objs:
        o = objs[0]
        check(sorted(o) == ["explain", "feed", "id", "link", "published", "title", "watchlist"],
              "--json keys are feed id title link published watchlist explain (%r)" % sorted(o))
        check(o["feed"] == "world" and o["id"] == "w-1" and o["watchlist"] == "putin"
              and o["link"] == "https://example.org/w-1",
              "--json names feed, item id, watchlist and link")
        check(o["published"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(NOW - 3600))),
              "published is RFC 3339 UTC (%r)" % o["published"])
        ex = o["explain"]
        check(len(ex) == 2 and all(sorted(e) == ["alias", "field", "snippet", "term", "text",
                                                 "watchlist"] for e in ex),
              "explain is the alert's array (watchlist term alias field text snippet)")
        check({e["term"] for e in ex} == {"@putin", "@north_korea"}
              and all(e["watchlist"] == "putin" for e in ex), "one entry per term")
    check("1 of 3 archived items matched" in p.stderr and "of 3" not in p.stdout,
          "--json: the count goes to stderr, stdout stays JSON")

    p = run(["backtest", "-c", conf, "--query", "@kim OR weather"])
    check(p.returncode == 0 and "2 of 3 archived items matched" in p.stdout
          and "[query] world: Kim Jong Un speaks" in p.stdout
          and "[query] world: Weather report" in p.stdout,
          "--query runs a query with the config's entities (%r)" % p.stdout)
    p = run(["backtest", "-c", conf, "--query", "category:asia AND rain"])
    check("1 of 3 archived items matched" in p.stdout,
          "categories and summaries are archived (%r)" % p.stdout)
    p = run(["backtest", "-c", conf, "--query", "volcano"])
    check(p.returncode == 1 and "0 of 3 archived items matched" in p.stdout,
          "no match: exit 1 (rc %d)" % p.returncode)
    p = run(["backtest", "-c", conf, "--query", "(putin"])
    check(p.returncode == 2 and "--query" in p.stderr, "a bad query: exit 2 (%s)" % p.stderr.strip())
    p = run(["backtest", "-c", conf, "nosuch"])
    check(p.returncode == 2 and "no watchlist 'nosuch'" in p.stderr and "putin" in p.stderr,
          "an unknown watchlist: exit 2, naming those there are")
    p = run(["backtest", "-c", conf, "putin", "--query", "x"])
    check(p.returncode == 2, "a watchlist and --query: exit 2")
    p = run(["backtest", "-c", conf])
    check(p.returncode == 2, "neither: exit 2")

    p = run(["backtest", "-c", conf, "--query", "@putin OR weather OR @kim", "--since", "1h"])
    check("3 of 3 archived items matched" in p.stdout, "--since 1h: every item (%r)" % p.stdout)
    time.sleep(2.2)
    p = run(["backtest", "-c", conf, "--query", "@putin", "--since", "1s"])
    check(p.returncode == 1 and "0 of 0 archived items matched" in p.stdout,
          "--since 1s: items seen earlier are left out (%r)" % p.stdout)
    p = run(["backtest", "-c", conf, "putin", "--since", "soon"])
    check(p.returncode == 2 and "--since" in p.stderr, "a bad --since: exit 2")

    # A second once archives nothing again (the items are not new).
    run(["once", "-c", conf])
    p = run(["backtest", "-c", conf, "--query", "@putin"])
    check("1 of 3 archived items matched" in p.stdout, "items are archived once (%r)" % p.stdout)


def kim_alerts(w):
    return [a for a in read_jsonl(w.file("alerts.jsonl")) if a["watchlist"] == "kim"]


def backfill(srv, w):
    items = ITEMS + [("w-old", "Kim Jong Un in 2019", "An old story.", NOW - 5 * 86400)]
    srv.routes["/world"] = Route(rss(items), etag='"v1"')
    conf = write_config(w, srv, [PUTIN])
    d = start(["-v", "run", "-c", conf])
    check(wait_for(lambda: len(read_jsonl(w.file("alerts.jsonl"))) == 1, 30),
          "the daemon polls and alerts for putin")
    check(kim_alerts(w) == [], "no kim alert yet")

    # A watchlist grouped by story (the default), added by a reload: backfilled per item.
    kim = '{ name = "kim"; match = "@kim"; backfill = "2d"; }'
    write_config(w, srv, [PUTIN, kim])
    check(wait_for(lambda: "reloaded: 1 feeds, 2 watchlists" in output(d)[1], 30),
          "the new config is reloaded")
    check(wait_for(lambda: len(kim_alerts(w)) == 1, 30),
          "the new watchlist alerts on the archived item (%d)" % len(kim_alerts(w)))
    got = kim_alerts(w)
    check(got and got[0]["item"]["id"] == "w-3", "on w-3, not on w-old (older than backfill)")
    check("new watchlists matched against" in output(d)[1], "the backfill is logged")
    d.send_signal(signal.SIGHUP)
    check(wait_for(lambda: output(d)[1].count("reloaded:") >= 2, 30), "SIGHUP reloads again")
    time.sleep(1.5)
    rc, _, err = stop(d)
    check(rc == 0, "clean stop (rc %d)" % rc)
    check(len(kim_alerts(w)) == 1, "a reload that adds nothing raises nothing")

    # Restart: the watchlist is not new any more; and a removed and re-added one never
    # alerts twice (same alert id).
    d = start(["-v", "run", "-c", conf])
    time.sleep(3)
    write_config(w, srv, [PUTIN])
    check(wait_for(lambda: "reloaded: 1 feeds, 1 watchlists" in output(d)[1], 30), "kim removed")
    write_config(w, srv, [PUTIN, kim])
    check(wait_for(lambda: "reloaded: 1 feeds, 2 watchlists" in output(d)[1], 30), "kim re-added")
    time.sleep(1.5)
    rc, _, err = stop(d)
    check(rc == 0, "clean stop after the restart (rc %d)" % rc)
    check(len(kim_alerts(w)) == 1, "never twice: after a restart and a re-added watchlist, "
          "still one kim alert (%d)" % len(kim_alerts(w)))
    check(len([a for a in read_jsonl(w.file("alerts.jsonl")) if a["watchlist"] == "putin"]) == 1,
          "and one putin alert")


def prune(srv, w):
    srv.routes["/world"] = Route(rss(ITEMS), etag='"v1"')
    conf = write_config(w, srv, [PUTIN], 'archive = "2s";')
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0")
    p = run(["backtest", "-c", conf, "--query", "@putin"])
    check("1 of 3 archived items matched" in p.stdout, "three items archived (%r)" % p.stdout)
    time.sleep(3)
    d = start(["-v", "run", "-c", conf])
    check(wait_for(lambda: "archive: forgot 3 items" in output(d)[1], 30),
          "the prune forgets items older than archive (%s)" % output(d)[1][-400:])
    rc, _, _ = stop(d)
    p = run(["backtest", "-c", conf, "--query", "@putin"])
    check("0 of 0 archived items matched" in p.stdout, "the archive is empty (%r)" % p.stdout)


def prune_once(srv, w):
    """`once` (from cron) prunes the archive before its polls when the last prune is an hour
    old: by age, and by archive_max_size."""
    srv.routes["/world"] = Route(rss(ITEMS), etag='"v1"')
    conf = write_config(w, srv, [PUTIN], 'archive = "2s";')
    db = os.path.join(w.state, "feedwatch.db")

    def hour_ago():
        c = sqlite3.connect(db)
        c.execute("UPDATE meta SET v = v - 3601 WHERE k = 'archive_pruned'")
        c.commit()
        c.close()
    p = run(["once", "-c", conf])
    p = run(["backtest", "-c", conf, "--query", "@putin"])
    check("1 of 3 archived items matched" in p.stdout, "three items archived (%r)" % p.stdout)
    time.sleep(3)
    p = run(["-v", "once", "-c", conf])
    check(p.returncode == 0 and "archive: forgot" not in p.stderr,
          "within the hour of the last prune, once does not prune again")
    hour_ago()
    p = run(["-v", "once", "-c", conf])
    check(p.returncode == 0 and "archive: forgot 3 items" in p.stderr,
          "an hour later once forgets items older than archive (%s)" % p.stderr[-300:])
    p = run(["backtest", "-c", conf, "--query", "@putin"])
    check("0 of 0 archived items matched" in p.stdout, "the archive is empty (%r)" % p.stdout)
    conf = write_config(w, srv, [PUTIN], "archive_max_size = 1;")
    srv.routes["/world"] = Route(rss([("w-9", "Putin again", "x", NOW)]), etag='"v2"')
    run(["once", "-c", conf])
    hour_ago()
    p = run(["-v", "once", "-c", conf])
    check(p.returncode == 0 and "archive: forgot 1 items" in p.stderr,
          "past archive_max_size the oldest items go (%s)" % p.stderr[-300:])


def word_index(srv, w):
    """The daemon indexes the archive's words as the matcher folds them: a soft hyphen
    inside a word and ß are found by the lookup that picks backtest's candidates."""
    items = [("w-1", "Pu\u00adtin arrives", "A visit.", NOW - 60),
             ("w-2", "Hauptstraße closed", "Roadworks.", NOW - 60),
             ("w-3", "Weather report", "Rain.", NOW - 60)]
    srv.routes["/world"] = Route(rss(items), etag='"v1"')
    conf = write_config(w, srv, [PUTIN])
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0")
    db = os.path.join(w.state, "feedwatch.db")

    def mark():
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        try:
            return c.execute("SELECT v FROM meta WHERE k = 'archive_indexed'").fetchone()[0]
        finally:
            c.close()
    check(mark() == 0, "once leaves the word index to the daemon")
    d = start(["run", "-c", conf])
    check(wait_for(lambda: mark() == 3, 30), "the daemon indexes the archived items (%d)" % mark())
    rc, _, _ = stop(d)
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    ids = {}
    for word in ("putin", "hauptstrasse", "weather", "pjongjang"):
        ids[word] = [r[0] for r in c.execute(
            "SELECT a.item FROM archive a WHERE a.id IN "
            "(SELECT rowid FROM archive_fts WHERE archive_fts MATCH ?)", ('"%s"' % word,))]
    c.close()
    check(ids == {"putin": ["w-1"], "hauptstrasse": ["w-2"], "weather": ["w-3"],
                  "pjongjang": []},
          "the index holds the matcher's words: soft hyphen dropped, ß folded (%r)" % ids)
    p = run(["backtest", "-c", conf, "--query", "hauptstrasse OR @putin"])
    check(p.returncode == 0 and "2 of 3 archived items matched" in p.stdout
          and "Hauptstraße closed" in p.stdout and "arrives" in p.stdout,
          "backtest finds them through the index (%r)" % p.stdout)
    p = run(["backtest", "-c", conf, "--query", "weather AND NOT rain"])
    check(p.returncode == 1 and "0 of 3 archived items matched" in p.stdout,
          "and the matcher decides (%r)" % p.stdout)


def archive_off(srv, w):
    srv.routes["/world"] = Route(rss(ITEMS), etag='"v1"')
    conf = write_config(w, srv, [PUTIN], "archive = 0;")
    p = run(["once", "-c", conf])
    check(p.returncode == 0 and len(read_jsonl(w.file("alerts.jsonl"))) == 1,
          "archive = 0: polls and alerts as usual")
    p = run(["backtest", "-c", conf, "putin"])
    check("0 of 0 archived items matched" in p.stdout and "archive is off" in p.stderr,
          "archive = 0 keeps nothing, and backtest says so (%r)" % p.stderr)


if __name__ == "__main__":
    fwtest.main(backtest, backfill, prune, prune_once, word_index, archive_off)
