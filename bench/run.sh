#!/usr/bin/env bash
# bench/run.sh - feedwatch against the HTTP floor and two feed readers, on N generated
# feeds served by a local nginx (GitHub issue 7). See bench/README.md.
#
#   bench/run.sh [-n "1000 10000"] [-r RUNS] [-R SLOW_RUNS] [-t TOOLS] [-k ITEMS]
#                [-i IDLE_N] [-T SLOW_TIMEOUT] [-o REPORT]
#
#   -n  feed counts, in order (default "1000 10000")
#   -r  runs of each measurement (default 3); the median is reported
#   -R  runs of the slow peers, sfeed and newsboat (default: RUNS)
#   -t  tools among "feedwatch curl sfeed newsboat" (default all; curl includes xmllint)
#   -k  items per feed (default 50)
#   -i  the N of the idle measurement, 0 for none (default: the largest N with feedwatch)
#   -T  timeout in seconds of one sfeed_update or newsboat round (default 600); a cold
#       round that hits it is reported with the feeds fetched so far, its warm round skipped
#   -o  the report (default $WORK/report.md); raw figures go to $WORK/results.tsv
#
# Environment: BUILD (default build-bench: a Release build, built here when missing),
# WORK (default $BUILD/bench-e2e: generated feeds, configs, state), IDLE_SECONDS (60),
# IDLE_FROM (cold or state: see idle() below), IDLE_SETTLE (30),
# FW2: a second feedwatch binary (a patched build), measured as tool "feedwatch2".
# Needs root for nginx's private prefix; installs nginx sfeed newsboat time curl
# libxml2-utils with apt-get when one is missing, nothing else.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
NS="1000 10000"
RUNS=3
SLOW_RUNS=
TOOLS="feedwatch curl sfeed newsboat"
ITEMS=50
IDLE_N=
SLOW_TIMEOUT=600
REPORT=
while getopts "n:r:R:t:k:i:T:o:h" opt; do
	case $opt in
	n) NS=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	R) SLOW_RUNS=$OPTARG ;;
	t) TOOLS=$OPTARG ;;
	k) ITEMS=$OPTARG ;;
	i) IDLE_N=$OPTARG ;;
	T) SLOW_TIMEOUT=$OPTARG ;;
	o) REPORT=$OPTARG ;;
	*) sed -n '2,20p' "$0"; exit 2 ;;
	esac
done
SLOW_RUNS=${SLOW_RUNS:-$RUNS}
BUILD=${BUILD:-$ROOT/build-bench}
WORK=${WORK:-$BUILD/bench-e2e}
IDLE_SECONDS=${IDLE_SECONDS:-60}
FW=$BUILD/daemon/feedwatch
RES=$WORK/results.tsv
REPORT=${REPORT:-$WORK/report.md}
has() { [[ " $TOOLS " == *" $1 "* ]]; }
if [[ -z $IDLE_N ]]; then
	IDLE_N=0
	has feedwatch && IDLE_N=$(tr ' ' '\n' <<<"$NS" | sort -n | tail -1)
fi
export LC_ALL=C.UTF-8

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools -------------------------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root (nginx runs from a private prefix as root)"
missing=()
command -v nginx >/dev/null || missing+=(nginx)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v curl >/dev/null || missing+=(curl)
command -v xmllint >/dev/null || missing+=(libxml2-utils)
has sfeed && ! command -v sfeed_update >/dev/null && missing+=(sfeed)
has newsboat && ! command -v newsboat >/dev/null && missing+=(newsboat)
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	apt-get install -y "${missing[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; }
fi
if has feedwatch; then
	# always: a build left from an older tree would be measured instead (incremental)
	log "building feedwatch (Release) in $BUILD"
	[[ -f $BUILD/CMakeCache.txt ]] ||
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFW_TESTS=OFF >&2
	cmake --build "$BUILD" -j2 >&2
fi
mkdir -p "$WORK"
: >"$RES"

# --- nginx -------------------------------------------------------------------------------
NGX=
NGX_PID=
stop_nginx() {
	if [[ -n $NGX_PID ]] && kill -0 "$NGX_PID" 2>/dev/null; then
		kill -QUIT "$NGX_PID"
		for _ in $(seq 50); do kill -0 "$NGX_PID" 2>/dev/null || break; sleep 0.1; done
	fi
	NGX_PID=
}
DAEMON_PID=
cleanup() {
	[[ -n $DAEMON_PID ]] && kill -TERM "$DAEMON_PID" 2>/dev/null || true
	stop_nginx
}
trap cleanup EXIT

start_nginx() { # data_dir
	NGX=$(mktemp -d /tmp/fw-bench-nginx.XXXXXX)
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	sed -e "s|@PREFIX@|$NGX|g" -e "s|@ROOT@|$1|g" -e "s|@PORT@|$PORT|g" \
	    -e "s|@WORKERS@|${NGINX_WORKERS:-1}|g" "$HERE/nginx/nginx.conf.in" >"$NGX/nginx.conf"
	nginx -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf"
	for _ in $(seq 50); do [[ -s $NGX/nginx.pid ]] && break; sleep 0.1; done
	NGX_PID=$(cat "$NGX/nginx.pid")
	curl -sf -o /dev/null "http://127.0.0.1:$PORT/f/" -w '' 2>/dev/null || true
	BASE=http://127.0.0.1:$PORT
	log "nginx $NGX_PID on $BASE serving $1"
}

# Status counts of the access-log lines written since mark: "n200 n304 nother MB".
ACC_MARK=0
acc_mark() { ACC_MARK=$(wc -l <"$NGX/access.log"); }
acc_since() {
	tail -n +"$((ACC_MARK + 1))" "$NGX/access.log" |
		awk '{ if ($9 == 200) a++; else if ($9 == 304) b++; else c++; n += $10 }
		     END { printf "%d/%d/%d %.1fMB", a, b, c, n / 1e6 }'
}

# --- measuring ---------------------------------------------------------------------------
# measure N TOOL PHASE RUN NOTE-FN CMD...: one line of results.tsv:
# N tool phase run wall_s user_s sys_s maxrss_kb rc nginx(200/304/other MB) check
measure() {
	local n=$1 tool=$2 phase=$3 run=$4 check=$5 rc=0 wall user sys rss acc note
	shift 5
	acc_mark
	/usr/bin/time -f "%e %U %S %M" -o "$WORK/time.out" "$@" \
		>"$WORK/out-$tool-$phase.log" 2>"$WORK/err-$tool-$phase.log" &
	local tp=$! sp=
	if [[ $tool == feedwatch* && $run == 1 ]]; then
		thread_cpu "$tp" "$WORK/threads-$n-$tool-$phase.txt" &
		sp=$!
	fi
	wait "$tp" || rc=$?
	# the sampler's last sample and its file, before anything else starts (a pid it watches
	# could be reused by the next command, and the report reads the file)
	[[ -z $sp ]] || wait "$sp" || true
	read -r wall user sys rss < <(tail -1 "$WORK/time.out")
	acc=$(acc_since)
	note=$($check "$rc" 2>&1 || true)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$tool" "$phase" "$run" "$wall" \
		"$user" "$sys" "$rss" "$rc" "$acc" "$note" >>"$RES"
	log "N=$n $tool $phase #$run: ${wall}s wall, ${user}+${sys}s cpu, ${rss} KB, rc $rc, nginx $acc ${note}"
}

# CPU seconds of each thread of the process that time_pid runs, sampled every quarter of a
# second until it exits (one awk over every thread's stat file a sample); a thread that
# ended keeps its last sample (the parser thread ends before the process does), so the
# figures are at most a quarter of a second short. The loop thread is the one whose id is
# the pid, the parser thread the busiest of the others. Until 2026-12-07 the sampler of a
# cold round often outlived its round (it watched time's pid, which the next commands
# could take again) and never wrote its file, so the report showed an older run's figures.
thread_cpu() { # time_pid out
	local hz p=
	hz=$(getconf CLK_TCK)
	: >"$2.all"
	while kill -0 "$1" 2>/dev/null; do
		[[ -n $p ]] || p=$(pgrep -P "$1" | head -1)
		[[ -n $p ]] && awk -v pid="$p" '{ sub(/^[0-9]+ \([^)]*\) /, ""); tid = FILENAME;
			     sub(/.*task\//, "", tid); sub(/\/stat$/, "", tid);
			     print tid, tid == pid, $12, $13 }' /proc/"$p"/task/*/stat 2>/dev/null >>"$2.all"
		sleep 0.25
	done
	awk -v hz="$hz" '{ u[$1] = $3; s[$1] = $4; l[$1] = $2 }
	     END { for (t in u) printf "thread %s%s user %.2f sys %.2f\n", t, l[t] ? " (loop)" : "",
	                               u[t] / hz, s[t] / hz }' "$2.all" >"$2"
	rm -f "$2.all"
}

no_check() { [[ $1 == 0 ]] && echo ok || echo "exit $1"; }
slow_check() { [[ $1 == 124 ]] && echo "TIMEOUT ${SLOW_TIMEOUT}s" || no_check "$1"; }
fw_alerts() { [[ -f $CFG/alerts.jsonl ]] && wc -l <"$CFG/alerts.jsonl" || echo 0; }
fw_check_cold() {
	local got
	got=$(fw_alerts)
	[[ $got == "$MATCHES" && $1 == 0 ]] && echo "alerts $got/$MATCHES ok" ||
		echo "FAIL: exit $1, alerts $got of $MATCHES"
}
fw_check_warm() {
	local got
	got=$(fw_alerts)
	[[ $got == "$MATCHES" && $1 == 0 ]] && echo "no new alerts ok" ||
		echo "FAIL: exit $1, alerts $got after warm, expected $MATCHES"
}
curl_check() {
	local n
	n=$(find "$CFG/bodies" -maxdepth 1 -type f ! -name '*.warm' -size +0 | wc -l)
	[[ $1 == 0 ]] && echo "$n bodies" || echo "exit $1, $n bodies"
}

fw_cold() { rm -rf "$CFG/fw-state" "$CFG/alerts.jsonl"; }
curl_cold() { rm -rf "$CFG/bodies" "$CFG/etags"; mkdir -p "$CFG/bodies" "$CFG/etags"; }
sfeed_cold() { rm -rf "$CFG/sfeed"; }
nb_cold() { rm -rf "$CFG/newsboat/home" "$CFG/newsboat/cache.db"*; mkdir -p "$CFG/newsboat/home"; }

run_feedwatch() { # n run [tool binary]: tool feedwatch2 is $FW2, e.g. a patched build
	local tool=${3:-feedwatch} bin=${4:-$FW}
	fw_cold
	measure "$1" "$tool" cold "$2" fw_check_cold "$bin" -q once -c "$CFG/feedwatch.conf"
	# The store after one cold cycle (once closes the database: the WAL is checkpointed).
	[[ $2 == 1 && $tool == feedwatch ]] && du -b "$CFG/fw-state"/* >"$WORK/db-$1.txt"
	measure "$1" "$tool" warm "$2" fw_check_warm "$bin" -q once -c "$CFG/feedwatch.conf"
}
run_curl() {
	curl_cold
	measure "$1" curl cold "$2" curl_check curl -s --parallel --parallel-max 64 -K "$CFG/curl-cold.cfg"
	measure "$1" xmllint cold "$2" no_check xargs -a "$CFG/bodies.list" xmllint --stream --noout
	measure "$1" curl warm "$2" no_check curl -s --parallel --parallel-max 64 -K "$CFG/curl-warm.cfg"
}
# A slow peer whose cold round hit the timeout is not run warm (it would hit it again).
timed_out() { tail -1 "$RES" | grep -q TIMEOUT; }
run_sfeed() {
	sfeed_cold
	measure "$1" sfeed cold "$2" slow_check timeout "$SLOW_TIMEOUT" sfeed_update "$CFG/sfeedrc"
	timed_out && return 0
	measure "$1" sfeed warm "$2" slow_check timeout "$SLOW_TIMEOUT" sfeed_update "$CFG/sfeedrc"
}
run_newsboat() {
	nb_cold
	local nb=(env HOME="$CFG/newsboat/home" XDG_CONFIG_HOME="$CFG/newsboat/home"
		XDG_DATA_HOME="$CFG/newsboat/home" timeout "$SLOW_TIMEOUT" newsboat -x reload
		-u "$CFG/newsboat/urls" -c "$CFG/newsboat/cache.db" -C "$CFG/newsboat/config")
	measure "$1" newsboat cold "$2" slow_check "${nb[@]}"
	timed_out && return 0
	measure "$1" newsboat warm "$2" slow_check "${nb[@]}"
}

# The daemon with N feeds (1 h interval) after a cold poll: CPU and RSS over IDLE_SECONDS,
# from /proc/PID/stat and /proc/PID/status. IDLE_FROM=cold: a fresh state, the daemon's own
# cold poll first (spread over its first minute); IDLE_FROM=state: the state the once rounds
# left (every feed polled minutes ago), sampled once the daemon has said "started" (its
# start-up: the store's check, the story index rebuilt from the store), IDLE_SETTLE s have
# passed and then a 10 s step used less than 1% of a core (the first tick prunes the
# archive to archive_max_size: minutes after a cold round of 100,000 feeds). The default is
# cold below 100,000 feeds, state from there (a cold poll by the daemon would take as long
# as the cold round again).
idle() { # n
	local n=$1 t0 pid lines c0 c1 hz rss limit=$((600 + n / 50)) from
	hz=$(getconf CLK_TCK)
	from=${IDLE_FROM:-$( ((n >= 100000)) && echo state || echo cold)}
	[[ $from == state && ! -d $CFG/fw-state ]] && from=cold
	[[ $from == cold ]] && fw_cold
	acc_mark
	"$FW" run -c "$CFG/feedwatch.conf" >"$WORK/idle-daemon.log" 2>&1 &
	DAEMON_PID=$!
	pid=$DAEMON_PID
	t0=$SECONDS
	if [[ $from == state ]]; then
		log "idle: daemon $pid starts on the once rounds' state with $n feeds"
		until grep -q 'started:' "$WORK/idle-daemon.log"; do
			kill -0 "$pid" 2>/dev/null || die "idle: the daemon exited"
			((SECONDS - t0 > limit)) && die "idle: not started after $limit s"
			sleep 1
		done
		local started=$((SECONDS - t0)) q0 q1
		log "idle: started after $started s; settling until a 10 s step uses < 1% of a core"
		sleep "${IDLE_SETTLE:-30}"
		q1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		while :; do
			q0=$q1
			sleep 10
			q1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
			((q1 - q0 < hz / 10)) && break
			((SECONDS - t0 > limit)) && die "idle: still busy after $limit s"
		done
		# the catch-up after a start on the once rounds' state: the archive pruned to
		# archive_max_size (the daemon's first tick), the story index rebuilt
		echo "$started $((SECONDS - t0))" >"$WORK/idle-$n-startup.txt"
	else
		log "idle: daemon $pid polls $n feeds (spread over its first minute)"
		while :; do
			lines=$(($(wc -l <"$NGX/access.log") - ACC_MARK))
			((lines >= n)) && break
			((SECONDS - t0 > limit)) && die "idle: only $lines of $n polls after $limit s"
			sleep 1
		done
		sleep 10 # the last commits and alert deliveries
	fi
	log "idle: $from start done after $((SECONDS - t0)) s; sampling ${IDLE_SECONDS} s"
	# CPU seconds of each thread so far: the loop thread is the one whose id is the pid, the
	# parser thread does the most of the others.
	{
		echo "# $from start of the daemon with $n feeds: $((SECONDS - t0)) s wall"
		for t in /proc/"$pid"/task/*; do
			awk -v hz="$hz" -v pid="$pid" '{ sub(/^[0-9]+ \([^)]*\) /, ""); tid = FILENAME;
			     sub(/.*task\//, "", tid); sub(/\/stat$/, "", tid);
			     printf "thread %s%s user %.2f sys %.2f\n", tid, tid == pid ? " (loop)" : "",
			            $12 / hz, $13 / hz }' "$t/stat"
		done
	} >"$WORK/idle-$n-threads.txt"
	c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	{
		echo "# t_s VmRSS_kB VmHWM_kB cpu_ticks"
		for ((s = 0; s <= IDLE_SECONDS; s += 10)); do
			rss=$(awk '/^VmRSS|^VmHWM/ {printf "%s ", $2}' "/proc/$pid/status")
			echo "$s $rss$(awk '{print $14 + $15}' "/proc/$pid/stat")"
			((s < IDLE_SECONDS)) && sleep 10
		done
	} >"$WORK/idle-$n.txt"
	c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	awk -v c0="$c0" -v c1="$c1" -v hz="$hz" -v s="$IDLE_SECONDS" -v n="$n" \
	    -v polls="$(($(wc -l <"$NGX/access.log") - ACC_MARK))" -v a="$(fw_alerts)" \
	    -v from="$from" \
	    'END { printf "idle\t%d\tcpu_pct\t%.3f\tcpu_s\t%.2f\tpolls\t%d\talerts\t%d\tfrom\t%s\n", n,
	           (c1 - c0) / hz / s * 100, (c1 - c0) / hz, polls, a, from }' /dev/null >>"$WORK/idle-$n.txt"
	kill -TERM "$pid"
	wait "$pid" || true
	DAEMON_PID=
	tail -1 "$WORK/idle-$n.txt" >&2
}

# --- the runs ----------------------------------------------------------------------------
{
	echo "# $(date -u +%FT%TZ) bench/run.sh -n '$NS' -r $RUNS -R $SLOW_RUNS -t '$TOOLS' -k $ITEMS -i $IDLE_N -T $SLOW_TIMEOUT${FW2:+ (FW2=$FW2)}"
	echo "# nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "# $(awk '/MemTotal/ {printf "memory %.1f GiB", $2 / 1048576}' /proc/meminfo); kernel $(uname -r)"
	echo "# feedwatch $("$FW" --version 2>&1 | head -1); $(curl --version | head -1 | cut -d' ' -f1-3)"
	echo "# $(xmllint --version 2>&1 | head -1); nginx $(nginx -v 2>&1 | cut -d/ -f2)"
	echo "# sfeed $(dpkg-query -W -f='${Version}' sfeed 2>/dev/null); $(newsboat --version 2>/dev/null | head -1 | cut -d' ' -f1-2)"
	echo "# load before: $(uptime)"
} >"$WORK/machine.txt"
cat "$WORK/machine.txt" >&2

for n in $NS; do
	DATA=$WORK/data-n$n-k$ITEMS
	if ! python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); sys.exit(t["version"] != int(sys.argv[2]))' \
	    "$DATA/truth.json" "$(sed -n 's/^GEN_VERSION = \([0-9]*\).*/\1/p' "$HERE/gen/gen.py")" 2>/dev/null; then
		log "generating $n feeds x $ITEMS items in $DATA"
		rm -rf "$DATA"
		python3 "$HERE/gen/gen.py" --feeds "$n" --items "$ITEMS" --out "$DATA"
	fi
	MATCHES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["matches"])' "$DATA/truth.json")
	# Into the page cache (find, not a glob: 100,000 feeds are 200,000 paths, past ARG_MAX);
	# only the .gz copies unless a peer that fetches without gzip (sfeed) runs.
	if has sfeed; then
		find "$DATA/f" -type f -print0 | xargs -0 cat >/dev/null
	else
		find "$DATA/f" -type f -name '*.gz' -print0 | xargs -0 cat >/dev/null
	fi
	start_nginx "$DATA"
	CFG=$WORK/cfg-n$n
	mkdir -p "$CFG"
	python3 "$HERE/lib/configs.py" "$DATA" "$BASE" "$CFG"
	has feedwatch && { "$FW" check -c "$CFG/feedwatch.conf" >&2 || die "feedwatch check failed"; }
	for ((r = 1; r <= RUNS; r++)); do
		log "N=$n run $r of $RUNS (load: $(cut -d' ' -f1-3 /proc/loadavg))"
		has feedwatch && run_feedwatch "$n" "$r"
		has feedwatch2 && run_feedwatch "$n" "$r" feedwatch2 "$FW2"
		has curl && run_curl "$n" "$r"
		if ((r <= SLOW_RUNS)); then
			has sfeed && run_sfeed "$n" "$r"
			has newsboat && run_newsboat "$n" "$r"
		fi
	done
	((IDLE_N == n)) && has feedwatch && idle "$n"
	stop_nginx
	rm -rf "$NGX"
done
echo "# load after: $(uptime)" >>"$WORK/machine.txt"

python3 "$HERE/lib/report.py" "$WORK" >"$REPORT"
log "report: $REPORT (raw: $RES)"
cat "$REPORT"
