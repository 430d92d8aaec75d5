#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. release build (gcc) + every ctest test: unit (cmocka), end-to-end (pytest against a real
#      sluiced with boto3, the AWS CLI, the JS SDK, curl, nghttp), fuzz-corpus replays;
#   2. clang ASan+UBSan build + unit tests and fuzz-corpus replays under the sanitizers;
#   3. clang libFuzzer build + a short fuzz run of every target from its corpus.
# Needs the packages of scripts/deps.sh. SLUICE_TEST_QUICK=1 skips steps 2 and 3.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/setup-test-clients.sh
clang-format --dry-run --Werror $(git ls-files '*.c' '*.h')

echo "== release build + full ctest"
bash scripts/build.sh
(cd build && ctest --output-on-failure -j"$jobs")

if [ "${SLUICE_TEST_QUICK:-0}" = 1 ]; then exit 0; fi

echo "== ASan+UBSan build: unit tests and corpus replays"
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
  -DSLUICE_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$jobs" -L 'unit|fuzz')

echo "== libFuzzer smoke run"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON \
  -DSLUICE_FUZZ_SECONDS="${SLUICE_FUZZ_SECONDS:-20}" >/dev/null
# Only the fuzz targets: a shared object (the GStreamer plugin) cannot link libFuzzer's
# instrumentation without its runtime, and nothing else is run from this build.
fuzz_targets=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
cmake --build build-fuzz -j"$jobs" --target $fuzz_targets
(cd build-fuzz && ctest --output-on-failure -j"$jobs" -L fuzzrun)
