#include "base/log.h"
#include "base/strings.h"

#include <mutex>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace tessera::base::log {
namespace {

constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%fZ %l %n] %v";

absl::StatusOr<spdlog::level::level_enum> ToLevel(std::string_view name) {
  std::string n = ToLower(name);
  if (n == "warning") n = "warn";
  spdlog::level::level_enum level = spdlog::level::from_str(n);
  // from_str answers "off" for anything unknown; accept "off" only when asked.
  if (level == spdlog::level::off && n != "off") {
    return absl::InvalidArgumentError(
        StrCat("unknown log level \"", name, "\" (want trace, debug, info, warn, error, off)"));
  }
  return level;
}

// One JSON object per line: {"ts","level","logger","msg", key: value...}.
// The message's trailing key=value pairs become fields; the text before the
// first pair stays in "msg".
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    nlohmann::ordered_json line;
    line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromChrono(msg.time),
                                  absl::UTCTimeZone());
    line["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                                spdlog::level::to_string_view(msg.level).size());
    line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    // Split off "key=value" tokens from the end of the message.
    std::vector<std::string_view> tokens = Split(text, ' ');
    size_t first_pair = tokens.size();
    while (first_pair > 0) {
      std::string_view t = tokens[first_pair - 1];
      size_t eq = t.find('=');
      if (eq == std::string_view::npos || eq == 0) break;
      --first_pair;
    }
    std::string message;
    for (size_t i = 0; i < first_pair; ++i) {
      if (i) message += ' ';
      message.append(tokens[i]);
    }
    line["msg"] = message;
    for (size_t i = first_pair; i < tokens.size(); ++i) {
      size_t eq = tokens[i].find('=');
      line[std::string(tokens[i].substr(0, eq))] = std::string(tokens[i].substr(eq + 1));
    }
    std::string out = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(out.data(), out.data() + out.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

struct State {
  std::mutex mu;
  Options options;
  std::shared_ptr<spdlog::sinks::stderr_sink_mt> sink =
      std::make_shared<spdlog::sinks::stderr_sink_mt>();
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers;
};

State& GetState() {
  static State* state = [] {
    auto* s = new State();
    s->sink->set_formatter(
        std::make_unique<spdlog::pattern_formatter>(kTextPattern, spdlog::pattern_time_type::utc));
    return s;
  }();
  return *state;
}

spdlog::level::level_enum LevelFor(const Options& options, std::string_view module) {
  auto it = options.module_levels.find(std::string(module));
  auto level = ToLevel(it != options.module_levels.end() ? it->second : options.level);
  return level.ok() ? *level : spdlog::level::info;
}

}  // namespace

absl::StatusOr<Options> ParseLevels(std::string_view spec, Options base) {
  for (std::string_view part : Split(spec, ',')) {
    part = StripWhitespace(part);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      if (auto level = ToLevel(part); !level.ok()) return level.status();
      base.level = std::string(part);
    } else {
      std::string_view module = part.substr(0, eq);
      std::string_view level = part.substr(eq + 1);
      if (module.empty()) return absl::InvalidArgumentError("log level: empty module name");
      if (auto parsed = ToLevel(level); !parsed.ok()) return parsed.status();
      base.module_levels[std::string(module)] = std::string(level);
    }
  }
  return base;
}

absl::Status Init(const Options& options) {
  if (auto level = ToLevel(options.level); !level.ok()) return level.status();
  for (const auto& [module, level] : options.module_levels) {
    if (auto parsed = ToLevel(level); !parsed.ok()) return parsed.status();
  }
  State& state = GetState();
  std::lock_guard lock(state.mu);
  state.options = options;
  if (options.json) {
    state.sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    state.sink->set_formatter(
        std::make_unique<spdlog::pattern_formatter>(kTextPattern, spdlog::pattern_time_type::utc));
  }
  for (auto& [name, logger] : state.loggers) logger->set_level(LevelFor(options, name));
  return absl::OkStatus();
}

std::shared_ptr<spdlog::logger> Get(std::string_view module) {
  State& state = GetState();
  std::lock_guard lock(state.mu);
  auto it = state.loggers.find(module);
  if (it != state.loggers.end()) return it->second;
  auto logger = std::make_shared<spdlog::logger>(std::string(module), state.sink);
  logger->set_level(LevelFor(state.options, module));
  logger->flush_on(spdlog::level::warn);
  state.loggers.emplace(std::string(module), logger);
  return logger;
}

absl::Status SetLevel(std::string_view module, std::string_view level) {
  auto parsed = ToLevel(level);
  if (!parsed.ok()) return parsed.status();
  State& state = GetState();
  std::lock_guard lock(state.mu);
  state.options.module_levels[std::string(module)] = std::string(level);
  auto it = state.loggers.find(module);
  if (it != state.loggers.end()) it->second->set_level(*parsed);
  return absl::OkStatus();
}

}  // namespace tessera::base::log
