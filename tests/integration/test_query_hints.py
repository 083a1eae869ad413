#!/usr/bin/env python3
"""Queries that say what they mean, and plugin names that exist (issue 18), through the
real binary's `check`: lower-case and/or/not/near between words, two bare words side by
side ("North Korea" = North AND Korea), a bare word that is an entity's name, each a
warning at FILE:LINE with the likely fix (check exits 0 and the query keeps its meaning);
an unknown entity or field with "did you mean", a query that can never match, and an
unknown plugin name with the way to what was meant and the list of plugins: errors (exit
1)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import check, q, run  # noqa: E402


def config(w, watchlists, plugin='plugin = "log"; path = "-";'):
    text = """state_dir = %s;
feeds = ( { name = "f"; url = "https://example.org/feed.xml"; } );
entities = {
  putin = [ "Putin", "Путин*" ];
  north_korea = [ "North Korea", "DPRK", "Pyongyang" ];
};
outputs = ( { name = "out"; %s } );
watchlists = (
%s
);
""" % (q(w.state), plugin, ",\n".join('  { name = "%s"; match = %s; }' % (n, q(m))
                                       for n, m in watchlists))
    return w.write("feedwatch.conf", text), text


def line_of(text, needle):
    for i, l in enumerate(text.splitlines(), 1):
        if needle in l:
            return i
    raise AssertionError(needle)


def warnings(srv, w):
    """Each warning at FILE:LINE with its fix; check still exits 0."""
    wls = [("lower", "putin and korea"),
           ("side", "@putin AND North Korea"),
           ("three", "@putin AND Kim Jong Un"),
           ("bare", "Putin OR @north_korea"),
           ("near", "@putin near @north_korea"),
           ("fine", "@putin AND \"North Korea\" AND NOT title:sport")]
    conf, text = config(w, wls)
    p = run(["check", "-c", conf])
    check(p.returncode == 0 and " OK (" in p.stdout,
          "warnings only: check exits 0 and says OK (rc %d: %s)" % (p.returncode, p.stderr))
    err = p.stderr

    def at(name):
        return "%s:%d: warning: watchlist '%s', match column " % (conf, line_of(
            text, '"%s"' % name), name)

    check(at("lower") + "7: 'and' is matched as a word, not the operator: write AND for the "
          "operator, or \"and\" in quotes to match the word" in err,
          "lower-case 'and': a warning at FILE:LINE, column 7, with the fix (%s)" % err)
    check(at("side") + "12: 'North Korea': words side by side must each appear somewhere in "
          "the item (they are ANDed), not together; for the phrase write \"North Korea\", or "
          "@north_korea (the entity with that alias)" in err,
          "two bare words: a warning naming the phrase and the entity")
    check(at("three") + "12: 'Kim Jong Un': words side by side" in err,
          "three bare words: one warning for the run")
    check(at("bare") + "1: 'Putin' matches that word only: did you mean @putin (the entity, "
          "with its aliases)?" in err, "a bare entity name: did you mean @putin")
    check(at("near") + "8: 'near' is matched as a word, not the operator: write NEAR" in err,
          "lower-case 'near'")
    check("'fine'" not in err, "a query that says what it means: no warning")
    check(err.count("warning:") == 6, "one warning each (%d)" % err.count("warning:"))

    # The query still means what it meant: a warning, not a change of meaning.
    p = run(["match", "-c", conf, "--text", "Putin toured the north of South Korea"])
    check(p.returncode == 0 and "side: matched" in p.stdout,
          "'@putin AND North Korea' still matches North and Korea apart (%s)" % p.stdout)


def errors(srv, w):
    """Errors with the likely fix; check exits 1."""
    wls = [("ent", "@putin AND @north_corea"),
           ("ent2", "@kremlin"),
           ("field", "@putin AND titel:korea"),
           ("never", "@putin AND NOT @putin")]
    conf, text = config(w, wls)
    p = run(["check", "-c", conf])
    err = p.stderr
    check(p.returncode == 1, "errors: check exits 1 (rc %d)" % p.returncode)

    def at(name):
        return "%s:%d: watchlist '%s', match column " % (conf, line_of(text, '"%s"' % name),
                                                         name)

    check(at("ent") + "12: unknown entity 'north_corea' (did you mean '@north_korea'?)"
          in err, "an entity name one slip away: did you mean (%s)" % err)
    check(at("ent2") + "1: unknown entity 'kremlin' (entities: @putin, @north_korea)" in err
          or at("ent2") + "1: unknown entity 'kremlin' (entities: @north_korea, @putin)"
          in err, "a name far from any: the list of entities")
    check(at("field") + "12: unknown field scope 'titel:' (did you mean 'title:'?)" in err,
          "a field one slip away: did you mean")
    check(at("never") + "12: query can never match" in err, "a query that can never match")


def plugins(srv, w):
    """Unknown plugin names: the way to what was meant and the list of what exists."""
    for plugin, want in (("slack", "use plugin = \"webhook\"; format = \"slack\""),
                         ("weebhook", "(did you mean 'webhook'?)"),
                         ("mail", "use plugin = \"email\"")):
        conf, text = config(w, [("w", "@putin")], plugin='plugin = "%s"; url = "http://x";'
                            % plugin)
        p = run(["check", "-c", conf])
        line = line_of(text, 'plugin = "%s"' % plugin)
        check(p.returncode == 1 and "%s:%d: output 'out': no plugin '%s' in " % (conf, line,
                                                                                plugin)
              in p.stderr and want in p.stderr
              and "(plugins there: desktop, email, exec, log, nats, webhook)" in p.stderr,
              "plugin = %r: %s and the list (%s)" % (plugin, want, p.stderr.strip()))


if __name__ == "__main__":
    fwtest.main(warnings, errors, plugins)
