#include "server/engine/timer_id.h"

#include <algorithm>

#include "absl/random/random.h"

namespace chime::engine {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

}  // namespace

std::string EncodeCrockford128(uint64_t hi, uint64_t lo) {
  std::string out(26, '0');
  // 26 * 5 = 130 bits: emit from the least significant end, shifting the 128-bit value.
  for (int i = 25; i >= 0; --i) {
    out[i] = kCrockford[lo & 31];
    lo = (lo >> 5) | (hi << 59);
    hi >>= 5;
  }
  return out;
}

std::string NewTimerId(absl::Time now) {
  // absl::BitGen is seeded from the OS entropy source and is not thread-safe: one per thread.
  thread_local absl::BitGen gen;
  // 48 bits of milliseconds last until the year 10889; earlier than 1970 counts as 1970.
  const uint64_t ms = static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixMillis(now)));
  const uint64_t hi = (ms << 16) | absl::Uniform<uint16_t>(gen);
  const uint64_t lo = absl::Uniform<uint64_t>(gen);
  return std::string(kGeneratedIdPrefix) + EncodeCrockford128(hi, lo);
}

}  // namespace chime::engine
