#!/usr/bin/env bash
# bench/latency/run.sh - publication-to-alert delay of fixed-interval and adaptive polling
# at the same number of requests, on 1,000 replayed feeds (GitHub issue 20).
# See bench/latency/README.md.
#
#   bench/latency/run.sh [-n FEEDS] [-d DAYS] [-s SCALE] [-i INTERVAL] [-w WARMUP_H] [-m "fixed adaptive"]
#
#   -n  feeds (default 1000)            -d  simulated days (default 2.5)
#   -s  time scale (default 480: a simulated hour lasts 7.5 s)
#   -i  the configured interval of every feed (default 1h)
#   -w  hours left out at both ends of the replay (default 6: first polls, and items
#       published too late for a 6 h max_interval to find before the end)
#   -m  the modes, in order (default "fixed adaptive")
#   -x  the publishers' mix: news (default) or longtail (replay.py)
#
# Environment: BUILD (default build-bench: a Release build, built here when missing),
# WORK (default $BUILD/bench-latency), SEED (20), PORT (18620).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FEEDS=1000 DAYS=2.5 SCALE=480 INTERVAL=1h WARMUP=6 MODES="fixed adaptive" MIX=news
while getopts "n:d:s:i:w:m:x:h" opt; do
	case $opt in
	n) FEEDS=$OPTARG ;;
	d) DAYS=$OPTARG ;;
	s) SCALE=$OPTARG ;;
	i) INTERVAL=$OPTARG ;;
	w) WARMUP=$OPTARG ;;
	m) MODES=$OPTARG ;;
	x) MIX=$OPTARG ;;
	*) sed -n '2,18p' "$0"; exit 2 ;;
	esac
done
BUILD=${BUILD:-$ROOT/build-bench}
WORK=${WORK:-$BUILD/bench-latency-$MIX}
SEED=${SEED:-20}
PORT=${PORT:-18620}
if [ ! -x "$BUILD/daemon/feedwatch" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$BUILD" -j2 >/dev/null
fi
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
printf 'mode\tfeeds\tdays\tscale\trequests\talerts\tpublished\tmissed\tmean_s\tp95_s\tmedian_s\n' >"$RESULTS"

# One config per mode: every feed at INTERVAL, every item alerts (group = "item"), the
# log output writes each alert's JSON to a file.
config() { # mode dir
	local adaptive=true
	[ "$1" = fixed ] && adaptive=false
	{
		echo "state_dir = \"$2/state\";"
		echo "adaptive = $adaptive;"
		echo "interval = \"$INTERVAL\";"
		echo "concurrency = 64; host_concurrency = 64; max_alerts_per_poll = 0;"
		echo "metrics_file = \"$2/metrics.prom\"; metrics_interval = \"1h\";"
		echo "feeds = ("
		for ((i = 0; i < FEEDS; i++)); do
			[ "$i" -gt 0 ] && echo ","
			printf '  { name = "f%d"; url = "http://127.0.0.1:%d/f/%d.xml"; }' "$i" "$PORT" "$i"
		done
		echo
		echo ");"
		echo 'watchlists = ( { name = "all"; match = "bench"; group = "item"; outputs = [ "log" ]; } );'
		echo "outputs = ( { name = \"log\"; plugin = \"log\"; path = \"$2/alerts.jsonl\"; format = \"json\"; rate_limit = 0; } );"
	} >"$2/feedwatch.conf"
}

SECS=$(python3 -c "print(int($DAYS * 86400 / $SCALE) + 1)")
for mode in $MODES; do
	dir=$WORK/$mode
	rm -rf "$dir"
	mkdir -p "$dir/state"
	config "$mode" "$dir"
	origin=$(date +%s)
	python3 "$HERE/replay.py" --mix "$MIX" serve --port "$PORT" --origin "$origin" --scale "$SCALE" \
		--feeds "$FEEDS" --days "$DAYS" --seed "$SEED" --stats "$dir/server.json" \
		>"$dir/server.log" 2>&1 &
	server=$!
	for _ in $(seq 50); do grep -q ready "$dir/server.log" 2>/dev/null && break; sleep 0.1; done
	FEEDWATCH_TIME_SCALE=$SCALE FEEDWATCH_TIME_ORIGIN=$origin \
		"$BUILD/daemon/feedwatch" run -q -c "$dir/feedwatch.conf" 2>"$dir/daemon.log" &
	daemon=$!
	echo "$mode: $FEEDS feeds, $DAYS simulated days at x$SCALE: ${SECS}s" >&2
	sleep "$SECS"
	"$BUILD/daemon/feedwatch" status --json -c "$dir/feedwatch.conf" >"$dir/status.json" || true
	kill -TERM "$daemon"
	wait "$daemon" || true
	kill -TERM "$server"
	wait "$server" || true
	until=$(python3 -c "print($origin + $DAYS * 86400 - $WARMUP * 3600)")
	python3 "$HERE/replay.py" --mix "$MIX" delays --origin "$origin" --warmup "$WARMUP" --until "$until" \
		--log "$dir/alerts.jsonl" --feeds "$FEEDS" --days "$DAYS" --seed "$SEED" >"$dir/delays.json"
	python3 - "$mode" "$FEEDS" "$DAYS" "$SCALE" "$dir" >>"$RESULTS" <<'PY'
import json, sys
mode, feeds, days, scale, d = sys.argv[1:]
s = json.load(open(d + "/server.json")); r = json.load(open(d + "/delays.json"))
print("\t".join(str(x) for x in [mode, feeds, days, scale, s["requests"], r["alerts"],
      r["published"], r["missed"], round(r.get("mean_s", 0)), round(r.get("p95_s", 0)),
      round(r.get("median_s", 0))]))
PY
	tail -1 "$RESULTS" >&2
done
column -t "$RESULTS"
