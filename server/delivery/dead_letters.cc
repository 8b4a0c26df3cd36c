// DeliveryManager's dead-letter operations: list (merged across shards), replay, purge.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "server/delivery/delivery_manager.h"

namespace chime::delivery {
namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;

std::string NamespaceOrDefault(const std::string& ns) {
  return ns.empty() ? std::string(limits::kDefaultNamespace) : ns;
}

v1::DeadLetter ToDeadLetter(const internal::DeliveryRecord& record) {
  v1::DeadLetter out;
  *out.mutable_fire() = record.fire();
  out.set_last_error(record.last_error());
  return out;
}

// The shard of a fire's timer, or INVALID_ARGUMENT for an id chime did not make.
absl::StatusOr<int> ShardOfFire(storage::Store* store, const std::string& ns,
                                const std::string& fire_id) {
  std::string timer_id;
  uint64_t occurrence = 0;
  if (!engine::ParseFireId(fire_id, &timer_id, &occurrence)) {
    return absl::InvalidArgumentError(absl::StrCat("fire_id \"", fire_id, "\" is malformed"));
  }
  return store->ShardFor(ns, timer_id);
}

}  // namespace

absl::StatusOr<v1::ListDeadLettersResponse> DeliveryManager::ListDeadLetters(
    const v1::ListDeadLettersRequest& request) const {
  if (request.page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size ", request.page_size(), " is above the limit of ", kMaxPageSize));
  }
  const std::string ns = NamespaceOrDefault(request.namespace_());
  const size_t page = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  // Each shard is in fire_id order: take up to page + 1 from each, merge, cut.
  std::vector<internal::DeliveryRecord> all;
  for (int s = 0; s < store_->shard_count(); ++s) {
    size_t taken = 0;
    absl::Status status = store_->shard(s)->ScanDeadLetters(
        ns, request.page_token(), [&](const internal::DeliveryRecord& record) {
          if (!request.topic().empty() && record.fire().topic() != request.topic()) return true;
          all.push_back(record);
          return ++taken <= page;
        });
    if (!status.ok()) return status;
  }
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.fire().fire_id() < b.fire().fire_id(); });
  v1::ListDeadLettersResponse response;
  for (size_t i = 0; i < all.size() && i < page; ++i) {
    *response.add_dead_letters() = ToDeadLetter(all[i]);
  }
  if (all.size() > page) response.set_next_page_token(all[page - 1].fire().fire_id());
  return response;
}

absl::StatusOr<v1::DeadLetter> DeliveryManager::ReplayDeadLetter(const std::string& ns_in,
                                                                 const std::string& fire_id) {
  const std::string ns = NamespaceOrDefault(ns_in);
  absl::StatusOr<int> shard = ShardOfFire(store_, ns, fire_id);
  if (!shard.ok()) return shard.status();
  const int64_t now_us = absl::ToUnixMicros(clock_->Now());
  internal::DeliveryRecord replayed;
  absl::Status status = store_->shard(*shard)->SubmitAndWait([&](storage::ShardTxn& txn) {
    absl::StatusOr<std::optional<internal::DeliveryRecord>> dead = txn.GetDeadLetter(ns, fire_id);
    if (!dead.ok()) return dead.status();
    if (!dead->has_value()) {
      return absl::NotFoundError(absl::StrCat("no dead letter \"", fire_id, "\""));
    }
    replayed = **dead;
    replayed.mutable_fire()->set_attempt(0);
    replayed.mutable_fire()->clear_ack_deadline();
    replayed.set_visible_at_us(now_us);
    txn.DeleteDeadLetter(ns, fire_id);
    if (absl::Status s = txn.PutDelivery(replayed); !s.ok()) return s;
    // The timer's delivery is pending again.
    absl::StatusOr<std::optional<storage::TimerRecord>> timer =
        txn.GetTimer(ns, replayed.fire().timer_id());
    if (!timer.ok()) return timer.status();
    if (timer->has_value() && (*timer)->timer().state() == v1::TIMER_STATE_DEAD_LETTERED) {
      v1::Timer& t = *(*timer)->mutable_timer();
      t.set_state(v1::TIMER_STATE_FIRED);
      // Readers tell an ack from a dead letter by the version (engine::ResolveCompletion).
      t.set_version(t.version() + 1);
      txn.PutTimer(**timer);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  OnFires(*shard, {replayed});
  return ToDeadLetter(replayed);
}

absl::StatusOr<v1::DeadLetter> DeliveryManager::PurgeDeadLetter(const std::string& ns_in,
                                                                const std::string& fire_id) {
  const std::string ns = NamespaceOrDefault(ns_in);
  absl::StatusOr<int> shard = ShardOfFire(store_, ns, fire_id);
  if (!shard.ok()) return shard.status();
  internal::DeliveryRecord purged;
  absl::Status status = store_->shard(*shard)->SubmitAndWait([&](storage::ShardTxn& txn) {
    absl::StatusOr<std::optional<internal::DeliveryRecord>> dead = txn.GetDeadLetter(ns, fire_id);
    if (!dead.ok()) return dead.status();
    if (!dead->has_value()) {
      return absl::NotFoundError(absl::StrCat("no dead letter \"", fire_id, "\""));
    }
    purged = **dead;
    txn.DeleteDeadLetter(ns, fire_id);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return ToDeadLetter(purged);
}

}  // namespace chime::delivery
