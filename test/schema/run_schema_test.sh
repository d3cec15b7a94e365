#!/bin/sh
# ctest driver: validates the ResourceSlices Tessera emits against the
# upstream schema with the npm package kubernetes-models@5.1.0.
#   run_schema_test.sh <emit-slices binary> <validate_slices.mjs> <work dir>
# The package is installed once into <work dir>/node_modules (npm's cache is
# used too). Without node/npm or registry access the test is skipped (77).
set -u
emitter=$1
script=$2
dir=$3
version=5.1.0

command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
command -v npm >/dev/null 2>&1 || { echo "SKIP: npm is not installed"; exit 77; }
mkdir -p "$dir" || exit 1
manifest="$dir/node_modules/kubernetes-models/package.json"
if ! grep -q "\"version\": \"$version\"" "$manifest" 2>/dev/null; then
  if ! npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
      "kubernetes-models@$version" >"$dir/npm-install.log" 2>&1; then
    echo "SKIP: npm could not install kubernetes-models@$version (registry unreachable?):"
    tail -5 "$dir/npm-install.log"
    exit 77
  fi
fi
# ESM resolves packages from the script's directory: run a copy next to node_modules.
cp "$script" "$dir/validate_slices.mjs" || exit 1
"$emitter" "$dir/slices.json" || { echo "emit-slices failed"; exit 1; }
exec node "$dir/validate_slices.mjs" "$dir/slices.json"
