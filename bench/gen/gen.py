#!/usr/bin/env python3
"""bench/gen/gen.py - a deterministic set of N news feeds x K items for bench/run.sh.

    gen.py --feeds N [--items K] [--seed S] --out DIR

Writes DIR/f/NNNNN.rss (RSS 2.0) and DIR/f/NNNNN.atom (Atom 1.0, every third feed),
each with a pre-compressed NNNNN.{rss,atom}.gz beside it (nginx gzip_static), and
DIR/truth.json: the feed paths, the item count and how many items match the watchlist
"@putin AND @north_korea" of bench/lib/configs.py (the generator places those mentions
itself, so it knows). DIR/matches.tsv lists them (feed path, item id) for debugging.

Text is news-like English, German and Russian, with HTML (escaped in RSS <description>,
type="html" or type="xhtml" in Atom), named and numeric entities, RFC 822 / RFC 3339
dates, guids or ids, 1-3 categories. About 1% of items mention both Putin and North
Korea (in one of the three languages, title or body); about 3% are decoys that mention
only one of them, or Putin with South Korea, which must not alert. Filler text never
contains an alias of either entity. Python standard library only; the same arguments
give the same bytes.
"""
import argparse
import gzip
import json
import os
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from html import escape

GEN_VERSION = 3  # bump when the output changes: run.sh regenerates on a mismatch

BASE_TIME = 1718747040  # 2024-06-18T21:44:00Z: items are dated before it
MATCH_SHARE = 0.01
DECOY_SHARE = 0.03

# Filler vocabulary: no alias of @putin or @north_korea may appear here.
EN_SUBJ = ["The finance minister", "European leaders", "Union negotiators", "The central bank",
           "Rescue teams", "Farmers in the north", "The opposition party", "City officials",
           "Health experts", "A coalition of NGOs", "Shipping companies", "The UN envoy",
           "Chancellor Scholz", "President Macron", "Prime Minister Kishida", "Kyiv"]
EN_VERB = ["warned of", "agreed on", "rejected", "called for", "announced", "criticised",
           "postponed", "welcomed", "voted against", "signed"]
EN_OBJ = ["new sanctions", "a ceasefire proposal", "the energy package", "higher interest rates",
          "the budget for 2025", "emergency aid", "a trade agreement", "stricter border controls",
          "the climate targets", "a referendum", "the grain corridor", "arms deliveries"]
EN_FILL = ["Officials said talks would continue next week.",
           "The decision follows months of negotiations.",
           "Critics say the plan does not go far enough.",
           "Markets reacted calmly to the news on Tuesday.",
           "More than 2,000 people attended the protest in the capital.",
           "The ministry did not respond to a request for comment.",
           "Analysts expect the measure to take effect in autumn.",
           "It was the third such meeting this year."]
DE_SUBJ = ["Die Bundesregierung", "Der Finanzminister", "Die EU-Kommission", "Die Opposition",
           "Gewerkschaften", "Die Bundesbank", "Der Stadtrat", "Hilfsorganisationen",
           "Bundeskanzler Scholz", "Die Grünen", "Außenministerin Baerbock"]
DE_VERB = ["warnt vor", "einigt sich auf", "lehnt ab:", "fordert", "kündigt an:", "kritisiert",
           "verschiebt", "begrüßt"]
DE_OBJ = ["neue Sanktionen", "das Heizungsgesetz", "höhere Zinsen", "den Haushalt 2025",
          "Waffenlieferungen", "ein Handelsabkommen", "strengere Grenzkontrollen",
          "die Klimaziele", "Nothilfe für Überschwemmungsgebiete"]
DE_FILL = ["Die Gespräche sollen in der kommenden Woche fortgesetzt werden.",
           "Kritiker halten den Plan für unzureichend.",
           "Die Märkte reagierten am Dienstag gelassen.",
           "Mehr als 2.000 Menschen nahmen an der Kundgebung teil.",
           "Das Ministerium äußerte sich zunächst nicht.",
           "Experten rechnen mit einer Umsetzung im Herbst.",
           "Über die Einzelheiten wird noch verhandelt."]
RU_SUBJ = ["Министр финансов", "Лидеры ЕС", "Центральный банк", "Спасатели", "Оппозиция",
           "Мэрия Москвы", "Эксперты ВОЗ", "Судоходные компании", "Правительство Японии"]
RU_VERB = ["предупредил о", "договорились о", "отклонил", "призвал к", "объявил о",
           "раскритиковал", "отложил"]
RU_OBJ = ["новых санкциях", "прекращении огня", "энергетическом пакете", "повышении ставки",
          "бюджете на 2025 год", "гуманитарной помощи", "торговом соглашении"]
RU_FILL = ["Переговоры продолжатся на следующей неделе.",
           "Критики считают, что план недостаточен.",
           "Рынки спокойно отреагировали на новости во вторник.",
           "В акции протеста приняли участие более 2000 человек.",
           "В министерстве не ответили на запрос.",
           "Аналитики ожидают, что мера вступит в силу осенью."]
LANG = {"en": (EN_SUBJ, EN_VERB, EN_OBJ, EN_FILL), "de": (DE_SUBJ, DE_VERB, DE_OBJ, DE_FILL),
        "ru": (RU_SUBJ, RU_VERB, RU_OBJ, RU_FILL)}
CATS = {"en": ["World", "Europe", "Asia", "Politics", "Economy", "Business", "Climate"],
        "de": ["Ausland", "Inland", "Wirtschaft", "Politik", "Europa", "Klima"],
        "ru": ["В мире", "Политика", "Экономика", "Общество", "Азия"]}

# Both entities, so the watchlist must fire. Forms are the config's aliases exactly
# (or their declared prefixes): no possessives, so the truth is unambiguous.
MATCH_TITLES = {
    "en": ["Putin arrives in Pyongyang for talks with Kim", "Vladimir Putin and North Korea sign defence pact",
           "North Korea hosts Putin as sanctions bite", "Putin praises DPRK ties on state visit"],
    "de": ["Putin in Pjöngjang eingetroffen", "Wladimir Putin besucht Nordkorea",
           "Nordkorea empfängt Putin mit Militärparade", "Putin und Kim unterzeichnen Abkommen in Pjöngjang"],
    "ru": ["Путин прибыл в Пхеньян", "Путин провёл переговоры с лидером КНДР",
           "Владимир Путин посетил Северную Корею", "КНДР и Путин подписали договор"],
}
# Putin in the title, North Korea only in the (HTML) body.
MATCH_SPLIT = {
    "en": ("Putin begins two-day Asia trip", "The visit to <b>North Korea</b> is his first in 24 years."),
    "de": ("Putin reist nach Asien", "Der Besuch in <b>Nordkorea</b> ist der erste seit 24 Jahren."),
    "ru": ("Путин начал азиатское турне", "Визит в <b>КНДР</b> станет первым за 24 года."),
}
DECOY_TITLES = {
    "en": ["Putin meets Erdogan in Astana", "North Korea fires missile into sea",
           "Putin visits South Korea border region? Kremlin denies report", "Pyongyang marathon returns"],
    "de": ["Putin trifft Erdoğan in Astana", "Nordkorea feuert Rakete ab", "Putin lobt Südkorea"],
    "ru": ["Путин встретился с Эрдоганом", "КНДР запустила ракету", "Путин и Южная Корея"],
}

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def rfc822(t):
    import time as _t
    g = _t.gmtime(t)
    return "%s, %02d %s %d %02d:%02d:%02d +0000" % (DAYS[g.tm_wday], g.tm_mday, MONTHS[g.tm_mon - 1],
                                                 g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)


def rfc3339(t):
    import time as _t
    return _t.strftime("%Y-%m-%dT%H:%M:%SZ", _t.gmtime(t))


def sentence(rnd, lang):
    s, v, o, _ = LANG[lang]
    return "%s %s %s" % (rnd.choice(s), rnd.choice(v), rnd.choice(o))


def body_html(rnd, lang, lead, link):
    """Description HTML: paragraphs, a link, bold, named and numeric entities."""
    fill = LANG[lang][3]
    paras = ["<p>%s. %s</p>" % (escape(lead, quote=False) if "<" not in lead else lead,
                                rnd.choice(fill))]
    for _ in range(rnd.randint(1, 2)):
        paras.append("<p>%s &ndash; %s. %s&nbsp;%s</p>" % (
            rnd.choice(fill), escape(sentence(rnd, lang)), rnd.choice(fill),
            "&#8222;Details&#8220;" if lang == "de" else "&quot;more&quot;"))
    paras.append('<p><a href="%s?utm_source=rss&amp;utm_medium=feed">%s</a> &copy; Bench &amp; Co.</p>'
                 % (link, {"en": "Read more", "de": "Weiterlesen", "ru": "Читать далее"}[lang]))
    return "".join(paras)


def make_item(rnd, fi, j, kind):
    lang = rnd.choices(("en", "de", "ru"), (5, 3, 2))[0]
    link = "https://news.example.org/%s/%05d/%03d" % (lang, fi, j)
    if kind == "match":
        if rnd.random() < 0.25:
            title, lead = MATCH_SPLIT[lang]
        else:
            title, lead = rnd.choice(MATCH_TITLES[lang]), sentence(rnd, lang)
    elif kind == "decoy":
        title, lead = rnd.choice(DECOY_TITLES[lang]), sentence(rnd, lang)
    else:
        title, lead = sentence(rnd, lang), sentence(rnd, lang)
    return {
        "lang": lang, "title": title, "link": link, "id": "bench-%05d-%03d" % (fi, j),
        "time": BASE_TIME - j * 1800 - rnd.randint(0, 1799) - (fi % 97) * 60,
        "html": body_html(rnd, lang, lead, link),
        "cats": rnd.sample(CATS[lang], rnd.randint(1, 3)),
        "author": rnd.choice(["Anna Schmidt", "John Miller", "Мария Иванова", "dpa", "Reuters"]),
    }


def rss(fi, items):
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">\n'
           '<channel><title>Bench News %05d &amp; World</title><link>https://news.example.org/</link>'
           '<description>Generated feed %d</description><language>en</language>'
           '<lastBuildDate>%s</lastBuildDate><ttl>15</ttl>\n' % (fi, fi, rfc822(BASE_TIME))]
    for it in items:
        perma = it["id"].endswith(("0", "5"))
        out.append('<item><title>%s</title><link>%s</link>%s<pubDate>%s</pubDate>'
                   '<dc:creator>%s</dc:creator>%s<description>%s</description></item>\n' % (
                       escape(it["title"], quote=False), it["link"],
                       '<guid isPermaLink="true">%s#%s</guid>' % (it["link"], it["id"]) if perma
                       else '<guid isPermaLink="false">%s</guid>' % it["id"],
                       rfc822(it["time"]), escape(it["author"], quote=False),
                       "".join("<category>%s</category>" % escape(c) for c in it["cats"]),
                       escape(it["html"], quote=False)))
    out.append("</channel></rss>\n")
    return "".join(out)


def atom(fi, items):
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
           'xml:lang="de"><title type="text">Bench Nachrichten %05d</title><id>urn:bench:feed:%d</id>'
           '<updated>%s</updated><link rel="alternate" href="https://news.example.org/"/>\n'
           % (fi, fi, rfc3339(BASE_TIME))]
    for n, it in enumerate(items):
        if n % 2:
            body = '<summary type="html">%s</summary>' % escape(it["html"], quote=False)
        else:
            # XHTML content: real markup, so named HTML entities must become characters.
            x = (it["html"].replace("&nbsp;", "\u00a0").replace("&ndash;", "\u2013")
                 .replace("&copy;", "\u00a9").replace("&quot;", "&#34;"))
            body = ('<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">%s</div>'
                    '</content>' % x)
        out.append('<entry><title type="html">%s</title><link rel="alternate" href="%s"/>'
                   '<id>urn:%s</id><published>%s</published><updated>%s</updated>'
                   '<author><name>%s</name></author>%s%s</entry>\n' % (
                       escape(escape(it["title"], quote=False), quote=False), it["link"], it["id"],
                       rfc3339(it["time"]), rfc3339(it["time"] + 600), escape(it["author"]),
                       "".join('<category term="%s"/>' % escape(c) for c in it["cats"]), body))
    out.append("</feed>\n")
    return "".join(out)


def one_feed(args):
    fi, k, seed, out = args
    rnd = random.Random("%d:%d" % (seed, fi))
    items, matches = [], []
    for j in range(k):
        r = rnd.random()
        kind = "match" if r < MATCH_SHARE else "decoy" if r < MATCH_SHARE + DECOY_SHARE else "plain"
        it = make_item(rnd, fi, j, kind)
        items.append(it)
        if kind == "match":
            matches.append(it["id"])
    is_atom = fi % 3 == 2
    name = "f/%05d.%s" % (fi, "atom" if is_atom else "rss")
    data = (atom(fi, items) if is_atom else rss(fi, items)).encode("utf-8")
    path = os.path.join(out, name)
    with open(path, "wb") as f:
        f.write(data)
    with open(path + ".gz", "wb") as f:
        f.write(gzip.compress(data, 6, mtime=0))
    return name, len(data), matches


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, required=True)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "f"), exist_ok=True)
    work = [(fi, a.items, a.seed, a.out) for fi in range(a.feeds)]
    with ProcessPoolExecutor(max_workers=a.jobs) as ex:
        res = list(ex.map(one_feed, work, chunksize=64))
    truth = {"version": GEN_VERSION, "feeds": a.feeds, "items_per_feed": a.items, "seed": a.seed,
             "items": a.feeds * a.items, "matches": sum(len(m) for _, _, m in res),
             "bytes": sum(b for _, b, _ in res), "paths": [p for p, _, _ in res]}
    with open(os.path.join(a.out, "matches.tsv"), "w") as f:
        for p, _, m in res:
            for i in m:
                f.write("%s\t%s\n" % (p, i))
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(truth, f)
    print("generated %d feeds x %d items, %.1f MB, %d matching items" % (
        a.feeds, a.items, truth["bytes"] / 1e6, truth["matches"]), file=sys.stderr)


if __name__ == "__main__":
    main()
