#!/usr/bin/env bash
# bench/parse/run.sh - parse throughput of `feedwatch parse` against `xmllint --stream
# --noout` on the same generated feeds, single core, in the same run.
#
#   PARSE_CMD="build/daemon/feedwatch parse" bench/parse/run.sh [REPS]
#
# PARSE_CMD gets the feed path appended and must print the items (text extraction and
# JSON output included). Prints MB/s per file for both and the ratio ours/xmllint
# (best of REPS runs each, default 5). Needs python3 (standard library) and xmllint
# (libxml2-utils).
set -euo pipefail

PARSE_CMD=${PARSE_CMD:-build/daemon/feedwatch parse}
REPS=${1:-5}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/fw-bench-parse.XXXXXX")
trap 'rm -rf "$DIR"' EXIT

command -v xmllint >/dev/null || { echo "xmllint not found (apt install libxml2-utils)" >&2; exit 2; }

# Three shapes: news RSS with escaped HTML, Atom with xhtml content, many small items.
python3 - "$DIR" <<'PY'
import random, sys
d = sys.argv[1]
random.seed(42)
words = ("putin north korea summit pyongyang kim treaty military aid sanctions russia "
         "economy trade caf\u00e9 na\u00efve \u4e2d\u6587 report minister talks").split()
def para(n):
    return " ".join(random.choice(words) for _ in range(n))
with open(d + "/rss_html.xml", "w", encoding="utf-8") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>bench</title>\n')
    for i in range(8000):   # the default item cap is 10000: stay under it
        f.write('<item><title>Item %d: %s &amp; more</title><link>https://example.com/n/%d</link>'
                '<guid>g-%d</guid><pubDate>Tue, 18 Jun 2024 21:44:00 GMT</pubDate>'
                '<dc:creator>Reporter %d</dc:creator><category>World</category>'
                '<description>&lt;p&gt;%s&lt;/p&gt;&lt;p&gt;&lt;a href="x"&gt;%s&lt;/a&gt;&lt;/p&gt;'
                '</description></item>\n' % (i, para(6), i, i, i, para(250), para(5)))
    f.write('</channel></rss>\n')
with open(d + "/atom_xhtml.xml", "w", encoding="utf-8") as f:
    f.write('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            '<title>bench</title>\n')
    for i in range(8000):
        f.write('<entry><title type="html">%s &lt;b&gt;%d&lt;/b&gt;</title>'
                '<link rel="alternate" href="https://example.org/e/%d"/><id>urn:e:%d</id>'
                '<updated>2024-06-18T21:44:00Z</updated><author><name>A %d</name></author>'
                '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>%s</p>'
                '<p><b>%s</b></p></div></content></entry>\n' % (para(6), i, i, i, i, para(200), para(20)))
    f.write('</feed>\n')
with open(d + "/rss_small.xml", "w", encoding="utf-8") as f:
    f.write('<?xml version="1.0"?>\n<rss version="2.0"><channel><title>small</title>\n')
    for i in range(9500):
        f.write('<item><title>%s</title><link>https://example.com/s/%d</link>'
                '<description>%s</description></item>\n' % (para(8), i, para(30)))
    f.write('</channel></rss>\n')
PY

best() { # best wall time (seconds) of REPS runs of "$@" > /dev/null
	local best="" t
	for _ in $(seq "$REPS"); do
		local s e
		s=$(date +%s.%N)
		"$@" >/dev/null 2>&1 || true
		e=$(date +%s.%N)
		t=$(echo "$e - $s" | bc -l)
		if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
	done
	echo "$best"
}

read -r -a CMD <<<"$PARSE_CMD"
printf '%-16s %8s %12s %12s %7s\n' file MB ours_MB/s xmllint_MB/s ratio
tot_ours=0 tot_ref=0 tot_mb=0
for f in "$DIR"/*.xml; do
	mb=$(echo "$(stat -c %s "$f") / 1048576" | bc -l)
	items=$("${CMD[@]}" "$f" | wc -l)
	t_ours=$(best taskset -c 0 "${CMD[@]}" "$f")
	t_ref=$(best taskset -c 0 xmllint --stream --noout "$f")
	printf '%-16s %8.1f %12.1f %12.1f %6.0f%%   (%s items)\n' "$(basename "$f")" "$mb" \
		"$(echo "$mb / $t_ours" | bc -l)" "$(echo "$mb / $t_ref" | bc -l)" \
		"$(echo "100 * $t_ref / $t_ours" | bc -l)" "$items"
	tot_ours=$(echo "$tot_ours + $t_ours" | bc -l)
	tot_ref=$(echo "$tot_ref + $t_ref" | bc -l)
	tot_mb=$(echo "$tot_mb + $mb" | bc -l)
done
printf 'parse-bench: ours %.1f MB/s, xmllint --stream %.1f MB/s, ratio %.0f%%\n' \
	"$(echo "$tot_mb / $tot_ours" | bc -l)" "$(echo "$tot_mb / $tot_ref" | bc -l)" \
	"$(echo "100 * $tot_ref / $tot_ours" | bc -l)"
