#!/usr/bin/env python3
"""Writes every object Tessera ships, as JSON, for the node-side checks.

  collect_objects.py OUT_DIR

OUT_DIR/objects.json  [{"source": ..., "object": ...}]: the kustomize base,
                      the chart rendered with its defaults and with every
                      optional part switched (surge update, metrics off,
                      extra env, tolerations, another namespace), and
                      deploy/examples/*.yaml
OUT_DIR/values.json   the chart's values.yaml as JSON (for ajv)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import chart  # noqa: E402  (deploy/scripts/chart.py)
import yaml  # noqa: E402

# A render with every optional part of the chart changed from its default.
NON_DEFAULT = {
    "updateStrategy": {"type": "RollingUpdate",
                       "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
    "metrics": {"enabled": False},
    "agent": {"extraEnv": [{"name": "TESSERA_LOG_LEVEL_NOTE", "value": "x"}],
              "publishPartitionableDevices": True, "publishConsumableCapacity": True},
    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
    "nodeSelector": {"feature.node.kubernetes.io/pci-10de.present": "true"},
    "imagePullSecrets": [{"name": "regcred"}],
    "kubeletDir": "/var/lib/k0s/kubelet",
}


def main(out_dir: str) -> int:
    out = Path(out_dir)
    entries = []
    for f, docs in chart.load_base():
        entries += [{"source": f"deploy/manifests/{f}", "object": o} for o in docs]
    entries += [{"source": "chart (defaults)", "object": o} for o in chart.render_chart()]
    entries += [{"source": "chart (non-default values)", "object": o}
                for o in chart.render_chart(NON_DEFAULT, namespace="gpu-ops")]
    examples = chart.REPO / "deploy" / "examples"
    for path in sorted(examples.glob("*.yaml")):
        docs = chart.load_all(path.read_text(), str(path))
        entries += [{"source": f"deploy/examples/{path.name}", "object": o} for o in docs]
    (out / "objects.json").write_text(json.dumps(entries, indent=1))
    values = yaml.safe_load((chart.CHART / "values.yaml").read_text())
    (out / "values.json").write_text(json.dumps(values, indent=1))
    print(f"collect_objects: {len(entries)} objects")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
