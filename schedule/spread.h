// Deterministic spread: a per-timer offset within a window, so ten thousand "every hour" timers
// do not all fire at :00:00 (like Jenkins' "H"). The offset is a pure function of (namespace,
// timer id) and the window: it is the same on every node, after every restart and in every
// version of chime, because it uses a fixed hash (FNV-1a, 64-bit), never std::hash.
//
//   absl::Duration offset = SpreadOffset("default", "nightly-report", absl::Minutes(10));
//   absl::Time due = scheduled + offset;
//
// Thread-safe: pure functions.
#ifndef CHIME_SCHEDULE_SPREAD_H_
#define CHIME_SCHEDULE_SPREAD_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace chime {

// FNV-1a, 64-bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over the bytes of
// `data`, continuing from `hash` so that several pieces can be chained.
uint64_t Fnv1a64(absl::string_view data, uint64_t hash = 0xcbf29ce484222325ULL);

// A whole number of milliseconds in [0, window), chosen by hashing (namespace, timer_id).
// Zero when `window` is shorter than 1ms, negative or infinite. Changing the window changes the
// offset (offset = hash mod window), so keep a timer's window fixed.
absl::Duration SpreadOffset(absl::string_view name_space, absl::string_view timer_id,
                            absl::Duration window);

}  // namespace chime

#endif  // CHIME_SCHEDULE_SPREAD_H_
