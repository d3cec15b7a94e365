// Conversion of NVML return codes to absl::Status (house style §2.3: third-party
// boundaries convert immediately). Module-private.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace tessera::drivers::nvidia::internal {

// The absl code for an nvmlReturn_t. NVML_SUCCESS is kOk; unknown values are
// kUnknown. The table, with the reason for each choice, is in the .cc.
absl::StatusCode NvmlReturnToCode(int nvml_return);

// Our own short name for a return code ("NVML_ERROR_GPU_IS_LOST"), used when
// the library cannot be asked (and by the fake library for its config).
std::string_view NvmlReturnName(int nvml_return);

// Status with the mapped code and "<operation>: <error string> (nvml error N)".
// `error_string` is what nvmlErrorString() said; empty uses NvmlReturnName().
absl::Status NvmlStatus(int nvml_return, std::string_view operation, std::string_view error_string);

}  // namespace tessera::drivers::nvidia::internal
