#!/usr/bin/env bash
# bench/store/run.sh - load figures for the SQLite store (daemon/store.c).
#
# Builds a release libfwstore.a (in $BUILD, default build-bench) and the C driver
# bench/store/store_bench.c against it, then runs, in $BENCH_DIR (default $BUILD/bench-store;
# put it on the disk the daemon will use: fsync cost is the point):
#   - a cold first cycle of 10,000 feeds x 50 items: one transaction per feed (as the daemon
#     does), one per 100 feeds, and per feed with synchronous=NORMAL to price FULL;
#   - reopening that database (quick_check time) and two steady poll cycles over it;
#   - a simulated 40 days of polling of 200 feeds (poll every 30 min, 2 new items a
#     day, 50 items in the feed, retention 30 days, prune daily); size is linear in feeds,
#     so multiply the per-feed figures by your feed count (x50 for 10,000 feeds). It runs
#     with synchronous=NORMAL: sizes do not depend on it, and 432,000 fsyncs would measure
#     the disk (and the neighbours' load on it), not the store; the cold part prices FULL.
# Arguments pass through: run.sh [cold_feeds] [items_per_feed] [sim_feeds] [sim_days].
# STORE_BENCH_ONLY=cold|month runs one part; STORE_BENCH_FULL=1 runs the month with FULL.
# About 3 minutes on the 2-core reference machine.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build-bench}
dir=${BENCH_DIR:-$build/bench-store}

if [[ ! -f $build/CMakeCache.txt ]]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFW_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target fwstore -j2 >/dev/null
san=()
if grep -q '^FW_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
	san=('-fsanitize=address,undefined')
fi
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra "${san[@]}" -I "$src/daemon" \
	"$src/bench/store/store_bench.c" "$build/daemon/libfwstore.a" \
	$(pkg-config --libs sqlite3) -o "$build/store_bench"

mkdir -p "$dir"
echo "store bench: $(uname -sr), $(nproc) cores, sqlite $(pkg-config --modversion sqlite3)," \
	"$(df -T "$dir" | awk 'NR == 2 { print $2 }') at $dir"
exec "$build/store_bench" "$dir" "$@"
