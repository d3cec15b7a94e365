#include "agent/debug/options.h"

#include <map>

#include "CLI/CLI.hpp"

#include "agent/debug/output.h"

namespace tessera::agent::debug {

topology::TopologySource SourceOptions::Source() const {
  if (!sysfs_root.empty()) return topology::TopologySource::SysfsRoot(sysfs_root);
  if (!hwloc_xml.empty()) return topology::TopologySource::HwlocXml(hwloc_xml);
  return topology::TopologySource::Live(host_root.empty() ? "/" : host_root);
}

void AddSourceOptions(CLI::App& app, SourceOptions& options) {
  CLI::Option* sysfs =
      app.add_option("--sysfs-root", options.sysfs_root,
                     "Read a captured root (holding sys/ and proc/, as `node-debug "
                     "snapshot` writes it) or a sys directory instead of this host");
  CLI::Option* xml =
      app.add_option("--hwloc-xml", options.hwloc_xml,
                     "Read an hwloc XML export (lstopo --of xml) instead of this host");
  CLI::Option* host = app.add_option("--host-root", options.host_root,
                                     "Root of the host's filesystem when running in a container")
                          ->envname("HOST_ROOT")
                          ->capture_default_str();
  sysfs->excludes(xml);
  sysfs->excludes(host);
  xml->excludes(host);
}

absl::StatusOr<topology::NodeTopology> LoadSelected(const SourceOptions& options) {
  return topology::LoadTopology(options.Source());
}

void AddOutputOption(CLI::App& app, OutputFormat& format) {
  const std::map<std::string, OutputFormat> names = {{"table", OutputFormat::kTable},
                                                     {"json", OutputFormat::kJson},
                                                     {"yaml", OutputFormat::kYaml}};
  app.add_option("-o,--output", format, "Output format: table, json or yaml")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case))
      ->default_str("table");
}

void PrintDocument(std::ostream& out, OutputFormat format, const topology::Json& doc) {
  if (format == OutputFormat::kYaml) {
    out << ToYaml(doc) << "\n";
  } else {
    // Values come from the host; a byte that is not UTF-8 must not abort the
    // output, so it is replaced (U+FFFD) rather than thrown on.
    out << doc.dump(2, ' ', false, topology::Json::error_handler_t::replace) << "\n";
  }
}

}  // namespace tessera::agent::debug
