#!/bin/sh
# Install every build and test dependency of feedwatch on Debian 12 (bookworm).
# Usage: scripts/install-deps.sh        (as root, or with sudo available)
set -eu
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
	build-essential cmake pkg-config clang libclang-rt-14-dev clang-format \
	libuv1-dev libcurl4-openssl-dev libxml2-dev libxml2-utils libnotify-dev \
	libsqlite3-dev sqlite3 libconfig-dev libjansson-dev libutf8proc-dev \
	libcmocka-dev libmicrohttpd-dev \
	python3 python3-dbusmock python3-aiosmtpd python3-gi gir1.2-glib-2.0 dbus dbus-daemon \
	curl ca-certificates \
	libssl-dev binutils \
	systemd man-db \
	desktop-file-utils zsh fish \
	prometheus \
	libnats-dev nats-server \
	libpq-dev postgresql-15 postgresql-client-15
