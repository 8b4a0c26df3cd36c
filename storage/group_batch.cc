#include "storage/group_batch.h"

#include <algorithm>
#include <cstring>

#include "storage/record_io.h"

namespace chime::storage {

absl::string_view GroupBatch::Arena::Copy(absl::string_view bytes) {
  static constexpr char kEmpty[] = "";
  if (bytes.empty()) return absl::string_view(kEmpty, 0);  // non-null: not a delete
  if (bytes.size() > kBlockSize / 4) {
    oversized_.push_back(std::make_unique<char[]>(bytes.size()));
    std::memcpy(oversized_.back().get(), bytes.data(), bytes.size());
    return absl::string_view(oversized_.back().get(), bytes.size());
  }
  if (used_in_last_ + bytes.size() > kBlockSize) {
    if (blocks_used_ == blocks_.size()) blocks_.push_back(std::make_unique<char[]>(kBlockSize));
    ++blocks_used_;
    used_in_last_ = 0;
  }
  char* out = blocks_[blocks_used_ - 1].get() + used_in_last_;
  std::memcpy(out, bytes.data(), bytes.size());
  used_in_last_ += bytes.size();
  return absl::string_view(out, bytes.size());
}

void GroupBatch::Arena::Clear() {
  // The blocks are kept for the next group; oversized copies are not.
  blocks_used_ = 0;
  used_in_last_ = kBlockSize;
  oversized_.clear();
}

bool GroupBatch::IsIndexed(Cf cf) { return cf != kCfDue && cf != kCfQueue; }

void GroupBatch::MakeIndexKey(Cf cf, absl::string_view key, std::string* out) {
  out->assign(1, static_cast<char>(cf));
  out->append(key.data(), key.size());
}

void GroupBatch::SetScratchKey(Cf cf, absl::string_view key) {
  MakeIndexKey(cf, key, &scratch_key_);
}

void GroupBatch::Index(Cf cf, absl::string_view key, Indexed indexed) {
  if (!IsIndexed(cf)) return;
  ++index_changes_;
  SetScratchKey(cf, key);
  auto it = index_.find(scratch_key_);
  if (it == index_.end()) {
    absl::string_view stored_key = arena_.Copy(scratch_key_);
    index_.emplace(stored_key, indexed);
    if (save_point_set_) undo_.emplace_back(stored_key, std::nullopt);
    return;
  }
  if (save_point_set_) undo_.emplace_back(it->first, it->second);
  it->second = indexed;
}

rocksdb::Status GroupBatch::Put(Cf cf, absl::string_view key, absl::string_view value,
                                std::optional<int64_t> hot_rank) {
  rocksdb::Status s = batch_.Put(cfs_[cf], ToSlice(key), ToSlice(value));
  if (s.ok() && IsIndexed(cf)) Index(cf, key, Indexed{arena_.Copy(value), hot_rank});
  return s;
}

rocksdb::Status GroupBatch::Delete(Cf cf, absl::string_view key) {
  rocksdb::Status s = batch_.Delete(cfs_[cf], ToSlice(key));
  if (s.ok()) Index(cf, key, Indexed{});
  return s;
}

void GroupBatch::KeepHot(Cf cf, absl::string_view key, absl::string_view value, int64_t rank) {
  if (!IsIndexed(cf)) return;
  SetScratchKey(cf, key);
  kept_hot_.push_back(KeptHot{arena_.Copy(scratch_key_), arena_.Copy(value), rank});
}

std::optional<absl::string_view> GroupBatch::Find(Cf cf, absl::string_view key) {
  if (!IsIndexed(cf)) return std::nullopt;
  SetScratchKey(cf, key);
  auto it = index_.find(scratch_key_);
  if (it == index_.end()) return std::nullopt;
  return it->second.value;
}

void GroupBatch::SetSavePoint() {
  if (save_point_set_) PopSavePoint();  // one level: the earlier one's writes are kept
  batch_.SetSavePoint();
  save_point_set_ = true;
  undo_.clear();
  kept_hot_at_save_point_ = kept_hot_.size();
}

void GroupBatch::PopSavePoint() {
  batch_.PopSavePoint().PermitUncheckedError();  // exists: SetSavePoint pushed it
  save_point_set_ = false;
  undo_.clear();
}

rocksdb::Status GroupBatch::RollbackToSavePoint() {
  rocksdb::Status s = batch_.RollbackToSavePoint();
  ++index_changes_;
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->second.has_value()) {
      index_[it->first] = *it->second;
    } else {
      index_.erase(it->first);
    }
  }
  undo_.clear();
  save_point_set_ = false;
  kept_hot_.resize(std::min(kept_hot_.size(), kept_hot_at_save_point_));
  return s;
}

void GroupBatch::Clear() {
  batch_.Clear();
  ++index_changes_;
  // A big table is freed by clear(): make room for a group like the last in one allocation
  // rather than growing through rehashes again.
  const size_t last_size = index_.size();
  index_.clear();
  index_.reserve(last_size);
  undo_.clear();
  save_point_set_ = false;
  kept_hot_.clear();
  kept_hot_at_save_point_ = 0;
  arena_.Clear();
}

}  // namespace chime::storage
