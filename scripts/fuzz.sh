#!/bin/sh
# Build the libFuzzer targets with clang and run each for SECONDS (default 20), seeded
# from the test fixtures. Exits non-zero on the first crash, leak or sanitizer report.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-20}
[ $# -gt 0 ] && shift
BUILD=${BUILD_FUZZ:-build-fuzz}
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFW_FUZZ=ON -DFW_TESTS=ON \
	-DFW_WERROR=ON >/dev/null
TARGETS=${*:-"fuzz_parse fuzz_html fuzz_date fuzz_query fuzz_story fuzz_config fuzz_opml fuzz_webhook fuzz_websub"}
built=""
for t in $TARGETS; do
	if [ -f "tests/fuzz/$t.c" ]; then built="$built $t"; fi
done
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"$(nproc)" --target $built
for t in $built; do
	work=$(mktemp -d)
	seeds="tests/fuzz/seeds/${t#fuzz_}"
	case $t in
	fuzz_parse | fuzz_html) seeds="$seeds tests/data/feeds" ;;
	fuzz_opml) seeds="tests/data/opml" ;;
	esac
	dirs=""
	for s in $seeds; do [ -d "$s" ] && dirs="$dirs $s"; done
	echo "fuzz: $t for ${SECS}s (seeds:${dirs:- none})"
	# shellcheck disable=SC2086
	if ! "$BUILD/tests/fuzz/$t" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 \
		-artifact_prefix="$work/" -print_final_stats=1 "$work" $dirs >"$work/log" 2>&1; then
		tail -40 "$work/log"
		echo "fuzz: $t FAILED; reproducer in $work"
		exit 1
	fi
	grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/log" | sed "s/^/fuzz: $t /"
	rm -rf "$work"
done
echo "fuzz: all targets clean"
