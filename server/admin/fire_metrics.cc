#include "server/admin/fire_metrics.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/proto_time.h"

namespace chime::admin {
namespace {

template <typename T>
T* Must(absl::StatusOr<T*> family) {
  if (!family.ok()) {
    fprintf(stderr, "chimed: fire metrics: %s\n", family.status().ToString().c_str());
    abort();
  }
  return *family;
}

}  // namespace

FireMetricsListener::FireMetricsListener(metrics::Registry* registry, int shard_count,
                                         engine::FireListener* next)
    : next_(next) {
  auto* fires = Must(
      registry->AddCounter("chime_fires_total", "Timer fires committed, by shard.", {"shard"}));
  for (int i = 0; i < shard_count; ++i) {
    fires_.push_back(fires->WithLabels({{"shard", std::to_string(i)}}));
  }
  lateness_ =
      Must(registry->AddHistogram(kDispatchLatenessName, kDispatchLatenessHelp))->WithLabels({});
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

}  // namespace chime::admin
