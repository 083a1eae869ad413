#!/bin/sh
# The whole test suite: install what is needed, build with AddressSanitizer and
# UndefinedBehaviorSanitizer and warnings as errors, run every test under ctest, run the
# threaded tests again under ThreadSanitizer, then a bounded libFuzzer run of every fuzz
# target (FUZZ_SECS each, default 60; 0 skips it).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD=${BUILD:-build-test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DFW_SANITIZE=ON -DFW_WERROR=ON -DFW_TESTS=ON
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" "$@"
# ThreadSanitizer: the parser thread (test_parsework; test_fetch, test_feeds through real polls),
# the net glue beside the test's server threads (test_net), the delivery workers
# (test_alert) and every integration test, on a build of its own (TSAN=0 skips it).
if [ "${TSAN:-1}" != 0 ]; then
	TSAN_BUILD=${TSAN_BUILD:-build-tsan}
	cmake -S . -B "$TSAN_BUILD" -DCMAKE_BUILD_TYPE=Debug -DFW_TSAN=ON -DFW_WERROR=ON -DFW_TESTS=ON
	cmake --build "$TSAN_BUILD" -j"$(nproc)"
	FW_TSAN=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(pwd)/tests/tsan.supp" \
		ctest --test-dir "$TSAN_BUILD" --output-on-failure -j"$(nproc)" \
		-R '^(test_parsework|test_fetch|test_net|test_feeds|test_alert|integration_.*)$'
fi
FUZZ_SECS=${FUZZ_SECS:-60}
if [ "$FUZZ_SECS" -gt 0 ]; then
	scripts/fuzz.sh "$FUZZ_SECS"
fi
