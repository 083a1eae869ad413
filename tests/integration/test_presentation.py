#!/usr/bin/env python3
"""Priority and templates per watchlist and per output (issue 19), through the real daemon
and the real log and exec plugins: alerts carry "priority" (always) and "template" (when
set); an output's own priority, title and body override the watchlist's at delivery, in
digests too (a digest is as urgent as its most urgent alert); the log's text line shows a
priority other than normal; exec gets $FEEDWATCH_PRIORITY; a story update (story.new false,
crafted in the outbox: the host does not emit stories yet) is one log line
`story <id> +N items from M feeds`."""
import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import (DATA, Route, check, q, queue_payload, read_jsonl, rss_feed,  # noqa: E402
                    run)

RECORD = os.path.join(DATA, "plugins", "exec_record.py")


def config(w, feed_url, watchlist_extra, outputs):
    return w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; interval = 1; } );
entities = { putin = [ "Putin" ]; };
watchlists = ( { name = "putin"; match = "@putin"; group = "item"; %s } );
outputs = ( %s );
""" % (q(w.state), q(feed_url), watchlist_extra, ",\n".join("{ %s }" % o for o in outputs)))


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def priority_and_templates(srv, w):
    srv.routes["/feed.xml"] = Route(rss_feed([
        ("p1", "Putin & friends arrive", "https://example.org/p1", "Putin is here.")]))
    rec = w.file("rec")
    os.mkdir(rec)
    with open(os.path.join(rec, "mode"), "w") as f:
        f.write("ok")
    plain, over, text = w.file("plain.jsonl"), w.file("over.jsonl"), w.file("text.log")
    conf = config(w, srv.url("/feed.xml"),
                  'priority = "high"; title = "{watchlist}: {title}"; body = "{why}";', [
                      'name = "plain"; plugin = "log"; path = %s;' % q(plain),
                      'name = "over"; plugin = "log"; path = %s; priority = "low";'
                      ' body = "{feed} {{{priority}}}";' % q(over),
                      'name = "text"; plugin = "log"; path = %s; format = "text";' % q(text),
                      'name = "cmd"; plugin = "exec"; command = [ %s, %s, %s ];'
                      % (q(sys.executable), q(RECORD), q(rec))])
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])
    a = read_jsonl(plain)
    check(len(a) == 1 and a[0].get("priority") == "high" and
          a[0].get("template") == {"title": "{watchlist}: {title}", "body": "{why}"},
          "the alert carries the watchlist's priority and templates (%s)"
          % [(x.get("priority"), x.get("template")) for x in a])
    o = read_jsonl(over)
    check(len(o) == 1 and o[0].get("priority") == "low" and
          o[0].get("template") == {"title": "{watchlist}: {title}",
                                   "body": "{feed} {{{priority}}}"},
          "the output's priority and body override the watchlist's, its title stays (%s)"
          % [(x.get("priority"), x.get("template")) for x in o])
    t = lines(text)
    check(len(t) == 1 and t[0].startswith("[high] [putin] world: Putin & friends arrive"),
          "the text line shows the priority first (%s)" % t)
    recs = [json.load(open(os.path.join(rec, n))) for n in sorted(os.listdir(rec))
            if n.endswith(".json")]
    check(len(recs) == 1 and recs[0]["env"].get("FEEDWATCH_PRIORITY") == "high",
          "exec gets FEEDWATCH_PRIORITY (%s)" % [r["env"].get("FEEDWATCH_PRIORITY")
                                                 for r in recs])

    # A normal priority is not shown; no template means no "template" member.
    conf = config(w, srv.url("/feed2.xml"), "", [
        'name = "text"; plugin = "log"; path = %s; format = "text";' % q(text),
        'name = "plain"; plugin = "log"; path = %s;' % q(plain)])
    srv.routes["/feed2.xml"] = Route(rss_feed([
        ("p2", "Putin again", "https://example.org/p2", "x")]))
    with open(conf) as f:
        body = f.read().replace('name = "world"', 'name = "world2"')
    with open(conf, "w") as f:
        f.write(body)
    p = run(["once", "-c", conf])
    t = lines(text)
    a = read_jsonl(plain)
    check(len(t) == 2 and t[1].startswith("[putin] world2: Putin again"),
          "a normal priority is not shown (%s)" % t[1:])
    check(len(a) == 2 and a[1].get("priority") == "normal" and "template" not in a[1],
          "priority normal by default, no template member (%s)" % a[1:])


def digest(srv, w):
    """rate_limit 2 and 4 items: one single, then a digest of 3 whose alerts all carry the
    output's override, and whose own priority is the highest."""
    srv.routes["/feed.xml"] = Route(rss_feed([
        ("d%d" % i, "Putin item %d" % i, "https://example.org/d%d" % i, "x") for i in range(4)]))
    out, urgent = w.file("out.jsonl"), w.file("urgent.jsonl")
    conf = config(w, srv.url("/feed.xml"), 'priority = "low";', [
        'name = "out"; plugin = "log"; path = %s; rate_limit = 2;' % q(out),
        'name = "urgent"; plugin = "log"; path = %s; rate_limit = 2; priority = "urgent";'
        ' title = "!! {title}";' % q(urgent)])
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])
    d = [x for x in read_jsonl(out) if "digest" in x]
    check(len(d) == 1 and d[0]["priority"] == "low" and d[0]["digest"] == 3 and
          all(x["priority"] == "low" for x in d[0]["alerts"]),
          "a digest of low alerts is low (%s)" % [(x.get("priority"), x.get("digest"))
                                                  for x in d])
    d = [x for x in read_jsonl(urgent) if "digest" in x]
    check(len(d) == 1 and d[0]["priority"] == "urgent" and
          all(x["priority"] == "urgent" and x["template"] == {"title": "!! {title}"}
              for x in d[0]["alerts"]),
          "the output's override reaches every alert of a digest (%s)"
          % [(x.get("priority"), x.get("digest")) for x in d])


def story_update(srv, w):
    """A story update in the outbox (the shape of story-contract.md) is one log line."""
    srv.routes["/feed.xml"] = Route(rss_feed([
        ("s1", "Putin lands", "https://example.org/s1", "x")]))
    plain, text = w.file("plain.jsonl"), w.file("text.log")
    conf = config(w, srv.url("/feed.xml"), 'priority = "urgent";', [
        'name = "plain"; plugin = "log"; path = %s;' % q(plain),
        'name = "text"; plugin = "log"; path = %s; format = "text";' % q(text)])
    p = run(["once", "-c", conf])
    first = read_jsonl(plain)
    check(p.returncode == 0 and len(first) == 1, "the first alert went out (%s)"
          % p.stderr.strip()[-300:])
    if not first:
        return
    upd = copy.deepcopy(first[0])
    upd["id"] = "0123456789abcdef0123456789abcdef"
    upd["item"]["title"] = "Putin meets Kim"
    upd["story"] = {"id": "s-0123456789abcdef", "new": False, "items": 4, "feeds": 2,
                    "first_alert": first[0]["id"], "title": "Putin lands",
                    "added": [{"title": "Putin meets Kim", "feed": "asia",
                               "link": "https://example.org/a(1)", "published": None},
                              {"title": "Putin\nin Pyongyang", "feed": "world",
                               "link": None, "published": None},
                              {"title": "Talks", "feed": "asia", "link": None,
                               "published": None}],
                    "more": 2}
    queue_payload(w, "text", upd)
    p = run(["once", "-c", conf])
    t = lines(text)
    want = ('[urgent] [putin] story s-0123456789abcdef +5 items from 2 feeds: Putin lands; '
            'added: "Putin meets Kim" (asia) <https://example.org/a%281%29>; '
            '"Putin in Pyongyang" (world); "Talks" (asia) and 2 more')
    check(p.returncode == 0 and len(t) == 2 and t[1] == want,
          "the update is one story line (%s)" % t[1:])


if __name__ == "__main__":
    fwtest.main(priority_and_templates, digest, story_update)
