#!/bin/sh
# bench/parse/run.sh - feed parse throughput against `xmllint --stream --noout` on the same
# generated feeds, single core, in the same run. See bench/parse/README.md.
#
#   bench/parse/run.sh [RUNS]          (default 5; env: CPU, BUILD, BENCH_DIR, CALLGRIND)
#
# Builds what it needs: a release build of the tree in $BUILD (default build-bench-parse)
# and bench_parse (bench_parse.c linked with that build's libfwparse.a and libfwtext.a);
# generates its inputs with gen.py (deterministic); then for each file measures, pinned to
# CPU $CPU (taskset), the median of RUNS runs of CPU time (user+sys, getrusage):
#   parse   bench_parse FILE: parse + text extraction (repair filter, libxml2 SAX2,
#           fields, HTML to text, ids), items freed, no output. The issue's target.
#   cli     feedwatch parse FILE >/dev/null: the same plus JSON Lines output.
#   xmllint xmllint --stream --noout FILE: the yardstick.
# and prints MB/s for each and the ratios parse/xmllint and cli/xmllint (MB = 10^6 bytes).
# CALLGRIND=1 also counts instructions (valgrind --tool=callgrind, one run each): slower,
# but the same on any machine and under any load.
# Needs python3, taskset, xmllint (libxml2-utils), cmake, pkg-config; valgrind for CALLGRIND.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${1:-5}
cpu=${CPU:-0}
build=${BUILD:-$root/build-bench-parse}
work=${BENCH_DIR:-/tmp/fw-bench-parse}
mkdir -p "$work"

for t in python3 taskset xmllint cmake pkg-config; do
	command -v "$t" >/dev/null || { echo "run.sh: $t not found" >&2; exit 2; }
done

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFW_TESTS=OFF >/dev/null
cmake --build "$build" --target feedwatch fwparse fwtext -j"$(nproc)" >/dev/null
${CC:-cc} -O2 -D_GNU_SOURCE -std=c11 -I"$root/daemon" "$here/bench_parse.c" \
	"$build/daemon/libfwparse.a" "$build/daemon/libfwtext.a" \
	$(pkg-config --cflags --libs libxml-2.0 jansson) -o "$work/bench_parse"
fw="$build/daemon/feedwatch"

# inputs: regenerated when gen.py changes
sum=$(cksum <"$here/gen.py")
if [ "$(cat "$work/gen.sum" 2>/dev/null)" != "$sum" ]; then
	python3 "$here/gen.py" "$work"
	echo "$sum" >"$work/gen.sum"
fi

# cpu_secs CMD...: CPU seconds (user+sys, getrusage: microseconds, where /usr/bin/time
# has only 10 ms) of one pinned run, output to /dev/null
cpu_secs() {
	python3 -c '
import resource, subprocess, sys
a = resource.getrusage(resource.RUSAGE_CHILDREN)
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.6f" % (r.ru_utime + r.ru_stime - a.ru_utime - a.ru_stime))' taskset -c "$cpu" "$@"
}

# median CMD...: median of $runs cpu_secs
median() {
	i=0
	: >"$work/times"
	while [ $i -lt "$runs" ]; do
		cpu_secs "$@" >>"$work/times"
		i=$((i + 1))
	done
	sort -n "$work/times" | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

# instructions CMD...: instructions executed (callgrind)
instructions() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '%-14s %6s %6s %10s %10s %12s %7s %7s\n' file MB items parse_MB/s cli_MB/s \
	xmllint_MB/s parse% cli%
tp=0 tc=0 tx=0 tmb=0
for f in "$work"/rss_news.xml "$work"/atom_news.xml "$work"/rss_short.xml; do
	mb=$(awk -v b="$(wc -c <"$f")" 'BEGIN { printf "%.3f", b / 1e6 }')
	items=$("$work/bench_parse" "$f" 2>&1 | sed -n 's/^items //p')
	clin=$("$fw" parse "$f" 2>/dev/null | wc -l)
	[ "$items" = "$clin" ] || { echo "run.sh: $f: $items items parsed, $clin printed" >&2; exit 1; }
	p=$(median "$work/bench_parse" "$f")
	c=$(median "$fw" parse "$f")
	x=$(median xmllint --stream --noout "$f")
	awk -v f="$(basename "$f")" -v mb="$mb" -v n="$items" -v p="$p" -v c="$c" -v x="$x" \
		'BEGIN { printf "%-14s %6.1f %6d %10.1f %10.1f %12.1f %6.0f%% %6.0f%%\n",
		         f, mb, n, mb / p, mb / c, mb / x, 100 * x / p, 100 * x / c }'
	if [ "${CALLGRIND:-0}" = 1 ]; then
		ip=$(instructions "$work/bench_parse" "$f")
		ic=$(instructions "$fw" parse "$f")
		ix=$(instructions xmllint --stream --noout "$f")
		awk -v ip="$ip" -v ic="$ic" -v ix="$ix" 'BEGIN {
			printf "%-14s instructions: parse %.3fG cli %.3fG xmllint %.3fG -> %.0f%% %.0f%%\n",
			       "", ip / 1e9, ic / 1e9, ix / 1e9, 100 * ix / ip, 100 * ix / ic }'
	fi
	tp=$(awk -v a="$tp" -v b="$p" 'BEGIN { print a + b }')
	tc=$(awk -v a="$tc" -v b="$c" 'BEGIN { print a + b }')
	tx=$(awk -v a="$tx" -v b="$x" 'BEGIN { print a + b }')
	tmb=$(awk -v a="$tmb" -v b="$mb" 'BEGIN { print a + b }')
done
awk -v mb="$tmb" -v p="$tp" -v c="$tc" -v x="$tx" 'BEGIN {
	printf "parse-bench: parse+text %.1f MB/s = %.0f%% of xmllint --stream (%.1f MB/s); " \
	       "feedwatch parse %.1f MB/s = %.0f%%\n", mb / p, 100 * x / p, mb / x, mb / c, 100 * x / c }'
