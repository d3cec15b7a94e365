// libFuzzer harness for the strict CDI reader (built with -DTESSERA_FUZZ=ON and
// clang). Invariants: Parse never crashes, and a spec it accepts at our
// version marshals and parses back to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kubelet/cdi/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace cdi = tessera::kubelet::cdi;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cdi::Spec> spec = cdi::Parse(text, "fuzz");
  if (!spec.ok() || spec->version != cdi::kSpecVersion) return 0;
  absl::StatusOr<std::string> out = cdi::Marshal(*spec);
  if (!out.ok()) std::abort();
  absl::StatusOr<cdi::Spec> again = cdi::Parse(*out, "fuzz");
  if (!again.ok() || !(*again == *spec)) std::abort();
  return 0;
}
