// Server-generated timer ids: "t_" followed by 26 Crockford base32 characters carrying 128
// random bits, e.g. "t_3ZK0Q8W1MB7RXJ4T9VHCN2PD6E". Random rather than time-ordered so ids
// spread evenly over the shards and reveal nothing.
//
// Thread-safe.
#ifndef CHIME_SERVER_ENGINE_TIMER_ID_H_
#define CHIME_SERVER_ENGINE_TIMER_ID_H_

#include <cstdint>
#include <string>

namespace chime::engine {

inline constexpr char kGeneratedIdPrefix[] = "t_";
inline constexpr size_t kGeneratedIdLength = 28;  // prefix + 26

std::string NewTimerId();

// The 26-character Crockford base32 form of a 128-bit value (high bits first; the two
// leading bits of the first character are always zero). Exposed for tests.
std::string EncodeCrockford128(uint64_t hi, uint64_t lo);

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_TIMER_ID_H_
