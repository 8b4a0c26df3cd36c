#include "storage/retention_filter.h"

#include <string>
#include <utility>

#include "storage/column_families.h"

namespace chime::storage {
namespace {

class TimerRetentionFilter : public rocksdb::CompactionFilter {
 public:
  TimerRetentionFilter(const RetentionOptions* options, std::shared_ptr<RetentionShardSlot> slot,
                       std::shared_ptr<RetentionCounters> counters)
      : options_(options),
        slot_(std::move(slot)),
        counters_(std::move(counters)),
        now_(options->clock->Now()) {}

  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    TimerEndFacts facts = ReadTimerEndFacts(absl::string_view(value.data(), value.size()));
    if (facts.state == v1::TIMER_STATE_FIRED) {
      // Read the shard only for a timer that would be past retention if its fire had ended.
      if (!RetentionPassed(LastFireOrCreateTime(facts), now_, options_->retention) ||
          !options_->resolve_completion) {
        return false;
      }
      internal::TimerRecord record;
      if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
      absl::Status resolved = absl::UnavailableError("shard closed");
      slot_->With(
          [&](const ShardStore& shard) { resolved = options_->resolve_completion(shard, record); });
      // A failed read keeps the record: a later compaction tries again.
      if (!resolved.ok()) return false;
      facts = TimerEndFactsOf(record.timer());
    }
    std::optional<absl::Time> ended = TimerEndTime(facts);
    if (!ended.has_value() || !RetentionPassed(*ended, now_, options_->retention)) return false;
    counters_->timers_removed.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  const char* Name() const override { return "chime.TimerRetention"; }

 private:
  const RetentionOptions* options_;
  std::shared_ptr<RetentionShardSlot> slot_;
  std::shared_ptr<RetentionCounters> counters_;
  // One reading per compaction: its decisions are consistent with each other.
  absl::Time now_;
};

class IdempotencyRetentionFilter : public rocksdb::CompactionFilter {
 public:
  IdempotencyRetentionFilter(const RetentionOptions* options,
                             std::shared_ptr<RetentionCounters> counters)
      : options_(options), counters_(std::move(counters)), now_(options->clock->Now()) {}

  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    internal::IdempotencyRecord record;
    if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
    if (!RetentionPassed(absl::FromUnixMicros(record.create_time_us()), now_,
                         options_->retention)) {
      return false;
    }
    counters_->idempotency_keys_removed.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  const char* Name() const override { return "chime.IdempotencyRetention"; }

 private:
  const RetentionOptions* options_;
  std::shared_ptr<RetentionCounters> counters_;
  absl::Time now_;
};

class RetentionFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  RetentionFilterFactory(int cf, const RetentionOptions* options,
                         std::shared_ptr<RetentionShardSlot> slot,
                         std::shared_ptr<RetentionCounters> counters)
      : cf_(cf), options_(options), slot_(std::move(slot)), counters_(std::move(counters)) {}

  // Flushes too: with a short retention a record may expire before it leaves the memtable.
  bool ShouldFilterTableFileCreation(rocksdb::TableFileCreationReason reason) const override {
    return reason == rocksdb::TableFileCreationReason::kFlush ||
           reason == rocksdb::TableFileCreationReason::kCompaction;
  }

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    if (cf_ == kCfTimers) {
      return std::make_unique<TimerRetentionFilter>(options_, slot_, counters_);
    }
    return std::make_unique<IdempotencyRetentionFilter>(options_, counters_);
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
