// Golden files: compare generated output (CDI specs, checkpoints,
// ResourceSlices) with a reviewed copy under test/testdata/golden/.
//
//   EXPECT_GOLDEN(text, "cdi/claim_spec.json");
//
// With TESSERA_UPDATE_GOLDEN=1 in the environment the file is rewritten
// instead; review the diff like code. Test-only; reads and writes files
// directly, which is fine outside production code.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace tessera::testing {

inline std::string GoldenPath(const std::string& name) {
  return std::string(TESSERA_SOURCE_DIR) + "/test/testdata/golden/" + name;
}

inline ::testing::AssertionResult MatchesGolden(const std::string& actual,
                                                const std::string& name) {
  const std::string path = GoldenPath(name);
  const char* update = std::getenv("TESSERA_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    if (!out) return ::testing::AssertionFailure() << "cannot write golden file " << path;
    return ::testing::AssertionSuccess();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ::testing::AssertionFailure()
           << "missing golden file " << path << " (create it with TESSERA_UPDATE_GOLDEN=1)";
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (buf.str() != actual) {
    return ::testing::AssertionFailure()
           << "output differs from " << path
           << " (regenerate with TESSERA_UPDATE_GOLDEN=1 and review the diff)\n--- golden\n"
           << buf.str() << "\n--- actual\n"
           << actual;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace tessera::testing

#define EXPECT_GOLDEN(actual, name) EXPECT_TRUE(::tessera::testing::MatchesGolden((actual), (name)))
