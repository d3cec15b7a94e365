#!/bin/sh
# ctest driver (tessera_deploy_schema): every object Tessera ships (the
# manifests, the chart rendered with default and non-default values, the
# examples) against the upstream schema (npm kubernetes-models 5.1.0), the
# chart's values.schema.json with ajv, and every CEL expression with a real
# CEL implementation (npm @bufbuild/cel) against the ResourceSlices the agent
# publishes for the bundled simulated nodes.
#   run_schema_test.sh <node-debug> <fake libnvidia-ml.so.1> <work dir>
# The npm packages are installed once into <work dir>/node_modules (npm's
# cache serves later runs offline). Skipped (exit 77) without node, npm,
# python3 with PyYAML, or when the packages cannot be installed.
set -u
nodedebug=$1
fakenvml=$2
dir=$3
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
packages="kubernetes-models@5.1.0 @bufbuild/cel@0.6.1 @bufbuild/protobuf@2.17.0"

[ -x "$nodedebug" ] || { echo "node-debug is not built: $nodedebug (ninja node-debug)"; exit 1; }
[ -f "$fakenvml" ] || { echo "the fake NVML is not built: $fakenvml (ninja tessera_fake_nvml)"; exit 1; }
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
command -v npm >/dev/null 2>&1 || { echo "SKIP: npm is not installed"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is not installed"; exit 77; }
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: PyYAML (python3-yaml) is not installed"; exit 77; }
mkdir -p "$dir" || exit 1

installed=yes
for p in $packages; do
  name=${p%@*}
  version=${p##*@}
  grep -q "\"version\": \"$version\"" "$dir/node_modules/$name/package.json" 2>/dev/null || installed=no
done
if [ $installed = no ]; then
  # shellcheck disable=SC2086  # a list on purpose
  if ! npm install --prefix "$dir" --prefer-offline --no-audit --no-fund --no-save \
      --loglevel=error $packages >"$dir/npm-install.log" 2>&1; then
    echo "SKIP: npm could not install $packages (registry unreachable?):"
    tail -5 "$dir/npm-install.log"
    exit 77
  fi
fi

# ESM resolves packages from the script's directory: run copies next to node_modules.
cp "$here/validate_objects.mjs" "$here/check_cel.mjs" "$dir/" || exit 1
python3 "$here/collect_objects.py" "$dir" || exit 1

# The ResourceSlices the agent publishes for the bundled nodes, by the same
# drivers and slice builder (node-debug slices). Scenarios without the fake
# NVML name a library that does not exist, so a host's own NVML never mixes in.
nodes=$src/test/testdata/nodes
emit() {
  name=$1
  shift
  if ! "$nodedebug" slices --node-name "sim-$name" -o json "$@" >"$dir/slices-$name.json" \
      2>"$dir/slices-$name.err"; then
    echo "node-debug slices failed for scenario $name:"
    cat "$dir/slices-$name.err"
    exit 1
  fi
}
nonvml=$dir/no-such-dir/libnvidia-ml.so.1
export TESSERA_FAKE_NVML_CONFIG="$src/test/testdata/gpu/nvml-sim-8xh100.json"
emit h100 --sysfs-root "$nodes/sim-8xh100-8xcx7" --drivers gpu,rdma --nvml-lib "$fakenvml"
emit h100-gated --sysfs-root "$nodes/sim-8xh100-8xcx7" --drivers gpu,rdma --nvml-lib "$fakenvml" \
  --publish-partitionable-devices --publish-consumable-capacity
unset TESSERA_FAKE_NVML_CONFIG
emit h100-vm --sysfs-root "$nodes/h100-vm" --drivers gpu,rdma --nvml-lib "$nonvml"
emit ascend --sysfs-root "$nodes/sim-8x910b3-8xcx6dx" --drivers npu,rdma --nvml-lib "$nonvml"
emit gaudi --sysfs-root "$nodes/sim-8xgaudi2" --drivers npu,rdma --nvml-lib "$nonvml"
emit mtl --sysfs-root "$nodes/sim-mtl-npu" --drivers gpu,npu --nvml-lib "$nonvml"

status=0
node "$dir/validate_objects.mjs" "$dir/objects.json" "$dir/values.json" \
  "$src/deploy/helm/tessera/values.schema.json" || status=1
node "$dir/check_cel.mjs" "$dir/objects.json" "$src/drivers/attributes.h" \
  h100="$dir/slices-h100.json" h100-gated="$dir/slices-h100-gated.json" \
  h100-vm="$dir/slices-h100-vm.json" ascend="$dir/slices-ascend.json" \
  gaudi="$dir/slices-gaudi.json" mtl="$dir/slices-mtl.json" || status=1
exit $status
