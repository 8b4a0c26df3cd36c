// A FireListener between the engine and delivery that counts fires per shard
// (chime_fires_total) and observes how late each was dispatched
// (chime_fire_dispatch_lateness_seconds: scheduled time -> fire time), then passes the fires
// on unchanged. Keeps the engine free of metrics code.
#ifndef CHIME_SERVER_ADMIN_FIRE_METRICS_H_
#define CHIME_SERVER_ADMIN_FIRE_METRICS_H_

#include <vector>

#include "metrics/registry.h"
#include "server/engine/engine.h"

namespace chime::admin {

// Registering this name and help again returns the same histogram (for the status page).
inline constexpr char kDispatchLatenessName[] = "chime_fire_dispatch_lateness_seconds";
inline constexpr char kDispatchLatenessHelp[] =
    "Time from a fire's scheduled time to its dispatch by the engine.";

// Thread-safe (lock-free updates; OnFires runs on the shards' writer threads).
class FireMetricsListener final : public engine::FireListener {
 public:
  // `next` and `registry` must outlive this listener.
  FireMetricsListener(metrics::Registry* registry, int shard_count, engine::FireListener* next);

  void OnFires(int shard, std::vector<internal::DeliveryRecord> fires) override;
  size_t MemoryRoom(const std::string& ns, const std::string& topic) override;
  bool RoomWillFree(const std::string& ns, const std::string& topic) override;
  std::optional<google::protobuf::Timestamp> UnwrittenFireTime(const std::string& ns,
                                                               const std::string& topic,
                                                               const std::string& fire_id) override;

 private:
  engine::FireListener* const next_;
  std::vector<metrics::Counter*> fires_;  // by shard
  metrics::Histogram* lateness_;
};

}  // namespace chime::admin

#endif  // CHIME_SERVER_ADMIN_FIRE_METRICS_H_
