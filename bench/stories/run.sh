#!/usr/bin/env bash
# bench/stories/run.sh - story placement (daemon/story.c) on stories labelled by others, and
# its speed and memory with a full window.
#
# Builds story_place (-O2, no sanitizers) from bench/stories/story_place.c, daemon/story.c
# and daemon/fold.c into $BUILD/bench-stories (default build-bench), then:
#   - B-cubed precision and recall, and the syndicated-copy rate, on sample A (the constants
#     of story.h were chosen on it) and on the held-out samples B and C, with the two baselines;
#   - placement speed with 500,000 items in a 48 h window (one core), and the index's bytes
#     per item; then the same where no word of an item is held by any other (--unique: the
#     worst case for memory).
# Usage: bench/stories/run.sh [ITEMS]   (default 500000)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build-bench}
work=$build/bench-stories
items=${1:-500000}
mkdir -p "$work"
gcc -O2 -DNDEBUG -I"$root/daemon" "$here/story_place.c" "$root/daemon/story.c" "$root/daemon/story_table.c" \
	"$root/daemon/fold.c" $(pkg-config --cflags --libs libutf8proc) -lm -o "$work/story_place"

for data in uci-news-sample.tsv uci-news-sample-b.tsv uci-news-sample-c.tsv; do
	echo "== $data"
	python3 "$here/score.py" --data "$here/data/$data" --baseline all
	python3 "$here/score.py" --data "$here/data/$data" -- "$work/story_place"
done
echo "== speed and memory: $items items in the window, then $items placed"
taskset -c 0 "$work/story_place" --speed "$items" <"$here/data/uci-news-sample.tsv"
echo "== the worst case for memory: no word of an item held by another"
taskset -c 0 "$work/story_place" --speed "$items" --unique <"$here/data/uci-news-sample.tsv"
