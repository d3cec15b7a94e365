#!/bin/sh
# A recording stand-in for npu-smi, for tests of the vNPU path. It understands
# only what the NPU driver runs:
#   npu-smi set -t create-vnpu  -i <card> -c <chip> -f <template> -v <vnpu id>
#   npu-smi set -t destroy-vnpu -i <card> -c <chip> -v <vnpu id>
# and answers as the real tool does ("Status : OK" on stdout, an error and a
# non-zero exit otherwise).
#
# Environment (set by the test):
#   FAKE_NPU_SMI_LOG       required: one line per call is appended, the
#                          arguments (without argv[0]) separated by tabs
#   FAKE_NPU_SMI_DEV_ROOT  when set, create-vnpu makes <root>/dev/vdavinci<id>
#                          and destroy-vnpu removes it, as the Ascend driver
#                          does with the real nodes
#   FAKE_NPU_SMI_MKNOD     when "1", the node is a character device (1:3,
#                          like /dev/null; needs root) instead of a file, so
#                          a container runtime accepts it
#   FAKE_NPU_SMI_FAIL      "<operation>:<vnpu id>" (e.g. "create-vnpu:117"):
#                          that call fails with exit code 1
set -u
log="${FAKE_NPU_SMI_LOG:?FAKE_NPU_SMI_LOG is not set}"
line=""
for a in "$@"; do
  if [ -z "$line" ]; then line="$a"; else line="$(printf '%s\t%s' "$line" "$a")"; fi
done
printf '%s\n' "$line" >> "$log"

op="" id=""
while [ $# -gt 0 ]; do
  case "$1" in
    -t) op="${2:-}"; shift 2 ;;
    -v) id="${2:-}"; shift 2 ;;
    *) shift ;;
  esac
done

if [ "${FAKE_NPU_SMI_FAIL:-}" = "$op:$id" ]; then
  echo "Error: $op failed for vnpu $id (injected)" >&2
  exit 1
fi
node=""
if [ -n "${FAKE_NPU_SMI_DEV_ROOT:-}" ] && [ -n "$id" ]; then
  node="$FAKE_NPU_SMI_DEV_ROOT/dev/vdavinci$id"
fi
case "$op" in
  create-vnpu)
    if [ -n "$node" ] && [ -e "$node" ]; then
      echo "Error: vnpu $id already exists" >&2
      exit 1
    fi
    if [ -n "$node" ]; then
      if [ "${FAKE_NPU_SMI_MKNOD:-}" = "1" ]; then mknod -m 0666 "$node" c 1 3 || exit 1
      else : > "$node"; fi
    fi
    printf '       Status : OK\n       Message : Create vnpu success\n'
    ;;
  destroy-vnpu)
    if [ -n "$node" ] && [ ! -e "$node" ]; then
      echo "Error: vnpu $id does not exist" >&2
      exit 1
    fi
    [ -n "$node" ] && rm -f "$node"
    printf '       Status : OK\n       Message : Destroy vnpu %s success\n' "$id"
    ;;
  *)
    echo "Error: unsupported command $op" >&2
    exit 2
    ;;
esac
