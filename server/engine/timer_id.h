// Server-generated timer ids: "t_" followed by 26 Crockford base32 characters carrying 128
// bits, e.g. "t_01JE4Z3Q8W1MB7RXJ4T9VHCN2P": the creation time in milliseconds since the Unix
// epoch (48 bits), then 80 random bits. Ids created later sort after earlier ones (to the
// millisecond), so timers created together sit together in the store: a shard inserts them
// next to each other in its memtable, and its flushed files do not overlap (with random ids
// each insert searched the whole skip list, and each file overlapped all the others). Shards
// are picked by a hash of the id, so ids still spread evenly over them. An id reveals its
// timer's creation time, which the timer carries anyway.
//
// Thread-safe.
#ifndef CHIME_SERVER_ENGINE_TIMER_ID_H_
#define CHIME_SERVER_ENGINE_TIMER_ID_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace chime::engine {

inline constexpr char kGeneratedIdPrefix[] = "t_";
inline constexpr size_t kGeneratedIdLength = 28;  // prefix + 26

std::string NewTimerId(absl::Time now);

// The 26-character Crockford base32 form of a 128-bit value (high bits first; the two
// leading bits of the first character are always zero). Exposed for tests.
std::string EncodeCrockford128(uint64_t hi, uint64_t lo);

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_TIMER_ID_H_
