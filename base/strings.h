// String helpers on std::string_view.
//
// Debian's Abseil (20220623) is built with ABSL_OPTION_USE_STD_STRING_VIEW=0:
// absl::string_view is its own type and absl::StrCat / StrSplit / StrJoin do
// not accept std::string_view. The project therefore uses these helpers (and
// fmt::format) for string building, and absl only for Status and sync.
// absl::Status::message() is an absl::string_view: pass it through Std().
#pragma once

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"

namespace tessera::base {

inline std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }
inline absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

namespace strings_internal {

inline void AppendPiece(std::string& out, std::string_view s) { out.append(s); }
inline void AppendPiece(std::string& out, const std::string& s) { out.append(s); }
inline void AppendPiece(std::string& out, const char* s) { out.append(s ? s : ""); }
inline void AppendPiece(std::string& out, char c) { out.push_back(c); }
inline void AppendPiece(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline void AppendPiece(std::string& out, bool b) { out.append(b ? "true" : "false"); }
template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool> &&
         !std::is_same_v<T, char>) void AppendPiece(std::string& out, T v) {
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, ptr);
}
void AppendDouble(std::string& out, double v);
template <typename T>
requires std::is_floating_point_v<T>
void AppendPiece(std::string& out, T v) { AppendDouble(out, static_cast<double>(v)); }

}  // namespace strings_internal

// Concatenates strings, string_views, C strings, chars, integers, doubles.
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::AppendPiece(out, args), ...);
  return out;
}
template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::AppendPiece(*out, args), ...);
}

enum class SplitMode { kKeepEmpty, kSkipEmpty };
// Splits on a single character. Views point into `text`.
std::vector<std::string_view> Split(std::string_view text, char sep,
                                    SplitMode mode = SplitMode::kKeepEmpty);
// Splits once at the first `sep`: {"a", "b=c"} for ("a=b=c", '='); second is
// empty and `found` false when `sep` is absent.
struct SplitPair {
  std::string_view first;
  std::string_view second;
  bool found = false;
};
SplitPair SplitOnce(std::string_view text, char sep);

template <typename Range>
std::string Join(const Range& parts, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& p : parts) {
    if (!first) out.append(sep);
    first = false;
    strings_internal::AppendPiece(out, p);
  }
  return out;
}

inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.starts_with(prefix);
}
inline bool EndsWith(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }
std::string_view StripWhitespace(std::string_view s);
std::string ToLower(std::string_view s);
// Printable rendering of untrusted text for error messages: at most
// `max_len` bytes, non-printable bytes as \xNN, in double quotes.
std::string Quote(std::string_view s, size_t max_len = 64);

// Well-formed UTF-8: no stray continuation bytes, truncated sequences,
// overlong forms, surrogates (U+D800..U+DFFF) or values above U+10FFFF.
// NUL is valid UTF-8; callers that hand strings to C APIs check for it.
bool IsValidUtf8(std::string_view s);

}  // namespace tessera::base
