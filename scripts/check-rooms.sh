#!/bin/sh
# The house's structural rules (docs/architecture.md), checked on daemon/ and plugins/:
# no C file over 1,500 lines, no function over 120 lines (a body runs from a "{" to a "}"
# alone in column 0, as .clang-format writes functions), and loop.h included only by
# main.c and loop.c (nothing below the loop knows it). Prints each breach; exit 1 if any.
set -eu
cd "$(dirname "$0")/.."
bad=0
for f in daemon/*.c plugins/*/*.c; do
	n=$(wc -l <"$f")
	if [ "$n" -gt 1500 ]; then
		echo "$f: $n lines (at most 1500)"
		bad=1
	fi
	awk -v f="$f" '
		/^{$/ { start = NR; name = prev; next }
		/^}/ && start { if (NR - start - 1 > 120) { printf "%s:%d: %s: %d lines (at most 120)\n", f, start, name, NR - start - 1; bad = 1 } start = 0 }
		{ prev = $0 }
		END { exit bad }' "$f" || bad=1
done
for f in $(grep -l '#include "loop.h"' daemon/*.c daemon/*.h 2>/dev/null || true); do
	case $f in
	daemon/main.c | daemon/loop.c) ;;
	*)
		echo "$f: includes loop.h (only main.c and loop.c may)"
		bad=1
		;;
	esac
done
exit $bad
