#!/usr/bin/env bash
# bench/prune/run.sh - the longest loop stall of the archive's prune (README.md here).
#
# Builds a release fwcore (in $BUILD, default build-bench) and bench/prune/prune_bench.c
# against it, then runs it in $BENCH_DIR (default $BUILD/bench-prune):
#   run.sh [rows=100000] [keep_pct=20] [oneshot|batched|both]
# OLD_SRC=DIR (a tree of an older commit, e.g. `git archive 13d2f71 | tar -x -C DIR`) also
# builds the bench's one-shot part against that tree and runs it on the same store first.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build-bench}
dir=${BENCH_DIR:-$build/bench-prune}
libs="libuv libcurl libxml-2.0 sqlite3 libconfig jansson libutf8proc libmicrohttpd libcrypto"

# compile SRC_TREE BUILD_DIR OUT [CFLAGS...]: prune_bench.c against that tree's rooms.
compile() {
	local tree=$1 b=$2 out=$3
	shift 3
	if [[ ! -f $b/CMakeCache.txt ]]; then
		cmake -S "$tree" -B "$b" -DCMAKE_BUILD_TYPE=Release -DFW_TESTS=OFF >/dev/null
	fi
	cmake --build "$b" --target fwcore -j2 >/dev/null
	# shellcheck disable=SC2046,SC2086
	cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra "$@" -I "$tree/daemon" \
		$(pkg-config --cflags $libs) "$src/bench/prune/prune_bench.c" \
		"$b/daemon/libfwcore.a" "$b/daemon/libfwparse.a" "$b/daemon/libfwmatch.a" \
		"$b/daemon/libfwtext.a" "$b/daemon/libfwstore.a" \
		$(pkg-config --libs $libs) -lm -ldl -lpthread -o "$out"
}

compile "$src" "$build" "$build/prune_bench"
mkdir -p "$dir"
echo "prune bench: $(uname -sr), $(nproc) cores, sqlite $(pkg-config --modversion sqlite3)," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n ${OLD_SRC:-} ]]; then
	compile "$OLD_SRC" "$OLD_SRC/build-bench" "$build/prune_bench_old" -DPRUNE_BENCH_ONESHOT_ONLY
	echo "old code ($OLD_SRC):"
	"$build/prune_bench_old" "$dir" "${1:-100000}" "${2:-20}" oneshot
	echo "this tree:"
fi
exec "$build/prune_bench" "$dir" "$@"
