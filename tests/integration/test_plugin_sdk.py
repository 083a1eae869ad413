#!/usr/bin/env python3
"""A third party builds a plugin out of tree: `cmake --install` the build into a staging
directory, compile tests/data/plugins/sdk_hello.c with only
`cc $(pkg-config --cflags feedwatch-plugin) -shared -fPIC` (strict C11 warnings as errors),
put it in a plugin_dir of its own and run `feedwatch once`: the alert is delivered through
it. The install goes to another prefix than the configured one (`--prefix`), staged under
DESTDIR, so nothing is written outside the test's temporary directory (the build's
absolute paths, such as sysconfdir, land under DESTDIR too): the .pc is relocatable."""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import DATA, FEEDWATCH, Route, check, q, rss_feed, run  # noqa: E402

BINARY_DIR = os.environ.get("FW_BINARY_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(FEEDWATCH))))


def sdk_plugin(srv, w):
    destdir = w.file("destdir")
    stage = destdir + "/relocated"
    p = subprocess.run(["cmake", "--install", BINARY_DIR, "--prefix", "/relocated"],
                       capture_output=True, text=True, env=dict(os.environ, DESTDIR=destdir))
    if not check(p.returncode == 0, "cmake --install --prefix into another prefix (%s)"
                 % (p.stderr.strip()[-300:])):
        return
    written = [l.split(": ", 1)[1] for l in p.stdout.splitlines()
               if l.startswith("-- Installing: ") or l.startswith("-- Up-to-date: ")]
    outside = [f for f in written if not f.startswith(destdir + "/")]
    check(written and not outside, "every installed file is under DESTDIR (%d files, outside: %s)"
          % (len(written), outside[:3]))
    pcs = glob.glob(os.path.join(stage, "**", "feedwatch-plugin.pc"), recursive=True)
    check(len(pcs) == 1, "feedwatch-plugin.pc is installed")
    hdrs = glob.glob(os.path.join(stage, "**", "feedwatch", "plugin.h"), recursive=True)
    check(len(hdrs) == 1, "feedwatch/plugin.h is installed")
    if not pcs:
        return
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
    p = subprocess.run(["pkg-config", "--cflags", "feedwatch-plugin"], capture_output=True,
                       text=True, env=env)
    cflags = p.stdout.split()
    check(p.returncode == 0 and any(f.startswith("-I") and os.path.realpath(f[2:]) ==
                                    os.path.realpath(os.path.join(stage, "include"))
                                    for f in cflags),
          "pkg-config --cflags feedwatch-plugin points into the new prefix (%s)" % cflags)
    p = subprocess.run(["pkg-config", "--variable=plugindir", "feedwatch-plugin"],
                       capture_output=True, text=True, env=env)
    check(p.returncode == 0 and p.stdout.strip().endswith("/feedwatch/plugins"),
          "the .pc names the plugin directory (%s)" % p.stdout.strip())
    check(os.path.exists(os.path.join(p.stdout.strip(), "log.so")),
          "the bundled plugins were installed there, in the new prefix too")

    pdir = w.file("myplugins")
    os.mkdir(pdir)
    os.chmod(pdir, 0o755)
    so = os.path.join(pdir, "sdk_hello.so")
    cc = os.environ.get("CC", "cc")
    p = subprocess.run([cc] + cflags + ["-std=c11", "-Wall", "-Wextra", "-Wpedantic",
                                        "-Werror", "-shared", "-fPIC", "-o", so,
                                        os.path.join(DATA, "plugins", "sdk_hello.c")],
                       capture_output=True, text=True)
    check(p.returncode == 0, "the plugin compiles cleanly out of tree (%s)" % p.stderr[-500:])
    if p.returncode != 0:
        return
    os.chmod(so, 0o755)
    nm = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True)
    exported = [l.split()[-1] for l in nm.stdout.splitlines() if " T " in l or " D " in l
                or " R " in l or " B " in l]
    check(exported == ["feedwatch_plugin"], "it exports only feedwatch_plugin (%s)" % exported)

    srv.routes["/feed.xml"] = Route(rss_feed([("s1", "Putin meets a plugin",
                                               "https://example.org/s1", "x")]))
    out = w.file("hello.txt")
    conf = w.write("feedwatch.conf", """
state_dir = %s;
plugin_dir = %s;
first_poll_max_age = 0;
feeds = ( { name = "world"; url = %s; } );
watchlists = ( { name = "putin"; match = "putin"; outputs = [ "hello" ]; } );
outputs = ( { name = "hello"; plugin = "sdk_hello"; path = %s; } );
""" % (q(w.state), q(pdir), q(srv.url("/feed.xml")), q(out)))
    p = run(["check", "-c", conf])
    check(p.returncode == 0, "check loads the out-of-tree plugin (%s)" % p.stderr.strip()[-300:])
    p = run(["once", "-c", conf])
    check(p.returncode == 0, "once exits 0 (%s)" % p.stderr.strip()[-300:])
    got = open(out).read().splitlines() if os.path.exists(out) else []
    check(len(got) == 1 and got[0].endswith(" Putin meets a plugin"),
          "the out-of-tree plugin delivered the alert (%s)" % got)
    check(bool(got) and len(got[0].split()[0]) == 32, "with the 32-digit alert id")
    p = run(["once", "-c", conf])
    got = open(out).read().splitlines() if os.path.exists(out) else []
    check(len(got) == 1, "and only once")


if __name__ == "__main__":
    fwtest.main(sdk_plugin)
