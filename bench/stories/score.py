#!/usr/bin/env python3
"""Score a story placement against labelled stories (python3, stdlib only).

Usage:
  score.py [--data FILE] [--json] [--check] --baseline [item|overlap|all]
  score.py [--data FILE] [--json] [--check] [--] CMD [ARG ...]

The data file holds one headline a line, tab-separated:
  timestamp_ms <TAB> publisher <TAB> story <TAB> title
in arrival order (default: data/uci-news-sample.tsv beside this script).

A placement command gets the data file on stdin and must print one line per
input line, in the same order: the story id it assigned (any string).  The
baselines are computed here, for scale:
  item     every row is its own story
  overlap  a row joins the most recent earlier row within the window
           (48 h) whose lower-cased word set has Jaccard >= 0.5, taking its
           story; otherwise it opens a new story

Figures (for each system):
  B-cubed precision, recall, F1 against the story labels: for each item,
  precision = |same predicted story AND same labelled story| / |same
  predicted story|, recall = the same over |same labelled story|; both
  averaged over items, F1 their harmonic mean.
  syndicated-copy rate: over pairs of rows whose titles are identical after
  lower-casing and collapsing whitespace, from different publishers, within
  the window, the share placed in the same predicted story (target >= 0.99).
  The share the labels themselves put in one story is printed beside it.

--json prints one JSON object per system and line.  --check exits 1 when a
system misses a target (precision >= 0.95, recall >= 0.30, syndicated
>= 0.99); baselines are reported but never checked.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys

WINDOW_MS = 48 * 3600 * 1000
TARGETS = {"bcubed_precision": 0.95, "bcubed_recall": 0.30,
           "syndicated_same_story_rate": 0.99}
WORD = re.compile(r"\w+", re.UNICODE)


class Row:
    """One labelled headline."""
    __slots__ = ("ts", "publisher", "story", "title")

    def __init__(self, ts, publisher, story, title):
        self.ts, self.publisher, self.story, self.title = ts, publisher, story, title


def load(path):
    """Read the TSV data file; returns (raw bytes, list of Row)."""
    with open(path, "rb") as f:
        raw = f.read()
    rows = []
    for n, line in enumerate(raw.decode("utf-8").split("\n"), 1):
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise ValueError(f"{path}:{n}: expected 4 tab-separated fields, got {len(parts)}")
        rows.append(Row(int(parts[0]), parts[1], parts[2], parts[3]))
    return raw, rows


def place_item(rows):
    """Baseline: every row its own story."""
    return [str(i) for i in range(len(rows))]


def words(title):
    return frozenset(WORD.findall(title.lower()))


def place_overlap(rows, window_ms=WINDOW_MS, threshold=0.5):
    """Baseline: join the most recent earlier row within the window whose
    word set has Jaccard >= threshold; else open a new story."""
    sets = [words(r.title) for r in rows]
    out = []
    for i, r in enumerate(rows):
        story = None
        for j in range(i - 1, -1, -1):
            if abs(r.ts - rows[j].ts) > window_ms:
                continue
            a, b = sets[i], sets[j]
            union = len(a | b)
            if union and len(a & b) / union >= threshold:
                story = out[j]
                break
        out.append(story if story is not None else str(i))
    return out


def place_command(cmd, raw, n, timeout):
    """Run the placement command with the data on stdin; returns its story
    ids, one per input row."""
    proc = subprocess.run(cmd, input=raw, stdout=subprocess.PIPE, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with status {proc.returncode}")
    lines = proc.stdout.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != n:
        raise RuntimeError(f"{' '.join(cmd)} printed {len(lines)} lines for {n} rows")
    out = [l.strip() for l in lines]
    for k, s in enumerate(out, 1):
        if not s:
            raise RuntimeError(f"{' '.join(cmd)}: line {k} has no story id")
    return out


def bcubed(pred, gold):
    """B-cubed precision, recall and F1 of pred against gold (lists of
    labels, one per item)."""
    n = len(gold)
    if n == 0:
        return 0.0, 0.0, 0.0
    both = collections.Counter(zip(pred, gold))
    psize = collections.Counter(pred)
    gsize = collections.Counter(gold)
    p = sum(both[(c, g)] / psize[c] for c, g in zip(pred, gold)) / n
    r = sum(both[(c, g)] / gsize[g] for c, g in zip(pred, gold)) / n
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def norm_title(title):
    return " ".join(title.lower().split())


def syndicated_pairs(rows, window_ms=WINDOW_MS):
    """Index pairs (i, j), i < j, of identical normalised titles from
    different publishers within the window."""
    by_title = collections.defaultdict(list)
    for i, r in enumerate(rows):
        by_title[norm_title(r.title)].append(i)
    pairs = []
    for idx in by_title.values():
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                i, j = idx[a], idx[b]
                if rows[i].publisher != rows[j].publisher and \
                        abs(rows[i].ts - rows[j].ts) <= window_ms:
                    pairs.append((i, j))
    return pairs


def figures(name, pred, rows, pairs):
    """All figures for one system, as a dict."""
    gold = [r.story for r in rows]
    p, r, f = bcubed(pred, gold)
    same = sum(1 for i, j in pairs if pred[i] == pred[j])
    gold_same = sum(1 for i, j in pairs if gold[i] == gold[j])
    return {
        "system": name,
        "rows": len(rows),
        "gold_stories": len(set(gold)),
        "predicted_stories": len(set(pred)),
        "bcubed_precision": round(p, 4),
        "bcubed_recall": round(r, 4),
        "bcubed_f1": round(f, 4),
        "syndicated_pairs": len(pairs),
        "syndicated_same_story_rate": round(same / len(pairs), 4) if pairs else None,
        "syndicated_gold_same_story_rate": round(gold_same / len(pairs), 4) if pairs else None,
    }


def misses(fig):
    """Names of the targets a system misses."""
    out = []
    for key, want in TARGETS.items():
        got = fig[key]
        if got is not None and got < want:
            out.append(f"{key} {got} < {want}")
    return out


def show(fig):
    rate = fig["syndicated_same_story_rate"]
    gold_rate = fig["syndicated_gold_same_story_rate"]
    print(f"{fig['system']}: {fig['rows']} rows, {fig['gold_stories']} labelled stories, "
          f"{fig['predicted_stories']} predicted stories")
    print(f"  B-cubed precision {fig['bcubed_precision']:.4f}  recall {fig['bcubed_recall']:.4f}"
          f"  F1 {fig['bcubed_f1']:.4f}")
    if rate is None:
        print("  syndicated copies: no pairs in this data")
    else:
        print(f"  syndicated copies: {fig['syndicated_pairs']} pairs, same predicted story "
              f"{rate:.4f} (labels: {gold_rate:.4f})")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(
        description="B-cubed and syndicated-copy scores of a story placement.",
        usage="%(prog)s [--data FILE] [--json] [--check] "
              "(--baseline [item|overlap|all] | [--] CMD [ARG ...])")
    ap.add_argument("--data", default=os.path.join(here, "data", "uci-news-sample.tsv"))
    ap.add_argument("--json", action="store_true", help="one JSON object per system")
    ap.add_argument("--check", action="store_true", help="exit 1 if the command misses a target")
    ap.add_argument("--baseline", nargs="?", const="all", choices=["item", "overlap", "all"])
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds for CMD")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv[1:])
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if bool(cmd) == bool(args.baseline):
        ap.error("give either --baseline or a placement command")

    raw, rows = load(args.data)
    pairs = syndicated_pairs(rows)
    results = []
    if args.baseline in ("item", "all"):
        results.append(figures("per-item", place_item(rows), rows, pairs))
    if args.baseline in ("overlap", "all"):
        results.append(figures("word-overlap", place_overlap(rows), rows, pairs))
    if cmd:
        try:
            pred = place_command(cmd, raw, len(rows), args.timeout)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"score.py: {e}", file=sys.stderr)
            return 2
        results.append(figures(" ".join(cmd), pred, rows, pairs))

    failed = False
    for fig in results:
        if args.json:
            print(json.dumps(fig, sort_keys=True))
        else:
            show(fig)
        if args.check and cmd and fig["system"] == " ".join(cmd):
            for m in misses(fig):
                failed = True
                print(f"score.py: target missed: {m}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
