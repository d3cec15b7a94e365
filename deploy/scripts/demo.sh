#!/usr/bin/env bash
# The README's main job: installs what is needed, builds, and runs
# tessera-agent in standalone mode on the bundled simulated node (8 H100, 8
# ConnectX-7, two sockets), then plays the kubelet with node-debug:
#
#   1. what the agent discovers (node-debug topology, matrix)
#   2. what it publishes (ResourceSlices in the standalone store)
#   3. registration with the kubelet (GetInfo / NotifyRegistrationStatus)
#   4. a claim for a GPU and the RDMA NIC under the same PCIe switch,
#      prepared (CDI spec, checkpoint) and unprepared
#   5. a clean stop (sockets removed)
#
# Usage: deploy/scripts/demo.sh [--no-install] [--keep]
#   --no-install  skip apt-get (dependencies already there)
#   --keep        leave the work directory (state, CDI specs, logs) in place
# Environment: BUILD_DIR (default build), DEMO_DIR (default a new /tmp dir).
#
# Root is needed for apt-get and to create the simulated device nodes (mknod);
# without root, use --no-install and the device nodes are skipped (prepare then
# reports them missing for the RDMA device, which is the right answer).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

install=1
keep=0
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

BUILD_DIR=${BUILD_DIR:-build}
NODE=test/testdata/nodes/sim-8xh100-8xcx7
NVML_FIXTURE=test/testdata/nvml/h100-80gb-8.json
NODE_NAME=demo-node

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$install" = 1 ]; then
  step "Installing build dependencies (apt-get)"
  deploy/scripts/install-deps.sh
fi

step "Building tessera-agent and node-debug into $BUILD_DIR"
TARGETS="tessera-agent node-debug tessera_fake_nvml" deploy/scripts/build.sh

AGENT=$BUILD_DIR/agent/tessera-agent
DEBUG=$BUILD_DIR/agent/debug/node-debug
FAKE_NVML=$BUILD_DIR/fake-nvml/libnvidia-ml.so.1

W=${DEMO_DIR:-$(mktemp -d /tmp/tessera-demo.XXXXXX)}
mkdir -p "$W"
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 0 ]; then rm -rf "$W"; else echo "work directory kept: $W"; fi
}
trap cleanup EXIT

# Every path the agent and node-debug share: the kubelet's plugin and registry
# dirs, the CDI dir, the state dir (with the standalone API store) and the
# simulated node's /dev.
COMMON=(--node-name "$NODE_NAME" --plugin-dir "$W/plugins" --registry-dir "$W/registry"
        --cdi-dir "$W/cdi" --state-dir "$W/state")
NODE_FLAGS=(--sysfs-root "$NODE")

step "1. What the agent discovers on the simulated node"
"$DEBUG" topology "${NODE_FLAGS[@]}"
echo
"$DEBUG" matrix "${NODE_FLAGS[@]}"

step "Starting tessera-agent (standalone: slices and claims are files under $W/state/cluster)"
TESSERA_FAKE_NVML_CONFIG=$ROOT/$NVML_FIXTURE \
  "$AGENT" --standalone "${COMMON[@]}" "${NODE_FLAGS[@]}" --dev-root "$W/dev" \
  --nvml-lib "$FAKE_NVML" >"$W/agent.log" 2>&1 &
agent_pid=$!

# Ready when every driver's registration socket is there.
for _ in $(seq 1 100); do
  n=$( (find "$W/registry" -name '*-reg.sock' 2>/dev/null || true) | wc -l)
  [ "$n" -ge 3 ] && break
  if ! kill -0 "$agent_pid" 2>/dev/null; then
    echo "tessera-agent exited early; its log:" >&2
    cat "$W/agent.log" >&2
    exit 1
  fi
  sleep 0.1
done
sed 's/^/  agent| /' "$W/agent.log"

step "2. What it publishes (ResourceSlices, as an API server would store them)"
TESSERA_FAKE_NVML_CONFIG=$ROOT/$NVML_FIXTURE \
  "$DEBUG" slices "${NODE_FLAGS[@]}" --node-name "$NODE_NAME" --nvml-lib "$FAKE_NVML"
echo
echo "The agent wrote them to $W/state/cluster/resourceslices:"
ls "$W/state/cluster/resourceslices" | sed 's/^/  /'

step "3. node-debug acting as the kubelet: plugin registration"
"$DEBUG" kubelet register --registry-dir "$W/registry"

step "4. Prepare a claim: one GPU and the RDMA NIC under the same PCIe switch"
mkdir -p "$W/state/cluster/resourceclaims/default"
cat >"$W/state/cluster/resourceclaims/default/train.yaml" <<EOF
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata:
  namespace: default
  name: train
  uid: 0d6c1f9e-3b2a-4c5d-8e7f-9a0b1c2d3e4f
status:
  allocation:
    devices:
      results:
      - {request: gpu, driver: gpu.tessera.dev, pool: $NODE_NAME, device: gpu-0000-1a-00-0}
      - {request: nic, driver: rdma.tessera.dev, pool: $NODE_NAME, device: rdma-0000-1b-00-0}
EOF
sed 's/^/  /' "$W/state/cluster/resourceclaims/default/train.yaml"
for driver in gpu rdma; do
  "$DEBUG" kubelet prepare --plugin-dir "$W/plugins" --driver "$driver.tessera.dev" \
    --claim default/train/0d6c1f9e-3b2a-4c5d-8e7f-9a0b1c2d3e4f
done
echo
"$DEBUG" claims --state-dir "$W/state" --cdi-dir "$W/cdi" --show-spec

step "5. Unprepare, and stop the agent (SIGTERM)"
for driver in gpu rdma; do
  "$DEBUG" kubelet unprepare --plugin-dir "$W/plugins" --driver "$driver.tessera.dev" \
    --claim default/train/0d6c1f9e-3b2a-4c5d-8e7f-9a0b1c2d3e4f
done
"$DEBUG" claims --state-dir "$W/state" --cdi-dir "$W/cdi"
kill -TERM "$agent_pid"
wait "$agent_pid" && status=0 || status=$?
agent_pid=
echo "tessera-agent exited with status $status"
left=$( (find "$W/plugins" "$W/registry" -name '*.sock' 2>/dev/null || true) | wc -l)
echo "sockets left behind: $left"
[ "$status" = 0 ] && [ "$left" = 0 ]
