// Prefix("10.0.0.2/24"): an IpPrefix from a literal that tests know to be valid
// (it dereferences the parse result unchecked).
#pragma once

#include <string_view>

#include "topology/ip_prefix.h"

namespace tessera::testing {

inline topology::IpPrefix Prefix(std::string_view text) { return *topology::ParseIpPrefix(text); }

}  // namespace tessera::testing
