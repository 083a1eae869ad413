#!/usr/bin/env bash
# bench/outbox/run.sh - alerts per second through the outbox, and feed-change-to-webhook
# latency (GitHub issue 5, "Measured"). See bench/outbox/README.md.
#
#   bench/outbox/run.sh [-n ITEMS] [-s LATENCY_SECONDS] [-r RUNS] [-o throughput|latency]
#
#   -n  matching items in the throughput feed (default 5000)
#   -s  seconds of the latency run, one new item every 0.5 s (default 60)
#   -r  throughput runs (default 3); every run is printed, then the median
#   -o  only one part
#
# Environment: BUILD (default build-alert-rel: a Release build, configured and built here
# when missing), BENCH_DIR (default $BUILD/bench-outbox: the state dirs; put it on the disk
# the daemon will use, the outbox fsyncs every commit). Needs python3 only (standard library).
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build-alert-rel}
dir=${BENCH_DIR:-$build/bench-outbox}
items=5000
secs=60
runs=3
only=
while getopts "n:s:r:o:h" opt; do
	case $opt in
	n) items=$OPTARG ;;
	s) secs=$OPTARG ;;
	r) runs=$OPTARG ;;
	o) only=$OPTARG ;;
	*)
		sed -n '2,15p' "$0"
		exit 2
		;;
	esac
done

if [[ ! -f $build/CMakeCache.txt ]]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFW_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target feedwatch log webhook -j2 >/dev/null
if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt"; then
	echo "warning: $build is not a Release build" >&2
fi
mkdir -p "$dir"
echo "outbox bench: $(uname -sr), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
	"sqlite $(pkg-config --modversion sqlite3), $(df -T "$dir" | awk 'NR == 2 { print $2 }')" \
	"at $dir"

fw=("$build/daemon/feedwatch" "$build/plugins" "$dir")
if [[ -z $only || $only == throughput ]]; then
	results=()
	for ((i = 1; i <= runs; i++)); do
		r=$(python3 "$src/bench/outbox/bench.py" "${fw[@]}" --items "$items" --only throughput)
		results+=("$r")
		python3 -c 'import json,sys
t = json.loads(sys.argv[1])["throughput"]
print("run %s: webhook %.0f alerts/s (%d delivered in %.2f s, once %.2f s); "
      "log %.0f alerts/s (%d in %.2f s, once %.2f s)" % (sys.argv[2],
      t["webhook"]["alerts_per_s"], t["webhook"]["deliveries"], t["webhook"]["first_to_last_s"],
      t["webhook"]["once_wall_s"], t["log"]["alerts_per_s"], t["log"]["deliveries"],
      t["log"]["first_to_last_s"], t["log"]["once_wall_s"]))' "$r" "$i"
	done
	python3 -c 'import json,statistics,sys
rs = [json.loads(x)["throughput"] for x in sys.argv[1:]]
for k in ("webhook", "log"):
    v = [r[k]["alerts_per_s"] for r in rs]
    ok = all(r[k]["deliveries"] == rs[0][k]["deliveries"] for r in rs)
    print("median %s: %.0f alerts/s over %d runs%s" % (k, statistics.median(v), len(v),
          "" if ok else " (delivery counts differ between runs!)"))' "${results[@]}"
fi
if [[ -z $only || $only == latency ]]; then
	python3 "$src/bench/outbox/bench.py" "${fw[@]}" --latency-seconds "$secs" --only latency |
		python3 -c 'import json,sys
l = json.load(sys.stdin)["latency"]
print("latency, feed served -> webhook received: median %s ms, p99 %s ms (min %s, max %s; "
      "%d of %d items delivered, %d measured)" % (l["median_ms"], l["p99_ms"], l["min_ms"],
      l["max_ms"], l["delivered"], l["items"], l["measured"]))
print("latency, item added to the feed -> webhook received (includes the 1 s poll "
      "interval): median %s ms, p99 %s ms" % (l["from_added_median_ms"], l["from_added_p99_ms"]))'
fi
