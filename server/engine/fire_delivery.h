// The pending delivery a fire makes of its timer: what a subscriber or webhook is handed.
#ifndef CHIME_SERVER_ENGINE_FIRE_DELIVERY_H_
#define CHIME_SERVER_ENGINE_FIRE_DELIVERY_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "chime/internal/storage.pb.h"
#include "chime/v1/timer.pb.h"

namespace chime::engine {

// The pending delivery of `timer`'s fire `fire_id`, scheduled (nominally) at nominal_us and
// fired at `now`.
internal::DeliveryRecord MakeDelivery(const v1::Timer& timer, std::string fire_id,
                                      int64_t nominal_us, absl::Time now);

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_FIRE_DELIVERY_H_
