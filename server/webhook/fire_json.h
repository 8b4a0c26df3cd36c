// The JSON body POSTed for one webhook attempt. Pure; thread-safe.
#ifndef CHIME_SERVER_WEBHOOK_FIRE_JSON_H_
#define CHIME_SERVER_WEBHOOK_FIRE_JSON_H_

#include <map>
#include <string>

#include "absl/time/time.h"

namespace chime::webhook {

struct FireBody {
  std::string fire_id;
  std::string timer_id;
  std::string ns;
  absl::Time scheduled_time;
  absl::Time fire_time;
  int attempt = 1;
  std::map<std::string, std::string> labels;
  std::string payload;  // raw bytes
};

// {"fire_id":..,"timer_id":..,"namespace":..,"scheduled_time":"2026-..Z","fire_time":..,
//  "attempt":1,"labels":{..},"payload":"text"} — or "payload_base64" instead of "payload" when
// the payload is not valid UTF-8. Times are RFC 3339 UTC.
std::string FireToJson(const FireBody& fire);

}  // namespace chime::webhook

#endif  // CHIME_SERVER_WEBHOOK_FIRE_JSON_H_
