// RecordMachine: what NVML says about this machine, as the JSON description
// the fake libnvidia-ml.so.1 (testing/fake_libnvml.cc) loads. Running
// nvml-record on a real node therefore turns that node into a test fixture,
// and a bug report into a regression test (Falco's recorded-captures habit).
//
// The schema is documented in drivers/nvidia/README.md. Compute instance
// profiles can only be asked of an existing GPU instance, so they are recorded
// for the profiles that have one at recording time; the fake derives the rest.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "drivers/nvidia/nvml.h"

namespace tessera::drivers::nvidia {

struct RecordOptions {
  // Replace GPU and MIG UUIDs with stable hashes and drop serial numbers, for
  // fixtures that leave the site they were recorded on.
  bool redact = false;
  // Record the GPUs that can be read and list the others under "skipped"
  // (with their error) instead of failing.
  bool keep_going = false;
};

// Reads everything through `nvml`. Fails with the first error (annotated with
// the GPU index) unless options.keep_going.
absl::StatusOr<nlohmann::json> RecordMachine(const Nvml& nvml, const RecordOptions& options);

// Same fields for one GPU (exposed for tests and for node-debug).
absl::StatusOr<nlohmann::json> RecordGpu(const Nvml& nvml, uint32_t index,
                                         const RecordOptions& options);

}  // namespace tessera::drivers::nvidia
