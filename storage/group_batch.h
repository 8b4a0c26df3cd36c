// The write batch of one writer group, with the latest write of each point-read key found by
// hash, so a transaction reads the writes of earlier transactions of its group. Replaces
// rocksdb::WriteBatchWithIndex, whose sorted index (a skip list comparing keys decoded from
// the batch) was over a third of the shard writers' time in batched creates. Internal to
// storage/. Not thread-safe: writer thread only.
#ifndef CHIME_STORAGE_GROUP_BATCH_H_
#define CHIME_STORAGE_GROUP_BATCH_H_

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/column_families.h"

namespace chime::storage {

class GroupBatch {
 public:
  using Handles = std::array<rocksdb::ColumnFamilyHandle*, kNumCfs>;
  explicit GroupBatch(const Handles& cfs) : cfs_(cfs) {}
  GroupBatch(const GroupBatch&) = delete;
  GroupBatch& operator=(const GroupBatch&) = delete;

  // Whether Find answers for `cf`: the families transactions read by key. The time-ordered
  // families (due, queue) are only written through a transaction, so they are not indexed.
  static bool IsIndexed(Cf cf);

  // hot_rank set: the writer keeps the value in its HotRecords with that rank once the group
  // is written (see ForEachIndexed); a later write of the key in the group decides anew.
  rocksdb::Status Put(Cf cf, absl::string_view key, absl::string_view value,
                      std::optional<int64_t> hot_rank = std::nullopt);
  rocksdb::Status Delete(Cf cf, absl::string_view key);

  // The batch's latest write of `key` in an indexed family: nullopt if none, else the value
  // (valid until the next Clear or rollback) or, for a delete, a null string_view.
  std::optional<absl::string_view> Find(Cf cf, absl::string_view key);

  // A record of an indexed family read, not written, by the group, that the writer should keep
  // in its HotRecords with `rank` once the group is written (ForEachKeptHot). Undone by a
  // rollback, like a write.
  void KeepHot(Cf cf, absl::string_view key, absl::string_view value, int64_t rank);
  // Calls visit(index_key, value, rank) for each KeepHot whose key the group did not write
  // (for a written key, the write's own hot_rank decides).
  template <typename Visit>
  void ForEachKeptHot(const Visit& visit) const {
    for (const KeptHot& kept : kept_hot_) {
      if (!index_.contains(kept.index_key)) visit(kept.index_key, kept.value, kept.rank);
    }
  }

  // Calls visit(index_key, value, hot_rank) for the latest write of every indexed key, value
  // null for a delete; index_key is the cf byte + key (see MakeIndexKey).
  template <typename Visit>
  void ForEachIndexed(const Visit& visit) const {
    for (const auto& [index_key, indexed] : index_) {
      visit(index_key, indexed.value, indexed.hot_rank);
    }
  }
  // *out = the cf byte + key: how the index (and the writer's HotRecords) name a key.
  static void MakeIndexKey(Cf cf, absl::string_view key, std::string* out);

  // One level of save point: Set starts one (dropping an earlier one), Pop keeps the writes
  // since, Rollback undoes them.
  void SetSavePoint();
  void PopSavePoint();
  rocksdb::Status RollbackToSavePoint();

  void Clear();
  uint32_t Count() const { return batch_.Count(); }
  // Changes with every change of what Find answers (a write, a rollback, a Clear): a reader
  // that saw the same count before knows its earlier Find answers still hold.
  uint64_t IndexChanges() const { return index_changes_; }
  rocksdb::WriteBatch* batch() { return &batch_; }

 private:
  // Bytes that stay where they are until Clear (the index holds views into them).
  class Arena {
   public:
    absl::string_view Copy(absl::string_view bytes);
    void Clear();

   private:
    static constexpr size_t kBlockSize = 64 << 10;
    std::vector<std::unique_ptr<char[]>> blocks_;
    size_t blocks_used_ = 0;  // blocks_[0, blocks_used_) hold data
    size_t used_in_last_ = kBlockSize;
    std::vector<std::unique_ptr<char[]>> oversized_;
  };

  struct Indexed {
    absl::string_view value;  // data() == nullptr: deleted
    std::optional<int64_t> hot_rank;
  };
  struct KeptHot {
    absl::string_view index_key;  // in arena_, like value
    absl::string_view value;
    int64_t rank = 0;
  };

  // Records the write in the index (remembering what it replaces while a save point is set).
  void Index(Cf cf, absl::string_view key, Indexed indexed);
  // scratch_key_ = cf byte + key.
  void SetScratchKey(Cf cf, absl::string_view key);

  const Handles cfs_;
  rocksdb::WriteBatch batch_;
  Arena arena_;
  std::string scratch_key_;
  // cf byte + key → latest write; key and value point into arena_.
  absl::flat_hash_map<absl::string_view, Indexed> index_;
  bool save_point_set_ = false;
  // Index entries changed since the save point, with what they held before (nullopt: none).
  std::vector<std::pair<absl::string_view, std::optional<Indexed>>> undo_;
  std::vector<KeptHot> kept_hot_;
  size_t kept_hot_at_save_point_ = 0;
  uint64_t index_changes_ = 0;
};

}  // namespace chime::storage

#endif  // CHIME_STORAGE_GROUP_BATCH_H_
