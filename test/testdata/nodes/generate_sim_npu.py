#!/usr/bin/env python3
"""Writes the simulated NPU nodes used by drivers/npu tests.

Output (each a fake filesystem root with sys/, proc/ and, where the vendor
keeps files there, etc/; loadable by hwloc and by Tessera's sysfs reader):

  sim-8x910b3-8xcx6dx   8x Huawei Ascend 910B3 + 4x dual-port ConnectX-6 Dx
  sim-8xgaudi2          8x Intel (Habana) Gaudi2
  sim-mtl-npu           a Meteor Lake client with its integrated Intel NPU

The layouts are written for Tessera from the vendors' public sources; no
captured data is copied. Where a detail is not documented it is marked
"illustrative" below.

sim-8x910b3-8xcx6dx (modelled on Atlas 800T A2 descriptions):
  - 4 sockets x 48 cores (Kunpeng 920, aarch64, no SMT) = 192 CPUs, one NUMA
    node per socket, 512 GiB each, SLIT 10/16/32/33 (illustrative).
  - 4 root complexes pci0000:00/40/80/c0, one per socket. Each: root port
    B:00.0 -> PCIe switch (upstream B+1:00.0, downstream B+2:00.0/01.0/02.0)
    -> NPU at B+3:00.0, NPU at B+4:00.0, dual-port NIC at B+5:00.0/00.1.
    The switch (Broadcom PEX ids) and the host NICs under it are illustrative:
    they give the NPU<->NIC alignment tests a PIX pair.
  - NPUs: 19e5:d802 (Ascend 910B, lspci "Processing accelerators", class
    0x120000), bound to devdrv_device_driver, whose PCI devices carry `dev_id`
    = the physical id N of /dev/davinciN (Ascend driver sysfs; mind-cluster
    fault tooling reads /sys/bus/pci/drivers/devdrv_device_driver/<bdf>/dev_id).
    No /sys/class entry: the davinci nodes have none.
  - The 910B's own RoCE port (one per NPU, on the NPU SoC) is not a host PCI
    function: it has no netdev and no RDMA device on the host. Its address is
    in /etc/hccn.conf ("address_<phy id>=<ip>", written by hccn_tool; the
    mind-cluster and MindSpore docs read `device_ip` from there) and in DCMI
    (dcmi_get_device_ip, DCMI_ROCE_PORT).
  - Host NICs: NVIDIA ConnectX-6 Dx (15b3:101d, class 0x020000, mlx5_core)
    in Ethernet (RoCE) mode: mlx5_N, port 1 link_layer Ethernet, netdev
    enp<bus>s0f<fn>np0, uverbsN.
  - pci0000:00 also has a root port 00:08.0 with the Huawei iBMC display
    (19e5:1711, hibmc-drm), which is no GPU.

sim-8xgaudi2 (modelled on HLS-Gaudi2 descriptions):
  - 2 sockets x 40 cores x 2 threads = 160 CPUs, NUMA 0/1, SLIT 10/21.
  - 4 root complexes pci0000:16/38 (socket 0), pci0000:97/b9 (socket 1); each
    root port -> PCIe switch -> two Gaudi2 (1da3:1020, class 0x120000, bound to
    habanalabs). Switch ids illustrative.
  - Per Gaudi (intel-resource-drivers-for-kubernetes pkg/gaudi/discovery and
    Documentation/ABI/testing/sysfs-driver-habanalabs): accel/accel<N> (dev
    261:N, /sys/class/accel/accel<N>), accel/accel_controlD<N>, module_id (OAM
    slot, deliberately not equal to N), device_type "GAUDI2", serial_number,
    status ("operational"; accel5 "needs reset"), and the integrated NIC's
    verbs node infiniband_verbs/uverbs<N> (ibdev hbl_<N>).
  - pci0000:00: ASPEED AST2600 BMC display behind its AST1150 bridge.

sim-mtl-npu:
  - 1 socket, 16 CPUs, one NUMA node.
  - 0000:00:02.0 Intel Arc iGPU (8086:7d55, i915, card0/renderD128).
  - 0000:00:0b.0 Intel NPU (8086:7d1d, class 0x120000, intel_vpu) with
    accel/accel0 (261:0) (Linux Documentation/accel/introduction.rst,
    drivers/accel/ivpu). On the root bus: no switch, so no pcieSwitch.

The fake vendor libraries' descriptions of the same machines go to
test/testdata/npu/ (schema: drivers/npu/testing/README.md):
  dcmi-8x910b3.json   what DCMI reports on sim-8x910b3-8xcx6dx: cards 0..7,
                      one 910B3 chip each (logic id = physical id, as on
                      910B), 64 GiB HBM, 20 AI cores, RoCE address as in
                      hccn.conf; physical id 6 reports health 3 (critical).
  hlml-8xgaudi2.json  what HLML reports on sim-8xgaudi2: HL-225 (Gaudi2 OAM),
                      96 GiB, minor = accel index, module ids as in sysfs.

Run from anywhere: python3 generate_sim_npu.py. Rewrites the output folders.
"""

import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# PCIe port types (PCI Express Capabilities register, bits 7:4).
ENDPOINT, ROOT_PORT, UPSTREAM, DOWNSTREAM, PCIE_TO_PCI = 0, 4, 5, 6, 7


class Node:
    """One simulated machine: CPUs, NUMA nodes, and a writer rooted at its folder."""

    def __init__(self, name, hostname, sockets, cores, threads, mem_kb_per_node, distances,
                 cpu_vendor, cpu_model):
        self.name, self.hostname = name, hostname
        self.sockets, self.cores, self.threads = sockets, cores, threads
        self.ncpus = sockets * cores * threads
        self.mem_kb = mem_kb_per_node
        self.distances = distances
        self.cpu_vendor, self.cpu_model = cpu_vendor, cpu_model
        self.out = os.path.join(HERE, name)

    # -- file helpers
    def write(self, rel, data, mode="w"):
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode) as f:
            f.write(data)

    def link(self, rel, target):
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)

    def rel_link(self, rel, target_rel):
        self.link(rel, os.path.relpath(target_rel, os.path.dirname(rel)))

    def class_link(self, cls, name, target_dir):
        self.rel_link(f"sys/class/{cls}/{name}", target_dir)

    # -- CPUs and memory
    def cpus_of_socket(self, s):
        per_thread = self.sockets * self.cores
        first = s * self.cores
        out = []
        for t in range(self.threads):
            out += list(range(t * per_thread + first, t * per_thread + first + self.cores))
        return out

    def cpulist(self, cpus):
        cpus = sorted(cpus)
        out, start, prev = [], None, None
        for c in cpus + [None]:
            if start is None:
                start = prev = c
            elif c is not None and c == prev + 1:
                prev = c
            else:
                out.append(f"{start}-{prev}" if start != prev else f"{start}")
                start = prev = c
        return ",".join(out)

    def cpumask(self, cpus):
        words = [0] * ((self.ncpus + 31) // 32)
        for c in cpus:
            words[c // 32] |= 1 << (c % 32)
        return ",".join(f"{w:08x}" for w in reversed(words))

    def write_cpus_and_memory(self):
        base = "sys/devices/system/cpu"
        for f in ("online", "possible", "present"):
            self.write(f"{base}/{f}", f"0-{self.ncpus - 1}\n")
        self.write(f"{base}/kernel_max", "8191\n")
        per_thread = self.sockets * self.cores
        for cpu in range(self.ncpus):
            core = cpu % per_thread
            sock = core // self.cores
            siblings = [core + t * per_thread for t in range(self.threads)]
            pkg = self.cpus_of_socket(sock)
            t = f"{base}/cpu{cpu}/topology"
            self.write(f"{t}/physical_package_id", f"{sock}\n")
            self.write(f"{t}/die_id", "0\n")
            self.write(f"{t}/core_id", f"{core % self.cores}\n")
            # The masks hwloc 2.x reads (Documentation/ABI/stable/sysfs-devices-system-cpu).
            for name, cpus in (("core_cpus", siblings), ("die_cpus", pkg), ("package_cpus", pkg)):
                self.write(f"{t}/{name}", self.cpumask(cpus) + "\n")
            if cpu != 0:
                self.write(f"{base}/cpu{cpu}/online", "1\n")
        nodes = f"0-{self.sockets - 1}" if self.sockets > 1 else "0"
        nbase = "sys/devices/system/node"
        for f in ("online", "possible", "has_cpu", "has_memory", "has_normal_memory"):
            self.write(f"{nbase}/{f}", nodes + "\n")
        for s in range(self.sockets):
            n = f"{nbase}/node{s}"
            cpus = self.cpus_of_socket(s)
            self.write(f"{n}/cpumap", self.cpumask(cpus) + "\n")
            self.write(f"{n}/cpulist", self.cpulist(cpus) + "\n")
            self.write(f"{n}/distance", " ".join(str(d) for d in self.distances[s]) + "\n")
            free = self.mem_kb - 6291456
            self.write(f"{n}/meminfo",
                       f"Node {s} MemTotal:       {self.mem_kb} kB\n"
                       f"Node {s} MemFree:        {free} kB\n"
                       f"Node {s} MemUsed:        {self.mem_kb - free} kB\n")
        lines = []
        for cpu in range(self.ncpus):
            core = cpu % per_thread
            lines.append(f"processor\t: {cpu}\nvendor_id\t: {self.cpu_vendor}\n"
                         f"model name\t: {self.cpu_model}\nphysical id\t: {core // self.cores}\n"
                         f"core id\t\t: {core % self.cores}\ncpu cores\t: {self.cores}\n\n")
        self.write("proc/cpuinfo", "".join(lines))
        total = self.mem_kb * self.sockets
        self.write("proc/meminfo", f"MemTotal:       {total} kB\nMemFree:        {total - 8388608} kB\n")
        self.write("proc/sys/kernel/hostname", self.hostname + "\n")


class Fn:
    """One PCI function: its sysfs directory and attribute files."""

    def __init__(self, node, bdf, vendor, device, cls, parent=None, root=None, *, sub=(0, 0),
                 driver=None, bridge=None, port_type=ENDPOINT, link=(4, 16), numa=0,
                 multifunction=False):
        self.node = node
        self.bdf, self.vendor, self.device, self.cls = bdf, vendor, device, cls
        self.parent, self.root, self.sub, self.driver = parent, root, sub, driver
        self.bridge, self.port_type, self.link = bridge, port_type, link
        self.numa, self.multifunction = numa, multifunction

    @property
    def bus(self):
        return int(self.bdf.split(":")[1], 16)

    @property
    def function(self):
        return int(self.bdf.split(".")[1], 16)

    def dir(self):
        chain, f = [], self
        while f is not None:
            chain.append(f.bdf)
            root = f.root
            f = f.parent
        return "sys/devices/" + "/".join([root] + list(reversed(chain)))

    def config(self):
        c = bytearray(256)
        struct.pack_into("<HHHH", c, 0, self.vendor, self.device, 0x0406,
                         0x0010 if self.port_type is not None else 0)
        c[0x08] = 0x01
        c[0x09], c[0x0a], c[0x0b] = self.cls & 0xff, (self.cls >> 8) & 0xff, (self.cls >> 16) & 0xff
        c[0x0e] = (1 if self.bridge else 0) | (0x80 if self.multifunction else 0)
        if self.bridge:
            c[0x18], c[0x19], c[0x1a] = self.bus, self.bridge[0], self.bridge[1]
        else:
            struct.pack_into("<HH", c, 0x2c, self.sub[0], self.sub[1])
        if self.port_type is not None:
            c[0x34] = 0x40
            c[0x40], c[0x41] = 0x10, 0x00  # PCI Express capability, last in the list
            struct.pack_into("<H", c, 0x42, 0x2 | (self.port_type << 4))
            speed, width = self.link
            struct.pack_into("<I", c, 0x4c, speed | (width << 4))
            struct.pack_into("<H", c, 0x52, speed | (width << 4))
        return bytes(c)

    def write(self):
        n, d = self.node, self.dir()
        n.write(f"{d}/vendor", f"0x{self.vendor:04x}\n")
        n.write(f"{d}/device", f"0x{self.device:04x}\n")
        n.write(f"{d}/subsystem_vendor", f"0x{self.sub[0]:04x}\n")
        n.write(f"{d}/subsystem_device", f"0x{self.sub[1]:04x}\n")
        n.write(f"{d}/class", f"0x{self.cls:06x}\n")
        n.write(f"{d}/config", self.config(), "wb")
        n.write(f"{d}/numa_node", f"{self.numa if n.sockets > 1 else -1}\n")
        cpus = n.cpus_of_socket(self.numa)
        n.write(f"{d}/local_cpulist", n.cpulist(cpus) + "\n")
        n.write(f"{d}/local_cpus", n.cpumask(cpus) + "\n")
        n.write(f"{d}/enable", "1\n")
        if self.bridge:
            n.write(f"{d}/secondary_bus_number", f"{self.bridge[0]}\n")
            n.write(f"{d}/subordinate_bus_number", f"{self.bridge[1]}\n")
        if self.driver:
            n.rel_link(f"{d}/driver", f"sys/bus/pci/drivers/{self.driver}")
        n.rel_link(f"sys/bus/pci/devices/{self.bdf}", d)


def bdf(bus, dev=0, fn=0):
    return f"0000:{bus:02x}:{dev:02x}.{fn:x}"


def write_json(name, obj):
    path = os.path.join(HERE, "..", "npu", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def reset(node):
    if os.path.exists(node.out):
        shutil.rmtree(node.out)


# ------------------------------------------------------------- Ascend 910B3

def write_ascend():
    node = Node("sim-8x910b3-8xcx6dx", "sim-atlas-01", sockets=4, cores=48, threads=1,
                mem_kb_per_node=536870912,
                distances=[[10, 16, 32, 33], [16, 10, 25, 32], [32, 25, 10, 16], [33, 32, 16, 10]],
                cpu_vendor="HiSilicon", cpu_model="Kunpeng-920")
    reset(node)
    node.write_cpus_and_memory()
    fns, npus, nics = [], [], []
    for s, rbus in enumerate((0x00, 0x40, 0x80, 0xc0)):
        root = f"pci0000:{rbus:02x}"
        rp = Fn(node, bdf(rbus), 0x19e5, 0xa120, 0x060400, root=root, bridge=(rbus + 1, rbus + 5),
                port_type=ROOT_PORT, numa=s, driver="pcieport")
        up = Fn(node, bdf(rbus + 1), 0x1000, 0xc030, 0x060400, rp, bridge=(rbus + 2, rbus + 5),
                port_type=UPSTREAM, numa=s, driver="pcieport")
        fns += [rp, up]
        for slot in range(3):
            child = rbus + 3 + slot
            dn = Fn(node, bdf(rbus + 2, slot), 0x1000, 0xc030, 0x060400, up, bridge=(child, child),
                    port_type=DOWNSTREAM, numa=s, driver="pcieport")
            fns.append(dn)
            if slot < 2:
                npu = Fn(node, bdf(child), 0x19e5, 0xd802, 0x120000, dn, sub=(0x19e5, 0x6000),
                         driver="devdrv_device_driver", numa=s)
                fns.append(npu)
                npus.append(npu)
            else:
                for f in range(2):
                    nic = Fn(node, bdf(child, 0, f), 0x15b3, 0x101d, 0x020000, dn, sub=(0x15b3, 0x0016),
                             driver="mlx5_core", numa=s, multifunction=True)
                    fns.append(nic)
                    nics.append(nic)
        if rbus == 0x00:
            rp_bmc = Fn(node, bdf(0x00, 0x08), 0x19e5, 0xa120, 0x060400, root=root, bridge=(0x06, 0x06),
                        port_type=ROOT_PORT, link=(1, 1), numa=s, driver="pcieport")
            vga = Fn(node, bdf(0x06), 0x19e5, 0x1711, 0x030000, rp_bmc, sub=(0x19e5, 0x1711),
                     driver="hibmc-drm", link=(1, 1), numa=s)
            fns += [rp_bmc, vga]
            node.write(f"{vga.dir()}/drm/card0/dev", "226:0\n")
            node.class_link("drm", "card0", f"{vga.dir()}/drm/card0")
    for f in fns:
        f.write()

    # NPUs: physical id in PCI order (dev_id), as /dev/davinci<phy id>.
    hccn = []
    cards = []
    for phy, npu in enumerate(npus):
        node.write(f"{npu.dir()}/dev_id", f"{phy}\n")
        hccn.append(f"address_{phy}=192.168.100.{101 + phy}\nnetmask_{phy}=255.255.255.0\n")
        cards.append({"cardId": phy, "chips": [{
            "logicId": phy, "physicalId": phy, "chipType": "Ascend", "chipName": "910B3",
            "chipVersion": "V1", "aicoreCount": 20, "pciBusId": npu.bdf, "pciVendorId": "0x19e5",
            "pciDeviceId": "0xd802", "pciSubsystemVendorId": "0x19e5", "pciSubsystemDeviceId": "0x6000",
            "hbmMiB": 65536, "health": 3 if phy == 6 else 0, "roceIp": f"192.168.100.{101 + phy}"}]})
    node.write("etc/hccn.conf", "".join(hccn))
    write_json("dcmi-8x910b3.json", {"version": "24.1.rc2", "cards": cards})

    node.write("sys/class/infiniband_verbs/abi_version", "6\n")
    for i, nic in enumerate(nics):
        d = nic.dir()
        ib = f"mlx5_{i}"
        guid = f"0c42:a103:00f6:{0x20 + i:04x}"
        mac = f"0c:42:a1:f6:00:{0x20 + i:02x}"
        base = f"{d}/infiniband/{ib}"
        node.write(f"{base}/node_guid", guid + "\n")
        node.write(f"{base}/sys_image_guid", guid + "\n")
        node.write(f"{base}/node_type", "1: CA\n")
        node.write(f"{base}/fw_ver", "22.39.1002\n")
        node.write(f"{base}/hca_type", "MT4125\n")
        p = f"{base}/ports/1"
        node.write(f"{p}/state", "4: ACTIVE\n")
        node.write(f"{p}/phys_state", "5: LinkUp\n")
        node.write(f"{p}/link_layer", "Ethernet\n")
        node.write(f"{p}/rate", "100 Gb/sec (2X HDR)\n")
        node.write(f"{p}/gids/0", "fe80:0000:0000:0000:0e42:a1ff:fef6:" + f"{0x20 + i:04x}\n")
        node.class_link("infiniband", ib, base)
        netdev = f"enp{nic.bus}s0f{nic.function}np0"
        n = f"{d}/net/{netdev}"
        node.write(f"{n}/address", mac + "\n")
        node.write(f"{n}/addr_len", "6\n")
        node.write(f"{n}/type", "1\n")
        node.write(f"{n}/operstate", "up\n")
        node.write(f"{n}/mtu", "4200\n")
        node.write(f"{n}/ifindex", f"{3 + i}\n")
        node.class_link("net", netdev, n)
        v = f"{d}/infiniband_verbs/uverbs{i}"
        node.write(f"{v}/ibdev", ib + "\n")
        node.write(f"{v}/dev", f"231:{192 + i}\n")
        node.class_link("infiniband_verbs", f"uverbs{i}", v)
    return node


# ------------------------------------------------------------- Gaudi2

GAUDI_MODULE_IDS = [2, 3, 0, 1, 6, 7, 4, 5]


def write_gaudi():
    node = Node("sim-8xgaudi2", "sim-hls2-01", sockets=2, cores=40, threads=2,
                mem_kb_per_node=528482304, distances=[[10, 21], [21, 10]],
                cpu_vendor="GenuineIntel", cpu_model="Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz")
    reset(node)
    node.write_cpus_and_memory()
    fns, gaudis = [], []
    rp_bmc = Fn(node, bdf(0x00, 0x1c), 0x8086, 0xa190, 0x060400, root="pci0000:00", bridge=(0x02, 0x03),
                port_type=ROOT_PORT, link=(1, 1), driver="pcieport")
    ast = Fn(node, bdf(0x02), 0x1a03, 0x1150, 0x060400, rp_bmc, bridge=(0x03, 0x03),
             port_type=PCIE_TO_PCI, link=(1, 1))
    vga = Fn(node, bdf(0x03), 0x1a03, 0x2000, 0x030000, ast, sub=(0x1a03, 0x2000), driver="ast",
             port_type=None)
    fns += [rp_bmc, ast, vga]
    for i, (rbus, s) in enumerate(((0x16, 0), (0x38, 0), (0x97, 1), (0xb9, 1))):
        root = f"pci0000:{rbus:02x}"
        rp = Fn(node, bdf(rbus, 0x01), 0x8086, 0x347a, 0x060400, root=root, bridge=(rbus + 1, rbus + 4),
                port_type=ROOT_PORT, numa=s, driver="pcieport")
        up = Fn(node, bdf(rbus + 1), 0x1000, 0xc030, 0x060400, rp, bridge=(rbus + 2, rbus + 4),
                port_type=UPSTREAM, numa=s, driver="pcieport")
        fns += [rp, up]
        for slot in range(2):
            child = rbus + 3 + slot
            dn = Fn(node, bdf(rbus + 2, slot), 0x1000, 0xc030, 0x060400, up, bridge=(child, child),
                    port_type=DOWNSTREAM, numa=s, driver="pcieport")
            g = Fn(node, bdf(child), 0x1da3, 0x1020, 0x120000, dn, sub=(0x1da3, 0x8000),
                   driver="habanalabs", numa=s)
            fns += [dn, g]
            gaudis.append(g)
    for f in fns:
        f.write()
    node.write(f"{vga.dir()}/drm/card0/dev", "226:0\n")
    node.class_link("drm", "card0", f"{vga.dir()}/drm/card0")

    node.write("sys/class/infiniband_verbs/abi_version", "6\n")
    for n, g in enumerate(gaudis):
        d = g.dir()
        node.write(f"{d}/module_id", f"{GAUDI_MODULE_IDS[n]}\n")
        node.write(f"{d}/device_type", "GAUDI2\n")
        node.write(f"{d}/serial_number", f"AN{0x2a00 + n:05X}\n")
        node.write(f"{d}/status", "needs reset\n" if n == 5 else "operational\n")
        a = f"{d}/accel/accel{n}"
        node.write(f"{a}/dev", f"261:{n}\n")
        node.class_link("accel", f"accel{n}", a)
        node.write(f"{d}/accel/accel_controlD{n}/dev", f"261:{128 + n}\n")
        v = f"{d}/infiniband_verbs/uverbs{n}"
        node.write(f"{v}/ibdev", f"hbl_{n}\n")
        node.write(f"{v}/dev", f"231:{192 + n}\n")
        node.class_link("infiniband_verbs", f"uverbs{n}", v)
    write_json("hlml-8xgaudi2.json", {"driverVersion": "1.17.0-fw-51.2.0", "devices": [
        {"name": "HL-225", "uuid": f"01P0-HL2080A0-15-TNB0A2-{n:02d}-07-00", "serial": f"AN{0x2a00 + n:05X}",
         "pciBusId": g.bdf, "pciVendorId": "0x1da3", "pciDeviceId": "0x1020",
         "moduleId": GAUDI_MODULE_IDS[n], "minorNumber": n, "memoryTotalBytes": 96 * 1024 ** 3}
        for n, g in enumerate(gaudis)]})
    return node


# ------------------------------------------------------------- Meteor Lake NPU

def write_mtl():
    node = Node("sim-mtl-npu", "sim-laptop-01", sockets=1, cores=16, threads=1,
                mem_kb_per_node=32505856, distances=[[10]], cpu_vendor="GenuineIntel",
                cpu_model="Intel(R) Core(TM) Ultra 7 155H")
    reset(node)
    node.write_cpus_and_memory()
    igpu = Fn(node, bdf(0x00, 0x02), 0x8086, 0x7d55, 0x030000, root="pci0000:00", sub=(0x8086, 0x2212),
              driver="i915", port_type=None)
    vpu = Fn(node, bdf(0x00, 0x0b), 0x8086, 0x7d1d, 0x120000, root="pci0000:00", sub=(0x8086, 0x2212),
             driver="intel_vpu", port_type=None)
    for f in (igpu, vpu):
        f.write()
    for name, minor in (("card0", 0), ("renderD128", 128)):
        node.write(f"{igpu.dir()}/drm/{name}/dev", f"226:{minor}\n")
        node.class_link("drm", name, f"{igpu.dir()}/drm/{name}")
    a = f"{vpu.dir()}/accel/accel0"
    node.write(f"{a}/dev", "261:0\n")
    node.class_link("accel", "accel0", a)
    return node


def main():
    for make in (write_ascend, write_gaudi, write_mtl):
        node = make()
        count = sum(len(files) + len(dirs) for _, dirs, files in os.walk(node.out))
        print(f"wrote {node.out} ({count} entries)")


if __name__ == "__main__":
    main()
