#include "server/engine/timer_id.h"

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

std::string NewTimerId() {
  // absl::BitGen is seeded from the OS entropy source and is not thread-safe: one per thread.
  thread_local absl::BitGen gen;
  const uint64_t hi = absl::Uniform<uint64_t>(gen);
  const uint64_t lo = absl::Uniform<uint64_t>(gen);
  return std::string(kGeneratedIdPrefix) + EncodeCrockford128(hi, lo);
}

}  // namespace chime::engine
