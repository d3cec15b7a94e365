#include "topology/json.h"

#include "spdlog/fmt/fmt.h"
#include "topology/classify.h"

namespace tessera::topology {
namespace {

using nlohmann::json;

json OrNull(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

}  // namespace

std::string HexId(uint16_t id) { return fmt::format("0x{:04x}", id); }

json DeviceToJson(const NodeTopology& t, const PciDevice& d) {
  json os_devices = json::array();
  for (const OsDevice& os : d.os_devices) {
    os_devices.push_back({{"name", os.name},
                          {"type", std::string(OsDeviceTypeName(os.type))},
                          {"info", os.info}});
  }
  return {
      {"kind", std::string(DeviceKindName(d.kind))},
      {"kindReason", std::string(Classify(d).reason)},
      {"pciBusID", d.address.ToString()},
      {"vendorID", HexId(d.vendor_id)},
      {"deviceID", HexId(d.device_id)},
      {"subsystemVendorID", HexId(d.subsystem_vendor_id)},
      {"subsystemDeviceID", HexId(d.subsystem_device_id)},
      {"class", HexId(static_cast<uint16_t>(d.class_code >> 8))},
      {"classCode", fmt::format("0x{:06x}", d.class_code)},
      {"vendorName", OrNull(d.vendor_name)},
      {"deviceName", OrNull(d.device_name)},
      {"driver", OrNull(d.driver)},
      {"numaNode", d.numa_node ? json(*d.numa_node) : json(nullptr)},
      {"localCpus", d.local_cpus.ToListString()},
      {"pcieRoot", OrNull(t.PcieRootName(d))},
      {"pcieSwitch", d.pcie_switch ? json(d.pcie_switch->ToString()) : json(nullptr)},
      {"parentBridge",
       d.parent_bridge >= 0 && d.parent_bridge < static_cast<int>(t.bridges.size())
           ? json(t.bridges[static_cast<size_t>(d.parent_bridge)].address.ToString())
           : json(nullptr)},
      {"physfn", d.physfn ? json(d.physfn->ToString()) : json(nullptr)},
      {"sriovTotalVFs", d.sriov_totalvfs},
      {"sriovNumVFs", d.sriov_numvfs},
      {"osDevices", os_devices},
  };
}

json LinkToJson(const NodeTopology& t, const Link& l) {
  auto bdf = [&](int i) {
    return i >= 0 && i < static_cast<int>(t.devices.size())
               ? t.devices[static_cast<size_t>(i)].address.ToString()
               : std::string();
  };
  return {{"a", bdf(l.a)}, {"b", bdf(l.b)}, {"type", std::string(LinkTypeName(l.type))}};
}

json TopologyToJson(const NodeTopology& t) {
  json numa = json::array();
  for (const NumaNode& n : t.numa_nodes) {
    numa.push_back({{"id", n.id},
                    {"cpus", n.cpus.ToListString()},
                    {"memoryBytes", n.memory_bytes},
                    {"distances", n.distances}});
  }
  json roots = json::array();
  for (const PciRoot& r : t.roots) {
    roots.push_back({{"name", r.name},
                     {"domain", fmt::format("{:04x}", r.domain)},
                     {"busRange", fmt::format("{:02x}-{:02x}", r.first_bus, r.last_bus)}});
  }
  json bridges = json::array();
  for (const PciBridge& b : t.bridges) {
    bridges.push_back({
        {"pciBusID", b.address.ToString()},
        {"vendorID", HexId(b.vendor_id)},
        {"deviceID", HexId(b.device_id)},
        {"pcieRoot", b.root >= 0 && b.root < static_cast<int>(t.roots.size())
                         ? json(t.roots[static_cast<size_t>(b.root)].name)
                         : json(nullptr)},
        {"parent", b.parent >= 0 && b.parent < static_cast<int>(t.bridges.size())
                       ? json(t.bridges[static_cast<size_t>(b.parent)].address.ToString())
                       : json(nullptr)},
        {"secondaryBus", b.secondary_bus},
        {"subordinateBus", b.subordinate_bus},
        {"portType", std::string(PciePortTypeName(b.port_type))},
        {"switchUpstream", b.switch_upstream},
    });
  }
  json devices = json::array();
  for (const PciDevice& d : t.devices) devices.push_back(DeviceToJson(t, d));
  json links = json::array();
  for (const Link& l : t.links) links.push_back(LinkToJson(t, l));
  return {
      {"source", t.source},
      {"hostname", OrNull(t.hostname)},
      {"numaNodes", numa},
      {"pcieRoots", roots},
      {"bridges", bridges},
      {"devices", devices},
      {"links", links},
      {"warnings", t.warnings},
  };
}

}  // namespace tessera::topology
