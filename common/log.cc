#include "common/log.h"

#include <cstdio>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/json_text.h"

namespace chime::log {
namespace {

struct State {
  absl::Mutex mu;
  Options options ABSL_GUARDED_BY(mu);
  Level level ABSL_GUARDED_BY(mu) = Level::kInfo;
};

State& GlobalState() {
  static State* const state = new State();
  return *state;
}

// Text values are quoted (JSON-style) only when they would otherwise be ambiguous.
void AppendTextValue(std::string_view s, std::string* out) {
  bool plain = !s.empty();
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) plain = false;
  }
  if (plain) {
    out->append(s);
  } else {
    AppendJsonString(s, out);
  }
}

}  // namespace

absl::StatusOr<Level> ParseLevel(std::string_view text) {
  const std::string t = absl::AsciiStrToLower(std::string(text));
  if (t == "debug") return Level::kDebug;
  if (t == "info") return Level::kInfo;
  if (t == "warn" || t == "warning") return Level::kWarn;
  if (t == "error") return Level::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "log level must be debug, info, warn or error, got \"", std::string(text), "\""));
}

absl::StatusOr<Format> ParseFormat(std::string_view text) {
  if (text == "text") return Format::kText;
  if (text == "json") return Format::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("log format must be text or json, got \"", std::string(text), "\""));
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

Field::Field(std::string_view key, double value)
    : key_(key), value_(absl::StrFormat("%.6g", value)), bare_(true) {}

Field::Field(std::string_view key, absl::Duration value)
    : key_(key), value_(absl::FormatDuration(value)) {}

void Configure(Options options) {
  State& state = GlobalState();
  absl::MutexLock lock(&state.mu);
  state.level = options.level;
  state.options = std::move(options);
}

bool Enabled(Level level) {
  State& state = GlobalState();
  absl::MutexLock lock(&state.mu);
  return level >= state.level;
}

std::string FormatLine(Format format, absl::Time time, Level level, std::string_view message,
                       std::initializer_list<Field> fields) {
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
  std::string line;
  if (format == Format::kJson) {
    absl::StrAppend(&line, "{\"ts\":\"", ts, "\",\"level\":\"", std::string(LevelName(level)),
                    "\",\"msg\":");
    AppendJsonString(message, &line);
    for (const Field& f : fields) {
      line.push_back(',');
      AppendJsonString(f.key(), &line);
      line.push_back(':');
      if (f.bare()) {
        line.append(f.value());
      } else {
        AppendJsonString(f.value(), &line);
      }
    }
    line.append("}\n");
  } else {
    absl::StrAppend(&line, ts, " ", absl::AsciiStrToUpper(std::string(LevelName(level))), " ",
                    std::string(message));
    for (const Field& f : fields) {
      absl::StrAppend(&line, " ", f.key(), "=");
      AppendTextValue(f.value(), &line);
    }
    line.push_back('\n');
  }
  return line;
}

void Write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  State& state = GlobalState();
  absl::MutexLock lock(&state.mu);
  if (level < state.level) return;
  const absl::Time now = state.options.now ? state.options.now() : absl::Now();
  const std::string line = FormatLine(state.options.format, now, level, message, fields);
  if (state.options.sink) {
    state.options.sink(line);
  } else {
    fputs(line.c_str(), stderr);
    fflush(stderr);
  }
}

}  // namespace chime::log
