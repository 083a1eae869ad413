#!/bin/sh
# Soak test (GitHub issue 8): N feeds (default 10,000) and 1,000 watchlists on a fast poll
# against a private nginx on 127.0.0.0/8 serving generated files, with a config reload every
# minute (the file rewritten and renamed, as editors do) and a few feeds changing, for a
# duration (default 30 min; --short: 3 min). Every 10 s the daemon's RSS, open fds and the
# database size go to a CSV; the verdict: flat after warm-up (the last third's maximum
# within 10% of the middle third's maximum, fds within 10% or 8). Exit 0 when flat and the
# daemon stopped cleanly, 1 otherwise. With an ASan build, LeakSanitizer's report at exit
# counts as a failure too.
#
# Usage: scripts/soak.sh [--short] [--duration SEC] [--feeds N] [--watchlists N]
#          [--interval SEC] [--reload-every SEC] [--binary PATH] [--plugins DIR] [--out DIR]
# Needs nginx (Debian: apt-get install -y nginx) and python3.
set -eu
cd "$(dirname "$0")/.."
DURATION=1800
FEEDS=10000
WATCHLISTS=1000
INTERVAL=60
RELOAD=60
SAMPLE=10
BIN=${FEEDWATCH:-build/daemon/feedwatch}
PLUGINS=""
OUT=""
while [ $# -gt 0 ]; do
	case $1 in
	--short) DURATION=180 ;;
	--duration) DURATION=$2; shift ;;
	--feeds) FEEDS=$2; shift ;;
	--watchlists) WATCHLISTS=$2; shift ;;
	--interval) INTERVAL=$2; shift ;;
	--reload-every) RELOAD=$2; shift ;;
	--binary) BIN=$2; shift ;;
	--plugins) PLUGINS=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "soak: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$BIN" ] || { echo "soak: no binary at $BIN (build first, or --binary)" >&2; exit 2; }
BIN=$(realpath "$BIN")
[ -n "$PLUGINS" ] || PLUGINS=$(dirname "$(dirname "$BIN")")/plugins
PLUGINS=$(realpath "$PLUGINS")
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
	echo "soak: nginx missing: apt-get install -y nginx" >&2
	exit 2
fi
WORK=$(mktemp -d /tmp/fw-soak.XXXXXX)
chmod 755 "$WORK" # nginx's workers are not root
[ -n "$OUT" ] || OUT=$WORK
mkdir -p "$OUT"
CSV=$OUT/soak.csv
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NGPID=""
FWPID=""
cleanup() {
	[ -n "$FWPID" ] && kill "$FWPID" 2>/dev/null || true
	[ -n "$NGPID" ] && kill "$NGPID" 2>/dev/null || true
	[ "$OUT" = "$WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "soak: $FEEDS feeds, $WATCHLISTS watchlists, interval ${INTERVAL}s, reload every ${RELOAD}s, ${DURATION}s; work in $WORK"

# The feeds, the watchlists and the config, generated.
python3 - "$WORK" "$FEEDS" "$WATCHLISTS" "$PORT" "$INTERVAL" <<'EOF'
import os, random, sys
work, n, nw, port, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rnd = random.Random(8)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"]
os.makedirs(os.path.join(work, "www", "f"), exist_ok=True)
def feed(i, gen):
    items = []
    for k in range(5):
        # Watchlist k matches "w<k>" or entity e<k % 50>'s name with "topic<k % 20>":
        # about one item in twenty alerts, as with real watchlists (rare hits).
        t = " ".join(rnd.choice(words) for _ in range(6)) + " w%d" % rnd.randrange(nw * 40)
        if rnd.random() < 0.05:
            t += " name%d topic%d" % (rnd.randrange(50), rnd.randrange(20))
        items.append("<item><title>%s</title><guid>f%d-%d-%d</guid><link>https://example.org/%d/%d</link>"
                     "<description>%s</description></item>" % (t, i, gen, k, i, k, t))
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>feed %d</title>%s'
            '</channel></rss>' % (i, "".join(items)))
for i in range(n):
    with open(os.path.join(work, "www", "f", "%d.xml" % i), "w") as f:
        f.write(feed(i, 0))
ents = ",\n".join('  e%d = [ "name%d", "Name %d*" ]' % (e, e, e) for e in range(50))
wls = ",\n".join('  { name = "w%d"; match = "w%d OR (@e%d AND topic%d)"; outputs = [ "alerts" ]; }'
                 % (k, k, k % 50, k % 20) for k in range(nw))
feeds = ",\n".join('  { name = "f%d"; url = "http://127.0.0.%d:%d/f/%d.xml"; }'
                   % (i, 1 + i % 16, port, i) for i in range(n))
conf = """state_dir = "%s/state";
interval = %d;
min_interval = 1;
first_poll_max_age = 0;
concurrency = 64;
host_concurrency = 8;
feed_failing_after = 0;
retention = "1d";
metrics_file = "%s/metrics.prom";
metrics_interval = 5;
feeds = (
%s
);
entities = {
%s
};
watchlists = (
%s
);
outputs = ( { name = "alerts"; plugin = "log"; path = "%s/alerts.jsonl"; format = "json";
              rate_limit = 0; } );
""" % (work, interval, work, feeds, ents, wls, work)
with open(os.path.join(work, "feedwatch.conf.base"), "w") as f:
    f.write(conf)
with open(os.path.join(work, "feedwatch.conf"), "w") as f:
    f.write(conf)
EOF

mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  types { application/rss+xml xml; }
  keepalive_requests 100000;
  server {
    listen $PORT;
    root $WORK/www;
  }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" -g 'daemon off;' &
NGPID=$!
sleep 1
kill -0 "$NGPID" 2>/dev/null || { echo "soak: nginx did not start" >&2; cat "$WORK/nginx/logs/error.log" >&2; exit 2; }

# Under ASan, freed memory sits in a 256 MB quarantine: the RSS would climb to that cap
# whatever the daemon holds. A small one keeps the use-after-free checks.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16} FEEDWATCH_PLUGIN_DIR=$PLUGINS "$BIN" run -c "$WORK/feedwatch.conf" 2>"$WORK/daemon.log" &
FWPID=$!
echo "t_sec,rss_kb,fds,db_bytes,wal_bytes,polls,new_items,alerts" >"$CSV"
start=$(date +%s)
next_reload=$((start + RELOAD))
gen=0
while :; do
	now=$(date +%s)
	t=$((now - start))
	[ "$t" -ge "$DURATION" ] && break
	if ! kill -0 "$FWPID" 2>/dev/null; then
		echo "soak: the daemon died at ${t}s" >&2
		tail -20 "$WORK/daemon.log" >&2
		FWPID=""
		exit 1
	fi
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$FWPID/status" 2>/dev/null || echo 0)
	fds=$(ls "/proc/$FWPID/fd" 2>/dev/null | wc -l)
	db=$(stat -c %s "$WORK/state/feedwatch.db" 2>/dev/null || echo 0)
	wal=$(stat -c %s "$WORK/state/feedwatch.db-wal" 2>/dev/null || echo 0)
	polls=$(awk '/^feedwatch_polls_total/ {print $2}' "$WORK/metrics.prom" 2>/dev/null || true)
	newi=$(awk '/^feedwatch_items_new_total/ {print $2}' "$WORK/metrics.prom" 2>/dev/null || true)
	alerts=$( [ -f "$WORK/alerts.jsonl" ] && wc -l <"$WORK/alerts.jsonl" || echo 0)
	echo "$t,$rss,$fds,$db,$wal,${polls:-0},${newi:-0},$alerts" >>"$CSV"
	if [ "$now" -ge "$next_reload" ]; then
		gen=$((gen + 1))
		next_reload=$((now + RELOAD))
		# A few feeds get new items; the config changes (one feed more or less), renamed in.
		python3 - "$WORK" "$FEEDS" "$gen" <<'EOF'
import os, sys
work, n, gen = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(gen % 10, n, max(n // 10, 1)):
    p = os.path.join(work, "www", "f", "%d.xml" % i)
    with open(p) as f:
        s = f.read()
    s = s.replace("</channel>", "<item><title>update %d w%d</title><guid>u%d-%d</guid></item></channel>" % (gen, gen % 100, i, gen))
    with open(p + ".tmp", "w") as f:
        f.write(s)
    os.rename(p + ".tmp", p)
base = open(os.path.join(work, "feedwatch.conf.base")).read()
if gen % 2:
    base = base.replace("feeds = (\n", "feeds = (\n  { name = \"extra\"; url = \"http://127.0.0.1:1/none\"; },\n", 1)
base += "# reload %d\n" % gen
with open(os.path.join(work, "feedwatch.conf.tmp"), "w") as f:
    f.write(base)
os.rename(os.path.join(work, "feedwatch.conf.tmp"), os.path.join(work, "feedwatch.conf"))
EOF
	fi
	sleep "$SAMPLE"
done

kill -TERM "$FWPID"
rc=0
wait "$FWPID" || rc=$?
FWPID=""
cp "$WORK/daemon.log" "$OUT/daemon.log" 2>/dev/null || true
echo "soak: daemon exit code $rc; log in $OUT/daemon.log"
python3 - "$CSV" "$rc" "$WORK/daemon.log" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
rc = int(sys.argv[2])
log = open(sys.argv[3], errors="replace").read()
ok = True
if len(rows) < 6:
    print("soak: too few samples (%d)" % len(rows))
    sys.exit(1)
n = len(rows)
mid, last = rows[n // 3: 2 * n // 3], rows[2 * n // 3:]
# The database grows while first polls store their items: judged only when, after the
# first third, no more than 5% of the items were new (the few changing feeds).
first_round = int(rows[-1]["new_items"]) - int(mid[0]["new_items"])
warm = first_round <= 0.05 * max(int(rows[-1]["new_items"]), 1)
for key, slack_abs in (("rss_kb", 0), ("fds", 8), ("db_bytes", 0), ("wal_bytes", 0)):
    m = max(int(r[key]) for r in mid)
    l = max(int(r[key]) for r in last)
    flat = l <= m * 1.10 + slack_abs
    judged = warm or key in ("rss_kb", "fds")
    ok = ok and (flat or not judged)
    print("soak: %-9s middle third max %12d, last third max %12d: %s"
          % (key, m, l, ("flat" if flat else "GROWING") if judged else
             "not judged (first polls still running)"))
print("soak: %d samples; at the end %s polls, %s new items, %s alerts"
      % (n, rows[-1]["polls"], rows[-1]["new_items"], rows[-1]["alerts"]))
if not warm:
    print("soak: warning: %d items were new after the first third: first polls were still "
          "running (a longer --duration, a longer --interval or fewer --feeds reach the "
          "steady state)"
          % first_round)
if rc != 0:
    print("soak: the daemon did not stop cleanly (exit %d)" % rc)
    ok = False
for bad in ("LeakSanitizer", "AddressSanitizer", "runtime error", "left open", "did not close"):
    if bad in log:
        print("soak: the daemon log holds '%s'" % bad)
        ok = False
print("soak: verdict %s" % ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
EOF
