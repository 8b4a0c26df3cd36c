#include "metrics/names.h"

#include <string>

namespace chime::metrics {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

absl::Status ValidateMetricName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("metric name is empty");
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = IsAlpha(c) || c == '_' || c == ':' || (i > 0 && IsDigit(c));
    if (!ok) {
      return absl::InvalidArgumentError("invalid metric name \"" + std::string(name) +
                                        "\": must match [a-zA-Z_:][a-zA-Z0-9_:]*");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("label name is empty");
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = IsAlpha(c) || c == '_' || (i > 0 && IsDigit(c));
    if (!ok) {
      return absl::InvalidArgumentError("invalid label name \"" + std::string(name) +
                                        "\": must match [a-zA-Z_][a-zA-Z0-9_]*");
    }
  }
  if (name.substr(0, 2) == "__") {
    return absl::InvalidArgumentError("invalid label name \"" + std::string(name) +
                                      "\": names starting with __ are reserved");
  }
  return absl::OkStatus();
}

}  // namespace chime::metrics
