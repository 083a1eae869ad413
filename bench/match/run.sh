#!/bin/sh
# bench/match/run.sh - watchlist matcher throughput against grep -F -i and vectorscan.
#
# Builds bench_match (release: -O2, no sanitizers) from daemon/{match,query,ac,fold}.c, and
# bench_hs when vectorscan (libvectorscan-dev, pkg-config libhs) is installed; makes the
# deterministic text and alias lists (gen.py: the text is the same for every alias count
# and about 3% of its items match); then for 10, 1,000, 10,000 and 100,000 aliases prints
# side by side, every run pinned to one CPU (taskset -c $CPU), median of $RUNS runs:
#   fw_MB/s     feedwatch: MB/s of item text, Unicode folding and query evaluation included
#   compile_s   feedwatch compile time; matcher_MB its tables; maxrss_MB of the process
#   matched     items (of all) that matched a watchlist: the match density
#   fold_MB/s   folding alone (bench_hs)
#   hs_MB/s     folding + vectorscan literal scan of the same folded patterns (bench_hs)
#   hs_comp_s   vectorscan compile time
#   grepC_MB/s  LC_ALL=C grep -F -i -c -f aliases text          (ASCII-only case folding;
#               over the text five times, so that its 0.1 s of CPU is not read at /usr/bin/time's
#               10 ms resolution)
#   grepU_MB/s  LC_ALL=C.UTF-8 grep -F -i -c -f aliases text    (on a smaller text, with a
#               time limit: it collapses with many patterns)
# Times are CPU seconds (user+sys): the machine may be shared. Compare within one run.
# (The locale goes through env: dash does not export "VAR=x func" to a function's children.)
# Needs python3, taskset, /usr/bin/time (Debian package "time") and timeout.
#
# Usage: bench/match/run.sh [TEXT_MB] [UTF8_TEXT_MB] [UTF8_TIMEOUT_S]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mb=${1:-20}
umb=${2:-1}
utimeout=${3:-60}
runs=${RUNS:-3}
cpu=${CPU:-1}
work=${BENCH_DIR:-/tmp/fw-bench-match}
mkdir -p "$work"

cc=${CC:-cc}
$cc -O2 -D_GNU_SOURCE -std=c11 -I"$root/daemon" \
	"$here/bench_match.c" "$root/daemon/match.c" "$root/daemon/query.c" "$root/daemon/ac.c" \
	"$root/daemon/fold.c" \
	$(pkg-config --cflags --libs libutf8proc) -o "$work/bench_match"
hs=0
if pkg-config --exists libhs; then
	$cc -O2 -D_GNU_SOURCE -std=c11 -I"$root/daemon" "$here/bench_hs.c" "$root/daemon/fold.c" \
		$(pkg-config --cflags --libs libhs libutf8proc) -o "$work/bench_hs" && hs=1
fi

[ -s "$work/text.txt" ] || python3 "$here/gen.py" text "$mb" "$work/text.txt"
[ -s "$work/text-small.txt" ] || head -c $((umb * 1000000)) "$work/text.txt" |
	sed '$d' >"$work/text-small.txt"
[ -s "$work/text5.txt" ] || for _ in 1 2 3 4 5; do cat "$work/text.txt"; done >"$work/text5.txt"
tbytes=$(wc -c <"$work/text.txt")
sbytes=$(wc -c <"$work/text-small.txt")

# cpu_secs TIMEOUT CMD...: CPU seconds (user+sys, /usr/bin/time) of one command, its output
# to a file (grep stops at the first match when its output is /dev/null); 'timeout' if killed.
cpu_secs() {
	t=$1
	shift
	rc=0
	/usr/bin/time -f '%U %S' -o "$work/time.out" timeout "$t" "$@" >"$work/cmd.out" || rc=$?
	if [ $rc = 124 ]; then echo timeout; else awk '{printf "%.3f\n", $1 + $2}' "$work/time.out"; fi
}

rate() { # bytes seconds
	case $2 in timeout) echo ">${utimeout}s" ;; *) python3 -c "import sys; b,s=float(sys.argv[1]),float(sys.argv[2]); print('%.1f' % (b/s/1e6 if s > 0 else float('inf')))" "$1" "$2" ;; esac
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
field() { echo "$1" | sed "s/.* $2 \([0-9.]*\).*/\1/"; }

printf 'machine: %s, %s CPUs; cpu %s; runs %s\n' \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" "$cpu" "$runs"
printf 'text: %s bytes, %s items (grep UTF-8: %s bytes, limit %ss)\n' "$tbytes" \
	"$(wc -l <"$work/text.txt")" "$sbytes" "$utimeout"
printf '%7s %7s %9s %10s %9s %8s %9s %8s %9s %10s %10s\n' aliases fw_MB/s compile_s \
	matcher_MB maxrss_MB matched fold_MB/s hs_MB/s hs_comp_s grepC_MB/s grepU_MB/s
for n in 10 1000 10000 100000; do
	a="$work/aliases-$n.txt"
	g="$work/grep-$n.txt"
	[ -s "$a" ] || python3 "$here/gen.py" aliases "$n" "$a"
	[ -s "$g" ] || python3 "$here/gen.py" grep "$a" "$g"
	fws="" hss="" fos="" gcs="" line="" hline=""
	for _ in $(seq "$runs"); do
		line=$(taskset -c "$cpu" "$work/bench_match" "$a" "$work/text.txt" 2)
		fws="$fws $(field "$line" mb_per_s)"
		if [ $hs = 1 ]; then
			hline=$(taskset -c "$cpu" "$work/bench_hs" "$a" "$work/text.txt" 2)
			hss="$hss $(field "$hline" fold_hs_mb_per_s)"
			fos="$fos $(field "$hline" fold_mb_per_s)"
		fi
		gcs="$gcs $(cpu_secs 600 env LC_ALL=C taskset -c "$cpu" grep -F -i -c -f "$g" "$work/text5.txt")"
	done
	gu=$(cpu_secs "$utimeout" env LC_ALL=C.UTF-8 taskset -c "$cpu" grep -F -i -c -f "$g" "$work/text-small.txt")
	printf '%7s %7s %9s %10s %9s %8s %9s %8s %9s %10s %10s\n' "$n" "$(echo "$fws" | median)" \
		"$(field "$line" compile_s)" "$(field "$line" matcher_mb)" "$(field "$line" maxrss_mb)" \
		"$(field "$line" matched)/$(field "$line" items)" \
		"$(if [ $hs = 1 ]; then echo "$fos" | median; else echo -; fi)" \
		"$(if [ $hs = 1 ]; then echo "$hss" | median; else echo -; fi)" \
		"$(if [ $hs = 1 ]; then field "$hline" compile_s; else echo -; fi)" \
		"$(rate $((5 * tbytes)) "$(echo "$gcs" | median)")" "$(rate "$sbytes" "$gu")"
done
