#!/usr/bin/env python3
"""Writes two small fake nodes for the RDMA driver's tests.

Output: test/testdata/rdma/<node>/{sys,proc}, fake filesystem roots that
hwloc's linux backend and Tessera's sysfs readers load (like the bundled
test/testdata/nodes/sim-8xh100-8xcx7, written by generate_sim_8gpu.py).
Written for Tessera from the kernel's sysfs ABI documents; no captured data
is copied. Only the files the readers use are written.

cx7-ib-sriov: 2 NUMA nodes x 4 CPUs, InfiniBand.
  pci0000:00 (node 0): root port 00:01.0 -> PCIe switch 01:00.0 with two
    downstream ports: an H100 (03:00.0) and a ConnectX-7 PF (04:00.0,
    mlx5_0, port ACTIVE 400 Gb/s NDR, ibp4s0, uverbs0/umad0/issm0) with
    SR-IOV (8 VFs possible, 2 enabled): VFs 04:00.1 (mlx5_2, port ACTIVE,
    ibp4s0f1, uverbs2, umad2) and 04:00.2 (mlx5_3, port DOWN: the VF's vport
    is not enabled, uverbs3, umad3). VFs have no issm (no SM on a VF).
  pci0000:80 (node 1): root port 80:01.0 -> ConnectX-6 (81:00.0, mlx5_1,
    port INIT: link up but no subnet manager, 200 Gb/s HDR, IPoIB ibp129s0
    down, uverbs1/umad1/issm1).
  class/misc/rdma_cm/dev = 10:58.

cx6dx-roce: 1 NUMA node x 4 CPUs, RoCE (Ethernet link layer).
  root port 00:02.0 -> ConnectX-6 Dx, two functions: 01:00.0 (mlx5_0,
    ens1f0np0 up, port ACTIVE 100 Gb/s, SR-IOV 4 possible / 1 enabled: VF
    01:00.2 mlx5_2 ens1f0v0 ACTIVE) and 01:00.1 (mlx5_1, ens1f1np1 down,
    port DOWN/Disabled). RoCE ports name their netdev in gid_attrs/ndevs/0;
    umad only (no issm on Ethernet ports).
  root port 00:03.0 -> ConnectX-5 02:00.0 (mlx5_3, ens2np0, ACTIVE) whose
    uverbs device is missing (ib_uverbs not loaded).
  root port 00:04.0 -> ConnectX-6 Lx 03:00.0 (mlx5_core, ens3np0) with no
    RDMA device at all (mlx5_ib not loaded).
  root port 00:05.0 -> Intel I350 04:00.0 (igb, eno1): a plain NIC.
  No class/misc/rdma_cm.

Run from anywhere: python3 generate_rdma_nodes.py. Rewrites both folders.
"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

ENDPOINT, ROOT_PORT, UPSTREAM, DOWNSTREAM = 0, 4, 5, 6


class Node:
    def __init__(self, name, nodes, cpus_per_node):
        self.name, self.nodes, self.cpn = name, nodes, cpus_per_node
        self.out = os.path.join(HERE, name)

    def cpus(self, node):
        return list(range(node * self.cpn, (node + 1) * self.cpn))

    def cpumask(self, cpus):
        v = 0
        for c in cpus:
            v |= 1 << c
        return f"{v:08x}"

    def cpulist(self, cpus):
        return f"{cpus[0]}-{cpus[-1]}" if len(cpus) > 1 else f"{cpus[0]}"

    def write(self, rel, data, mode="w"):
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode) as f:
            f.write(data)

    def link(self, rel, target_rel):
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(os.path.relpath(target_rel, os.path.dirname(rel)), path)

    def class_link(self, cls, name, target_dir):
        self.link(f"sys/class/{cls}/{name}", target_dir)

    def write_cpus_numa(self):
        n = self.nodes * self.cpn
        base = "sys/devices/system/cpu"
        for f in ("online", "possible", "present"):
            self.write(f"{base}/{f}", f"0-{n - 1}\n")
        for cpu in range(n):
            node = cpu // self.cpn
            t = f"{base}/cpu{cpu}/topology"
            self.write(f"{t}/physical_package_id", f"{node}\n")
            self.write(f"{t}/die_id", "0\n")
            self.write(f"{t}/core_id", f"{cpu % self.cpn}\n")
            for name, cpus in (("core_cpus", [cpu]), ("die_cpus", self.cpus(node)),
                               ("package_cpus", self.cpus(node))):
                self.write(f"{t}/{name}", self.cpumask(cpus) + "\n")
            if cpu != 0:
                self.write(f"{base}/cpu{cpu}/online", "1\n")
        base = "sys/devices/system/node"
        for f in ("online", "possible", "has_cpu", "has_memory", "has_normal_memory"):
            self.write(f"{base}/{f}", f"0-{self.nodes - 1}\n" if self.nodes > 1 else "0\n")
        for node in range(self.nodes):
            d = f"{base}/node{node}"
            self.write(f"{d}/cpumap", self.cpumask(self.cpus(node)) + "\n")
            self.write(f"{d}/cpulist", self.cpulist(self.cpus(node)) + "\n")
            self.write(f"{d}/distance",
                       " ".join("10" if i == node else "20" for i in range(self.nodes)) + "\n")
            self.write(f"{d}/meminfo", f"Node {node} MemTotal:       67108864 kB\n"
                                       f"Node {node} MemFree:        60000000 kB\n")
        self.write("proc/meminfo", f"MemTotal:       {67108864 * self.nodes} kB\n")
        self.write("proc/sys/kernel/hostname", self.name + "\n")


class Fn:
    def __init__(self, node, bdf, vendor, device, cls, parent=None, root=None, *, driver=None,
                 bridge=None, port_type=ENDPOINT, numa=0, multifunction=False):
        self.node, self.bdf, self.vendor, self.device, self.cls = node, bdf, vendor, device, cls
        self.parent, self.root, self.driver, self.bridge = parent, root, driver, bridge
        self.port_type, self.numa, self.multifunction = port_type, numa, multifunction

    @property
    def bus(self):
        return int(self.bdf.split(":")[1], 16)

    def dir(self):
        chain, f = [], self
        while f.parent is not None:
            chain.append(f.bdf)
            f = f.parent
        chain.append(f.bdf)
        return "sys/devices/" + "/".join([f.root] + list(reversed(chain)))

    def config(self):
        c = bytearray(256)
        struct.pack_into("<HHHH", c, 0, self.vendor, self.device, 0x0406, 0x0010)
        c[0x09], c[0x0a], c[0x0b] = self.cls & 0xff, (self.cls >> 8) & 0xff, (self.cls >> 16) & 0xff
        c[0x0e] = (1 if self.bridge else 0) | (0x80 if self.multifunction else 0)
        if self.bridge:
            c[0x18], c[0x19], c[0x1a] = self.bus, self.bridge[0], self.bridge[1]
        else:
            struct.pack_into("<HH", c, 0x2c, self.vendor, 0x0001)
        c[0x34] = 0x40
        c[0x40], c[0x41] = 0x10, 0x00
        struct.pack_into("<H", c, 0x42, 0x2 | (self.port_type << 4))
        return bytes(c)

    def write(self):
        d, n = self.dir(), self.node
        n.write(f"{d}/vendor", f"0x{self.vendor:04x}\n")
        n.write(f"{d}/device", f"0x{self.device:04x}\n")
        n.write(f"{d}/subsystem_vendor", f"0x{self.vendor:04x}\n")
        n.write(f"{d}/subsystem_device", "0x0001\n")
        n.write(f"{d}/class", f"0x{self.cls:06x}\n")
        n.write(f"{d}/config", self.config(), "wb")
        n.write(f"{d}/numa_node", f"{self.numa}\n")
        n.write(f"{d}/local_cpulist", n.cpulist(n.cpus(self.numa)) + "\n")
        n.write(f"{d}/local_cpus", n.cpumask(n.cpus(self.numa)) + "\n")
        n.write(f"{d}/enable", "1\n")
        if self.bridge:
            n.write(f"{d}/secondary_bus_number", f"{self.bridge[0]}\n")
            n.write(f"{d}/subordinate_bus_number", f"{self.bridge[1]}\n")
        if self.driver:
            n.link(f"{d}/driver", f"sys/bus/pci/drivers/{self.driver}")
        n.link(f"sys/bus/pci/devices/{self.bdf}", d)


def sriov(pf, vfs, total):
    n = pf.node
    n.write(f"{pf.dir()}/sriov_totalvfs", f"{total}\n")
    n.write(f"{pf.dir()}/sriov_numvfs", f"{len(vfs)}\n")
    for i, vf in enumerate(vfs):
        n.link(f"{pf.dir()}/virtfn{i}", vf.dir())
        n.link(f"{vf.dir()}/physfn", pf.dir())


def ib_device(fn, name, guid, ports, *, fw="28.39.1002", hca="MT4129"):
    """ports: list of dicts with state, phys, layer, rate, netdev (RoCE ndev or None)."""
    n, base = fn.node, f"{fn.dir()}/infiniband/{name}"
    n.write(f"{base}/node_guid", guid + "\n")
    n.write(f"{base}/sys_image_guid", guid + "\n")
    n.write(f"{base}/node_type", "1: CA\n")
    n.write(f"{base}/fw_ver", fw + "\n")
    n.write(f"{base}/hca_type", hca + "\n")
    n.write(f"{base}/board_id", "MT_0000000001\n")
    n.link(f"{base}/device", fn.dir())
    for i, p in enumerate(ports, start=1):
        d = f"{base}/ports/{i}"
        n.write(f"{d}/state", p["state"] + "\n")
        n.write(f"{d}/phys_state", p["phys"] + "\n")
        n.write(f"{d}/link_layer", p["layer"] + "\n")
        n.write(f"{d}/rate", p["rate"] + "\n")
        if p["layer"] == "InfiniBand":
            n.write(f"{d}/gids/0", "fe80:0000:0000:0000:" + guid + "\n")
            n.write(f"{d}/lid", "0x10\n")
        else:
            n.write(f"{d}/gids/0", "fe80:0000:0000:0000:0000:0000:0000:0001\n")
            n.write(f"{d}/gid_attrs/types/0", "IB/RoCE v1\n")
            n.write(f"{d}/gid_attrs/ndevs/0", p["netdev"] + "\n")
    n.class_link("infiniband", name, base)


def char_dev(fn, cls, name, ibdev, dev, port=None):
    n, d = fn.node, f"{fn.dir()}/{cls}/{name}"
    n.write(f"{d}/ibdev", ibdev + "\n")
    n.write(f"{d}/dev", dev + "\n")
    if port is not None:
        n.write(f"{d}/port", f"{port}\n")
    n.class_link(cls, name, d)


def netdev(fn, name, *, ipoib, oper, mtu, ifindex, dev_port=0):
    n, d = fn.node, f"{fn.dir()}/net/{name}"
    n.write(f"{d}/addr_len", "20\n" if ipoib else "6\n")
    n.write(f"{d}/type", "32\n" if ipoib else "1\n")
    n.write(f"{d}/address", ("00:00:10:87:fe:80:00:00:00:00:00:00:b8:3f:d2:03:00:a1:00:10" if ipoib
                             else f"b8:3f:d2:00:00:{ifindex:02x}") + "\n")
    n.write(f"{d}/dev_port", f"{dev_port}\n")
    n.write(f"{d}/dev_id", "0x0\n")
    n.write(f"{d}/operstate", oper + "\n")
    n.write(f"{d}/mtu", f"{mtu}\n")
    n.write(f"{d}/ifindex", f"{ifindex}\n")
    n.class_link("net", name, d)


def abi(n):
    n.write("sys/class/infiniband_verbs/abi_version", "6\n")
    n.write("sys/class/infiniband_mad/abi_version", "5\n")


def ib_port(state, phys, rate):
    return {"state": state, "phys": phys, "layer": "InfiniBand", "rate": rate, "netdev": None}


def roce_port(state, phys, rate, ndev):
    return {"state": state, "phys": phys, "layer": "Ethernet", "rate": rate, "netdev": ndev}


def cx7_ib_sriov():
    n = Node("cx7-ib-sriov", 2, 4)
    n.write_cpus_numa()
    abi(n)
    rp = Fn(n, "0000:00:01.0", 0x8086, 0x352a, 0x060400, root="pci0000:00", bridge=(0x01, 0x04),
            port_type=ROOT_PORT, driver="pcieport")
    up = Fn(n, "0000:01:00.0", 0x1000, 0xc030, 0x060400, rp, bridge=(0x02, 0x04),
            port_type=UPSTREAM, driver="pcieport")
    dn_gpu = Fn(n, "0000:02:00.0", 0x1000, 0xc030, 0x060400, up, bridge=(0x03, 0x03),
                port_type=DOWNSTREAM, driver="pcieport")
    dn_nic = Fn(n, "0000:02:01.0", 0x1000, 0xc030, 0x060400, up, bridge=(0x04, 0x04),
                port_type=DOWNSTREAM, driver="pcieport")
    gpu = Fn(n, "0000:03:00.0", 0x10de, 0x2330, 0x030200, dn_gpu, driver="nvidia")
    pf = Fn(n, "0000:04:00.0", 0x15b3, 0x1021, 0x020700, dn_nic, driver="mlx5_core",
            multifunction=True)
    vf1 = Fn(n, "0000:04:00.1", 0x15b3, 0x101e, 0x020700, dn_nic, driver="mlx5_core")
    vf2 = Fn(n, "0000:04:00.2", 0x15b3, 0x101e, 0x020700, dn_nic, driver="mlx5_core")
    rp1 = Fn(n, "0000:80:01.0", 0x8086, 0x352a, 0x060400, root="pci0000:80", bridge=(0x81, 0x81),
             port_type=ROOT_PORT, driver="pcieport", numa=1)
    cx6 = Fn(n, "0000:81:00.0", 0x15b3, 0x101b, 0x020700, rp1, driver="mlx5_core", numa=1)
    for f in (rp, up, dn_gpu, dn_nic, gpu, pf, vf1, vf2, rp1, cx6):
        f.write()
    sriov(pf, [vf1, vf2], 8)

    up_ndr = ib_port("4: ACTIVE", "5: LinkUp", "400 Gb/sec (4X NDR)")
    ib_device(pf, "mlx5_0", "b83f:d203:00a1:0010", [up_ndr])
    netdev(pf, "ibp4s0", ipoib=True, oper="up", mtu=4092, ifindex=4)
    char_dev(pf, "infiniband_verbs", "uverbs0", "mlx5_0", "231:192")
    char_dev(pf, "infiniband_mad", "umad0", "mlx5_0", "231:0", 1)
    char_dev(pf, "infiniband_mad", "issm0", "mlx5_0", "231:64", 1)

    ib_device(vf1, "mlx5_2", "b83f:d203:00a1:1001", [up_ndr])
    netdev(vf1, "ibp4s0f1", ipoib=True, oper="up", mtu=4092, ifindex=6)
    char_dev(vf1, "infiniband_verbs", "uverbs2", "mlx5_2", "231:194")
    char_dev(vf1, "infiniband_mad", "umad2", "mlx5_2", "231:2", 1)

    ib_device(vf2, "mlx5_3", "b83f:d203:00a1:1002",
              [ib_port("1: DOWN", "5: LinkUp", "400 Gb/sec (4X NDR)")])
    char_dev(vf2, "infiniband_verbs", "uverbs3", "mlx5_3", "231:195")
    char_dev(vf2, "infiniband_mad", "umad3", "mlx5_3", "231:3", 1)

    ib_device(cx6, "mlx5_1", "0c42:a103:0016:0001",
              [ib_port("2: INIT", "5: LinkUp", "200 Gb/sec (4X HDR)")], fw="20.37.1014",
              hca="MT4123")
    netdev(cx6, "ibp129s0", ipoib=True, oper="down", mtu=4092, ifindex=5)
    char_dev(cx6, "infiniband_verbs", "uverbs1", "mlx5_1", "231:193")
    char_dev(cx6, "infiniband_mad", "umad1", "mlx5_1", "231:1", 1)
    char_dev(cx6, "infiniband_mad", "issm1", "mlx5_1", "231:65", 1)

    n.write("sys/devices/virtual/misc/rdma_cm/dev", "10:58\n")
    n.class_link("misc", "rdma_cm", "sys/devices/virtual/misc/rdma_cm")
    return n


def cx6dx_roce():
    n = Node("cx6dx-roce", 1, 4)
    n.write_cpus_numa()
    abi(n)
    fns = []

    def root_port(dev, bus):
        return Fn(n, f"0000:00:{dev:02x}.0", 0x8086, 0x352a, 0x060400, root="pci0000:00",
                  bridge=(bus, bus), port_type=ROOT_PORT, driver="pcieport")

    rp1, rp2, rp3, rp4 = root_port(2, 1), root_port(3, 2), root_port(4, 3), root_port(5, 4)
    f0 = Fn(n, "0000:01:00.0", 0x15b3, 0x101d, 0x020000, rp1, driver="mlx5_core",
            multifunction=True)
    f1 = Fn(n, "0000:01:00.1", 0x15b3, 0x101d, 0x020000, rp1, driver="mlx5_core",
            multifunction=True)
    vf = Fn(n, "0000:01:00.2", 0x15b3, 0x101e, 0x020000, rp1, driver="mlx5_core")
    cx5 = Fn(n, "0000:02:00.0", 0x15b3, 0x1017, 0x020000, rp2, driver="mlx5_core")
    lx = Fn(n, "0000:03:00.0", 0x15b3, 0x101f, 0x020000, rp3, driver="mlx5_core")
    igb = Fn(n, "0000:04:00.0", 0x8086, 0x1521, 0x020000, rp4, driver="igb")
    fns += [rp1, rp2, rp3, rp4, f0, f1, vf, cx5, lx, igb]
    for f in fns:
        f.write()
    sriov(f0, [vf], 4)
    n.write(f"{f1.dir()}/sriov_totalvfs", "4\n")
    n.write(f"{f1.dir()}/sriov_numvfs", "0\n")

    rate = "100 Gb/sec (4X EDR)"
    ib_device(f0, "mlx5_0", "b83f:d203:0002:0a00",
              [roce_port("4: ACTIVE", "5: LinkUp", rate, "ens1f0np0")], fw="22.41.1000",
              hca="MT4125")
    netdev(f0, "ens1f0np0", ipoib=False, oper="up", mtu=9000, ifindex=4)
    char_dev(f0, "infiniband_verbs", "uverbs0", "mlx5_0", "231:192")
    char_dev(f0, "infiniband_mad", "umad0", "mlx5_0", "231:0", 1)

    ib_device(f1, "mlx5_1", "b83f:d203:0002:0a01",
              [roce_port("1: DOWN", "3: Disabled", rate, "ens1f1np1")], fw="22.41.1000",
              hca="MT4125")
    netdev(f1, "ens1f1np1", ipoib=False, oper="down", mtu=1500, ifindex=5)
    char_dev(f1, "infiniband_verbs", "uverbs1", "mlx5_1", "231:193")
    char_dev(f1, "infiniband_mad", "umad1", "mlx5_1", "231:1", 1)

    ib_device(vf, "mlx5_2", "0000:0000:0000:0000",
              [roce_port("4: ACTIVE", "5: LinkUp", rate, "ens1f0v0")], fw="22.41.1000",
              hca="MT4126")
    netdev(vf, "ens1f0v0", ipoib=False, oper="up", mtu=1500, ifindex=7)
    char_dev(vf, "infiniband_verbs", "uverbs2", "mlx5_2", "231:194")
    char_dev(vf, "infiniband_mad", "umad2", "mlx5_2", "231:2", 1)

    ib_device(cx5, "mlx5_3", "9803:9b03:0000:0001",
              [roce_port("4: ACTIVE", "5: LinkUp", "25 Gb/sec (1X EDR)", "ens2np0")],
              fw="16.35.2000", hca="MT4119")
    netdev(cx5, "ens2np0", ipoib=False, oper="up", mtu=1500, ifindex=6)
    # No infiniband_verbs: ib_uverbs is not loaded. umad still exists.
    char_dev(cx5, "infiniband_mad", "umad3", "mlx5_3", "231:3", 1)

    netdev(lx, "ens3np0", ipoib=False, oper="up", mtu=1500, ifindex=8)
    netdev(igb, "eno1", ipoib=False, oper="up", mtu=1500, ifindex=2)
    return n


def main():
    for name, make in (("cx7-ib-sriov", cx7_ib_sriov), ("cx6dx-roce", cx6dx_roce)):
        out = os.path.join(HERE, name)
        if os.path.exists(out):
            shutil.rmtree(out)
        node = make()
        count = sum(len(files) + len(dirs) for _, dirs, files in os.walk(node.out))
        print(f"wrote {node.out} ({count} entries)")


if __name__ == "__main__":
    main()
