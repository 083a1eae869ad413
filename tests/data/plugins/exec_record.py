"""A command for the exec output tests: records its argv, environment, stdin and signal mask
in DIR/<alert id>.json, then behaves as DIR/mode says: ok (exit 0), tempfail (75),
fail (3, with a message on stderr), sleep (hang, with a grandchild in its process group
that writes its pid to DIR/grandchild.pid), noread (exit 0 without reading stdin)."""
import json
import os
import sys
import time

out = sys.argv[1]
mode = open(os.path.join(out, "mode")).read().strip()
if mode == "noread":
    with open(os.path.join(out, "noread-%d" % os.getpid()), "w") as f:
        f.write(os.environ.get("FEEDWATCH_DIGEST", ""))
    sys.exit(0)
data = sys.stdin.buffer.read()
sigblk = ""
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("SigBlk:"):
            sigblk = line.split()[1]
rec = {"argv": sys.argv, "env": dict(os.environ), "stdin": data.decode("utf-8"),
       "sigblk": sigblk, "pgid_is_pid": os.getpgid(0) == os.getpid()}
name = os.environ.get("FEEDWATCH_ALERT_ID", "unknown")
with open(os.path.join(out, name + ".%d.json" % os.getpid()), "w") as f:
    json.dump(rec, f)
if mode == "tempfail":
    sys.exit(75)
if mode == "fail":
    sys.stderr.write("boom: bad thing\nsecond line\n")
    sys.exit(3)
if mode == "sleep":
    pid = os.fork()
    if pid == 0:
        with open(os.path.join(out, "grandchild.pid"), "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
        os._exit(0)
    time.sleep(60)
sys.exit(0)
