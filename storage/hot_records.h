// The latest bytes of records a shard's writer wrote and is about to read again: a timer due
// soon (its fire reads it) or a pending delivery (its ack reads it). Reading those back from
// RocksDB was a fifth of a shard writer's time at saturation: a timer created a minute before
// its fire sits in table files by then (4-5 µs per read).
//
// Write-through: the writer applies each group's final writes here right after the group's
// RocksDB write succeeded, erasing every key it wrote that is not marked hot, so an entry is
// always the key's current value in the DB. A miss means nothing: read the DB.
//
// Each entry has a rank, the time it is expected to be read (a timer's due time, a delivery's
// write time: fires and acks come in that order). Bounded by bytes, the highest rank leaves
// first: the record read last (of one rank, the latest put). Entries ranked long past
// (DropRankedBefore) leave too, so a record nobody reads (a delivery of a topic without
// subscribers) does not stay for good.
// Internal to storage/. Not thread-safe: writer thread only.
#ifndef CHIME_STORAGE_HOT_RECORDS_H_
#define CHIME_STORAGE_HOT_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "storage/column_families.h"

namespace chime::storage {

class HotRecords {
 public:
  // max_bytes 0: keeps nothing.
  explicit HotRecords(size_t max_bytes) : max_bytes_(max_bytes) {}
  HotRecords(const HotRecords&) = delete;
  HotRecords& operator=(const HotRecords&) = delete;

  // The value is valid until the next Put, Erase, DropRankedBefore or Clear.
  std::optional<absl::string_view> Find(absl::string_view key) const;
  void Put(absl::string_view key, absl::string_view value, int64_t rank);
  void Erase(absl::string_view key);
  void DropRankedBefore(int64_t rank);
  // Forgets everything: after a failed write, when the DB's state is not known here.
  void Clear();

  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::string value;
    int64_t rank = 0;
    // Its rank's list, oldest first: a herd puts thousands of records at one rank, and a
    // list unlinks one without comparing keys, which a tree ordered by (rank, key) did per
    // put and erase.
    Entry* prev = nullptr;
    Entry* next = nullptr;
    const std::string* key = nullptr;  // its node's key, for eviction
  };
  struct RankList {
    Entry* first = nullptr;
    Entry* last = nullptr;
  };
  // Node-based: the rank lists point into the nodes, which must not move.
  using Entries = absl::node_hash_map<std::string, Entry>;

  static size_t Cost(absl::string_view key, absl::string_view value) {
    // The key, the value, and roughly the node, table and list slots around them.
    return key.size() + value.size() + 128;
  }
  void Link(Entry& entry);
  void Unlink(Entry& entry);
  void EraseEntry(Entries::iterator it);
  // The entry to leave first: the latest put of the highest rank.
  Entries::iterator Highest() { return entries_.find(*by_rank_.rbegin()->second.last->key); }

  const size_t max_bytes_;
  size_t bytes_ = 0;
  Entries entries_;
  absl::btree_map<int64_t, RankList> by_rank_;  // never holds an empty list
};

// A shard writer's hot timers and deliveries, each bounded on its own so that deliveries
// waiting for an ack cannot push out the timers about to fire, nor the other way round.
struct HotRecordSet {
  HotRecordSet(size_t timer_bytes, size_t delivery_bytes)
      : timers(timer_bytes), deliveries(delivery_bytes) {}

  // Null for the families not kept.
  HotRecords* For(Cf cf) {
    if (cf == kCfTimers) return &timers;
    if (cf == kCfDeliveries) return &deliveries;
    return nullptr;
  }
  const HotRecords* For(Cf cf) const { return const_cast<HotRecordSet*>(this)->For(cf); }
  void Clear() {
    timers.Clear();
    deliveries.Clear();
  }

  HotRecords timers;
  HotRecords deliveries;
};

}  // namespace chime::storage

#endif  // CHIME_STORAGE_HOT_RECORDS_H_
