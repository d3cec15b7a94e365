// Options shared by node-debug commands: where the topology comes from and
// how the result is printed.
//
//   --sysfs-root DIR   a captured root (holding sys/ and proc/, as `node-debug
//                      snapshot` writes it), or a sys directory itself
//   --hwloc-xml FILE   an hwloc XML export (`lstopo --of xml`)
//   --host-root DIR    the live host's root when running in a container
//                      (env HOST_ROOT; default /)
//   --output FORMAT    table (default), json or yaml
// Single-threaded; values are owned by the command that registered them.
#pragma once

#include <ostream>
#include <string>

#include "absl/status/statusor.h"

#include "topology/json.h"
#include "topology/loader.h"
#include "topology/model.h"

namespace CLI {
class App;
}  // namespace CLI

namespace tessera::agent::debug {

struct SourceOptions {
  std::string sysfs_root;
  std::string hwloc_xml;
  std::string host_root = "/";

  topology::TopologySource Source() const;
};

// Registers --sysfs-root, --hwloc-xml (mutually exclusive) and --host-root.
void AddSourceOptions(CLI::App& app, SourceOptions& options);

// Loads the model from the selected source.
absl::StatusOr<topology::NodeTopology> LoadSelected(const SourceOptions& options);

enum class OutputFormat { kTable, kJson, kYaml };

// Registers --output/-o with its three values.
void AddOutputOption(CLI::App& app, OutputFormat& format);

// Writes `doc` as pretty JSON or YAML (for kJson / kYaml), ending with a newline.
void PrintDocument(std::ostream& out, OutputFormat format, const topology::Json& doc);

}  // namespace tessera::agent::debug
