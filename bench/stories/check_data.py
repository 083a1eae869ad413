#!/usr/bin/env python3
"""Sanity checks for bench/stories/data/*.tsv (stdlib only).

Usage: python3 bench/stories/check_data.py [FILE.tsv ...]

Each line must be timestamp_ms<TAB>publisher<TAB>story<TAB>title.
Prints the row count, the number of distinct stories, the distribution of
rows per story, whether every story is one contiguous block of rows and
whether timestamps never go backwards.  Exits 1 on a malformed line.
"""
import collections
import os
import re
import sys


def check(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            parts = line.split("\t")
            if len(parts) != 4 or not re.fullmatch(r"\d{13}", parts[0]) or not parts[2]:
                print(f"{path}:{n}: malformed line: {line!r}")
                return 1
            rows.append(parts)
    sizes = collections.Counter(r[2] for r in rows)
    dist = collections.Counter(sizes.values())
    blocks = sum(1 for i, r in enumerate(rows) if i == 0 or rows[i - 1][2] != r[2])
    back = sum(1 for i in range(1, len(rows)) if int(rows[i][0]) < int(rows[i - 1][0]))
    span_h = (int(rows[-1][0]) - int(rows[0][0])) / 3.6e6 if rows else 0.0
    print(f"{path}: {len(rows)} rows, {len(sizes)} stories, "
          f"{len(set(r[1] for r in rows))} publishers, span {span_h:.1f} h")
    print("  rows per story (size: stories): " +
          ", ".join(f"{k}: {v}" for k, v in sorted(dist.items())))
    print(f"  story blocks: {blocks} (contiguous: {blocks == len(sizes)}), "
          f"timestamp decreases: {back}")
    return 0


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    paths = argv[1:] or [os.path.join(here, "data", "uci-news-sample.tsv")]
    return max(check(p) for p in paths)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
