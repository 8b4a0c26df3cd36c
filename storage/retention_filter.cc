#include "storage/retention_filter.h"

#include <string>
#include <utility>

#include "storage/column_families.h"

namespace chime::storage {
namespace {

// Retentions this short are applied at flushes too.
constexpr absl::Duration kFlushFilterBelow = absl::Hours(24);

// One filter per flush or compaction of the timers or the idempotency family.
class RetentionFilter : public rocksdb::CompactionFilter {
 public:
  RetentionFilter(int cf, const RetentionOptions* options, std::shared_ptr<RetentionShardSlot> slot,
                  std::shared_ptr<RetentionCounters> counters)
      : cf_(cf),
        options_(options),
        slot_(std::move(slot)),
        counters_(std::move(counters)),
        now_(options->clock->Now()) {}

  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    const absl::string_view bytes(value.data(), value.size());
    if (cf_ == kCfTimers) {
      if (!TimerExpired(bytes)) return false;
      counters_->timers_removed.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (!KeyExpired(bytes)) return false;
      counters_->idempotency_keys_removed.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }

  const char* Name() const override { return "chime.Retention"; }

 private:
  bool TimerExpired(absl::string_view bytes) const {
    TimerEndFacts facts = ReadTimerEndFacts(bytes);
    if (facts.state == v1::TIMER_STATE_FIRED) {
      // Read the shard only for a timer that would be past retention if its fire had ended.
      if (!RetentionPassed(LastFireOrCreateTime(facts), now_, options_->retention) ||
          !options_->resolve_completion) {
        return false;
      }
      internal::TimerRecord record;
      if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
      absl::Status resolved = absl::UnavailableError("shard closed");
      slot_->With(
          [&](const ShardStore& shard) { resolved = options_->resolve_completion(shard, record); });
      // A failed read keeps the record: a later compaction tries again.
      if (!resolved.ok()) return false;
      facts = TimerEndFactsOf(record.timer());
    }
    std::optional<absl::Time> ended = TimerEndTime(facts);
    return ended.has_value() && RetentionPassed(*ended, now_, options_->retention);
  }

  bool KeyExpired(absl::string_view bytes) const {
    internal::IdempotencyRecord record;
    if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
    return RetentionPassed(absl::FromUnixMicros(record.create_time_us()), now_,
                           options_->retention);
  }

  int cf_;
  const RetentionOptions* options_;
  std::shared_ptr<RetentionShardSlot> slot_;
  std::shared_ptr<RetentionCounters> counters_;
  // One reading per flush or compaction: its decisions are consistent with each other.
  absl::Time now_;
};

class RetentionFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  RetentionFilterFactory(int cf, const RetentionOptions* options,
                         std::shared_ptr<RetentionShardSlot> slot,
                         std::shared_ptr<RetentionCounters> counters)
      : cf_(cf), options_(options), slot_(std::move(slot)), counters_(std::move(counters)) {}

  // Flushes too under a short retention, where a record may expire before it leaves the
  // memtable. Under a day or more (the default) the daily rewrite drops such a record
  // (periodic_compaction_seconds), and a flush need not read every ended timer it writes: that
  // was a sixth of the flush CPU in a 1M herd's drain.
  bool ShouldFilterTableFileCreation(rocksdb::TableFileCreationReason reason) const override {
    if (reason == rocksdb::TableFileCreationReason::kCompaction) return true;
    return reason == rocksdb::TableFileCreationReason::kFlush &&
           options_->retention < kFlushFilterBelow;
  }

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    return std::make_unique<RetentionFilter>(cf_, options_, slot_, counters_);
  }

  const char* Name() const override { return "chime.RetentionFilterFactory"; }

 private:
  int cf_;
  const RetentionOptions* options_;
  std::shared_ptr<RetentionShardSlot> slot_;
  std::shared_ptr<RetentionCounters> counters_;
};

}  // namespace

void RetentionShardSlot::Set(const ShardStore* shard) {
  absl::MutexLock l(&mu_);
  shard_ = shard;
}

std::shared_ptr<rocksdb::CompactionFilterFactory> MakeRetentionFilterFactory(
    int cf, const RetentionOptions* options, std::shared_ptr<RetentionShardSlot> slot,
    std::shared_ptr<RetentionCounters> counters) {
  return std::make_shared<RetentionFilterFactory>(cf, options, std::move(slot),
                                                  std::move(counters));
}

}  // namespace chime::storage
