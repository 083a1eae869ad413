#!/usr/bin/env python3
"""Interleave a sample's stories (python3, stdlib only): a robustness check, not a score.

In the UCI samples each story arrives in one burst of seconds, story after story, which
flatters anything that looks at the most recent rows. This rewrites the timestamps so that
each story's rows are spread uniformly over SPREAD hours from a random start within the
sample's span, and sorts the rows by the new time; titles, publishers and labels are kept.

Usage: interleave.py [--seed N] [--spread HOURS] FILE > interleaved.tsv
"""
import argparse
import random
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--spread", type=float, default=2.0)
    ap.add_argument("file")
    a = ap.parse_args()
    rows = [l.rstrip("\n").split("\t") for l in open(a.file, encoding="utf-8")]
    rng = random.Random(a.seed)
    t0, t1 = int(rows[0][0]), int(rows[-1][0])
    spread = a.spread * 3.6e6
    starts = {}
    for r in rows:
        if r[2] not in starts:
            starts[r[2]] = rng.uniform(t0, max(t0, t1 - spread))
    out = [[str(int(starts[r[2]] + rng.uniform(0, spread)))] + r[1:] for r in rows]
    out.sort(key=lambda r: int(r[0]))
    sys.stdout.writelines("\t".join(r) + "\n" for r in out)


if __name__ == "__main__":
    main()
