#!/usr/bin/env bash
# Builds and runs the test suite under a sanitizer, in its own build tree:
#   deploy/scripts/sanitize.sh asan [ctest args...]   address + undefined (build-asan)
#   deploy/scripts/sanitize.sh tsan [ctest args...]   thread (build-tsan)
# Both are unity builds (-DTESSERA_UNITY=ON) with line tables (-g1), -Werror:
#   asan: clang-14 at -O0, with the libFuzzer targets (TESSERA_FUZZ: the
#         libraries carry coverage instrumentation, tests do not), so that
#         deploy/scripts/fuzz.sh can run them from the same tree
#         (BUILD_DIR=build-asan); clang builds an instrumented tree in half
#         GCC's time, and -O0 halves it again.
#   tsan: GCC 12, the compiler of the shipped binaries, at -O1.
# TARGETS (space separated) limits the build to those test binaries (and
# ctest to the tests they hold, with -R if you pass it); the default is the
# whole suite. A finding fails the run (-fno-sanitize-recover=all).
#
# TSan and Debian's Abseil/gRPC: those shared libraries are not instrumented.
# absl::Mutex and absl::CondVar are made visible to TSan by
# base/tsan/absl_mutex_annotations.cc (linked into every TSan binary);
# deploy/sanitizers/tsan.supp names only those libraries' frames, never ours.
set -euo pipefail
cd "$(dirname "$0")/../.."
kind=${1:-}
shift || true
common=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_UNITY=ON -DTESSERA_WERROR=ON
        -DTESSERA_BUILD_BENCHMARKS=OFF)
case "$kind" in
  asan)
    dir=build-asan
    config=(-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14
            -DTESSERA_SANITIZE=address,undefined -DTESSERA_FUZZ=ON
            -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O0 -g1")
    ;;
  tsan)
    dir=build-tsan
    config=(-DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ -DTESSERA_SANITIZE=thread
            -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1")
    ;;
  *) echo "usage: sanitize.sh asan|tsan [ctest args...]" >&2; exit 2 ;;
esac
JOBS=${JOBS:-$(nproc)}
start=$(date +%s)
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" "${common[@]}" "${config[@]}"
fi
if [ -n "${TARGETS:-}" ]; then
  # shellcheck disable=SC2086  # a list on purpose
  cmake --build "$dir" -j "$JOBS" --target $TARGETS
else
  cmake --build "$dir" -j "$JOBS"
fi
echo "sanitize.sh $kind: build took $(($(date +%s) - start)) s"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/deploy/sanitizers/tsan.supp}
# The crash storm kills the agent 200 times; 20 are enough under a sanitizer.
export TESSERA_CRASH_KILLS=${TESSERA_CRASH_KILLS:-20}
extra=()
# Tests of targets not built (TARGETS) are placeholders named *_NOT_BUILT.
[ -n "${TARGETS:-}" ] && extra=(-E _NOT_BUILT)
ctest --test-dir "$dir" --output-on-failure -j "$JOBS" -LE hw --timeout 1800 "${extra[@]}" "$@"
