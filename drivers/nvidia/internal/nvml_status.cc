#include "drivers/nvidia/internal/nvml_status.h"

#include "base/strings.h"
#include "drivers/nvidia/internal/nvml_abi.h"

namespace tessera::drivers::nvidia::internal {

absl::StatusCode NvmlReturnToCode(int nvml_return) {
  using absl::StatusCode;
  switch (nvml_return) {
    case abi::NVML_SUCCESS:
      return StatusCode::kOk;
    // Our bug (NVML not initialized by us, or a buffer we sized wrongly).
    case abi::NVML_ERROR_UNINITIALIZED:
    case abi::NVML_ERROR_INSUFFICIENT_SIZE:
      return StatusCode::kInternal;
    case abi::NVML_ERROR_INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    // The GPU or the installed driver cannot do this at all: callers treat it
    // as "feature absent" (e.g. no MIG on a T4).
    case abi::NVML_ERROR_NOT_SUPPORTED:
    case abi::NVML_ERROR_FUNCTION_NOT_FOUND:
    case abi::NVML_ERROR_VGPU_ECC_NOT_SUPPORTED:
    case abi::NVML_ERROR_FREQ_NOT_SUPPORTED:
    case abi::NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
    case abi::NVML_ERROR_DEPRECATED:
      return StatusCode::kUnimplemented;
    // MIG changes need root; cgroups/device rules block the control device.
    case abi::NVML_ERROR_NO_PERMISSION:
    case abi::NVML_ERROR_OPERATING_SYSTEM:
      return StatusCode::kPermissionDenied;
    case abi::NVML_ERROR_NOT_FOUND:
    case abi::NVML_ERROR_NO_DATA:
    case abi::NVML_ERROR_LIBRARY_NOT_FOUND:
    case abi::NVML_ERROR_GPU_NOT_FOUND:
      return StatusCode::kNotFound;
    // Host not ready for this (house style: FailedPrecondition, retry later):
    // kernel module missing, mismatched user/kernel driver, device busy,
    // reset pending, external power missing.
    case abi::NVML_ERROR_ALREADY_INITIALIZED:
    case abi::NVML_ERROR_DRIVER_NOT_LOADED:
    case abi::NVML_ERROR_LIB_RM_VERSION_MISMATCH:
    case abi::NVML_ERROR_IN_USE:
    case abi::NVML_ERROR_RESET_REQUIRED:
    case abi::NVML_ERROR_INSUFFICIENT_POWER:
    case abi::NVML_ERROR_INVALID_STATE:
      return StatusCode::kFailedPrecondition;
    // The device stopped answering: the driver marks it unhealthy.
    case abi::NVML_ERROR_GPU_IS_LOST:
    case abi::NVML_ERROR_IRQ_ISSUE:
    case abi::NVML_ERROR_NOT_READY:
      return StatusCode::kUnavailable;
    case abi::NVML_ERROR_TIMEOUT:
      return StatusCode::kDeadlineExceeded;
    // A placement that is taken, or no instance of the profile left.
    case abi::NVML_ERROR_INSUFFICIENT_RESOURCES:
    case abi::NVML_ERROR_MEMORY:
      return StatusCode::kResourceExhausted;
    case abi::NVML_ERROR_CORRUPTED_INFOROM:
      return StatusCode::kDataLoss;
    default:
      return StatusCode::kUnknown;
  }
}

std::string_view NvmlReturnName(int nvml_return) {
  switch (nvml_return) {
    case abi::NVML_SUCCESS:
      return "NVML_SUCCESS";
    case abi::NVML_ERROR_UNINITIALIZED:
      return "NVML_ERROR_UNINITIALIZED";
    case abi::NVML_ERROR_INVALID_ARGUMENT:
      return "NVML_ERROR_INVALID_ARGUMENT";
    case abi::NVML_ERROR_NOT_SUPPORTED:
      return "NVML_ERROR_NOT_SUPPORTED";
    case abi::NVML_ERROR_NO_PERMISSION:
      return "NVML_ERROR_NO_PERMISSION";
    case abi::NVML_ERROR_ALREADY_INITIALIZED:
      return "NVML_ERROR_ALREADY_INITIALIZED";
    case abi::NVML_ERROR_NOT_FOUND:
      return "NVML_ERROR_NOT_FOUND";
    case abi::NVML_ERROR_INSUFFICIENT_SIZE:
      return "NVML_ERROR_INSUFFICIENT_SIZE";
    case abi::NVML_ERROR_INSUFFICIENT_POWER:
      return "NVML_ERROR_INSUFFICIENT_POWER";
    case abi::NVML_ERROR_DRIVER_NOT_LOADED:
      return "NVML_ERROR_DRIVER_NOT_LOADED";
    case abi::NVML_ERROR_TIMEOUT:
      return "NVML_ERROR_TIMEOUT";
    case abi::NVML_ERROR_IRQ_ISSUE:
      return "NVML_ERROR_IRQ_ISSUE";
    case abi::NVML_ERROR_LIBRARY_NOT_FOUND:
      return "NVML_ERROR_LIBRARY_NOT_FOUND";
    case abi::NVML_ERROR_FUNCTION_NOT_FOUND:
      return "NVML_ERROR_FUNCTION_NOT_FOUND";
    case abi::NVML_ERROR_CORRUPTED_INFOROM:
      return "NVML_ERROR_CORRUPTED_INFOROM";
    case abi::NVML_ERROR_GPU_IS_LOST:
      return "NVML_ERROR_GPU_IS_LOST";
    case abi::NVML_ERROR_RESET_REQUIRED:
      return "NVML_ERROR_RESET_REQUIRED";
    case abi::NVML_ERROR_OPERATING_SYSTEM:
      return "NVML_ERROR_OPERATING_SYSTEM";
    case abi::NVML_ERROR_LIB_RM_VERSION_MISMATCH:
      return "NVML_ERROR_LIB_RM_VERSION_MISMATCH";
    case abi::NVML_ERROR_IN_USE:
      return "NVML_ERROR_IN_USE";
    case abi::NVML_ERROR_MEMORY:
      return "NVML_ERROR_MEMORY";
    case abi::NVML_ERROR_NO_DATA:
      return "NVML_ERROR_NO_DATA";
    case abi::NVML_ERROR_VGPU_ECC_NOT_SUPPORTED:
      return "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED";
    case abi::NVML_ERROR_INSUFFICIENT_RESOURCES:
      return "NVML_ERROR_INSUFFICIENT_RESOURCES";
    case abi::NVML_ERROR_FREQ_NOT_SUPPORTED:
      return "NVML_ERROR_FREQ_NOT_SUPPORTED";
    case abi::NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
      return "NVML_ERROR_ARGUMENT_VERSION_MISMATCH";
    case abi::NVML_ERROR_DEPRECATED:
      return "NVML_ERROR_DEPRECATED";
    case abi::NVML_ERROR_NOT_READY:
      return "NVML_ERROR_NOT_READY";
    case abi::NVML_ERROR_GPU_NOT_FOUND:
      return "NVML_ERROR_GPU_NOT_FOUND";
    case abi::NVML_ERROR_INVALID_STATE:
      return "NVML_ERROR_INVALID_STATE";
    case abi::NVML_ERROR_UNKNOWN:
      return "NVML_ERROR_UNKNOWN";
    default:
      return "NVML_ERROR_UNRECOGNIZED";
  }
}

absl::Status NvmlStatus(int nvml_return, std::string_view operation,
                        std::string_view error_string) {
  absl::StatusCode code = NvmlReturnToCode(nvml_return);
  if (code == absl::StatusCode::kOk) return absl::OkStatus();
  std::string_view what = error_string.empty() ? NvmlReturnName(nvml_return) : error_string;
  return absl::Status(code, base::StrCat(operation, ": ", what, " (nvml error ", nvml_return, ")"));
}

}  // namespace tessera::drivers::nvidia::internal
