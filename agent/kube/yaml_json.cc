#include "agent/kube/yaml_json.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "yaml-cpp/yaml.h"

#include "base/strings.h"

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {

using base::StrCat;

constexpr size_t kMaxBytes = 16 << 20;
constexpr size_t kMaxNodes = 1'000'000;
// 1024 (the YAML limit of an implicit key) / 4 (the longest escape) - quotes.
constexpr size_t kMaxImplicitKeyBytes = 255;

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A plain scalar typed by the YAML 1.2 core schema.
Json InferScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  std::string_view v = s;
  bool negative = false;
  std::string_view digits = v;
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  if (AllDigits(digits)) {
    if (negative) {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && ptr == v.data() + v.size()) return n;
    } else {
      uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec == std::errc() && ptr == digits.data() + digits.size()) {
        if (n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return static_cast<int64_t>(n);
        }
        return n;
      }
    }
    return s;  // out of range: keep the text
  }
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o') &&
      !negative) {
    uint64_t n = 0;
    int radix = digits[1] == 'x' ? 16 : 8;
    auto [ptr, ec] = std::from_chars(digits.data() + 2, digits.data() + digits.size(), n, radix);
    if (ec == std::errc() && ptr == digits.data() + digits.size() &&
        n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(n);
    }
    return s;
  }
  if (digits == ".inf" || digits == ".Inf" || digits == ".INF") {
    // JSON has no infinity; keep the text.
    return s;
  }
  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  {
    size_t i = 0;
    size_t int_digits = 0;
    while (i < digits.size() && std::isdigit(static_cast<unsigned char>(digits[i])))
      ++i, ++int_digits;
    size_t frac_digits = 0;
    bool dot = false;
    if (i < digits.size() && digits[i] == '.') {
      dot = true;
      ++i;
      while (i < digits.size() && std::isdigit(static_cast<unsigned char>(digits[i])))
        ++i, ++frac_digits;
    }
    bool mantissa = int_digits > 0 || frac_digits > 0;
    bool exponent = false;
    if (mantissa && i < digits.size() && (digits[i] == 'e' || digits[i] == 'E')) {
      size_t j = i + 1;
      if (j < digits.size() && (digits[j] == '+' || digits[j] == '-')) ++j;
      size_t exp_digits = 0;
      while (j < digits.size() && std::isdigit(static_cast<unsigned char>(digits[j])))
        ++j, ++exp_digits;
      if (exp_digits > 0) {
        i = j;
        exponent = true;
      }
    }
    if (mantissa && (dot || exponent) && i == digits.size()) {
      double d = std::strtod(s.c_str(), nullptr);
      if (std::isfinite(d)) return d;
    }
  }
  return s;
}

struct Converter {
  size_t nodes = 0;
  bool too_many = false;
  // The first scalar that is not UTF-8, if any.
  std::optional<YAML::Mark> bad_utf8;

  Json Convert(const YAML::Node& node) {
    if (++nodes > kMaxNodes) {
      too_many = true;
      return nullptr;
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar:
        if (!base::IsValidUtf8(node.Scalar())) {
          if (!bad_utf8) bad_utf8 = node.Mark();
          return nullptr;
        }
        // "!" is the tag of a quoted (non-plain) scalar: always a string.
        if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return node.Scalar();
        return InferScalar(node.Scalar());
      case YAML::NodeType::Sequence: {
        Json out = Json::array();
        for (const YAML::Node& item : node) {
          out.push_back(Convert(item));
          if (too_many) return nullptr;
        }
        return out;
      }
      case YAML::NodeType::Map: {
        Json out = Json::object();
        for (const auto& kv : node) {
          std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
          if (!base::IsValidUtf8(key)) {
            if (!bad_utf8) bad_utf8 = kv.first.Mark();
            key.clear();
          }
          out[key] = Convert(kv.second);
          if (too_many) return nullptr;
        }
        return out;
      }
    }
    return nullptr;
  }
};

void Emit(YAML::Emitter& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      out << YAML::Null;
      return;
    case Json::value_t::boolean:
      out << (v.get<bool>() ? "true" : "false");
      return;
    case Json::value_t::number_integer:
      out << v.get<int64_t>();
      return;
    case Json::value_t::number_unsigned:
      out << v.get<uint64_t>();
      return;
    case Json::value_t::number_float:
      out << v.dump();
      return;
    case Json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      // Quote whatever a reader would not take back as this exact string.
      Json back = InferScalar(s);
      bool needs_quotes = !back.is_string() || s.empty() ||
                          std::isspace(static_cast<unsigned char>(s.front())) ||
                          std::isspace(static_cast<unsigned char>(s.back()));
      if (needs_quotes) out << YAML::DoubleQuoted;
      out << s;
      return;
    }
    case Json::value_t::array:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const Json& item : v) Emit(out, item);
      out << YAML::EndSeq;
      return;
    case Json::value_t::object:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        // A YAML implicit key is at most 1024 characters as written. yaml-cpp
        // switches to an explicit "? key" by the key's length before escaping,
        // and a control character is written as 4 ("\x11"): long keys are
        // made explicit here.
        if (it.key().size() > kMaxImplicitKeyBytes) out << YAML::LongKey;
        out << YAML::Key;
        Emit(out, Json(it.key()));
        out << YAML::Value;
        Emit(out, *it);
      }
      out << YAML::EndMap;
      return;
    default:
      out << YAML::Null;
  }
}

}  // namespace

absl::StatusOr<Json> YamlToJson(std::string_view yaml, std::string_view what) {
  if (yaml.size() > kMaxBytes) {
    return absl::InvalidArgumentError(
        StrCat(what, ": document of ", yaml.size(), " bytes exceeds the limit of ", kMaxBytes));
  }
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    Converter converter;
    Json out = converter.Convert(root);
    if (converter.too_many) {
      return absl::InvalidArgumentError(
          StrCat(what, ": document expands to more than ", kMaxNodes, " nodes"));
    }
    if (converter.bad_utf8) {
      return absl::InvalidArgumentError(StrCat(what, ": line ", converter.bad_utf8->line + 1,
                                               ", column ", converter.bad_utf8->column + 1,
                                               ": invalid UTF-8"));
    }
    return out;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        StrCat(what, ": line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat(what, ": ", e.what()));
  }
}

std::string JsonToYaml(const Json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  Emit(out, value);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text.push_back('\n');
  return text;
}

}  // namespace tessera::agent::kube
