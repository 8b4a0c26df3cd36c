// Byte encodings of the keys of a shard's column families, chosen so that RocksDB's bytewise
// order is the logical order the scans need.
//
// Namespaces, ids, topics and idempotency keys never contain '\0' (validated upstream), so
// '\0' separates components: "a\0..." sorts before "ab\0...", exactly as ("a", ...) precedes
// ("ab", ...). Times are big-endian with the sign bit flipped, so negative instants sort first.
//
//   std::string k = DueKey(due_us, ns, timer_id);
//   std::optional<DueEntry> e = DecodeDueKey(k);
//
// Pure functions; thread-safe.
#ifndef CHIME_STORAGE_KEY_CODEC_H_
#define CHIME_STORAGE_KEY_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "storage/shard_store.h"

namespace chime::storage {

// 8 bytes, big-endian, sign bit flipped: memcmp order == signed order.
void AppendTime(std::string* out, int64_t us);
// Reads the 8 bytes written by AppendTime; REQUIRES: in.size() >= 8.
int64_t DecodeTime(absl::string_view in);

// "a\0b": the shape of timer, delivery, idempotency and dead-letter keys.
std::string PairKey(absl::string_view a, absl::string_view b);
struct PairParts {
  std::string a;
  std::string b;
  friend bool operator==(const PairParts&, const PairParts&) = default;
};
std::optional<PairParts> DecodePairKey(absl::string_view key);

inline std::string TimerKey(absl::string_view ns, absl::string_view timer_id) {
  return PairKey(ns, timer_id);
}
inline std::string DeliveryKey(absl::string_view ns, absl::string_view fire_id) {
  return PairKey(ns, fire_id);
}
inline std::string DeadLetterKey(absl::string_view ns, absl::string_view fire_id) {
  return PairKey(ns, fire_id);
}
inline std::string IdempotencyKey(absl::string_view ns, absl::string_view key) {
  return PairKey(ns, key);
}
// "ns\0": every pair key of namespace ns starts with it.
std::string NamespacePrefix(absl::string_view ns);

// BE64(due_us) ns\0timer_id.
std::string DueKey(int64_t due_us, absl::string_view ns, absl::string_view timer_id);
std::optional<DueEntry> DecodeDueKey(absl::string_view key);

// ns\0topic\0 BE64(visible_at_us) fire_id.
std::string QueueKey(absl::string_view ns, absl::string_view topic, int64_t visible_at_us,
                     absl::string_view fire_id);
// "ns\0topic\0": every queue key of (ns, topic) starts with it.
std::string QueuePrefix(absl::string_view ns, absl::string_view topic);
struct QueueKeyParts {
  std::string ns;
  std::string topic;
  int64_t visible_at_us = 0;
  std::string fire_id;
  friend bool operator==(const QueueKeyParts&, const QueueKeyParts&) = default;
};
std::optional<QueueKeyParts> DecodeQueueKey(absl::string_view key);

// The smallest key greater than every key starting with `prefix`, or "" when there is none
// (prefix all 0xff): a ready-made iterate_upper_bound.
std::string PrefixSuccessor(absl::string_view prefix);
// The smallest key strictly greater than `key` ("key\0").
std::string KeySuccessor(absl::string_view key);

}  // namespace chime::storage

#endif  // CHIME_STORAGE_KEY_CODEC_H_
