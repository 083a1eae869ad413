#!/usr/bin/env python3
"""The bundled config: `feedwatch check` accepts it, and `feedwatch once` on it prints the
seed alert from the bundled sample feed, with no network needed (the real feeds may fail
offline: that is logged, counted in the exit code, and does not stop the sample)."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import check, run  # noqa: E402

SRC = os.environ.get("FW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def bundled_config(w):
    # A copy, so that the test's state and any edits stay out of the source tree.
    conf_dir = w.file("config")
    shutil.copytree(os.path.join(SRC, "config"), conf_dir,
                    ignore=shutil.ignore_patterns("*.in", "*.[157]", "CMakeLists.txt"))
    conf = os.path.join(conf_dir, "feedwatch.conf")
    env = {"XDG_STATE_HOME": w.file("state"), "HOME": w.path}
    p = run(["check", "-c", conf], env=env)
    check(p.returncode == 0, "the bundled config passes check (%s)" % p.stderr.strip()[-500:])
    p = run(["once", "-c", conf], env=env, timeout=300)
    check(p.returncode in (0, 1), "once on the bundled config finishes (rc %d)" % p.returncode)
    lines = [l for l in p.stdout.splitlines() if l.startswith("[putin-north-korea] sample:")]
    check(len(lines) == 1, "the seed alert is printed once (%r)" % p.stdout[-500:])
    check(lines and "Putin" in lines[0] and "why:" in lines[0],
          "the alert says why it fired")
    check("South Korea" not in p.stdout, "the South Korea sample item does not alert")
    p = run(["once", "-c", conf], env=env, timeout=300)
    check("[putin-north-korea]" not in p.stdout, "a second once does not alert again")


if __name__ == "__main__":
    fwtest.main(bundled_config, shared=())
