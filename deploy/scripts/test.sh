#!/usr/bin/env bash
# Builds Tessera and runs the whole test suite (unit and integration tiers).
# Tests that need ../shared data or real hardware say so and skip when absent.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/scripts/install-deps.sh
deploy/scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "${JOBS:-$(nproc)}" -LE hw "$@"
