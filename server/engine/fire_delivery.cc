#include "server/engine/fire_delivery.h"

#include <utility>

#include "common/proto_time.h"
#include "server/engine/engine.h"

namespace chime::engine {

internal::DeliveryRecord MakeDelivery(const v1::Timer& timer, std::string fire_id,
                                      int64_t nominal_us, absl::Time now) {
  internal::DeliveryRecord delivery;
  v1::Fire& fire = *delivery.mutable_fire();
  fire.set_fire_id(std::move(fire_id));
  fire.set_namespace_(timer.namespace_());
  fire.set_timer_id(timer.timer_id());
  if (timer.target().has_webhook()) {
    // Copied, so the fire keeps its destination whatever later happens to the timer.
    fire.set_topic(kWebhookTopic);
    *delivery.mutable_webhook() = timer.target().webhook();
  } else {
    fire.set_topic(timer.target().topic());
  }
  *fire.mutable_scheduled_time() = MicrosToProto(nominal_us);  // nominal, before offsets
  *fire.mutable_fire_time() = ToProtoTimestamp(now);
  fire.set_attempt(0);  // delivery counts attempts from its first send
  *delivery.mutable_policy() = timer.delivery_policy();
  fire.set_payload(timer.payload());
  *fire.mutable_labels() = timer.labels();
  delivery.set_visible_at_us(absl::ToUnixMicros(now));
  return delivery;
}

}  // namespace chime::engine
