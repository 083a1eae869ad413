#!/usr/bin/env python3
"""bench/lib/report.py - the markdown report of one bench/run.sh run.

    report.py WORK_DIR

Reads WORK_DIR/results.tsv (one line per measurement: N tool phase run wall user sys
maxrss_kb rc nginx check), machine.txt, db-N.txt and idle-N.txt. Every figure is the
median over the runs; a ratio is taken within each run (the two measurements of a pair
ran back to back, so they saw the same machine load) and its median is given.
"""
import os
import statistics
import sys
from collections import defaultdict

TARGET_COLD = 1.5
TARGET_WARM = 1.3
TARGET_RSS_MB = 64
TARGET_IDLE_PCT = 1.0
# Issue 21, one node with 100,000 feeds: a tighter cold ratio, a larger memory budget.
TARGET_COLD_100K = 1.2
TARGET_RSS_MB_100K = 256


def target_cold(n):
    return TARGET_COLD_100K if n >= 100000 else TARGET_COLD


def target_rss(n):
    return TARGET_RSS_MB_100K if n >= 100000 else TARGET_RSS_MB


def med(v):
    return statistics.median(v) if v else None


def fmt(x, d=2):
    return "-" if x is None else ("%.*f" % (d, x))


def main():
    work = sys.argv[1]
    rows = defaultdict(dict)  # (n, tool, phase) -> run -> dict
    notes = defaultdict(list)
    with open(os.path.join(work, "results.tsv")) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 11:
                continue
            n, tool, phase, run = int(p[0]), p[1], p[2], int(p[3])
            rows[(n, tool, phase)][run] = {
                "wall": float(p[4]), "cpu": float(p[5]) + float(p[6]), "user": float(p[5]),
                "sys": float(p[6]), "rss": int(p[7]) / 1024.0, "rc": int(p[8]),
                "nginx": p[9], "check": p[10]}
            notes[(n, tool, phase)].append(p[10])
    # The floor: curl then xmllint, run by run.
    for (n, tool, phase), runs in list(rows.items()):
        if tool == "curl" and phase == "cold" and (n, "xmllint", "cold") in rows:
            x = rows[(n, "xmllint", "cold")]
            rows[(n, "curl+xmllint", "cold")] = {
                r: {"wall": v["wall"] + x[r]["wall"], "cpu": v["cpu"] + x[r]["cpu"],
                    "user": v["user"] + x[r]["user"], "sys": v["sys"] + x[r]["sys"],
                    "rss": max(v["rss"], x[r]["rss"]), "rc": v["rc"] or x[r]["rc"],
                    "nginx": v["nginx"], "check": "sum of the two"}
                for r, v in runs.items() if r in x}
    out = []
    with open(os.path.join(work, "machine.txt")) as f:
        out.append("```\n" + f.read().rstrip() + "\n```\n")
    ns = sorted({k[0] for k in rows})
    order = [("feedwatch", "cold"), ("feedwatch2", "cold"), ("curl", "cold"), ("xmllint", "cold"), ("curl+xmllint", "cold"),
             ("sfeed", "cold"), ("newsboat", "cold"), ("feedwatch", "warm"), ("feedwatch2", "warm"), ("curl", "warm"),
             ("sfeed", "warm"), ("newsboat", "warm")]
    verdicts = []
    for n in ns:
        out.append("### N = %d feeds\n" % n)
        out.append("| tool | round | wall s | CPU s (user+sys) | peak RSS MB | runs | nginx 200/304/other, bytes | checks |")
        out.append("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
        for tool, phase in order:
            runs = rows.get((n, tool, phase))
            if not runs:
                continue
            v = list(runs.values())
            checks = sorted(set(x["check"] for x in v))
            for x in v:
                if "TIMEOUT" in x["check"]:
                    # nginx's count of 200s says how far the tool got: project the rest.
                    got = int(x["nginx"].split("/")[0]) + int(x["nginx"].split("/")[1])
                    if got:
                        checks.append("fetched %d of %d feeds: ~%.0f s for all at that pace"
                                      % (got, n, x["wall"] * n / got))
            out.append("| %s | %s | %s | %s (%s+%s) | %s | %d | %s | %s |" % (
                tool, phase, fmt(med([x["wall"] for x in v])), fmt(med([x["cpu"] for x in v])),
                fmt(med([x["user"] for x in v])), fmt(med([x["sys"] for x in v])),
                fmt(med([x["rss"] for x in v]), 1), len(v), v[-1]["nginx"], "; ".join(checks)))
        out.append("")
        pairs = [("feedwatch cold / (curl then xmllint)", ("feedwatch", "cold"), ("curl+xmllint", "cold"), target_cold(n)),
                 ("feedwatch cold / curl cold", ("feedwatch", "cold"), ("curl", "cold"), None),
                 ("feedwatch warm / curl warm (304)", ("feedwatch", "warm"), ("curl", "warm"), TARGET_WARM),
                 ("feedwatch2 cold / (curl then xmllint)", ("feedwatch2", "cold"), ("curl+xmllint", "cold"), target_cold(n)),
                 ("feedwatch2 warm / curl warm (304)", ("feedwatch2", "warm"), ("curl", "warm"), TARGET_WARM),
                 ("feedwatch2 cold / feedwatch cold", ("feedwatch2", "cold"), ("feedwatch", "cold"), None),
                 ("feedwatch2 warm / feedwatch warm", ("feedwatch2", "warm"), ("feedwatch", "warm"), None),
                 ("sfeed cold / feedwatch cold", ("sfeed", "cold"), ("feedwatch", "cold"), None),
                 ("newsboat cold / feedwatch cold", ("newsboat", "cold"), ("feedwatch", "cold"), None),
                 ("sfeed warm / feedwatch warm", ("sfeed", "warm"), ("feedwatch", "warm"), None),
                 ("newsboat warm / feedwatch warm", ("newsboat", "warm"), ("feedwatch", "warm"), None)]
        out.append("| ratio (per run, then median) | wall | CPU | runs | target (wall) |")
        out.append("| --- | ---: | ---: | ---: | --- |")
        for name, a, b, target in pairs:
            ra, rb = rows.get((n,) + a), rows.get((n,) + b)
            if not ra or not rb:
                continue
            common = sorted(set(ra) & set(rb))
            w = [ra[r]["wall"] / rb[r]["wall"] for r in common if rb[r]["wall"] > 0]
            c = [ra[r]["cpu"] / rb[r]["cpu"] for r in common if rb[r]["cpu"] > 0]
            t = ""
            if any("TIMEOUT" in ra[r]["check"] for r in common):
                t = "the first timed out: a lower bound"
            if target and w:
                ok = med(w) <= target
                t = "<= %.1f: %s" % (target, "met" if ok else "MISSED")
                verdicts.append("N=%d %s: %.2f (%s)" % (n, name, med(w), "met" if ok else "missed"))
            out.append("| %s | %s (%s-%s) | %s | %d | %s |" % (
                name, fmt(med(w)), fmt(min(w) if w else None), fmt(max(w) if w else None),
                fmt(med(c)), len(common), t))
        fwc = rows.get((n, "feedwatch", "cold"), {})
        if fwc:
            rss = max(x["rss"] for x in fwc.values())
            if n >= 10000:
                verdicts.append("N=%d feedwatch peak RSS %.1f MB (target < %d: %s)" % (
                    n, rss, target_rss(n), "met" if rss < target_rss(n) else "missed"))
            bad = [x["check"] for x in fwc.values() if "FAIL" in x["check"]]
            verdicts.append("N=%d alerts: %s" % (n, "every true match alerted in every cold run"
                                                 if not bad else "; ".join(bad)))
        dbf = os.path.join(work, "db-%d.txt" % n)
        if os.path.exists(dbf):
            with open(dbf) as f:
                parts = [l.split() for l in f if l.strip()]
            total = sum(int(p[0]) for p in parts)
            out.append("\nStore after the cold cycle: %s = %.1f MiB (%s)\n" % (
                ", ".join("%s %.1f MiB" % (os.path.basename(p[1]), int(p[0]) / 1048576) for p in parts),
                total / 1048576, "%.0f B per item of %d feeds x 50" % (total / (n * 50), n)))
        idf = os.path.join(work, "idle-%d.txt" % n)
        if os.path.exists(idf):
            with open(idf) as f:
                lines = [l.split() for l in f if l.strip() and not l.startswith("#")]
            samples = [l for l in lines if l[0] != "idle"]
            summ = [l for l in lines if l[0] == "idle"][0]
            pct = float(summ[3])
            hz = os.sysconf("SC_CLK_TCK")
            steps = ["%.2f%%" % ((int(b[3]) - int(a[3])) / hz / (int(b[0]) - int(a[0])) * 100)
                     for a, b in zip(samples, samples[1:])]
            frm = summ[11] if len(summ) > 11 else "cold"
            how = ("after its own cold poll" if frm == "cold" else
                   "started on the state of the once rounds (every feed polled minutes before)")
            stf = os.path.join(work, "idle-%d-startup.txt" % n)
            if os.path.exists(stf):
                with open(stf) as f:
                    st = f.read().split()
                how += ", \"started\" logged %s s after launch" % st[0]
                if len(st) > 1:
                    how += ", quiet (a 10 s step under 1%% of a core) after %s s" % st[1]
            out.append("Idle, the daemon with %d feeds (interval 1 h) %s, over %s s: "
                       "CPU %.3f%% (%s s; per 10 s step: %s), VmRSS %s-%s MB, VmHWM %.1f MB, "
                       "%s polls meanwhile\n" % (
                           n, how, samples[-1][0], pct, summ[5], " ".join(steps),
                           fmt(min(int(s[1]) for s in samples) / 1024, 1),
                           fmt(max(int(s[1]) for s in samples) / 1024, 1),
                           max(int(s[2]) for s in samples) / 1024, summ[7]))
            verdicts.append("N=%d idle CPU %.3f%% (target < 1%%: %s)" % (
                n, pct, "met" if pct < TARGET_IDLE_PCT else "missed"))
        for tool in ("feedwatch", "feedwatch2"):
            for phase in ("cold", "warm"):
                tf = os.path.join(work, "threads-%d-%s-%s.txt" % (n, tool, phase))
                if not os.path.exists(tf):
                    continue
                with open(tf) as f:
                    th = [l.split() for l in f if l.startswith("thread")]
                cpu = [(float(t[-3]) + float(t[-1]), "(loop)" in t) for t in th]
                loop = sum(c for c, l in cpu if l)
                rest = sorted((c for c, l in cpu if not l), reverse=True)
                out.append("CPU per thread, %s %s (run 1, sampled every 0.25 s until it exits): "
                           "loop thread %.2f s, parser thread %.2f s, others %.2f s\n" % (
                               tool, phase, loop, rest[0] if rest else 0.0, sum(rest[1:])))
        thf = os.path.join(work, "idle-%d-threads.txt" % n)
        if os.path.exists(thf):
            with open(thf) as f:
                th = f.read().strip().splitlines()
            out.append("CPU per thread of `run` until sampling began (%s):\n" % th[0].lstrip("# "))
            out.extend("- " + l for l in th[1:])
            out.append("")
    out.append("### Targets\n")
    out.extend("- " + v for v in verdicts)
    print("\n".join(out))


if __name__ == "__main__":
    main()
