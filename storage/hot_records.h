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
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "storage/column_families.h"

namespace chime::storage {

class HotRecords {
 public:
  // What an entry costs beyond its key and value bytes: its header, the table slot and the
  // allocator's rounding, roughly.
  static constexpr size_t kEntryOverhead = 64;

  // max_bytes 0: keeps nothing.
  explicit HotRecords(size_t max_bytes) : max_bytes_(max_bytes) {}
  ~HotRecords() { Clear(); }
  HotRecords(const HotRecords&) = delete;
  HotRecords& operator=(const HotRecords&) = delete;

  // The value is valid until the next Put, Erase, DropRankedBefore or Clear.
  std::optional<absl::string_view> Find(absl::string_view key) const;
  // Starts loading what a Find of `key` reads first (its slot in the table): a batch of
  // lookups then overlaps their cache misses instead of waiting on each in turn.
  void Prefetch(absl::string_view key) const { entries_.prefetch(key); }
  void Put(absl::string_view key, absl::string_view value, int64_t rank);
  void Erase(absl::string_view key);
  void DropRankedBefore(int64_t rank);
  // Forgets everything: after a failed write, when the DB's state is not known here.
  void Clear();

  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }
  size_t max_bytes() const { return max_bytes_; }

 private:
  // One allocation per record: this header, then the key's bytes, then the value's. A node
  // map with the key and the value in strings of their own took three allocations, three
  // times the memory beyond the bytes themselves (147 against 51 bytes), and three cache
  // misses per read.
  struct Entry {
    int64_t rank;
    // Its rank's list, oldest first: a herd puts thousands of records at one rank, and a
    // list unlinks one without comparing keys, which a tree ordered by (rank, key) did per
    // put and erase.
    Entry* prev;
    Entry* next;
    uint32_t key_size;
    uint32_t value_size;

    absl::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }
    absl::string_view value() const {
      return {reinterpret_cast<const char*>(this + 1) + key_size, value_size};
    }
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(absl::string_view key) const { return absl::HashOf(key); }
    size_t operator()(const Entry* entry) const { return absl::HashOf(entry->key()); }
  };
  struct KeyEq {
    using is_transparent = void;
    static absl::string_view KeyOf(absl::string_view key) { return key; }
    static absl::string_view KeyOf(const Entry* entry) { return entry->key(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return KeyOf(a) == KeyOf(b);
    }
  };
  struct RankList {
    Entry* first = nullptr;
    Entry* last = nullptr;
  };
  using Entries = absl::flat_hash_set<Entry*, KeyHash, KeyEq>;

  static size_t Cost(absl::string_view key, absl::string_view value) {
    return key.size() + value.size() + kEntryOverhead;
  }
  static Entry* NewEntry(absl::string_view key, absl::string_view value, int64_t rank);
  static void FreeEntry(Entry* entry);
  void Link(Entry* entry);
  // Puts `entry` where `old` is in its rank's list.
  void TakePlace(Entry* entry, Entry* old);
  void Unlink(Entry* entry);
  void EraseEntry(Entries::iterator it);
  // The entry to leave first: the latest put of the highest rank.
  Entries::iterator Highest() { return entries_.find(by_rank_.rbegin()->second.last->key()); }

  const size_t max_bytes_;
  size_t bytes_ = 0;
  Entries entries_;                             // owns its entries
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
