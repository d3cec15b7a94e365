#!/usr/bin/env python3
"""Writes the bundled simulated node: a two-socket, 8-GPU, 8-NIC server.

Output: test/testdata/nodes/sim-8xh100-8xcx7/{sys,proc}, a fake filesystem
root that both hwloc's linux backend (HWLOC_FSROOT, `lstopo -i DIR`) and
Tessera's sysfs reader (`node-debug topology --sysfs-root DIR`) load.

The machine (written for Tessera, modelled on public descriptions of
8-GPU HGX H100 servers; no captured data is copied):
  - 2 sockets x 56 cores x 2 threads = 224 CPUs, NUMA node 0 = 0-55,112-167,
    node 1 = 56-111,168-223, 1 TiB per node, SLIT 10/21.
  - 4 GPU root complexes (pci0000:15, pci0000:37 on socket 0; pci0000:97,
    pci0000:b9 on socket 1). Each has one root port and a two-level PCIe
    switch tree: a level-1 switch whose two downstream ports each lead to a
    level-2 switch holding one GPU and one NIC. So GPU<->own NIC is PIX, GPU
    <->the neighbour pair's NIC PXB, across root complexes NODE/SYS.
  - GPUs: NVIDIA H100 SXM5 80GB (10de:2330, class 0x030200, driver nvidia),
    with /dev/nvidiaN minors in proc/driver/nvidia/gpus/<bdf>/information and
    DRM nodes cardN/renderDN (nvidia-drm).
  - NICs: NVIDIA ConnectX-7 (15b3:1021, class 0x020700, driver mlx5_core) in
    InfiniBand mode: mlx5_N with port 1 (state, phys_state, link_layer, rate,
    lid, gids/0), node_guid, sys_image_guid, IPoIB netdev ibp<bus>s0,
    uverbsN (ibdev, dev), umadN/issmN, SR-IOV capable (16 VFs, none enabled).
    mlx5_7's port is down (state "1: DOWN", phys_state "3: Disabled") so that
    drivers can test a link-down NIC.
  - pci0000:15 also has a second root port with an onboard Intel I350
    (8086:1521, igb, two functions eno1/eno2, no RDMA): a PHB neighbour of
    GPU0/GPU1.
  - pci0000:00: the ASPEED AST2600 BMC VGA (1a03:2000, driver ast, card0)
    behind its AST1150 PCIe-to-PCI bridge (1a03:1150), which is not a switch.
  - pci0000:c8: a Samsung PM1733 NVMe (144d:a824, class 0x010802) whose
    numa_node is -1; its local_cpulist is node 1's, so the NUMA rule gives 1.
Bridge vendor/device ids (Intel root ports, Broadcom PEX switch ports) are
illustrative; config space carries each bridge's PCIe port type and bus
numbers, as hwloc and Tessera read them.

Run from anywhere: python3 generate_sim_8gpu.py. Rewrites the output folder.
"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "sim-8xh100-8xcx7"
OUT = os.path.join(HERE, NAME)
HOSTNAME = "sim-hgx-01"

SOCKETS = 2
CORES = 56
THREADS = 2
NCPUS = SOCKETS * CORES * THREADS
MEM_KB_PER_NODE = 1056715548  # ~1 TiB

# PCIe port types (PCI Express Capabilities register, bits 7:4).
ENDPOINT, LEGACY_ENDPOINT, ROOT_PORT, UPSTREAM, DOWNSTREAM, PCIE_TO_PCI = 0, 1, 4, 5, 6, 7


def cpus_of_node(node):
    first = node * CORES
    return list(range(first, first + CORES)) + list(range(SOCKETS * CORES + first, SOCKETS * CORES + first + CORES))


def cpulist(cpus):
    cpus = sorted(cpus)
    out, start, prev = [], None, None
    for c in cpus:
        if start is None:
            start = prev = c
        elif c == prev + 1:
            prev = c
        else:
            out.append(f"{start}-{prev}" if start != prev else f"{start}")
            start = prev = c
    if start is not None:
        out.append(f"{start}-{prev}" if start != prev else f"{start}")
    return ",".join(out)


def cpumask(cpus):
    words = [0] * ((NCPUS + 31) // 32)
    for c in cpus:
        words[c // 32] |= 1 << (c % 32)
    return ",".join(f"{w:08x}" for w in reversed(words))


def write(rel, data, mode="w"):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(data)


def link(rel, target):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)


def rel_link(from_rel, to_rel):
    """A relative symlink target from the directory of from_rel to to_rel."""
    return os.path.relpath(to_rel, os.path.dirname(from_rel))


# ---------------------------------------------------------------- CPUs, NUMA


def write_cpus():
    base = "sys/devices/system/cpu"
    allc = f"0-{NCPUS - 1}\n"
    for f in ("online", "possible", "present"):
        write(f"{base}/{f}", allc)
    write(f"{base}/kernel_max", "8191\n")
    for cpu in range(NCPUS):
        core = cpu % (SOCKETS * CORES)
        pkg = core // CORES
        siblings = [core, core + SOCKETS * CORES]
        pkg_cpus = cpus_of_node(pkg)
        t = f"{base}/cpu{cpu}/topology"
        write(f"{t}/physical_package_id", f"{pkg}\n")
        write(f"{t}/die_id", "0\n")
        write(f"{t}/core_id", f"{core % CORES}\n")
        # The masks hwloc 2.x reads (Documentation/ABI/stable/sysfs-devices-system-cpu);
        # the *_list twins and the older thread_siblings/core_siblings names
        # are left out to keep the fixture small.
        for name, cpus in (("core_cpus", siblings), ("die_cpus", pkg_cpus), ("package_cpus", pkg_cpus)):
            write(f"{t}/{name}", cpumask(cpus) + "\n")
        if cpu != 0:
            write(f"{base}/cpu{cpu}/online", "1\n")


def write_numa():
    base = "sys/devices/system/node"
    for f in ("online", "possible", "has_cpu", "has_memory", "has_normal_memory"):
        write(f"{base}/{f}", f"0-{SOCKETS - 1}\n")
    for node in range(SOCKETS):
        n = f"{base}/node{node}"
        cpus = cpus_of_node(node)
        write(f"{n}/cpumap", cpumask(cpus) + "\n")
        write(f"{n}/cpulist", cpulist(cpus) + "\n")
        write(f"{n}/distance", " ".join("10" if i == node else "21" for i in range(SOCKETS)) + "\n")
        free = MEM_KB_PER_NODE - 8123456
        write(f"{n}/meminfo",
              f"Node {node} MemTotal:       {MEM_KB_PER_NODE} kB\n"
              f"Node {node} MemFree:        {free} kB\n"
              f"Node {node} MemUsed:        {MEM_KB_PER_NODE - free} kB\n"
              f"Node {node} HugePages_Total:     0\n"
              f"Node {node} HugePages_Free:      0\n")


def write_proc():
    lines = []
    for cpu in range(NCPUS):
        core = cpu % (SOCKETS * CORES)
        lines.append(f"processor\t: {cpu}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\n"
                     f"model name\t: Intel(R) Xeon(R) Platinum 8480C\nstepping\t: 8\n"
                     f"physical id\t: {core // CORES}\nsiblings\t: {CORES * THREADS}\n"
                     f"core id\t\t: {core % CORES}\ncpu cores\t: {CORES}\n\n")
    write("proc/cpuinfo", "".join(lines))
    total = MEM_KB_PER_NODE * SOCKETS
    write("proc/meminfo", f"MemTotal:       {total} kB\nMemFree:        {total - 16246912} kB\n")
    write("proc/sys/kernel/hostname", HOSTNAME + "\n")


# ---------------------------------------------------------------- PCI


class Fn:
    """One PCI function: its sysfs directory and attribute files."""

    def __init__(self, bdf, vendor, device, cls, parent=None, root=None, *, sub=(0, 0), driver=None,
                 bridge=None, port_type=None, link=(5, 16), numa=0, numa_raw=None, multifunction=False):
        self.bdf, self.vendor, self.device, self.cls = bdf, vendor, device, cls
        self.parent, self.root, self.sub, self.driver = parent, root, sub, driver
        self.bridge, self.port_type, self.link = bridge, port_type, link
        self.numa = numa
        self.numa_raw = numa if numa_raw is None else numa_raw
        self.multifunction = multifunction

    @property
    def bus(self):
        return int(self.bdf.split(":")[1], 16)

    def dir(self):
        chain = []
        f = self
        while f is not None:
            chain.append(f.bdf)
            f = f.parent
        root = self.root if self.root else self.parent_root()
        return "sys/devices/" + "/".join([root] + list(reversed(chain)))

    def parent_root(self):
        f = self
        while f.parent is not None:
            f = f.parent
        return f.root

    def config(self):
        c = bytearray(256)
        struct.pack_into("<HHHH", c, 0, self.vendor, self.device, 0x0406,
                         0x0010 if self.port_type is not None else 0x0000)
        c[0x08] = 0x01  # revision
        c[0x09] = self.cls & 0xff
        c[0x0a] = (self.cls >> 8) & 0xff
        c[0x0b] = (self.cls >> 16) & 0xff
        header = 1 if self.bridge else 0
        c[0x0e] = header | (0x80 if self.multifunction else 0)
        if self.bridge:
            secondary, subordinate = self.bridge
            c[0x18], c[0x19], c[0x1a] = self.bus, secondary, subordinate
        else:
            struct.pack_into("<HH", c, 0x2c, self.sub[0], self.sub[1])
        if self.port_type is not None:
            c[0x34] = 0x40
            c[0x40], c[0x41] = 0x10, 0x00  # PCI Express capability, last in list
            struct.pack_into("<H", c, 0x42, 0x2 | (self.port_type << 4))
            speed, width = self.link
            struct.pack_into("<I", c, 0x4c, speed | (width << 4))  # link capabilities
            struct.pack_into("<H", c, 0x52, speed | (width << 4))  # link status
        return bytes(c)

    def write(self):
        d = self.dir()
        write(f"{d}/vendor", f"0x{self.vendor:04x}\n")
        write(f"{d}/device", f"0x{self.device:04x}\n")
        write(f"{d}/subsystem_vendor", f"0x{self.sub[0]:04x}\n")
        write(f"{d}/subsystem_device", f"0x{self.sub[1]:04x}\n")
        write(f"{d}/class", f"0x{self.cls:06x}\n")
        write(f"{d}/config", self.config(), "wb")
        write(f"{d}/numa_node", f"{self.numa_raw}\n")
        cpus = cpus_of_node(self.numa)
        write(f"{d}/local_cpulist", cpulist(cpus) + "\n")
        write(f"{d}/local_cpus", cpumask(cpus) + "\n")
        write(f"{d}/enable", "1\n")
        if self.bridge:
            write(f"{d}/secondary_bus_number", f"{self.bridge[0]}\n")
            write(f"{d}/subordinate_bus_number", f"{self.bridge[1]}\n")
        if self.port_type is not None:
            speeds = {1: "2.5 GT/s PCIe", 2: "5.0 GT/s PCIe", 3: "8.0 GT/s PCIe", 4: "16.0 GT/s PCIe",
                      5: "32.0 GT/s PCIe"}
            write(f"{d}/current_link_speed", speeds[self.link[0]] + "\n")
            write(f"{d}/current_link_width", f"{self.link[1]}\n")
        if self.driver:
            link(f"{d}/driver", rel_link(f"{d}/driver", f"sys/bus/pci/drivers/{self.driver}"))
        link(f"sys/bus/pci/devices/{self.bdf}", rel_link(f"sys/bus/pci/devices/{self.bdf}", d))


def bdf(bus, dev=0, fn=0):
    return f"0000:{bus:02x}:{dev:02x}.{fn:x}"


def build_pci():
    fns = []
    # pci0000:00: host bridge device, BMC VGA behind the AST1150.
    fns.append(Fn(bdf(0x00), 0x8086, 0x09a2, 0x060000, root="pci0000:00"))
    rp_bmc = Fn(bdf(0x00, 0x1c), 0x8086, 0x7a38, 0x060400, root="pci0000:00", bridge=(0x02, 0x03),
                port_type=ROOT_PORT, link=(1, 1), driver="pcieport")
    ast_bridge = Fn(bdf(0x02), 0x1a03, 0x1150, 0x060400, rp_bmc, bridge=(0x03, 0x03),
                    port_type=PCIE_TO_PCI, link=(1, 1))
    vga = Fn(bdf(0x03), 0x1a03, 0x2000, 0x030000, ast_bridge, sub=(0x1a03, 0x2000), driver="ast")
    vga.port_type = None  # conventional PCI behind the bridge
    fns += [rp_bmc, ast_bridge, vga]

    gpus, nics = [], []
    for i, (rbus, node) in enumerate(((0x15, 0), (0x37, 0), (0x97, 1), (0xb9, 1))):
        root = f"pci0000:{rbus:02x}"
        rp = Fn(bdf(rbus, 0x01), 0x8086, 0x352a, 0x060400, root=root, bridge=(rbus + 1, rbus + 10),
                port_type=ROOT_PORT, numa=node, driver="pcieport")
        up1 = Fn(bdf(rbus + 1), 0x1000, 0xc030, 0x060400, rp, bridge=(rbus + 2, rbus + 10),
                 port_type=UPSTREAM, numa=node, driver="pcieport")
        fns += [rp, up1]
        for half in range(2):
            dn1 = Fn(bdf(rbus + 2, half), 0x1000, 0xc030, 0x060400, up1,
                     bridge=(rbus + 3 + 4 * half, rbus + 6 + 4 * half), port_type=DOWNSTREAM, numa=node,
                     driver="pcieport")
            up2 = Fn(bdf(rbus + 3 + 4 * half), 0x1000, 0xc030, 0x060400, dn1,
                     bridge=(rbus + 4 + 4 * half, rbus + 6 + 4 * half), port_type=UPSTREAM, numa=node,
                     driver="pcieport")
            gpu_bus, nic_bus = rbus + 5 + 4 * half, rbus + 6 + 4 * half
            dn_gpu = Fn(bdf(rbus + 4 + 4 * half, 0), 0x1000, 0xc030, 0x060400, up2,
                        bridge=(gpu_bus, gpu_bus), port_type=DOWNSTREAM, numa=node, driver="pcieport")
            dn_nic = Fn(bdf(rbus + 4 + 4 * half, 1), 0x1000, 0xc030, 0x060400, up2,
                        bridge=(nic_bus, nic_bus), port_type=DOWNSTREAM, numa=node, driver="pcieport")
            gpu = Fn(bdf(gpu_bus), 0x10de, 0x2330, 0x030200, dn_gpu, sub=(0x10de, 0x16c1),
                     driver="nvidia", port_type=ENDPOINT, numa=node)
            nic = Fn(bdf(nic_bus), 0x15b3, 0x1021, 0x020700, dn_nic, sub=(0x15b3, 0x0041),
                     driver="mlx5_core", port_type=ENDPOINT, numa=node)
            fns += [dn1, up2, dn_gpu, dn_nic, gpu, nic]
            gpus.append(gpu)
            nics.append(nic)
        if rbus == 0x15:
            rp2 = Fn(bdf(rbus, 0x05), 0x8086, 0x352e, 0x060400, root=root, bridge=(0x20, 0x20),
                     port_type=ROOT_PORT, link=(2, 4), numa=node, driver="pcieport")
            eth0 = Fn(bdf(0x20, 0, 0), 0x8086, 0x1521, 0x020000, rp2, sub=(0x8086, 0x00a3), driver="igb",
                      port_type=ENDPOINT, link=(2, 4), numa=node, multifunction=True)
            eth1 = Fn(bdf(0x20, 0, 1), 0x8086, 0x1521, 0x020000, rp2, sub=(0x8086, 0x00a3), driver="igb",
                      port_type=ENDPOINT, link=(2, 4), numa=node, multifunction=True)
            fns += [rp2, eth0, eth1]
    # pci0000:c8: NVMe whose numa_node is -1.
    rp_nvme = Fn(bdf(0xc8, 0x01), 0x8086, 0x352a, 0x060400, root="pci0000:c8", bridge=(0xc9, 0xc9),
                 port_type=ROOT_PORT, link=(4, 4), numa=1, driver="pcieport")
    nvme = Fn(bdf(0xc9), 0x144d, 0xa824, 0x010802, rp_nvme, sub=(0x144d, 0xa801), driver="nvme",
              port_type=ENDPOINT, link=(4, 4), numa=1, numa_raw=-1)
    fns += [rp_nvme, nvme]
    return fns, gpus, nics, vga


def class_link(cls, name, target_dir):
    rel = f"sys/class/{cls}/{name}"
    link(rel, rel_link(rel, target_dir))


def write_nvidia(gpus):
    for i, gpu in enumerate(gpus):
        d = gpu.dir()
        uuid = f"GPU-5e1b{i:04x}-7c3a-4f1e-9d2b-{0x1000a0 + i:012x}"
        write(f"proc/driver/nvidia/gpus/{gpu.bdf}/information",
              "Model: \t\t NVIDIA H100 80GB HBM3\n"
              "IRQ:   \t\t 0\n"
              f"GPU UUID: \t {uuid}\n"
              "Video BIOS: \t 96.00.99.00.01\n"
              "Bus Type: \t PCIe\n"
              "DMA Size: \t 52 bits\n"
              "DMA Mask: \t 0xfffffffffffff\n"
              f"Bus Location: \t {gpu.bdf}\n"
              f"Device Minor: \t {i}\n"
              "GPU Excluded:\t No\n")
        for name, minor in ((f"card{i + 1}", i + 1), (f"renderD{128 + i}", 128 + i)):
            write(f"{d}/drm/{name}/dev", f"226:{minor}\n")
            class_link("drm", name, f"{d}/drm/{name}")


def write_mlx5(nics):
    write("sys/class/infiniband_verbs/abi_version", "6\n")
    write("sys/class/infiniband_mad/abi_version", "5\n")
    for i, nic in enumerate(nics):
        d = nic.dir()
        ib = f"mlx5_{i}"
        guid = f"b83f:d203:00a1:{0x10 + i:04x}"
        down = i == 7
        write(f"{d}/sriov_totalvfs", "16\n")
        write(f"{d}/sriov_numvfs", "0\n")
        base = f"{d}/infiniband/{ib}"
        write(f"{base}/node_guid", guid + "\n")
        write(f"{base}/sys_image_guid", guid + "\n")
        write(f"{base}/node_type", "1: CA\n")
        write(f"{base}/node_desc", f"{HOSTNAME} {ib}\n")
        write(f"{base}/fw_ver", "28.39.1002\n")
        write(f"{base}/hca_type", "MT4129\n")
        write(f"{base}/board_id", "MT_0000000838\n")
        link(f"{base}/device", rel_link(f"{base}/device", d))
        p = f"{base}/ports/1"
        write(f"{p}/state", "1: DOWN\n" if down else "4: ACTIVE\n")
        write(f"{p}/phys_state", "3: Disabled\n" if down else "5: LinkUp\n")
        write(f"{p}/link_layer", "InfiniBand\n")
        write(f"{p}/rate", "400 Gb/sec (4X NDR)\n")
        write(f"{p}/lid", "0xffff\n" if down else f"0x{0x20 + i:x}\n")
        write(f"{p}/sm_lid", "0x0\n" if down else "0x1\n")
        write(f"{p}/lid_mask_count", "0\n")
        write(f"{p}/gids/0", "fe80:0000:0000:0000:" + guid + "\n")
        class_link("infiniband", ib, base)

        netdev = f"ibp{nic.bus}s0"
        n = f"{d}/net/{netdev}"
        write(f"{n}/address", f"00:00:10:{0x87 + i:02x}:fe:80:00:00:00:00:00:00:" +
              ":".join(guid.replace(":", "")[k:k + 2] for k in range(0, 16, 2)) + "\n")
        write(f"{n}/addr_len", "20\n")
        write(f"{n}/type", "32\n")
        write(f"{n}/dev_id", "0x0\n")
        write(f"{n}/dev_port", "0\n")
        write(f"{n}/operstate", "down\n" if down else "up\n")
        write(f"{n}/mtu", "4092\n")
        write(f"{n}/ifindex", f"{4 + i}\n")
        class_link("net", netdev, n)

        v = f"{d}/infiniband_verbs/uverbs{i}"
        write(f"{v}/ibdev", ib + "\n")
        write(f"{v}/dev", f"231:{192 + i}\n")
        write(f"{v}/abi_version", "1\n")
        class_link("infiniband_verbs", f"uverbs{i}", v)
        for kind, minor in (("umad", i), ("issm", 64 + i)):
            m = f"{d}/infiniband_mad/{kind}{i}"
            write(f"{m}/ibdev", ib + "\n")
            write(f"{m}/port", "1\n")
            write(f"{m}/dev", f"231:{minor}\n")
            class_link("infiniband_mad", f"{kind}{i}", m)


def write_onboard(fns, vga):
    write("sys/class/drm/version", "drm 1.1.0 20060810\n")  # a plain file among the links
    d = vga.dir()
    write(f"{d}/drm/card0/dev", "226:0\n")
    class_link("drm", "card0", f"{d}/drm/card0")
    ports = [f for f in fns if f.vendor == 0x8086 and f.device == 0x1521]
    for i, f in enumerate(ports):
        n = f"{f.dir()}/net/eno{i + 1}"
        write(f"{n}/address", f"7c:c2:55:9a:00:{i + 1:02x}\n")
        write(f"{n}/addr_len", "6\n")
        write(f"{n}/type", "1\n")
        write(f"{n}/operstate", "up\n" if i == 0 else "down\n")
        write(f"{n}/mtu", "1500\n")
        write(f"{n}/ifindex", f"{2 + i}\n")
        class_link("net", f"eno{i + 1}", n)
    # A virtual interface: in class/net but no PCI parent.
    write("sys/devices/virtual/net/lo/address", "00:00:00:00:00:00\n")
    class_link("net", "lo", "sys/devices/virtual/net/lo")


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    write_cpus()
    write_numa()
    write_proc()
    fns, gpus, nics, vga = build_pci()
    for f in fns:
        f.write()
    write_nvidia(gpus)
    write_mlx5(nics)
    write_onboard(fns, vga)
    count = sum(len(files) + len(dirs) for _, dirs, files in os.walk(OUT))
    print(f"wrote {OUT} ({count} entries)")


if __name__ == "__main__":
    main()
