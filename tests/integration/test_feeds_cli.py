#!/usr/bin/env python3
"""Feeds by URL and OPML (issue 18), through the real binary: `feeds import` of real
readers' exports (Feedly, Inoreader, NewsBlur, Miniflux, FreshRSS: folders become tags,
duplicates by URL skipped and reported), `feeds export` (valid OPML 2.0 that round-trips),
`feeds list --json`, `feeds add` (a feed, an HTML page with one feed, a page with several)
and `feeds remove`; the feeds file is never the config, is 0600, joins the config's feeds
in check, once and status, is watched by the daemon like the config, and a clash between
the two places is a check error naming both. Autodiscovery: `feeds discover` and `parse`
on HTML pages with several alternate links, relative hrefs, a <base href> and entities."""
import hashlib
import json
import os
import stat
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (DATA, Route, check, q, rss_feed, run, start, stop, output,  # noqa: E402
                    wait_for)

OPML = os.path.join(DATA, "opml")
FEED = rss_feed([("f1", "Putin visits Pyongyang", "https://example.org/1", "x")]).replace(
    "<title>test</title>", "<title>Loopback &amp; Friends</title>", 1)


def rc_err(p):
    return "rc %d: %s" % (p.returncode, (p.stderr or "").strip()[-400:])


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def config(w, feeds='{ name = "ars"; url = "https://feeds.arstechnica.com/arstechnica/index"; }',
           extra=""):
    return w.write("feedwatch.conf", """# hand-written: comments must survive
state_dir = %s;
min_interval = 1;
first_poll_max_age = 0;
feeds = ( %s );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; group = "item"; outputs = [ "log" ]; } );
outputs = ( { name = "log"; plugin = "log"; path = %s; } );
%s
""" % (q(w.state), feeds, q(w.file("alerts.jsonl")), extra))


def listed(conf):
    p = run(["feeds", "list", "--json", "-c", conf])
    return p, [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def import_exports(srv, w):
    """The five readers' exports into one config that already has Ars Technica."""
    conf = config(w)
    before = sha(conf)
    feeds_file = w.file("feeds.opml")
    p = run(["feeds", "import", os.path.join(OPML, "feedly.opml"), "-c", conf])
    check(p.returncode == 0 and "imported 3 feeds" in p.stdout and "1 skipped" in p.stdout,
          "feedly: 3 imported, 1 skipped (%s %s)" % (p.stdout.strip(), rc_err(p)))
    check("skipped 'Ars Technica'" in p.stdout and "is already feed 'ars' (%s:5)" % conf
          in p.stdout, "feedly: the skip names the config feed and its FILE:LINE")
    check(os.path.isfile(feeds_file) and stat.S_IMODE(os.stat(feeds_file).st_mode) == 0o600,
          "the feeds file is created beside the config, mode 0600")
    for name, added, skipped in (("inoreader.xml", 3, 1), ("newsblur.opml", 3, 0),
                                 ("miniflux.opml", 2, 1), ("freshrss.opml.xml", 2, 0)):
        p = run(["feeds", "import", os.path.join(OPML, name), "-c", conf])
        check(p.returncode == 0 and "imported %d feed" % added in p.stdout
              and "%d skipped" % skipped in p.stdout,
              "%s: %d imported, %d skipped (%s %s)" % (name, added, skipped, p.stdout.strip(),
                                                       rc_err(p)))
    check(sha(conf) == before, "the hand-written config is byte for byte unchanged")
    p, feeds = listed(conf)
    by = {f["name"]: f for f in feeds}
    check(p.returncode == 0 and len(feeds) == 14, "list --json: 14 feeds (%d; %s)"
          % (len(feeds), rc_err(p)))
    check(all(set(f) >= {"name", "url", "tags", "interval", "source", "file", "line"}
              for f in feeds), "list --json: every object has name url tags interval source")
    check(by.get("ars", {}).get("source") == "config" and by["ars"].get("line") == 5,
          "list: the config's feed with its source and line")
    check(by.get("BBC News - World", {}).get("tags") == ["World News"]
          and by["BBC News - World"].get("source") == "feeds_file"
          and by["BBC News - World"].get("file") == feeds_file,
          "feedly: a folder became a tag, the feed is from the feeds file")
    check("Al Jazeera \u2013 Breaking News" in by, "feedly: &#8211; decoded in the name")
    reuters = by.get("Reuters: World News", {})
    check(reuters.get("url") == "https://www.reutersagency.com/feed/?best-topics="
          "political-general&post_type=best", "inoreader: &amp; in xmlUrl decoded")
    check(by.get("NK News", {}).get("tags") == [], "inoreader: a feed outside folders: no tags")
    check(by.get("The Korea Herald", {}).get("tags") == ["Asia", "Korea"],
          "newsblur: nested folders give both tags (%s)" % by.get("The Korea Herald"))
    check(by.get("World news | The Guardian", {}).get("tags") == [],
          "newsblur: a top-level feed")
    check(by.get("Krebs on Security", {}).get("tags") == ["Security"], "miniflux: folder tag")
    lemonde = by.get("Le Monde \u2014 International", {})
    check(lemonde.get("tags") == ["S\u00e9curit\u00e9 & D\u00e9fense", "Europe", "Press"],
          "freshrss: folder and category tags, entities decoded (%s)" % lemonde)
    check(by.get("Daring Fireball", {}).get("interval") == 900, "the default interval")
    p = run(["check", "-c", conf])
    check(p.returncode == 0 and "(14 feeds," in p.stdout, "check counts both places (%s %s)"
          % (p.stdout.strip(), rc_err(p)))

    # export: valid OPML 2.0 of every feed, which imports back into the same feeds
    p = run(["feeds", "export", "-c", conf])
    root = ET.fromstring(p.stdout.encode()) if p.returncode == 0 else None
    check(root is not None and root.tag == "opml" and root.get("version") == "2.0"
          and root.find("head/title") is not None and root.find("body") is not None,
          "export: an OPML 2.0 document with head and body (%s)" % rc_err(p))
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")] if root else []
    check(sorted(urls) == sorted(f["url"] for f in feeds), "export: every feed, once")
    other = fwtest.Workdir()
    try:
        exp = other.write("export.opml", p.stdout)
        conf2 = config(other, feeds="")
        p = run(["feeds", "import", exp, "-c", conf2])
        check(p.returncode == 0 and "imported 14 feeds" in p.stdout,
              "export imports into an empty config (%s %s)" % (p.stdout.strip(), rc_err(p)))
        _, again = listed(conf2)
        key = lambda f: (f["name"], f["url"], f["tags"], f["interval"])  # noqa: E731
        check(sorted(map(key, again)) == sorted(map(key, feeds)),
              "round trip: the same names, URLs, tags and intervals")
    finally:
        other.cleanup()

    p = run(["feeds", "import", os.path.join(OPML, "feedly.opml"), "-c", conf])
    check(p.returncode == 0 and "imported 0 feeds" in p.stdout and "4 skipped" in p.stdout,
          "importing the same file again skips every feed (%s)" % p.stdout.strip())
    bad = w.write("bad.opml", "<opml><body><outline xmlUrl='x'></body></opml>")
    p = run(["feeds", "import", bad, "-c", conf])
    check(p.returncode == 1 and bad + ":1: not well-formed XML" in p.stderr,
          "a broken OPML file: exit 1 with FILE:LINE (%s)" % rc_err(p))


def add_remove(srv, w):
    """add by URL (a feed; names from its title; --name --tag --interval), remove; once and
    status see both places."""
    srv.routes["/loop.xml"] = Route(FEED, headers={"Content-Type": "application/rss+xml"})
    srv.routes["/two.xml"] = Route(FEED.replace("f1", "f2").replace("Loopback", "Second"))
    srv.routes["/conf.xml"] = Route(rss_feed([]))
    conf = config(w, feeds='{ name = "hand"; url = %s; }' % q(srv.url("/conf.xml")))
    before = sha(conf)
    p = run(["feeds", "add", srv.url("/loop.xml"), "-c", conf])
    check(p.returncode == 0 and "added feed 'Loopback & Friends'" in p.stdout,
          "add URL: named by the feed's title (%s %s)" % (p.stdout.strip(), rc_err(p)))
    p = run(["feeds", "add", srv.url("/two.xml"), "--name", "second", "--tag", "news,asia",
             "--interval", "30m", "-c", conf])
    check(p.returncode == 0, "add --name --tag --interval (%s)" % rc_err(p))
    _, feeds = listed(conf)
    by = {f["name"]: f for f in feeds}
    check(by.get("second", {}).get("tags") == ["news", "asia"]
          and by["second"].get("interval") == 1800, "the tags and interval are kept (%s)"
          % by.get("second"))
    p = run(["feeds", "add", srv.url("/loop.xml"), "-c", conf])
    check(p.returncode == 1 and "is already feed 'Loopback & Friends'" in p.stderr,
          "adding the same URL again: exit 1, names the feed (%s)" % rc_err(p))
    p = run(["feeds", "add", srv.url("/conf.xml"), "-c", conf])
    check(p.returncode == 1 and "is already feed 'hand' (%s:5)" % conf in p.stderr,
          "adding the config's URL: exit 1 with the config's FILE:LINE (%s)" % rc_err(p))
    p = run(["feeds", "add", srv.url("/two.xml").replace("two", "missing"), "-c", conf])
    check(p.returncode == 1 and "HTTP status 404" in p.stderr, "a 404: exit 1 (%s)" % rc_err(p))
    p = run(["once", "-c", conf])
    check(p.returncode == 0 and srv.count("/conf.xml") == 1 and srv.count("/loop.xml") == 2
          and srv.count("/two.xml") == 2, "once polls the config's and the file's feeds (%d %d "
          "%d; %s)" % (srv.count("/conf.xml"), srv.count("/loop.xml"), srv.count("/two.xml"),
                       rc_err(p)))
    alerts = fwtest.read_jsonl(w.file("alerts.jsonl"))
    check(len(alerts) == 2, "both file feeds alerted (%d)" % len(alerts))
    p = run(["status", "--json", "-c", conf])
    names = [f["name"] for f in json.loads(p.stdout).get("feeds", [])] if p.returncode == 0 \
        else []
    check(sorted(names) == ["Loopback & Friends", "hand", "second"],
          "status shows the feeds of both places (%s)" % names)
    p = run(["feeds", "remove", "hand", "-c", conf])
    check(p.returncode == 1 and "in the hand-written config at %s:5" % conf in p.stderr,
          "remove of a config feed: exit 1, names FILE:LINE (%s)" % rc_err(p))
    p = run(["feeds", "remove", "nope", "-c", conf])
    check(p.returncode == 1 and "no feed named 'nope'" in p.stderr, "remove unknown: exit 1")
    p = run(["feeds", "remove", "second", "-c", conf])
    check(p.returncode == 0, "remove a file feed (%s)" % rc_err(p))
    _, feeds = listed(conf)
    check(sorted(f["name"] for f in feeds) == ["Loopback & Friends", "hand"], "it is gone")
    check(sha(conf) == before, "the hand-written config is unchanged")


def clash(srv, w):
    """A name or URL in both places is a check error naming both."""
    conf = config(w)
    w.write("feeds.opml", """<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
<outline text="News">
  <outline text="ars" xmlUrl="https://example.org/other.xml"/>
  <outline text="Ars again" xmlUrl="https://feeds.arstechnica.com/arstechnica/index"/>
  <outline text="bad" xmlUrl="ftp://example.org/x"/>
</outline></body></opml>
""")
    feeds_file = w.file("feeds.opml")
    p = run(["check", "-c", conf])
    check(p.returncode == 1, "check exits 1 (%s)" % rc_err(p))
    check("%s:5: feed 'ars' has the name of feed 'ars' in %s (outline at line 4)"
          % (conf, feeds_file) in p.stderr, "a name clash names both places (%s)" % p.stderr)
    check("%s:5: feed 'ars' has the URL of feed 'Ars again' in %s (outline at line 5)"
          % (conf, feeds_file) in p.stderr, "a URL clash names both places")
    check("%s:6: feed 'bad': 'ftp://example.org/x' is not" % feeds_file in p.stderr,
          "a bad URL in the feeds file: FILE:LINE of its outline")
    other = w.write("elsewhere.opml", "<opml version='2.0'><body>"
                    "<outline text='x' xmlUrl='https://example.org/x.xml'/></body></opml>")
    conf = config(w, extra="feeds_file = %s;" % q(other))
    p = run(["check", "-c", conf])
    check(p.returncode == 0 and "(2 feeds," in p.stdout,
          "feeds_file names another file, read instead (%s %s)" % (p.stdout, rc_err(p)))


PAGE = """<!DOCTYPE html>
<html><head><title>Loopback &amp; Co &mdash; home</title>
<base href="/blog/">
<link rel="stylesheet" href="/s.css">
<link rel="alternate" type="application/rss+xml" title="Posts &amp; Notes" href="feed.xml">
<link rel="alternate" type="application/atom+xml" title="Atom &#8212; all" href="/atom.xml?a=1&amp;b=2">
<LINK REL="Alternate" TYPE="application/feed+json; charset=utf-8" HREF="//127.0.0.1:%(port)d/feed.json" TITLE="JSON">
<link rel="alternate" type="application/json" href="https://example.org/feed.json">
<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
<link rel="alternate" type="application/rss+xml" href="feed.xml" title="again">
</head><body><p>Hello <b>world</p></body></html>
"""

ONE = """<html><head><title>Only one</title>
<link rel="alternate" type="application/rss+xml" href="../loop.xml">
</head><body>x</body></html>"""


def discover(srv, w):
    """discover, add and parse on HTML pages."""
    srv.routes["/blog/index.html"] = Route(PAGE % {"port": srv.port},
                                           headers={"Content-Type": "text/html"})
    srv.routes["/pages/one.html"] = Route(ONE, headers={"Content-Type": "text/html"})
    srv.routes["/loop.xml"] = Route(FEED)
    srv.routes["/none.html"] = Route("<html><head><title>x</title></head></html>")
    page = srv.url("/blog/index.html")
    p = run(["feeds", "discover", page, "--json"])
    got = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    base = "http://127.0.0.1:%d" % srv.port
    want = [{"url": base + "/blog/feed.xml", "type": "application/rss+xml",
             "title": "Posts & Notes"},
            {"url": base + "/atom.xml?a=1&b=2", "type": "application/atom+xml",
             "title": "Atom \u2014 all"},
            {"url": base + "/feed.json", "type": "application/feed+json", "title": "JSON"},
            {"url": "https://example.org/feed.json", "type": "application/json",
             "title": None}]
    check(p.returncode == 0 and got == want,
          "discover --json: four feeds, hrefs resolved against <base>, entities decoded, "
          "no duplicate (%s; %s)" % (got, rc_err(p)))
    p = run(["feeds", "discover", page])
    check(p.returncode == 0 and len(p.stdout.splitlines()) == 4
          and p.stdout.startswith(base + "/blog/feed.xml\tapplication/rss+xml\tPosts & Notes"),
          "discover: one readable line per feed")
    p = run(["feeds", "discover", srv.url("/none.html")])
    check(p.returncode == 1 and "links to no feed" in p.stderr, "a page without feeds: exit 1")

    p = run(["parse", page])
    check(p.returncode == 1 and "StartTag" not in p.stderr and "an HTML page, not a feed"
          in p.stderr and base + "/atom.xml?a=1&b=2" in p.stderr and p.stdout == "",
          "parse URL of a page: says which feeds it links to (%s)" % rc_err(p))
    local = w.write("page.html", PAGE % {"port": srv.port})
    p = run(["parse", local])
    check(p.returncode == 1 and "StartTag" not in p.stderr and "links to 4 feeds" in p.stderr,
          "parse FILE of a page: the same (%s)" % rc_err(p))

    srv.routes["/huge.html"] = Route(b"<html>" + b" " * (9 << 20))
    p = run(["feeds", "discover", srv.url("/huge.html")])
    check(p.returncode == 1 and "larger than 8 MiB" in p.stderr,
          "a page over 8 MiB is cut off with a message (%s)" % rc_err(p))

    conf = config(w)
    p = run(["feeds", "add", page, "-c", conf])
    check(p.returncode == 1 and "links to 4 feeds" in p.stderr and base + "/blog/feed.xml"
          in p.stderr and not os.path.exists(w.file("feeds.opml")),
          "add of a page with several feeds lists them, adds nothing, exit 1 (%s)" % rc_err(p))
    p = run(["feeds", "add", srv.url("/pages/one.html"), "-c", conf])
    _, feeds = listed(conf)
    check(p.returncode == 0 and [f["url"] for f in feeds if f["source"] == "feeds_file"]
          == [base + "/loop.xml"], "add of a page with one feed adds that feed (%s)"
          % rc_err(p))


def reload_watch(srv, w):
    """The daemon reloads when `feeds add` writes the feeds file, and polls the new feed."""
    srv.routes["/conf-r.xml"] = Route(rss_feed([]))
    srv.routes["/loop-r.xml"] = Route(FEED)
    conf = config(w, feeds='{ name = "hand"; url = %s; interval = 1; }'
                  % q(srv.url("/conf-r.xml")))
    d = start(["run", "-c", conf])
    check(wait_for(lambda: srv.count("/conf-r.xml") >= 1, 30), "the daemon polls")
    p = run(["feeds", "add", srv.url("/loop-r.xml"), "--interval", "1", "-c", conf])
    check(p.returncode == 0, "feeds add while it runs (%s)" % rc_err(p))
    check(wait_for(lambda: "reloaded: 2 feeds" in output(d)[1], 30),
          "the daemon reloads on the feeds file's change (%s)" % output(d)[1][-600:])
    check(wait_for(lambda: srv.count("/loop-r.xml") >= 2, 30), "and polls the added feed")
    check(wait_for(lambda: len(fwtest.read_jsonl(w.file("alerts.jsonl"))) == 1, 30),
          "which alerts")
    rc, _, err = stop(d)
    check(rc == 0, "clean stop (rc %d)" % rc)


if __name__ == "__main__":
    fwtest.main(import_exports, add_remove, clash, discover, reload_watch)
