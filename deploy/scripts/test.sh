#!/usr/bin/env bash
# The README's test command, and what CI runs: the whole suite under
# AddressSanitizer+UBSan (clang-14, ./build-asan), every libFuzzer target for
# a bounded time from its seeds (built in the same tree), and the whole suite
# under ThreadSanitizer (GCC 12, ./build-tsan). About 25 minutes on 2 cores
# from a clean checkout; a second run rebuilds only what changed.
#
#   deploy/scripts/test.sh [ctest args...]          the above
#   deploy/scripts/test.sh --plain [ctest args...]  the normal build (./build, what
#                                                   the demo and the image ship) and
#                                                   the suite once: quicker to iterate
#
# Environment: FUZZ_SECONDS (10 per fuzzer here), JOBS (nproc), BUILD_DIR
# (--plain only). Tests that need ../shared data, root or real GPUs say so and
# skip; each sanitizer fails the run on its first finding.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/scripts/install-deps.sh
if [ "${1:-}" = "--plain" ]; then
  shift
  deploy/scripts/build.sh
  exec ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "${JOBS:-$(nproc)}" -LE hw "$@"
fi
start=$(date +%s)
deploy/scripts/sanitize.sh asan "$@"
BUILD_DIR=build-asan FUZZ_SECONDS=${FUZZ_SECONDS:-10} deploy/scripts/fuzz.sh
deploy/scripts/sanitize.sh tsan "$@"
echo "test.sh: ASan+UBSan suite, fuzzers and TSan suite passed in $(($(date +%s) - start)) s"
