// RdmaTestNode("cx7-ib-sriov"): the directory of a fixture node under
// test/testdata/rdma. Needs TESSERA_SOURCE_DIR (tessera_cc_test defines it).
#pragma once

#include <string>
#include <string_view>

#include "base/strings.h"

namespace tessera::testing {

inline std::string RdmaTestNode(std::string_view node) {
  return base::StrCat(TESSERA_SOURCE_DIR, "/test/testdata/rdma/", node);
}

}  // namespace tessera::testing
