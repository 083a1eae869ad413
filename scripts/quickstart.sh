#!/bin/sh
# Quick start: install what is needed, build, and run the daemon on the bundled config.
# The bundled sample feed gives a real alert even without internet; Ctrl-C stops.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFW_TESTS=OFF
cmake --build build -j"$(nproc)"
exec build/daemon/feedwatch run -c config/feedwatch.conf
