// Test helpers for running the real DlopenNvml on the fake libnvidia-ml.so.1
// built by drivers/nvidia/CMakeLists.txt (test targets get the library paths
// as TESSERA_FAKE_NVML_LIB{,_LEGACY,_BROKEN} compile definitions).
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::drivers::nvidia::testing {

inline std::string FakeNvmlLibrary() { return TESSERA_FAKE_NVML_LIB; }
// A pre-R470 driver: no MIG API, no nvmlDeviceGetArchitecture.
inline std::string LegacyFakeNvmlLibrary() { return TESSERA_FAKE_NVML_LIB_LEGACY; }
// Exports only nvmlInit_v2, nvmlShutdown and nvmlErrorString.
inline std::string BrokenFakeNvmlLibrary() { return TESSERA_FAKE_NVML_LIB_BROKEN; }

// test/testdata/nvml/<name>.
inline std::string NvmlFixture(std::string_view name) {
  return std::string(TESSERA_SOURCE_DIR) + "/test/testdata/nvml/" + std::string(name);
}

// Sets TESSERA_FAKE_NVML_CONFIG (and TESSERA_FAKE_NVML_STATE when `state` is
// not empty) for the object's lifetime; restores the previous values after.
// The fake reads them at the first nvmlInit_v2 of the process, so create the
// DlopenNvml inside this object's scope. Not thread-safe (setenv).
class ScopedFakeNvmlEnv {
 public:
  explicit ScopedFakeNvmlEnv(const std::string& config, const std::string& state = "")
      : old_config_(Get("TESSERA_FAKE_NVML_CONFIG")), old_state_(Get("TESSERA_FAKE_NVML_STATE")) {
    Set("TESSERA_FAKE_NVML_CONFIG", config);
    Set("TESSERA_FAKE_NVML_STATE", state.empty() ? std::nullopt : std::optional(state));
  }
  ~ScopedFakeNvmlEnv() {
    Set("TESSERA_FAKE_NVML_CONFIG", old_config_);
    Set("TESSERA_FAKE_NVML_STATE", old_state_);
  }
  ScopedFakeNvmlEnv(const ScopedFakeNvmlEnv&) = delete;
  ScopedFakeNvmlEnv& operator=(const ScopedFakeNvmlEnv&) = delete;

 private:
  static std::optional<std::string> Get(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
  }
  static void Set(const char* name, const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  std::optional<std::string> old_config_;
  std::optional<std::string> old_state_;
};

}  // namespace tessera::drivers::nvidia::testing
