#!/usr/bin/env bash
# Configures and builds Tessera into ./build (or $BUILD_DIR); TARGETS (space
# separated) builds only those targets. Extra arguments go to cmake's
# configure step (first run only).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_WERROR=ON "$@"
fi
if [ -n "${TARGETS:-}" ]; then
  # shellcheck disable=SC2086  # a list on purpose
  cmake --build "$BUILD_DIR" -j "$JOBS" --target $TARGETS
else
  cmake --build "$BUILD_DIR" -j "$JOBS"
fi
