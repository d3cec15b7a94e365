// The only place tessera-agent's flags and environment variables are read.
#pragma once

#include <optional>
#include <ostream>

#include "absl/status/statusor.h"
#include "agent/config.h"

namespace tessera::agent {

// Parses argv, then each flag's environment twin, then defaults; validates
// the result. Returns nullopt when --help or --version was printed to `out`
// (exit 0). InvalidArgument names the flag and what is wrong with it.
absl::StatusOr<std::optional<Config>> ParseAgentFlags(int argc, const char* const* argv,
                                                      std::ostream& out);

// Validation shared with tests: a DNS-1123 subdomain, as driver names must be.
bool IsDnsSubdomain(std::string_view name);

}  // namespace tessera::agent
