#!/usr/bin/env python3
"""Writes the fake-NVML descriptions the GPU driver's tests load.

Derived from the NVML layer's model fixtures in ../nvml/ (profiles,
placements and memory as the R550 driver reports them), moved to the PCI
addresses, UUIDs and minors of the machines the GPU driver is tested on, so
that NVML and the node model describe the same GPUs:

  nvml-sim-8xh100.json   the bundled simulated node (../nodes/sim-8xh100-8xcx7):
                         8x H100 80GB; UUIDs and minors as its
                         proc/driver/nvidia/gpus/*/information files say.
                         GPUs 0-5 MIG off, GPU 6 MIG on and empty, GPU 7 MIG
                         on with 3g.40gb (GI 2) and 1g.10gb (GI 7) created by
                         an administrator.
  nvml-jureca-4xa100.json  the JURECA-DC GPU node of ../../../../shared/topologies
                         (xml-psmgmt-jurecadc-4xa100-4xhdr): 4x A100-SXM4-40GB
                         at 0000:03/44/84/c4:00.0. GPUs 0-1 MIG off, GPUs 2-3
                         MIG on and empty (what the partitionable slices use).

Run from anywhere: python3 generate_nvml_fixtures.py. Rewrites both files.
"""

import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
NVML = os.path.join(HERE, "..", "nvml")
SIM = os.path.join(HERE, "..", "nodes", "sim-8xh100-8xcx7", "proc", "driver", "nvidia", "gpus")


def load(name):
    with open(os.path.join(NVML, name)) as f:
        return json.load(f)


def write(name, doc):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def sim_node():
    doc = load("h100-80gb-8.json")
    infos = []
    for bdf in sorted(os.listdir(SIM)):
        kv = {}
        with open(os.path.join(SIM, bdf, "information")) as f:
            for line in f:
                key, _, value = line.partition(":")
                kv[key.strip()] = value.strip()
        infos.append((int(kv["Device Minor"]), bdf, kv["GPU UUID"]))
    infos.sort()
    assert len(infos) == len(doc["gpus"]) == 8
    for gpu, (minor, bdf, uuid) in zip(doc["gpus"], infos):
        gpu["pciBusId"] = bdf
        gpu["uuid"] = uuid
        gpu["minorNumber"] = minor
        gpu["serial"] = "16524230%05d" % (41000 + minor)
    doc["description"] = (
        "The bundled simulated node (test/testdata/nodes/sim-8xh100-8xcx7): 8x NVIDIA H100 80GB "
        "HBM3 at the node's PCI addresses, UUIDs and minors; GPUs 0-5 MIG off, GPU 6 (0000:be:00.0) "
        "MIG on and empty, GPU 7 (0000:c2:00.0) MIG on with 3g.40gb (GI 2) and 1g.10gb (GI 7). "
        "Written by test/testdata/gpu/generate_nvml_fixtures.py from ../nvml/h100-80gb-8.json.")
    write("nvml-sim-8xh100.json", doc)


def jureca():
    base = load("a100-40gb-1.json")
    template = base["gpus"][0]
    doc = {k: v for k, v in base.items() if k != "gpus"}
    doc["description"] = (
        "The JURECA-DC GPU node of shared/topologies (xml-psmgmt-jurecadc-4xa100-4xhdr): 4x NVIDIA "
        "A100-SXM4-40GB at its PCI addresses; GPUs 0-1 MIG off, GPUs 2-3 MIG on with no instances. "
        "Written by test/testdata/gpu/generate_nvml_fixtures.py from ../nvml/a100-40gb-1.json.")
    doc["gpus"] = []
    for i, bdf in enumerate(["0000:03:00.0", "0000:44:00.0", "0000:84:00.0", "0000:c4:00.0"]):
        gpu = copy.deepcopy(template)
        gpu["index"] = i
        gpu["minorNumber"] = i
        gpu["pciBusId"] = bdf
        gpu["uuid"] = "GPU-4f6e2b1c-8a3d-4e7f-9b21-0c5d7e8f9a1%d" % i
        gpu["serial"] = "156122001234%d" % i
        gpu["pciSubsystemDeviceId"] = "0x144e"  # what the capture's PCI ids say
        on = i >= 2
        gpu["mig"]["current"] = on
        gpu["mig"]["pending"] = on
        gpu["mig"].pop("instances", None)
        doc["gpus"].append(gpu)
    write("nvml-jureca-4xa100.json", doc)


if __name__ == "__main__":
    sim_node()
    jureca()
