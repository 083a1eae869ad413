#!/usr/bin/env python3
"""bench/parse/gen.py - the deterministic feeds bench/parse/run.sh parses.

    gen.py OUTDIR

Writes three realistic news feeds (the same bytes on every machine and run: a fixed
seed, the Python standard library only):

  rss_news.xml    RSS 2.0, 8000 items: titles with entities, <description> of escaped
                  HTML (<p>, <a href>, <b>, <br/>, named and numeric entities),
                  content:encoded in CDATA, dc:creator, 1-3 categories, RFC 822 dates
  atom_news.xml   Atom 1.0, 8000 entries: type="html" titles and summaries, type="xhtml"
                  content (inline XHTML), authors, RFC 3339 dates
  rss_short.xml   RSS 2.0, 9500 headline-only items (plain text, short descriptions)

Text is news-like English, German and Russian (a third of items each), so that UTF-8
multi-byte text, entities and markup all take their share. Item counts stay under the
parser's default cap of 10000 items per document.
"""
import os
import random
import sys
from html import escape

EN = ("the government said on Tuesday that talks with the opposition would resume next "
      "week after a summit in Brussels where ministers agreed on new sanctions trade "
      "economy report inflation rose by 3.2 percent while the central bank kept rates "
      "unchanged analysts expect growth to slow in the second half of the year").split()
DE = ("die Bundesregierung hat am Dienstag erklärt dass die Gespräche mit der Opposition "
      "nächste Woche fortgesetzt werden nach einem Gipfel in Brüssel einigten sich die "
      "Minister auf neue Maßnahmen Wirtschaft Bericht Inflation stieg um 3,2 Prozent "
      "während die Zentralbank die Zinsen unverändert ließ Straße Größe Ärger").split()
RU = ("правительство заявило во вторник что переговоры с оппозицией возобновятся на "
      "следующей неделе после саммита в Брюсселе министры согласовали новые санкции "
      "экономика торговля доклад инфляция выросла на 3,2 процента центральный банк "
      "сохранил ставку без изменений аналитики ожидают замедления роста").split()
ENTS = ["&amp;", "&nbsp;", "&#8212;", "&mdash;", "&quot;", "&#8220;", "&#8221;",
        "&hellip;", "&eacute;", "&uuml;", "&laquo;", "&raquo;", "&#x2019;"]
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CATS = {"en": ["World", "Politics", "Economy", "Europe"],
        "de": ["Politik", "Wirtschaft", "Ausland"],
        "ru": ["Политика", "Экономика", "В мире"]}


def words(rng, lang, n):
    src = EN if lang == "en" else DE if lang == "de" else RU
    return " ".join(rng.choice(src) for _ in range(n))


def sentence(rng, lang, n):
    s = words(rng, lang, n)
    return s[0].upper() + s[1:] + "."


def html_body(rng, lang, paras):
    """HTML as feeds carry it: paragraphs, links, bold, line breaks, entities."""
    out = []
    for _ in range(paras):
        parts = []
        for _ in range(rng.randint(2, 4)):
            s = escape(sentence(rng, lang, rng.randint(8, 20)), quote=False)
            r = rng.random()
            if r < 0.25:
                s += " " + rng.choice(ENTS) + " "
            elif r < 0.4:
                s = "<b>%s</b>" % s
            elif r < 0.5:
                s = '<a href="https://example.com/%s?a=1&amp;b=2">%s</a>' % (
                    rng.randint(1, 99999), s)
            parts.append(s)
        out.append("<p>" + " ".join(parts) + ("<br/>" if rng.random() < 0.3 else "") + "</p>")
    return "\n".join(out)


def rfc822(rng, i):
    return "%s, %02d %s 2024 %02d:%02d:%02d +0000" % (
        DAYS[i % 7], 1 + i % 28, MONTHS[i % 12], i % 24, i % 60, (i * 7) % 60)


def rfc3339(i):
    return "2024-%02d-%02dT%02d:%02d:%02dZ" % (1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60)


def lang_of(i):
    return ("en", "de", "ru")[i % 3]


def rss_news(rng, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/">\n<channel>\n'
                '<title>Bench News</title><link>https://example.com/</link>\n'
                '<description>Nachrichten &amp; news</description><ttl>15</ttl>\n')
        for i in range(8000):
            lang = lang_of(i)
            title = escape(sentence(rng, lang, rng.randint(6, 12))[:-1])
            if rng.random() < 0.3:
                title += " &amp; " + escape(words(rng, lang, 2))
            f.write("<item>\n<title>%s</title>\n" % title)
            f.write("<link>https://example.com/%s/%d</link>\n" % (lang, i))
            f.write('<guid isPermaLink="false">urn:bench:rss:%d</guid>\n' % i)
            f.write("<pubDate>%s</pubDate>\n" % rfc822(rng, i))
            f.write("<dc:creator>%s</dc:creator>\n" % escape(words(rng, lang, 2).title()))
            for c in rng.sample(CATS[lang], rng.randint(1, 3)):
                f.write("<category>%s</category>\n" % escape(c))
            f.write("<description>%s</description>\n" % escape(html_body(rng, lang, 2)))
            if rng.random() < 0.5:
                f.write("<content:encoded><![CDATA[%s]]></content:encoded>\n"
                        % html_body(rng, lang, 4))
            f.write("</item>\n")
        f.write("</channel>\n</rss>\n")


def atom_news(rng, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n'
                '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
                '<title>Bench Atom</title><id>urn:bench:atom</id>'
                '<updated>2024-06-18T21:44:00Z</updated>\n'
                '<link rel="alternate" href="https://example.org/"/>\n')
        for i in range(8000):
            lang = lang_of(i)
            f.write("<entry>\n")
            f.write('<title type="html">%s</title>\n'
                    % escape(escape(sentence(rng, lang, rng.randint(6, 12)), quote=False)
                             + " <b>%d</b>" % i, quote=False))
            f.write('<link rel="alternate" href="https://example.org/%s/%d"/>\n' % (lang, i))
            f.write("<id>urn:bench:atom:%d</id>\n" % i)
            f.write("<published>%s</published><updated>%s</updated>\n"
                    % (rfc3339(i), rfc3339(i + 1)))
            f.write("<author><name>%s</name></author>\n" % escape(words(rng, lang, 2).title()))
            f.write('<summary type="html">%s</summary>\n' % escape(html_body(rng, lang, 1)))
            # xhtml: the same HTML as inline XML (entities as characters: XML has few)
            body = html_body(rng, lang, 3)
            for e, ch in (("&nbsp;", "\u00a0"), ("&#8212;", "\u2014"), ("&mdash;", "\u2014"),
                          ("&#8220;", "\u201c"), ("&#8221;", "\u201d"),
                          ("&hellip;", "\u2026"), ("&eacute;", "\u00e9"),
                          ("&uuml;", "\u00fc"), ("&laquo;", "\u00ab"),
                          ("&raquo;", "\u00bb"), ("&#x2019;", "\u2019")):
                body = body.replace(e, ch)
            f.write('<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                    "%s</div></content>\n" % body)
            f.write("</entry>\n")
        f.write("</feed>\n")


def rss_short(rng, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Short</title>\n')
        for i in range(9500):
            lang = lang_of(i)
            f.write("<item><title>%s</title><link>https://example.com/s/%d</link>"
                    "<description>%s</description><pubDate>%s</pubDate></item>\n"
                    % (escape(sentence(rng, lang, 8)), i,
                       escape(sentence(rng, lang, 30)), rfc822(rng, i)))
        f.write("</channel></rss>\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rss_news(random.Random(1), os.path.join(out, "rss_news.xml"))
    atom_news(random.Random(2), os.path.join(out, "atom_news.xml"))
    rss_short(random.Random(3), os.path.join(out, "rss_short.xml"))


if __name__ == "__main__":
    main()
