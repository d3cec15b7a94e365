#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, ASan and UBSan into ./build-fuzz
# (or $BUILD_DIR) and runs each for FUZZ_SECONDS on a copy of its seed corpus.
# Fails when any fuzzer finds a crash, a leak, a timeout or a broken
# invariant, and prints the reproducer's path and the command that replays it.
#
#   deploy/scripts/fuzz.sh                      # every fuzzer, 20 s each
#   FUZZ_SECONDS=300 deploy/scripts/fuzz.sh claim_reader_fuzzer hwloc_xml_fuzzer
#   FUZZ_BUILD_ONLY=1 deploy/scripts/fuzz.sh    # build, do not run
#   BUILD_DIR=build-asan FUZZ_SECONDS=10 deploy/scripts/fuzz.sh
#                                               # the fuzzers of sanitize.sh asan's tree
#                                               # (what deploy/scripts/test.sh runs)
#
# Environment: FUZZ_SECONDS (20), FUZZ_OUT (out/fuzz: corpora, reproducers,
# logs), BUILD_DIR (build-fuzz), JOBS (nproc), CC/CXX (clang-14/clang++-14),
# FUZZ_ARGS (extra libFuzzer flags). Needs clang with libFuzzer (Debian:
# clang-14). New inputs found stay in $FUZZ_OUT/<fuzzer>/corpus; the checked-in
# seeds (<module>/fuzz_corpus/<fuzzer>/) are never modified.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_OUT=${FUZZ_OUT:-out/fuzz}
JOBS=${JOBS:-$(nproc)}
export CC=${CC:-clang-14} CXX=${CXX:-clang++-14}

if ! command -v "$CXX" >/dev/null; then
  echo "fuzz.sh: $CXX not found (Debian: apt-get install clang-14)" >&2
  exit 2
fi

start=$(date +%s)
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTESSERA_FUZZ=ON -DTESSERA_BUILD_TESTS=OFF -DTESSERA_BUILD_BENCHMARKS=OFF \
    -DTESSERA_SANITIZE=address,undefined
fi
# Only the fuzzers (and the libraries they link), not the agent or the tests.
cmake --build "$BUILD_DIR" -j "$JOBS" --target tessera_fuzzers
echo "fuzz.sh: build took $(($(date +%s) - start)) s"
[ -n "${FUZZ_BUILD_ONLY:-}" ] && exit 0

if [ $# -gt 0 ]; then
  fuzzers=("$@")
else
  fuzzers=()
  for seeds in "$BUILD_DIR"/fuzzers/*.seeds; do fuzzers+=("$(basename "$seeds" .seeds)"); done
fi

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=()
run_start=$(date +%s)
for name in "${fuzzers[@]}"; do
  bin="$BUILD_DIR/fuzzers/$name"
  if [ ! -x "$bin" ] || [ ! -f "$bin.seeds" ]; then
    echo "fuzz.sh: no fuzzer $name in $BUILD_DIR/fuzzers" >&2
    failed+=("$name")
    continue
  fi
  work="$FUZZ_OUT/$name"
  rm -rf "$work/artifacts"
  mkdir -p "$work/corpus" "$work/artifacts"
  # Seeds are files or directories; libFuzzer wants one directory.
  while IFS= read -r seed; do
    [ -z "$seed" ] && continue
    if [ -d "$seed" ]; then cp -r "$seed"/. "$work/corpus/"; else cp "$seed" "$work/corpus/"; fi
  done < "$bin.seeds"
  echo "fuzz.sh: $name for ${FUZZ_SECONDS}s"
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags on purpose
  if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" ${FUZZ_ARGS:-} "$work/corpus" > "$work/log" 2>&1; then
    grep -E '^stat::number_of_executed_units' "$work/log" | sed "s/^/  $name: /" || true
  else
    failed+=("$name")
    echo "fuzz.sh: $name FAILED (log: $work/log):" >&2
    grep -m 8 -E 'fuzz invariant failed|ERROR: |runtime error|SUMMARY|ALARM' "$work/log" |
      cut -c1-600 >&2 || true
    grep -E '^    #[0-9]+ .* in ' "$work/log" | grep -v -E 'fuzzer::|__sanitizer|pthread|libc|_start|abort|raise' |
      head -8 | cut -c1-200 >&2 || true
    for artifact in "$work"/artifacts/*; do
      [ -e "$artifact" ] || continue
      echo "fuzz.sh: reproducer $artifact; replay: $bin $artifact" >&2
    done
  fi
done
echo "fuzz.sh: ran ${#fuzzers[@]} fuzzers in $(($(date +%s) - run_start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no crashes"
