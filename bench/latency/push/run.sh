#!/bin/sh
# bench/latency/push/run.sh - WebSub push path: hub POST -> alert written by the log plugin
# (README.md beside this script). Builds a Release tree in $BUILD (default build-rel) when
# missing, then runs push_bench.py: RATE pushes a second (100) for SECONDS (60).
#   bench/latency/push/run.sh [RATE] [SECONDS]
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${BUILD:-$ROOT/build-rel}
if [ ! -x "$BUILD/daemon/feedwatch" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFW_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" -j2 --target feedwatch log >/dev/null
exec python3 "$ROOT/bench/latency/push/push_bench.py" --feedwatch "$BUILD/daemon/feedwatch" \
	--rate "${1:-100}" --seconds "${2:-60}"
