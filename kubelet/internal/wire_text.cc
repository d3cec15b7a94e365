#include "kubelet/internal/wire_text.h"

#include <cstdint>

namespace tessera::kubelet::internal {
namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 if invalid (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF).
size_t ValidSequenceLength(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  auto cont = [&](size_t k) { return k < text.size() && (byte(k) & 0xC0) == 0x80; };
  uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    uint8_t b1 = byte(i + 1);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;  // overlong
    if (b0 == 0xED && b1 > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    uint8_t b1 = byte(i + 1);
    if (b0 == 0xF0 && b1 < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && b1 > 0x8F) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t n = ValidSequenceLength(text, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  constexpr std::string_view kEllipsis = "...";
  if (max_bytes < kEllipsis.size()) return std::string(kEllipsis.substr(0, max_bytes));
  size_t cut = max_bytes - kEllipsis.size();
  // Step back over continuation bytes so no character is split.
  while (cut > 0 && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) --cut;
  std::string out(text.substr(0, cut));
  out.append(kEllipsis);
  return out;
}

std::string_view BaseRequestName(std::string_view request_name) {
  size_t slash = request_name.find('/');
  return slash == std::string_view::npos ? request_name : request_name.substr(0, slash);
}

}  // namespace tessera::kubelet::internal
