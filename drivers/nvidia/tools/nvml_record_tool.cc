#include "drivers/nvidia/tools/nvml_record_tool.h"

#include <fstream>
#include <string>

#include "CLI/CLI.hpp"

#include "base/strings.h"
#include "drivers/nvidia/dlopen_nvml.h"
#include "drivers/nvidia/nvml_record.h"

namespace tessera::drivers::nvidia {

int RunNvmlRecord(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"Print what NVML reports about this machine as a fake-NVML JSON fixture."};
  std::string library(kDefaultNvmlLibrary);
  std::string output;
  RecordOptions options;
  app.add_option("--library", library, "NVML library to dlopen")->capture_default_str();
  app.add_option("--output,-o", output, "write the JSON here instead of stdout");
  app.add_flag("--redact", options.redact, "hash UUIDs and drop serial numbers");
  app.add_flag("--keep-going", options.keep_going,
               "record readable GPUs, list unreadable ones under \"skipped\"");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : 2;
  }

  absl::StatusOr<std::unique_ptr<DlopenNvml>> nvml = DlopenNvml::Load(library);
  if (!nvml.ok()) {
    err << "nvml-record: " << nvml.status() << "\n";
    return 1;
  }
  absl::StatusOr<nlohmann::json> recorded = RecordMachine(**nvml, options);
  if (!recorded.ok()) {
    err << "nvml-record: " << recorded.status() << "\n";
    return 1;
  }
  // NVML strings are not guaranteed UTF-8; never let dump() throw on them.
  const std::string text =
      recorded->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (output.empty()) {
    out << text;
    return out.good() ? 0 : 1;
  }
  std::ofstream file(output, std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    err << "nvml-record: write " << output << " failed\n";
    return 1;
  }
  return 0;
}

}  // namespace tessera::drivers::nvidia
