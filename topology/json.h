// The node model as JSON: the document `node-debug topology --output json`
// prints, documented field by field in docs/topology.md. Keys are camelCase,
// ids are "0x"-prefixed lowercase hex, PCI addresses are extended BDFs,
// unknown values are null.
//
// Pure functions; thread-safe.
#pragma once

#include "nlohmann/json.hpp"
#include "topology/model.h"

namespace tessera::topology {

// {"source", "hostname", "numaNodes", "pcieRoots", "bridges", "devices",
//  "links", "warnings"}
nlohmann::json TopologyToJson(const NodeTopology& topology);

// One element of "devices".
nlohmann::json DeviceToJson(const NodeTopology& topology, const PciDevice& device);

// One element of "links": {"a": pciBusID, "b": pciBusID, "type": "PIX"}.
nlohmann::json LinkToJson(const NodeTopology& topology, const Link& link);

// "0x10de" (4 digits) / "0x0302" (class and subclass).
std::string HexId(uint16_t id);

}  // namespace tessera::topology
