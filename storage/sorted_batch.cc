#include "storage/sorted_batch.h"

#include <algorithm>

namespace chime::storage {
namespace {

// Collects puts and deletes; any other kind of entry (merges, range deletes, log data) marks
// the batch as one not to reorder.
class EntryCollector : public rocksdb::WriteBatch::Handler {
 public:
  explicit EntryCollector(std::vector<SortedBatch::Entry>* entries) : entries_(entries) {}

  bool saw_other() const { return saw_other_; }

  rocksdb::Status PutCF(uint32_t cf_id, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    entries_->push_back({cf_id, false, key, value});
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t cf_id, const rocksdb::Slice& key) override {
    entries_->push_back({cf_id, true, key, rocksdb::Slice()});
    return rocksdb::Status::OK();
  }
  rocksdb::Status SingleDeleteCF(uint32_t, const rocksdb::Slice&) override { return Other(); }
  rocksdb::Status DeleteRangeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return Other();
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return Other();
  }
  void LogData(const rocksdb::Slice&) override { saw_other_ = true; }

 private:
  rocksdb::Status Other() {
    saw_other_ = true;
    return rocksdb::Status::OK();
  }

  std::vector<SortedBatch::Entry>* const entries_;
  bool saw_other_ = false;
};

// Below this many entries the copy costs more than the ordered inserts save.
constexpr size_t kMinEntriesToSort = 4;

}  // namespace

rocksdb::ColumnFamilyHandle* SortedBatch::HandleOf(uint32_t cf_id) const {
  for (rocksdb::ColumnFamilyHandle* cf : cfs_) {
    if (cf != nullptr && cf->GetID() == cf_id) return cf;
  }
  return nullptr;
}

rocksdb::WriteBatch* SortedBatch::SortedCopyOf(const rocksdb::WriteBatch& in) {
  if (in.Count() < kMinEntriesToSort) return nullptr;
  entries_.clear();
  EntryCollector collector(&entries_);
  // Entry kinds the collector does not know fail the iteration: write the batch unsorted.
  if (!in.Iterate(&collector).ok() || collector.saw_other()) return nullptr;
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.cf_id != b.cf_id) return a.cf_id < b.cf_id;
    return a.key.compare(b.key) < 0;
  });
  sorted_.Clear();
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  for (const Entry& e : entries_) {
    if (cf == nullptr || cf->GetID() != e.cf_id) {
      cf = HandleOf(e.cf_id);
      if (cf == nullptr) return nullptr;
    }
    rocksdb::Status s = e.is_delete ? sorted_.Delete(cf, e.key) : sorted_.Put(cf, e.key, e.value);
    if (!s.ok()) return nullptr;
  }
  return &sorted_;
}

}  // namespace chime::storage
