#!/usr/bin/env bash
# Every benchmark with a budget, in one command (BENCHMARKS.md records the
# figures). Builds what it needs into $BUILD_DIR (default build), then runs:
#   topology_bench         model build vs lstopo (budget 1.2x)
#   tessera_publish_bench  1,024-device publish to the fake API server
#   tessera_agent_bench    start-up, footprint, prepare latency, throughput
# Each prints its figures last; the script exits non-zero if any budget is
# missed. Needs root (simulated device nodes). About 2-4 minutes.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
TARGETS="topology_bench tessera_publish_bench tessera_agent_bench tessera-agent tessera_fake_nvml" \
  deploy/scripts/build.sh >/dev/null || { echo "bench.sh: build failed" >&2; exit 2; }

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -r) $(nproc) cpus: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
failed=0
run() {
  echo
  echo "## $*"
  "$@" || failed=1
}
run "$BUILD_DIR/topology/topology_bench" --runs "${TOPOLOGY_RUNS:-11}"
run "$BUILD_DIR/agent/kube/tessera_publish_bench" 5
run "$BUILD_DIR/test/bench/tessera_agent_bench" --iterations "${PREPARE_ITERATIONS:-500}"
echo
if [ "$failed" = 0 ]; then echo "bench.sh: every budget met"; else echo "bench.sh: a budget was missed (see FAIL above)"; fi
exit "$failed"
