#!/usr/bin/env python3
"""A packager's install, twice: the source tree is configured in build trees of its own
with -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib/x86_64-linux-gnu (Debian's
multiarch layout) and with -DCMAKE_INSTALL_PREFIX=/opt/fw, built, and installed into a
temporary DESTDIR (nothing is written outside the test's directory). Then, for each:

- feedwatch-plugin.pc, found through PKG_CONFIG_PATH in the staged tree, points where the
  files really are (prefix, the -I of --cflags with <feedwatch/plugin.h> in it, libdir,
  plugindir with the installed plugin in it, docdir with plugins.md) and an out-of-tree
  plugin compiles against it alone;
- the config path is one: the system unit's ExecStart=/ExecReload=, feedwatch(1),
  feedwatch.conf(5), the installed binary's `feedwatch help` and the message of its
  `feedwatch check` without a config all name <sysconfdir>/feedwatch/feedwatch.conf, and
  the example config is installed right there;
- the man pages name docs/plugins.md by its installed path, which exists, and render
  without warnings;
- the user unit is bound to graphical-session.target;
- the bash, zsh and fish completions are installed where the shells look, and every
  command, group verb and option of `feedwatch help` and of every command's --help is
  completed (bash and fish run for real; zsh checked by syntax and by its tables);
- feedwatch.desktop (desktop-file-validate finds nothing) and the icon it names."""
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtest  # noqa: E402
from fwtest import DATA, check  # noqa: E402

SOURCE_DIR = os.environ.get("FW_SOURCE_DIR", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))

LAYOUTS = [
    # prefix, extra cmake arguments, libdir, sysconfdir (GNUInstallDirs: /usr -> /etc,
    # /opt/<pkg> -> /etc/opt/<pkg>)
    ("/usr", ["-DCMAKE_INSTALL_LIBDIR=lib/x86_64-linux-gnu"], "/usr/lib/x86_64-linux-gnu",
     "/etc"),
    ("/opt/fw", [], "/opt/fw/lib", "/etc/opt/fw"),
]


def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def build_and_stage(w, prefix, extra):
    """Configure, build and install into a DESTDIR; returns the DESTDIR or None."""
    tag = prefix.strip("/").replace("/", "-")
    tree, root = w.file("build-" + tag), w.file("root-" + tag)
    p = sh(["cmake", "-S", SOURCE_DIR, "-B", tree, "-DCMAKE_BUILD_TYPE=Debug",
            "-DFW_TESTS=OFF", "-DFW_PLUGIN_DESKTOP=OFF", "-DFW_PLUGIN_WEBHOOK=OFF",
            "-DFW_PLUGIN_EXEC=OFF", "-DFW_PLUGIN_EMAIL=OFF",
            "-DCMAKE_INSTALL_PREFIX=" + prefix] + extra)
    if not check(p.returncode == 0, "%s: configure (%s)" % (prefix, p.stderr[-400:])):
        return None
    p = sh(["cmake", "--build", tree, "-j2"])
    if not check(p.returncode == 0, "%s: build (%s)" % (prefix, (p.stdout + p.stderr)[-600:])):
        return None
    p = sh(["cmake", "--install", tree], env=dict(os.environ, DESTDIR=root))
    if not check(p.returncode == 0, "%s: install into DESTDIR (%s)" % (prefix, p.stderr[-400:])):
        return None
    written = [l.split(": ", 1)[1].split(" (")[0] for l in p.stdout.splitlines()
               if l.startswith(("-- Installing: ", "-- Up-to-date: "))]
    outside = [f for f in written if not f.startswith(root + "/")]
    check(written and not outside, "%s: all %d installed files are under DESTDIR (%s)"
          % (prefix, len(written), outside[:3]))
    return root


def pc_checks(w, prefix, libdir, root):
    pcdir = root + libdir + "/pkgconfig"
    if not check(os.path.exists(pcdir + "/feedwatch-plugin.pc"),
                 "%s: feedwatch-plugin.pc is in <libdir>/pkgconfig (%s)" % (prefix, pcdir)):
        return
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_LIBDIR=pcdir)
    env.pop("PKG_CONFIG_SYSROOT_DIR", None)

    def var(name):
        p = sh(["pkg-config", "--variable=" + name, "feedwatch-plugin"], env=env)
        return os.path.realpath(p.stdout.strip()) if p.returncode == 0 and p.stdout.strip() \
            else None

    check(var("prefix") == root + prefix, "%s: prefix is the staged prefix (%s)"
          % (prefix, var("prefix")))
    check(var("libdir") == root + libdir, "%s: libdir is %s (%s)" % (prefix, libdir,
                                                                      var("libdir")))
    plugindir = var("plugindir")
    check(plugindir == root + libdir + "/feedwatch/plugins" and
          os.path.exists(os.path.join(plugindir, "log.so")),
          "%s: plugindir holds the installed log.so (%s)" % (prefix, plugindir))
    docdir = var("docdir")
    check(docdir and os.path.exists(os.path.join(docdir, "plugins.md")),
          "%s: docdir holds plugins.md (%s)" % (prefix, docdir))
    p = sh(["pkg-config", "--cflags", "feedwatch-plugin"], env=env)
    cflags = p.stdout.split()
    incs = [os.path.realpath(f[2:]) for f in cflags if f.startswith("-I")]
    check(p.returncode == 0 and incs == [root + prefix + "/include"] and
          os.path.exists(incs[0] + "/feedwatch/plugin.h"),
          "%s: --cflags -I is the staged include dir with feedwatch/plugin.h (%s)"
          % (prefix, cflags))
    p = sh(["pkg-config", "--libs", "feedwatch-plugin"], env=env)
    check(p.returncode == 0 and p.stdout.strip() == "",
          "%s: --libs is empty: the ABI is header-only (%r)" % (prefix, p.stdout))
    # pkgconf's --define-prefix replaces prefix by a guess (two levels above the .pc): the
    # paths must not depend on it.
    p = sh(["pkg-config", "--define-prefix", "--cflags", "feedwatch-plugin"], env=env)
    q = sh(["pkg-config", "--define-prefix", "--variable=plugindir", "feedwatch-plugin"],
           env=env)
    check([os.path.realpath(f[2:]) for f in p.stdout.split() if f.startswith("-I")] == incs
          and os.path.realpath(q.stdout.strip()) == plugindir,
          "%s: --define-prefix leaves -I and plugindir right (%s, %s)"
          % (prefix, p.stdout.strip(), q.stdout.strip()))
    # A cross build's way: PKG_CONFIG_SYSROOT_DIR is the staged root; nothing is doubled.
    senv = dict(env, PKG_CONFIG_SYSROOT_DIR=root)
    p = sh(["pkg-config", "--cflags", "feedwatch-plugin"], env=senv)
    q = sh(["pkg-config", "--variable=plugindir", "feedwatch-plugin"], env=senv)
    check([os.path.realpath(f[2:]) for f in p.stdout.split() if f.startswith("-I")] == incs
          and os.path.realpath(q.stdout.strip()) == plugindir,
          "%s: with PKG_CONFIG_SYSROOT_DIR too (%s, %s)"
          % (prefix, p.stdout.strip(), q.stdout.strip()))
    so = w.file("sdk_hello-%s.so" % prefix.strip("/").replace("/", "-"))
    p = sh([os.environ.get("CC", "cc")] + cflags + [
        "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-shared", "-o", so,
        os.path.join(DATA, "plugins", "sdk_hello.c")])
    check(p.returncode == 0 and os.path.exists(so),
          "%s: the example plugin builds against the .pc alone (%s)" % (prefix, p.stderr[-400:]))


def unescape_roff(s):
    return s.replace("\\-", "-")


def path_checks(prefix, sysconfdir, root):
    conf = sysconfdir + "/feedwatch/feedwatch.conf"
    check(os.path.exists(root + conf) and os.path.exists(root + conf + ".example"),
          "%s: the config is installed as %s" % (prefix, conf))
    unit = root + prefix + "/lib/systemd/system/feedwatch.service"
    text = open(unit).read() if os.path.exists(unit) else ""
    execs = [l for l in text.splitlines() if l.startswith(("ExecStart=", "ExecReload="))
             and "feedwatch " in l]
    check(len(execs) == 2 and all(l.endswith(" -c " + conf) and
                                  ("=%s/bin/feedwatch " % prefix) in l for l in execs),
          "%s: the system unit runs %s/bin/feedwatch on %s (%s)" % (prefix, prefix, conf, execs))
    check(os.path.exists(root + prefix + "/bin/feedwatch"), "%s: the binary is there" % prefix)
    man = root + prefix + "/share/man"
    pages = {}
    for page in ("man1/feedwatch.1", "man5/feedwatch.conf.5", "man7/feedwatch-plugin.7"):
        f = os.path.join(man, page)
        pages[page] = unescape_roff(open(f).read()) if os.path.exists(f) else ""
        check(pages[page] != "", "%s: %s is installed" % (prefix, page))
        left = re.findall(r"@[A-Za-z0-9_]+@", pages[page])
        check(not left, "%s: %s has no placeholder left (%s)" % (prefix, page, left))
        if shutil.which("man") and pages[page]:
            p = sh(["sh", "-c", 'LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" >/dev/null',
                    "sh", f])
            check(p.returncode == 0 and p.stderr.strip() == "",
                  "%s: %s renders without warnings (%s)" % (prefix, page, p.stderr[-300:]))
    for page in ("man1/feedwatch.1", "man5/feedwatch.conf.5"):
        check(conf in pages[page], "%s: %s names %s" % (prefix, page, conf))
    wrong = [c for c in ("/etc/feedwatch/feedwatch.conf", "/usr/local/etc/feedwatch")
             if c not in conf and c in pages["man1/feedwatch.1"]]
    check(not wrong, "%s: feedwatch(1) names no other config path (%s)" % (prefix, wrong))
    doc = prefix + "/share/doc/feedwatch/plugins.md"
    check(os.path.exists(root + doc) and open(root + doc).read() ==
          open(os.path.join(SOURCE_DIR, "docs", "plugins.md")).read(),
          "%s: docs/plugins.md is installed as %s" % (prefix, doc))
    for page, text in pages.items():
        check(doc in text, "%s: %s names %s" % (prefix, page, doc))
    check(prefix + "/lib" in pages["man1/feedwatch.1"] and "/feedwatch/plugins" in
          pages["man1/feedwatch.1"], "%s: feedwatch(1) names the plugin directory" % prefix)

    binary = root + prefix + "/bin/feedwatch"
    home = root + "/home"
    os.makedirs(home, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "XDG_CONFIG_HOME": home + "/.config"}
    p = sh([binary, "help"], env=env)
    check(p.returncode == 0 and ("else " + conf) in p.stdout,
          "%s: `feedwatch help` names %s (%s)" % (prefix, conf, p.stdout[-200:]))
    p = sh([binary, "check"], env=env)
    check(conf in p.stdout + p.stderr,
          "%s: `feedwatch check` without a config names %s (%s)"
          % (prefix, conf, (p.stdout + p.stderr).strip()[-200:]))


def user_unit_checks(prefix, root):
    unit = root + prefix + "/lib/systemd/user/feedwatch-user.service"
    text = open(unit).read() if os.path.exists(unit) else ""
    for key in ("PartOf", "After", "WantedBy"):
        check(re.search(r"^%s=.*\bgraphical-session\.target\b" % key, text, re.M),
              "%s: the user unit has %s=graphical-session.target" % (prefix, key))


def desktop_checks(prefix, root):
    share = root + prefix + "/share"
    entry = share + "/applications/feedwatch.desktop"
    if not check(os.path.exists(entry), "%s: feedwatch.desktop is installed" % prefix):
        return
    if shutil.which("desktop-file-validate"):
        p = sh(["desktop-file-validate", entry])
        check(p.returncode == 0 and (p.stdout + p.stderr).strip() == "",
              "%s: desktop-file-validate finds nothing (%s)" % (prefix, p.stdout + p.stderr))
    else:
        check(False, "desktop-file-validate is installed (scripts/install-deps.sh)")
    keys = dict(l.split("=", 1) for l in open(entry).read().splitlines()
                if "=" in l and not l.startswith("#"))
    for k, v in (("Type", "Application"), ("NoDisplay", "true"),
                 ("X-GNOME-UsesNotifications", "true"), ("Icon", "feedwatch")):
        check(keys.get(k) == v, "%s: %s=%s (%s)" % (prefix, k, v, keys.get(k)))
    check(keys.get("Exec", "").split()[0] == prefix + "/bin/feedwatch",
          "%s: Exec= is the installed binary (%s)" % (prefix, keys.get("Exec")))
    icon = share + "/icons/hicolor/scalable/apps/%s.svg" % keys.get("Icon")
    try:
        ok = ET.parse(icon).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    except (OSError, ET.ParseError):
        ok = False
    check(ok, "%s: the icon it names is an SVG in hicolor/scalable/apps" % prefix)


def help_tables(binary):
    """(commands, {group: [verbs]}, {"cmd" or "group verb": set of options})."""
    top = sh([binary, "help"]).stdout
    section = top.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    cmds, groups = [], {}
    for line in section.splitlines():
        m = re.match(r"  ([a-z-]+)\s+(\S*)", line)
        if not m:
            continue
        cmds.append(m.group(1))
        if re.fullmatch(r"[a-z]+(\|[a-z]+)+", m.group(2)):
            groups[m.group(1)] = m.group(2).split("|")
        if m.group(1) == "help":
            cmds += re.findall(r", ([a-z-]+)", line)
    cmds = list(dict.fromkeys(cmds))
    opts = {}
    for c in cmds:
        text = sh([binary, c, "--help"]).stdout
        usage = [l for l in text.splitlines() if re.match(r"(usage:| +)\s*feedwatch ", l)]
        for line in usage:
            words = line.split("feedwatch ", 1)[1].split()
            key = c
            if c in groups and len(words) > 1 and words[1] in groups[c]:
                key = c + " " + words[1]
            opts.setdefault(key, set()).update(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)",
                                                          line))
    return cmds, groups, opts


def completion_checks(prefix, root):
    share = root + prefix + "/share"
    files = {"bash": share + "/bash-completion/completions/feedwatch",
             "zsh": share + "/zsh/site-functions/_feedwatch",
             "fish": share + "/fish/vendor_completions.d/feedwatch.fish"}
    for shell, f in files.items():
        check(os.path.exists(f), "%s: the %s completion is installed (%s)" % (prefix, shell, f))
    binary = root + prefix + "/bin/feedwatch"
    cmds, groups, opts = help_tables(binary)
    glob_opts = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)",
                               sh([binary, "help"]).stdout.split("Everywhere:", 1)[1]
                               .split("\n")[0]))
    check(len(cmds) >= 10 and "outbox" in groups and "feeds" in groups and
          {"-v", "-q", "--version", "--help"} <= glob_opts,
          "%s: help lists the commands, groups and global options (%s, %s, %s)"
          % (prefix, cmds, groups, glob_opts))
    # Every word of the help appears in every file.
    words = set(cmds) | {v for vs in groups.values() for v in vs} | glob_opts
    for o in opts.values():
        words |= o
    for shell, f in files.items():
        text = open(f).read() if os.path.exists(f) else ""
        missing = sorted(w for w in words if not re.search(
            r"(?<![\w-])%s(?![\w-])" % re.escape(w.lstrip("-") if shell == "fish" and
                                                  w.startswith("-") else w), text))
        check(not missing, "%s: the %s completion has every command, verb and option (%s)"
              % (prefix, shell, missing))

    # bash, for real: what a Tab offers after each command.
    def bash(*line):
        script = ('. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _feedwatch;'
                  ' printf "%s\\n" "${COMPREPLY[@]}"')
        p = sh(["bash", "-c", script, "bash", files["bash"], "feedwatch"] + list(line))
        return set(p.stdout.split()) if p.returncode == 0 else {"<failed: %s>" % p.stderr}

    def fish(line):
        p = sh(["fish", "--no-config", "-c", 'source $argv[1]; complete -C "$argv[2]"',
                files["fish"], line])
        return {l.split("\t")[0] for l in p.stdout.splitlines()} if p.returncode == 0 \
            else {"<failed: %s>" % p.stderr}

    got = bash("")
    check(set(cmds) <= got, "%s: bash completes every command (%s)" % (prefix, set(cmds) - got))
    for g, verbs in groups.items():
        got = bash(g, "")
        check(set(verbs) == got, "%s: bash completes %s's verbs (%s)" % (prefix, g, got))
    for key, want in opts.items():
        got = bash(*key.split(), "-")
        check(want | glob_opts <= got, "%s: bash completes the options of %s (missing %s)"
              % (prefix, key, (want | glob_opts) - got))
    check(bash("-c", "x.conf", "outbox", "l") == {"list"},
          "%s: bash skips an option's value when finding the command" % prefix)

    if shutil.which("fish"):
        p = sh(["fish", "--no-execute", files["fish"]])
        check(p.returncode == 0, "%s: fish -n accepts the fish completion (%s)"
              % (prefix, p.stderr))
        got = fish("feedwatch ")
        check(set(cmds) <= got, "%s: fish completes every command (%s)" % (prefix, got))
        for g, verbs in groups.items():
            got = fish("feedwatch %s " % g)
            check(set(verbs) <= got, "%s: fish completes %s's verbs (%s)" % (prefix, g, got))
        for key, want in opts.items():
            got = fish("feedwatch %s --" % key)
            longs = {o for o in want | glob_opts if o.startswith("--")}
            check(longs <= got, "%s: fish completes the long options of %s (missing %s)"
                  % (prefix, key, longs - got))
    if shutil.which("zsh"):
        p = sh(["zsh", "-n", files["zsh"]])
        check(p.returncode == 0, "%s: zsh -n accepts _feedwatch (%s)" % (prefix, p.stderr))
    text = open(files["zsh"]).read() if os.path.exists(files["zsh"]) else ""
    for key, want in opts.items():
        m = re.search(r'\("%s"\) opts=\(([^)]*)\)' % re.escape(key), text)
        have = set(re.findall(r"'(--?[\w-]+):", m.group(1))) if m else set()
        check(want - glob_opts <= have, "%s: zsh offers the options of %s (missing %s)"
              % (prefix, key, (want - glob_opts) - have))


def install(w):
    for prefix, extra, libdir, sysconfdir in LAYOUTS:
        root = build_and_stage(w, prefix, extra)
        if root is None:
            continue
        pc_checks(w, prefix, libdir, root)
        path_checks(prefix, sysconfdir, root)
        user_unit_checks(prefix, root)
        desktop_checks(prefix, root)
        completion_checks(prefix, root)


if __name__ == "__main__":
    fwtest.main(install, shared=())
