#!/bin/sh
# ctest driver (tessera_deploy_chart): the Helm chart is generated from the
# kustomize base and cannot drift from it (deploy/test/chart_test.py).
# Needs python3 with PyYAML (Debian: python3-yaml); kubectl is used for
# `kubectl kustomize` when present. Skipped (exit 77) without python3/PyYAML.
set -u
here=$(dirname "$0")
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is not installed"; exit 77; }
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: PyYAML (python3-yaml) is not installed"; exit 77; }
command -v kubectl >/dev/null 2>&1 || echo "note: kubectl not found; comparing with the base's files instead of kubectl kustomize"
python3 "$here/../scripts/chart.py" check || exit 1
python3 "$here/../scripts/chart.py" compare || exit 1
exec python3 "$here/chart_test.py"
