#include "schedule/spread.h"

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace chime {

uint64_t Fnv1a64(absl::string_view data, uint64_t hash) {
  for (const char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

absl::Duration SpreadOffset(absl::string_view name_space, absl::string_view timer_id,
                            absl::Duration window) {
  if (window == absl::InfiniteDuration()) return absl::ZeroDuration();
  const int64_t window_ms = absl::ToInt64Milliseconds(window);  // truncates toward zero
  if (window_ms <= 0) return absl::ZeroDuration();
  // The namespace's length goes first (8 bytes, little-endian) so that ("ab", "c") and
  // ("a", "bc") hash differently whatever bytes the names contain.
  std::string length(8, '\0');
  uint64_t size = name_space.size();
  for (int i = 0; i < 8; ++i) {
    length[i] = static_cast<char>(size & 0xff);
    size >>= 8;
  }
  uint64_t hash = Fnv1a64(length);
  hash = Fnv1a64(name_space, hash);
  hash = Fnv1a64(timer_id, hash);
  return absl::Milliseconds(static_cast<int64_t>(hash % static_cast<uint64_t>(window_ms)));
}

}  // namespace chime
