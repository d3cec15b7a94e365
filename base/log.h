// Logging: spdlog, configured once in main() by base::log::Init, one named
// logger per module (Get("topology")), levels adjustable per module.
//
// Messages are a fixed text followed by key=value pairs:
//   log->info("prepared claim uid={} devices={} duration_ms={}", uid, n, ms);
// The text format is "<RFC3339 UTC> <level> <module>] <message>"; with
// Options::json each line is one JSON object whose key=value pairs become fields.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "spdlog/spdlog.h"

namespace tessera::base::log {

struct Options {
  std::string level = "info";                      // trace, debug, info, warn, error, off
  std::map<std::string, std::string> module_levels;  // module -> level
  bool json = false;
};

// Parses "info" or "info,kubelet=debug,topology=trace" into level + overrides.
absl::StatusOr<Options> ParseLevels(std::string_view spec, Options base = {});

// Applies `options` to every existing and future logger. Call from main().
absl::Status Init(const Options& options);

// The logger for `module`. Cheap after the first call per module; modules keep
// the returned pointer in a function-local static. Thread-safe.
std::shared_ptr<spdlog::logger> Get(std::string_view module);

// Changes one module's level at run time.
absl::Status SetLevel(std::string_view module, std::string_view level);

}  // namespace tessera::base::log
