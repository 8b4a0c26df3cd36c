// fire_id = "<timer_id>@<occurrence in decimal>". Timer ids may themselves contain '@', so the
// parse splits at the last one; the occurrence has no sign, no leading zeros and fits in 64
// bits, so every fire has exactly one id.
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/engine/engine.h"

namespace chime::engine {

std::string MakeFireId(absl::string_view timer_id, uint64_t occurrence) {
  return absl::StrCat(timer_id, "@", occurrence);
}

bool ParseFireId(absl::string_view fire_id, std::string* timer_id, uint64_t* occurrence) {
  absl::string_view view;
  if (!ParseFireId(fire_id, &view, occurrence)) return false;
  *timer_id = std::string(view);
  return true;
}

bool ParseFireId(absl::string_view fire_id, absl::string_view* timer_id, uint64_t* occurrence) {
  const size_t at = fire_id.rfind('@');
  if (at == absl::string_view::npos || at == 0) return false;
  const absl::string_view digits = fire_id.substr(at + 1);
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return false;
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - d) / 10) return false;  // overflow
    value = value * 10 + d;
  }
  *timer_id = fire_id.substr(0, at);
  *occurrence = value;
  return true;
}

}  // namespace chime::engine
