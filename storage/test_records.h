// Minimal records for storage tests: only the fields that make up their keys (and a payload
// to tell versions apart).
#ifndef CHIME_STORAGE_TEST_RECORDS_H_
#define CHIME_STORAGE_TEST_RECORDS_H_

#include <cstdint>
#include <string>

#include "chime/internal/storage.pb.h"

namespace chime::storage {

inline internal::TimerRecord MakeTimer(const std::string& ns, const std::string& id,
                                       const std::string& payload = "") {
  internal::TimerRecord record;
  record.mutable_timer()->set_namespace_(ns);
  record.mutable_timer()->set_timer_id(id);
  record.mutable_timer()->set_payload(payload);
  return record;
}

inline internal::DeliveryRecord MakeDelivery(const std::string& ns, const std::string& fire_id,
                                             const std::string& topic, int64_t visible_at_us) {
  internal::DeliveryRecord record;
  record.mutable_fire()->set_namespace_(ns);
  record.mutable_fire()->set_fire_id(fire_id);
  record.mutable_fire()->set_topic(topic);
  record.set_visible_at_us(visible_at_us);
  return record;
}

}  // namespace chime::storage

#endif  // CHIME_STORAGE_TEST_RECORDS_H_
