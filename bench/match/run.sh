#!/bin/sh
# bench/match/run.sh - watchlist matcher throughput against grep -F -i.
#
# Builds bench_match (optimised, no sanitizers) from daemon/match.c + daemon/fold.c, makes
# deterministic multilingual text and alias lists (gen.py), then for 10, 1,000, 10,000 and
# 100,000 aliases prints side by side:
#   feedwatch   MB/s of item text (Unicode folding included), compile time, memory
#   grep C      LC_ALL=C grep -F -i -c -f aliases text        (ASCII-only case folding)
#   grep UTF-8  LC_ALL=C.UTF-8 grep -F -i -c -f aliases text  (on a smaller text, with a
#               time limit: it collapses with many patterns)
# Times are CPU seconds (user+sys): the machine may be shared.
#
# Usage: bench/match/run.sh [TEXT_MB] [UTF8_TEXT_MB] [UTF8_TIMEOUT_S]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mb=${1:-20}
umb=${2:-1}
utimeout=${3:-60}
work=${BENCH_DIR:-/tmp/fw-bench-match}
mkdir -p "$work"

cc=${CC:-cc}
$cc -O2 -D_GNU_SOURCE -std=c11 -I"$root/daemon" \
	"$here/bench_match.c" "$root/daemon/match.c" "$root/daemon/fold.c" \
	$(pkg-config --cflags --libs libutf8proc) -o "$work/bench_match"

[ -s "$work/text.txt" ] || python3 "$here/gen.py" text "$mb" "$work/text.txt"
[ -s "$work/text-small.txt" ] || python3 "$here/gen.py" text "$umb" "$work/text-small.txt"
tbytes=$(wc -c <"$work/text.txt")
sbytes=$(wc -c <"$work/text-small.txt")

# cpu_secs CMD...: CPU seconds (user+sys of children) of one command; 'timeout' if killed.
cpu_secs() {
	python3 - "$@" <<'PY'
import os, resource, subprocess, sys
t = int(os.environ.get("FW_TIMEOUT", "0")) or None
try:
    subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, timeout=t, check=False)
except subprocess.TimeoutExpired:
    print("timeout"); sys.exit(0)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f" % (r.ru_utime + r.ru_stime))
PY
}

rate() { # bytes seconds
	case $2 in timeout) echo ">${utimeout}s" ;; *) python3 -c "import sys; b,s=float(sys.argv[1]),float(sys.argv[2]); print('%.1f' % (b/s/1e6 if s > 0 else float('inf')))" "$1" "$2" ;; esac
}

printf 'text: %s bytes (grep UTF-8: %s bytes, limit %ss)\n' "$tbytes" "$sbytes" "$utimeout"
printf '%8s %12s %10s %10s %11s %12s %13s\n' aliases feedwatch_MB/s compile_s matcher_MB maxrss_MB grep_C_MB/s grep_UTF8_MB/s
for n in 10 1000 10000 100000; do
	a="$work/aliases-$n.txt"
	[ -s "$a" ] || python3 "$here/gen.py" aliases "$n" "$a"
	line=$("$work/bench_match" "$a" "$work/text.txt" 3)
	fw=$(echo "$line" | sed 's/.*mb_per_s \([0-9.]*\).*/\1/')
	comp=$(echo "$line" | sed 's/.*compile_s \([0-9.]*\).*/\1/')
	mem=$(echo "$line" | sed 's/.*matcher_mb \([0-9.]*\).*/\1/')
	rss=$(echo "$line" | sed 's/.*maxrss_mb \([0-9.]*\).*/\1/')
	gc=$(LC_ALL=C FW_TIMEOUT=600 cpu_secs grep -F -i -c -f "$a" "$work/text.txt")
	gu=$(LC_ALL=C.UTF-8 FW_TIMEOUT=$utimeout cpu_secs grep -F -i -c -f "$a" "$work/text-small.txt")
	printf '%8s %12s %10s %10s %11s %12s %13s\n' "$n" "$fw" "$comp" "$mem" "$rss" \
		"$(rate "$tbytes" "$gc")" "$(rate "$sbytes" "$gu")"
done
