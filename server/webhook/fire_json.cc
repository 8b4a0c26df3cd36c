#include "server/webhook/fire_json.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_text.h"

namespace chime::webhook {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

}  // namespace

std::string FireToJson(const FireBody& f) {
  std::string out = absl::StrCat(
      "{\"fire_id\":", JsonQuote(f.fire_id), ",\"timer_id\":", JsonQuote(f.timer_id),
      ",\"namespace\":", JsonQuote(f.ns), ",\"scheduled_time\":\"", Rfc3339(f.scheduled_time),
      "\",\"fire_time\":\"", Rfc3339(f.fire_time), "\",\"attempt\":", f.attempt, ",\"labels\":{");
  bool first = true;
  for (const auto& [k, v] : f.labels) {
    absl::StrAppend(&out, first ? "" : ",", JsonQuote(k), ":", JsonQuote(v));
    first = false;
  }
  out += "},";
  if (IsValidUtf8(f.payload)) {
    absl::StrAppend(&out, "\"payload\":", JsonQuote(f.payload));
  } else {
    absl::StrAppend(&out, "\"payload_base64\":\"", absl::Base64Escape(f.payload), "\"");
  }
  out += "}";
  return out;
}

}  // namespace chime::webhook
