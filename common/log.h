// Structured logging: one line per event, as text or JSON, with a level filter. Events are a
// short fixed message plus key=value fields; payloads and other user data are never logged
// unless a caller passes them explicitly (chime does not).
//
//   log::Configure({.level = log::Level::kInfo, .format = log::Format::kJson});
//   CHIME_LOG(kInfo, "shard opened", {{"shard", 3}, {"timers", n}});
//
// text: 2026-11-23T09:56:40.123456Z INFO shard opened shard=3 timers=12
// json: {"ts":"2026-11-23T09:56:40.123456Z","level":"info","msg":"shard opened","shard":3,...}
#ifndef CHIME_COMMON_LOG_H_
#define CHIME_COMMON_LOG_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace chime::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

// "debug", "info", "warn" (or "warning"), "error"; InvalidArgument otherwise.
absl::StatusOr<Level> ParseLevel(std::string_view text);
// "text" or "json"; InvalidArgument otherwise.
absl::StatusOr<Format> ParseFormat(std::string_view text);
std::string_view LevelName(Level level);

// One field of an event. Numbers and booleans are written bare in JSON, everything else as
// a string.
class Field {
 public:
  Field(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  Field(std::string_view key, const char* value) : key_(key), value_(value) {}
  Field(std::string_view key, const std::string& value) : key_(key), value_(value) {}
  Field(std::string_view key, bool value)
      : key_(key), value_(value ? "true" : "false"), bare_(true) {}
  Field(std::string_view key, int value) : Field(key, static_cast<long long>(value)) {}
  Field(std::string_view key, unsigned value)
      : Field(key, static_cast<unsigned long long>(value)) {}
  Field(std::string_view key, long value) : Field(key, static_cast<long long>(value)) {}
  Field(std::string_view key, unsigned long value)
      : Field(key, static_cast<unsigned long long>(value)) {}
  Field(std::string_view key, long long value)
      : key_(key), value_(std::to_string(value)), bare_(true) {}
  Field(std::string_view key, unsigned long long value)
      : key_(key), value_(std::to_string(value)), bare_(true) {}
  Field(std::string_view key, double value);
  Field(std::string_view key, absl::Duration value);  // "1.5s"

  const std::string& key() const { return key_; }
  const std::string& value() const { return value_; }
  bool bare() const { return bare_; }

 private:
  std::string key_;
  std::string value_;
  bool bare_ = false;
};

struct Options {
  Level level = Level::kInfo;
  Format format = Format::kText;
  // Receives each complete line (with its '\n'); nullptr: stderr.
  std::function<void(const std::string&)> sink;
  // Time source for the timestamps; nullptr: absl::Now.
  std::function<absl::Time()> now;
};

// Replaces the process-wide configuration. Thread-safe.
void Configure(Options options);

bool Enabled(Level level);

// Formats one event (exposed for tests).
std::string FormatLine(Format format, absl::Time time, Level level, std::string_view message,
                       std::initializer_list<Field> fields);

// Writes one event if `level` is enabled. Thread-safe: lines never interleave.
void Write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

}  // namespace chime::log

#define CHIME_LOG(level, ...) ::chime::log::Write(::chime::log::Level::level, __VA_ARGS__)

#endif  // CHIME_COMMON_LOG_H_
