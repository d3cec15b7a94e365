#!/usr/bin/env bash
# Copies binaries and the shared libraries they need (as ldd resolves them
# here) into OUT/ and OUT/lib/, so they can be carried to a GPU host that has
# none of Debian's Abseil/spdlog/fmt packages:
#   drivers/nvidia/tools/make_bundle.sh /tmp/nvml-bundle build/drivers/nvidia/nvml-record ...
#   scp -r /tmp/nvml-bundle gpu-host: && ssh gpu-host nvml-bundle/nvml-record
# The binaries carry RUNPATH $ORIGIN/lib. glibc, libstdc++ and libgcc_s are
# left to the host (any glibc >= 2.34 host with GCC >= 12 runtime works).
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 OUT_DIR BINARY..." >&2
  exit 2
fi
out="$1"
shift
mkdir -p "$out/lib"
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so)'
for bin in "$@"; do
  cp -f "$bin" "$out/"
  ldd "$bin" | awk '/=> \// {print $1, $3}' | while read -r name path; do
    if [[ ! "$name" =~ $skip ]]; then
      cp -fL "$path" "$out/lib/$name"
    fi
  done
done
echo "bundled $# binaries and $(ls "$out/lib" | wc -l) libraries into $out"
