#!/bin/sh
# Check the systemd units and the man pages in config/:
#  - `systemd-analyze verify` prints nothing for either unit (it exits 0 on many problems,
#    so any output is a failure); the Documentation= man pages must resolve, to ours;
#  - the user unit is bound to graphical-session.target (PartOf=, After=, WantedBy=), as
#    systemd.special(7) says a graphical session's service is;
#  - `systemd-analyze security --offline=true` rates the system unit at most MAX_SCORE;
#  - `man --warnings` renders every page without a warning.
# Works as root or not, with or without a running systemd (no units are loaded into a
# manager). Needs the systemd package (systemd-analyze) and man-db.
#
# Usage: scripts/check-units.sh [--binary PATH] [--max-score N]
#   --binary     the feedwatch executable the units are verified against (default: a stub;
#                verify only checks that ExecStart= names an executable)
#   --max-score  highest acceptable exposure of feedwatch.service (default 2.0)
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BINARY=""
MAX_SCORE=2.0
while [ $# -gt 0 ]; do
	case "$1" in
	--binary) BINARY=$2; shift 2 ;;
	--max-score) MAX_SCORE=$2; shift 2 ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "check-units: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

for tool in systemd-analyze man; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "check-units: '$tool' not found (apt-get install systemd man-db)" >&2
		exit 2
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fw-check-units.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
mkdir -p "$TMP/prefix/bin" "$TMP/units" "$TMP/runtime" "$TMP/home/.config/feedwatch" \
	"$TMP/man/man1" "$TMP/man/man5" "$TMP/man/man7"
chmod 700 "$TMP/runtime"

if [ -n "$BINARY" ]; then
	[ -x "$BINARY" ] || { echo "check-units: $BINARY is not executable" >&2; exit 2; }
	ln -s "$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")" "$TMP/prefix/bin/feedwatch"
else
	printf '#!/bin/sh\nexit 0\n' >"$TMP/prefix/bin/feedwatch"
	chmod 755 "$TMP/prefix/bin/feedwatch"
fi

# The same placeholders config/CMakeLists.txt fills, pointed at the temporary prefix.
fail=0
for u in feedwatch feedwatch-user; do
	sed -e "s|@FW_BINDIR@|$TMP/prefix/bin|g" \
	    -e "s|@FW_CONFIG@|$TMP/prefix/etc/feedwatch/feedwatch.conf|g" \
	    "$SRC/config/$u.service.in" >"$TMP/units/$u.service"
	if grep -n '@[A-Za-z_]*@' "$TMP/units/$u.service" >&2; then
		echo "check-units: $u.service.in: placeholder not filled by this script" >&2
		fail=1
	fi
done

# The man pages' placeholders, as config/CMakeLists.txt fills them (paths, \- for -) for
# the default prefix, /usr/local (the pages only name these paths).
for page in feedwatch.1 feedwatch.conf.5 feedwatch-plugin.7; do
	out="$TMP/man/man${page##*.}/$page"
	sed -e "s|@FW_MAN_CONFIG@|/usr/local/etc/feedwatch/feedwatch.conf|g" \
	    -e "s|@FW_MAN_SYSCONFDIR@|/usr/local/etc|g" \
	    -e "s|@FW_MAN_PLUGINDIR@|/usr/local/lib/feedwatch/plugins|g" \
	    -e "s|@FW_MAN_DOCDIR@|/usr/local/share/doc/feedwatch|g" \
	    -e "s|@FW_MAN_DATADIR@|/usr/local/share|g" \
	    -e "s|@FW_MAN_SYSTEM_UNIT_DIR@|/usr/local/lib/systemd/system|g" \
	    -e "s|@FW_MAN_USER_UNIT_DIR@|/usr/local/lib/systemd/user|g" \
	    -e "s|@FW_MAN_BASH_COMPLETION_DIR@|/usr/local/share/bash\\\\-completion/completions|g" \
	    -e "s|@FW_MAN_ZSH_COMPLETION_DIR@|/usr/local/share/zsh/site\\\\-functions|g" \
	    -e "s|@FW_MAN_FISH_COMPLETION_DIR@|/usr/local/share/fish/vendor_completions.d|g" \
	    "$SRC/config/$page.in" >"$out"
	if grep -n '@[A-Za-z_]*@' "$out" >&2; then
		echo "check-units: $page.in: placeholder not filled by this script" >&2
		fail=1
	fi
done

# $1: label; the rest: the command. Fails on a non-zero exit or on any output.
quiet() {
	label=$1
	shift
	if ! out=$("$@" 2>&1) || [ -n "$out" ]; then
		echo "FAIL: $label" >&2
		[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/  /' >&2
		fail=1
	else
		echo "ok: $label"
	fi
}

# Documentation=man:... is checked with man(1); MANPATH makes it find our pages.
# --recursive-errors=no: problems of the host's own units are not ours to report.
export MANPATH="$TMP/man"
quiet "systemd-analyze verify feedwatch.service" \
	systemd-analyze verify --recursive-errors=no "$TMP/units/feedwatch.service"
# A user manager needs a runtime directory and a home, also when run as root.
quiet "systemd-analyze verify --user feedwatch-user.service" \
	env XDG_RUNTIME_DIR="$TMP/runtime" HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/home/.config" \
	systemd-analyze verify --user --recursive-errors=no "$TMP/units/feedwatch-user.service"

# The user unit lives and dies with the graphical session (systemd.special(7)).
for want in "PartOf=graphical-session.target" "After=graphical-session.target" \
	"WantedBy=graphical-session.target"; do
	key=${want%%=*}
	if grep -q "^$key=.*graphical-session.target" "$TMP/units/feedwatch-user.service"; then
		echo "ok: feedwatch-user.service has $want"
	else
		echo "FAIL: feedwatch-user.service lacks $want" >&2
		fail=1
	fi
done

for page in "$TMP"/man/man*/*; do
	quiet "man --warnings $(basename "$page")" \
		sh -c 'LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" >/dev/null' sh "$page"
done

# "→ Overall exposure level for feedwatch.service: 1.1 OK 🙂"
score_of() {
	sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9.]*\).*/\1/p' | tail -n 1
}
out=$(systemd-analyze security --offline=true "$TMP/units/feedwatch.service" 2>&1) || true
score=$(printf '%s\n' "$out" | score_of)
if [ -z "$score" ]; then
	echo "FAIL: no exposure level from systemd-analyze security:" >&2
	printf '%s\n' "$out" | tail -n 5 | sed 's/^/  /' >&2
	fail=1
elif awk -v s="$score" -v m="$MAX_SCORE" 'BEGIN { exit !(s <= m) }'; then
	echo "ok: feedwatch.service exposure $score (at most $MAX_SCORE)"
else
	echo "FAIL: feedwatch.service exposure $score, more than $MAX_SCORE" >&2
	printf '%s\n' "$out" | grep '✗' | sed 's/^/  /' >&2
	fail=1
fi
# The user unit keeps the session's file system view (see its comments): shown, not held.
uscore=$(env XDG_RUNTIME_DIR="$TMP/runtime" HOME="$TMP/home" \
	systemd-analyze security --user --offline=true "$TMP/units/feedwatch-user.service" 2>&1 |
	score_of) || true
echo "info: feedwatch-user.service exposure ${uscore:-unknown}"

exit "$fail"
