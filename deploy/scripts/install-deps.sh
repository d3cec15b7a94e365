#!/usr/bin/env bash
# Installs everything Tessera needs to build, run and test, from Debian bookworm.
# Idempotent: skips apt-get when every package is already installed.
#   install-deps.sh               build, run and test
#   install-deps.sh --build-only  what building the binaries needs (the
#                                 container image's builder stage)
set -euo pipefail

BUILD_PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config ccache
  # libraries (the runtime ones come along as dependencies)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev
  libyaml-cpp-dev libcli11-dev libhwloc-dev libnl-3-dev libnl-route-3-dev libibverbs-dev
)
TEST_PACKAGES=(
  libgtest-dev libgmock-dev libbenchmark-dev
  # tools and real peers used by the tests
  hwloc-nox iproute2 python3 python3-grpcio python3-grpc-tools python3-yaml
  podman runc conmon catatonit busybox-static
  clang-14 libclang-rt-14-dev
)
case "${1:-}" in
  --build-only) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  "") PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
  *) echo "usage: install-deps.sh [--build-only]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
