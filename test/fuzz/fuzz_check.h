// Invariant checks shared by the libFuzzer harnesses (<module>/*_fuzzer.cc).
//
// A harness reports a broken invariant by printing what broke and aborting:
// libFuzzer (and the replay main of the normal test build,
// test/fuzz/replay_main.cc) then keeps the input as a reproducer. Checks are
// on in every build type. Header-only so that harnesses need no extra
// library; single-threaded like the harnesses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/status.h"

#include "base/log.h"
#include "base/strings.h"

// Aborts with the failed condition and a message when `cond` is false.
#define FUZZ_CHECK(cond, ...)                                                                 \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      ::tessera::fuzz::Fail(__FILE__, __LINE__, #cond, ::tessera::base::StrCat(__VA_ARGS__)); \
    }                                                                                         \
  } while (0)

namespace tessera::fuzz {

// Logs off in every harness: the code under test logs each degraded input,
// which would only slow the fuzzer and bury its report.
inline const bool kLogsOff = [] {
  (void)base::log::Init({.level = "off"});
  return true;
}();

[[noreturn]] inline void Fail(const char* file, int line, const char* cond,
                              const std::string& message) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s: %s\n", file, line, cond, message.c_str());
  std::fflush(stderr);
  std::abort();
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// A non-OK status from parsing outside input must be one of `codes` and carry
// a message: the operator has to be able to tell what was wrong.
inline void CheckCleanError(const absl::Status& status,
                            std::initializer_list<absl::StatusCode> codes, std::string_view what) {
  FUZZ_CHECK(!status.ok(), what, ": expected an error");
  bool allowed = false;
  for (absl::StatusCode code : codes) allowed = allowed || status.code() == code;
  FUZZ_CHECK(allowed, what, ": unexpected code in ", base::Std(status.ToString()));
  FUZZ_CHECK(!status.message().empty(), what, ": error without a message");
}

// Reads the input front to back: a selector byte, then typed pieces, then the
// rest. Running out of input yields zeros and empty strings, never an error,
// so that every input is usable (the shape of clang's FuzzedDataProvider,
// which GCC builds do not have).
class Input {
 public:
  Input(const uint8_t* data, size_t size) : rest_(AsText(data, size)) {}

  uint8_t Byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Up to the next '\n' (consumed, not returned), or the rest.
  std::string_view Line() {
    const size_t nl = rest_.find('\n');
    std::string_view line = rest_.substr(0, nl);
    rest_.remove_prefix(nl == std::string_view::npos ? rest_.size() : nl + 1);
    return line;
  }
  std::string_view Rest() {
    std::string_view r = rest_;
    rest_ = {};
    return r;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace tessera::fuzz
