#include "server/admin/fire_metrics.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/proto_time.h"

namespace chime::admin {

FireMetricsListener::FireMetricsListener(metrics::Registry* registry, int shard_count,
                                         engine::FireListener* next)
    : next_(next) {
  auto* fires = metrics::MustRegister(
      registry->AddCounter("chime_fires_total", "Timer fires committed, by shard.", {"shard"}),
      "fire metrics");
  for (int i = 0; i < shard_count; ++i) {
    fires_.push_back(fires->WithLabels({{"shard", std::to_string(i)}}));
  }
  lateness_ =
      metrics::MustRegister(registry->AddHistogram(kDispatchLatenessName, kDispatchLatenessHelp),
                            "fire metrics")
          ->WithLabels({});
}

void FireMetricsListener::OnFires(int shard, std::vector<internal::DeliveryRecord> fires) {
  if (shard >= 0 && static_cast<size_t>(shard) < fires_.size()) {
    fires_[shard]->Increment(fires.size());
  }
  for (const internal::DeliveryRecord& record : fires) {
    // A fire is never early; clamp clock noise so the sum stays meaningful.
    lateness_->ObserveDuration(
        std::max(absl::ZeroDuration(),
                 FromProto(record.fire().fire_time()) - FromProto(record.fire().scheduled_time())));
  }
  if (next_ != nullptr) next_->OnFires(shard, std::move(fires));
}

size_t FireMetricsListener::MemoryRoom(const std::string& ns, const std::string& topic) {
  return next_ != nullptr ? next_->MemoryRoom(ns, topic) : 0;
}

bool FireMetricsListener::RoomWillFree(const std::string& ns, const std::string& topic) {
  return next_ != nullptr && next_->RoomWillFree(ns, topic);
}

std::optional<google::protobuf::Timestamp> FireMetricsListener::UnwrittenFireTime(
    const std::string& ns, const std::string& topic, const std::string& fire_id) {
  return next_ != nullptr ? next_->UnwrittenFireTime(ns, topic, fire_id) : std::nullopt;
}

}  // namespace chime::admin
