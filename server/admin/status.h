// Builds the node status that AdminService/GetStatus returns and `chime status` shows.
#ifndef CHIME_SERVER_ADMIN_STATUS_H_
#define CHIME_SERVER_ADMIN_STATUS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chime/v1/admin.pb.h"
#include "server/delivery/delivery_manager.h"
#include "server/engine/engine.h"
#include "storage/store.h"

namespace chime::admin {

// What the node knows about itself rather than reads from its components.
struct NodeInfo {
  std::string node_id;
  std::string version;
  absl::Time start_time;
  std::string grpc_address;
  std::string http_address;
  std::string data_dir;
  bool ready = false;
};

// Reads the shards' estimates and engine figures, the delivery topics, and per shard the
// earliest timer due at or before `now` and not fired: from the engine's heap and the time
// index past what it loaded (one short seek each), or without an engine the earliest
// time-index entry (timers leave it when their fire is written). Does storage reads: not on a gRPC
// thread. `engine` and `delivery` may be null (their figures are then left out).
absl::StatusOr<v1::GetStatusResponse> CollectStatus(const NodeInfo& node,
                                                    const storage::Store& store,
                                                    const engine::Engine* engine,
                                                    const delivery::DeliveryManager* delivery,
                                                    absl::Time now);

}  // namespace chime::admin

#endif  // CHIME_SERVER_ADMIN_STATUS_H_
