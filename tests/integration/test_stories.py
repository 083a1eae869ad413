#!/usr/bin/env python3
"""Stories (issue 17) through the real daemon: the founding case (eleven feeds telling the
Putin-North Korea visit within two hours in English, German and Russian) raises one
new-story alert on the watchlist and, once the update interval has passed, one update that
lists the other ten; an unrelated Putin story the same day is a story of its own; a
watchlist with group = "item" alerts per item; stories survive a restart (a later item
joins the stored story); the window closes stories; the `stories` contract (--json keys,
--since, --watchlist), explain-story, match and status; and a desktop notification
replaced by the story's update (a private session bus with python3-dbusmock's
notification server)."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
import test_desktop  # noqa: E402
from fwtest import Route, check, q, read_jsonl, run, start, stop, wait_for, xml_escape  # noqa: E402

# The visit of 18-19 June 2024 as eleven outlets headlined it, in three languages, within two
# hours; the last feed also carries a Putin story about Ukraine from the same day.
VISIT = [
    ("reuters", "Putin arrives in Pyongyang for first visit to North Korea in 24 years"),
    ("ap", "Russia's Putin lands in North Korea for talks with Kim Jong Un"),
    ("bbc", "Putin and Kim sign mutual defence pact in Pyongyang"),
    ("guardian", "Vladimir Putin visits North Korea as Moscow and Pyongyang deepen ties"),
    ("cnn", "Putin's North Korea trip: what we know about the summit with Kim"),
    ("spiegel", "Putin in Pjöngjang eingetroffen"),
    ("zeit", "Kremlchef Putin besucht Nordkorea"),
    ("faz", "Putin und Kim unterzeichnen Beistandspakt in Pjöngjang"),
    ("tass", "Путин прибыл в КНДР с государственным визитом"),
    ("ria", "Путин и Ким Чен Ын подписали договор о стратегическом партнерстве в Пхеньяне"),
    ("kommersant", "Визит Путина в Пхеньян: Путин и Ким подписали договор"),
]
UKRAINE = ("kommersant", "Putin says Russia is ready for Ukraine talks on its own terms")
LATE = ("nhk", "Putin leaves Pyongyang after summit with Kim, heads to Vietnam")
ENTITIES = """entities = {
  putin = [ "Putin", "Vladimir Putin", "Путин*" ];
  north_korea = [ "North Korea", "DPRK", "Pyongyang", "Pjöngjang", "Nordkorea", "КНДР",
                  "Пхеньян*" ];
  kim = [ "Kim Jong Un", "Kim", "Ким*" ];
};"""


def feed(items):
    """RSS with items (guid, title, minutes after 18 June 2024 21:00 UTC)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>']
    for guid, title, minute in items:
        t = time.gmtime(1718744400 + minute * 60)
        out.append("<item><title>%s</title><guid>%s</guid><link>https://example.org/%s</link>"
                   "<pubDate>%s</pubDate></item>"
                   % (xml_escape(title), guid, guid, time.strftime("%a, %d %b %Y %H:%M:%S +0000", t)))
    out.append("</channel></rss>")
    return "".join(out)


def serve_visit(srv):
    for i, (name, title) in enumerate(VISIT):
        items = [(name + "-visit", title, i * 10)]
        if name == UKRAINE[0]:
            items.append((name + "-ukraine", UKRAINE[1], 30))
        srv.routes["/" + name] = Route(feed(items), etag='"%s"' % name)


def config(w, srv, group="story", interval="5s", window="48h", extra_feeds=(), outputs=None):
    names = [n for n, _ in VISIT] + list(extra_feeds)
    jl = w.file("alerts.jsonl")
    outs = outputs or ['{ name = "log"; plugin = "log"; path = %s; format = "json"; rate_limit = 0; }'
                       % q(jl)]
    return w.write("feedwatch.conf", """
state_dir = %s;
min_interval = 1;
adaptive = false;  # fixed intervals: the test counts on them (test_adaptive tests adaptive polling)
first_poll_max_age = 0;
max_alerts_per_poll = 0;
story_window = "%s";
story_update_interval = "%s";
feeds = ( %s );
%s
watchlists = (
  { name = "putin-north-korea"; match = "@putin AND @north_korea"; group = "%s"; },
  { name = "putin"; match = "@putin"; group = "%s"; }
);
outputs = ( %s );
""" % (q(w.state), window, interval,
       ",\n".join('{ name = "%s"; url = %s; interval = 1; }' % (n, q(srv.url("/" + n)))
                  for n in names),
       ENTITIES, group, group, ",\n".join(outs)))


def by_watchlist(alerts, name):
    return [a for a in alerts if a["watchlist"] == name]


def founding_case(srv, w, _bus):
    serve_visit(srv)
    conf = config(w, srv)
    p = run(["check", "-c", conf])
    check(p.returncode == 0, "check accepts story_window, story_update_interval, group (%s)"
          % p.stderr.strip()[-300:])
    p = run(["once", "-c", conf])
    alerts = read_jsonl(w.file("alerts.jsonl"))
    nk = by_watchlist(alerts, "putin-north-korea")
    check(p.returncode == 0 and len(nk) == 1,
          "eleven feeds, three languages: one alert on putin-north-korea (%d: %s)"
          % (len(nk), [a["item"]["title"] for a in nk]))
    if nk:
        st = nk[0].get("story", {})
        check(st.get("new") is True and st.get("items") == 1 and st.get("feeds") == 1
              and st.get("first_alert") == nk[0]["id"] and re.match(r"^s-[0-9a-f]{16}$",
                                                                    st.get("id", "")),
              "the first alert opens the story (%s)" % st)
    putin = by_watchlist(alerts, "putin")
    check(len(putin) == 2 and len({a["story"]["id"] for a in putin}) == 2,
          "watchlist putin: the visit and the Ukraine story are two stories (%s)"
          % [a["item"]["title"] for a in putin])

    # At once again: the interval has not passed, nothing more.
    run(["once", "-c", conf])
    check(len(read_jsonl(w.file("alerts.jsonl"))) == len(alerts),
          "no update before story_update_interval")
    time.sleep(6)
    p = run(["once", "-c", conf])
    alerts2 = read_jsonl(w.file("alerts.jsonl"))
    upd = [a for a in by_watchlist(alerts2, "putin-north-korea") if a not in nk]
    check(p.returncode == 0 and len(upd) == 1, "after the interval: one update (%d)" % len(upd))
    if upd and nk:
        st = upd[0]["story"]
        check(st["new"] is False and st["id"] == nk[0]["story"]["id"]
              and st["first_alert"] == nk[0]["id"],
              "the update belongs to the story and names its first alert")
        check(st["items"] == 11 and st["feeds"] == 11 and len(st["added"]) == 10
              and st["more"] == 0,
              "it lists the ten other items: 11 items from 11 feeds (%s, %s, %d added)"
              % (st["items"], st["feeds"], len(st["added"])))
        check(all(set(x) == {"title", "feed", "link", "published"} for x in st["added"]),
              "each added item has title, feed, link, published")
        check(upd[0]["item"]["title"] == st["added"][-1]["title"],
              "the update describes its newest item")
    run(["once", "-c", conf])
    check(len(read_jsonl(w.file("alerts.jsonl"))) == len(alerts2),
          "no second update without new items")

    # stories --json: the contract
    p = run(["stories", "-c", conf, "--json"])
    rows = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    check(p.returncode == 0 and len(rows) == 2, "stories lists two stories (%d)" % len(rows))
    keys_ok = all(set(r) == {"id", "title", "first_seen", "last_seen", "items", "watchlists"}
                  for r in rows)
    check(keys_ok, "each story has exactly id, title, first_seen, last_seen, items, watchlists")
    visit = [r for r in rows if len(r["items"]) == 11]
    check(len(visit) == 1, "one story holds the eleven items")
    if visit:
        v = visit[0]
        check(sorted(v["watchlists"]) == ["putin", "putin-north-korea"],
              "its watchlists (%s)" % v["watchlists"])
        check(all(set(i) == {"feed", "id", "title", "link", "published"} for i in v["items"]),
              "each item has exactly feed, id, title, link, published")
        check({i["feed"] for i in v["items"]} == {n for n, _ in VISIT},
              "the items name their feeds")
        check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", v["first_seen"])
              and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", v["last_seen"]),
              "first_seen and last_seen in RFC 3339 UTC")
        check([i["published"] for i in v["items"] if i["feed"] == "reuters"]
              == ["2024-06-18T21:00:00Z"], "published in RFC 3339")
        ex = run(["explain-story", v["id"], "-c", conf, "--json"])
        lines = [json.loads(l) for l in ex.stdout.splitlines() if l.strip()]
        joined = [l for l in lines if l["joined"]]
        check(ex.returncode == 0 and len(lines) == 11 and len(joined) == 10,
              "explain-story: ten items joined the first (%d lines)" % len(lines))
        check(all(l["score"] >= 0.4 and l["shared"] for l in joined),
              "each with its score and the terms it shares (%s)"
              % [(l["score"], l["shared"]) for l in joined][:3])
        ru = [l for l in joined if l["title"].startswith("Путин прибыл")]
        check(ru and "@putin" in ru[0]["shared"] and "@north_korea" in ru[0]["shared"],
              "a Russian headline joined by the entities (%s)" % (ru[0]["shared"] if ru else None))
        prof = [l for l in joined[1:] if l.get("story_shared")]
        check(len(prof) == len(joined) - 1 and all(
            all(t["term"] and 1 <= t["items"] <= t["of"] <= 12 for t in l["story_shared"])
            for l in prof),
              "every item joining a story of two or more says what it shares with the "
              "story's newest items, with counts (%s)" % [l.get("story_shared") for l in joined][:2])
        last = joined[-1]["story_shared"]
        check(any(t["term"] == "@putin" and t["items"] >= 5 for t in last),
              "the last item shares @putin with most of the story (%s)" % last)
        text = run(["explain-story", v["id"], "-c", conf])
        check(text.returncode == 0 and "started the story" in text.stdout
              and "shared:" in text.stdout and "with the story's 10 newest items before it:"
              in text.stdout, "explain-story reads (%s)" % text.stdout[-400:])
    p = run(["stories", "-c", conf, "--json", "--watchlist", "putin-north-korea"])
    check(len(p.stdout.splitlines()) == 1, "--watchlist keeps the stories it matched")
    p = run(["stories", "-c", conf, "--json", "--since", "1s"])
    check(p.stdout.strip() == "", "--since 1s: nothing seen since (%r)" % p.stdout[:100])
    p = run(["stories", "-c", conf])
    check(p.returncode == 0 and "11 items, 11 feeds" in p.stdout, "the readable table")
    p = run(["explain-story", "s-0000000000000000", "-c", conf])
    check(p.returncode == 1 and "no story" in p.stderr, "an unknown story: exit 1")

    # match and status
    p = run(["match", "-c", conf, "--text", "Putin leaves Pyongyang after the summit"])
    check(p.returncode == 0 and "story: would join s-" in p.stdout,
          "match says which story a text would join (%s)" % p.stdout.strip()[-200:])
    p = run(["status", "-c", conf, "--json"])
    check(p.returncode == 0 and json.loads(p.stdout).get("stories_open") == 2,
          "status counts the open stories")

    # After a restart, a later item of the visit joins the stored story: no new alert.
    srv.routes["/nhk"] = Route(feed([("nhk-late", LATE[1], 100)]))
    conf = config(w, srv, extra_feeds=["nhk"])
    before = len(read_jsonl(w.file("alerts.jsonl")))
    run(["once", "-c", conf])
    after = read_jsonl(w.file("alerts.jsonl"))
    check(len(after) == before, "after a restart a new item of the story raises no alert "
          "of its own (%s)" % [a["item"]["title"] for a in after[before:]])
    rows = [json.loads(l) for l in run(["stories", "-c", conf, "--json"]).stdout.splitlines()]
    check(any(len(r["items"]) == 12 for r in rows), "it joined the stored story")


def per_item(srv, w, _bus):
    serve_visit(srv)
    conf = config(w, srv, group="item")
    run(["once", "-c", conf])
    alerts = read_jsonl(w.file("alerts.jsonl"))
    nk = by_watchlist(alerts, "putin-north-korea")
    check(len(nk) == 11 and all("story" not in a for a in nk),
          "group = \"item\": one alert per item, no story member (%d)" % len(nk))
    p = run(["stories", "-c", conf, "--json"])
    check(len(p.stdout.splitlines()) == 2, "the items are placed in stories all the same")
    bad = config(w, srv, group="thread")
    p = run(["check", "-c", bad])
    check(p.returncode == 1 and re.search(r"feedwatch.conf:\d+: 'group' must be", p.stderr),
          "a bad group is an error with file:line (%s)" % p.stderr.strip()[-200:])


def window(srv, w, _bus):
    srv.routes["/reuters"] = Route(feed([("r1", VISIT[0][1], 0)]))
    srv.routes["/ap"] = Route(feed([]))
    conf = config(w, srv, window="2s")
    conf_text = open(conf).read()
    for n, _ in VISIT[2:]:
        srv.routes["/" + n] = Route(feed([]))
    run(["once", "-c", conf])
    time.sleep(3)
    srv.routes["/ap"] = Route(feed([("a1", VISIT[1][1], 1)]))
    run(["once", "-c", conf])
    nk = by_watchlist(read_jsonl(w.file("alerts.jsonl")), "putin-north-korea")
    check(len(nk) == 2 and all(a["story"]["new"] for a in nk)
          and nk[0]["story"]["id"] != nk[1]["story"]["id"],
          "past story_window the same event starts a new story (%d)" % len(nk))
    # The daemon's prune closes the stories quiet for longer than the window.
    time.sleep(3)
    d = start(["run", "-c", conf])
    ok = wait_for(lambda: "closed 2 stories" in fwtest.output(d)[1], 20)
    rc, _, err = stop(d)
    check(ok and rc == 0, "the daemon closes the stories quiet for the window (%s)"
          % err.strip()[-300:])
    p = run(["stories", "-c", conf, "--json"])
    check(p.returncode == 0 and p.stdout.strip() == "", "and they are gone from the store")
    check(conf_text == open(conf).read(), "the config is untouched")


def desktop_update(srv, w, bus):
    """The story's first alert and its update reach a notification server from one daemon:
    the update replaces the first notification."""
    got = test_desktop.mock_server(w, bus)
    if not got:
        return
    fenv, log = got
    serve_visit(srv)
    conf = config(w, srv, interval="3s", outputs=[
        '{ name = "desk"; plugin = "desktop"; rate_limit = 0; }'])
    d = start(["run", "-c", conf], env=dict(os.environ, **fenv))
    calls = lambda: [test_desktop.notify_args(c) for c in test_desktop.notify_calls(log)]
    grew = lambda c: c and re.search(r"\+\d+ items from \d+ feeds", c[2] or "")
    ok = wait_for(lambda: any(grew(c) for c in calls()), 40)
    rc, _, err = stop(d)
    got = calls()
    check(ok and rc == 0, "the daemon shows the story, then its update (%s; %s)"
          % (got, err.strip()[-300:]))
    # The mock numbers notifications 1, 2, ... as it creates them (replaces_id 0).
    new = [c for c in got if c and c[0] == 0]
    upd = [c for c in got if grew(c)]
    check(len(new) == 2 and new[1][1] == UKRAINE[1],
          "two notifications: the visit, and the Ukraine story (%s)" % got)
    check(upd and upd[0][0] == 1, "the visit's notification (the first) is replaced by its "
          "update (%s)" % upd)


if __name__ == "__main__":
    fwtest.main(founding_case, per_item, window, desktop_update,
                each=(fwtest.Workdir, test_desktop.SessionBus))
