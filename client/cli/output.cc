#include "client/cli/output.h"

#include <google/protobuf/util/json_util.h>

#include <map>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/json_text.h"
#include "common/proto_time.h"
#include "common/time_text.h"

namespace chime::cli {
namespace {

// Human text of a payload: "payload=<text>" with control characters escaped so a fire stays on
// one line, or "payload_base64=<b64>" for bytes that are not UTF-8.
std::string PayloadField(const std::string& payload) {
  if (!IsValidUtf8(payload)) return "payload_base64=" + absl::Base64Escape(payload);
  std::string text;
  for (unsigned char c : payload) {
    if (c == '\n') {
      text += "\\n";
    } else if (c == '\t') {
      text += "\\t";
    } else if (c == '\r') {
      text += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&text, "\\x%02x", c);
    } else {
      text += static_cast<char>(c);
    }
  }
  return "payload=" + text;
}

// The message as a one-line JSON object, payload replaced by its text or base64 form. The
// printer would render bytes as base64 only, which nobody can read.
template <typename Message>
std::string JsonWithPayload(const Message& message) {
  Message copy = message;
  copy.clear_payload();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(copy, &json, options).ok() || json.empty() ||
      json.back() != '}') {
    json = "{}";  // unreachable for these messages; keeps the output one valid object
  }
  json.pop_back();
  if (json.size() > 1) json += ",";
  if (IsValidUtf8(message.payload())) {
    absl::StrAppend(&json, "\"payload\":", JsonQuote(message.payload()));
  } else {
    absl::StrAppend(&json, "\"payload_base64\":\"", absl::Base64Escape(message.payload()), "\"");
  }
  json += "}";
  return json;
}

std::string TimeOrDash(bool has, const google::protobuf::Timestamp& ts) {
  return has ? FormatRfc3339(FromProto(ts)) : "-";
}

std::string TargetText(const v1::Target& target) {
  switch (target.kind_case()) {
    case v1::Target::kTopic:
      return "topic=" + target.topic();
    case v1::Target::kWebhook: {
      const v1::WebhookTarget& w = target.webhook();
      std::string text =
          absl::StrCat("webhook=", w.method().empty() ? "POST" : w.method(), " ", w.url());
      if (w.has_timeout()) {
        absl::StrAppend(&text, " timeout=", chime::FormatDuration(FromProto(w.timeout())));
      }
      return text;
    }
    default:
      return "target=-";
  }
}

std::string ScheduleText(const v1::Schedule& schedule) {
  switch (schedule.kind_case()) {
    case v1::Schedule::kFireAt:
      return "at " + FormatRfc3339(FromProto(schedule.fire_at()));
    case v1::Schedule::kInterval: {
      const v1::IntervalSchedule& interval = schedule.interval();
      std::string text = "every " + chime::FormatDuration(FromProto(interval.every()));
      if (interval.has_start())
        absl::StrAppend(&text, " from ", FormatRfc3339(FromProto(interval.start())));
      if (interval.has_end())
        absl::StrAppend(&text, " until ", FormatRfc3339(FromProto(interval.end())));
      if (interval.max_fires() > 0)
        absl::StrAppend(&text, " at most ", interval.max_fires(), " times");
      return text;
    }
    case v1::Schedule::kCron: {
      const v1::CronSchedule& cron = schedule.cron();
      std::string text = absl::StrCat("cron \"", cron.expression(), "\" in ",
                                      cron.time_zone().empty() ? "UTC" : cron.time_zone());
      if (cron.has_end()) absl::StrAppend(&text, " until ", FormatRfc3339(FromProto(cron.end())));
      if (cron.max_fires() > 0) absl::StrAppend(&text, " at most ", cron.max_fires(), " times");
      return text;
    }
    default:
      return "-";
  }
}

std::string PolicyText(const v1::DeliveryPolicy& policy) {
  std::vector<std::string> parts;
  if (policy.has_ack_deadline()) {
    parts.push_back("ack_deadline=" + chime::FormatDuration(FromProto(policy.ack_deadline())));
  }
  if (policy.max_attempts() > 0)
    parts.push_back(absl::StrCat("max_attempts=", policy.max_attempts()));
  if (policy.has_min_backoff() || policy.has_max_backoff()) {
    parts.push_back(absl::StrCat("backoff=", chime::FormatDuration(FromProto(policy.min_backoff())),
                                 "..", chime::FormatDuration(FromProto(policy.max_backoff()))));
  }
  return parts.empty() ? "server defaults" : absl::StrJoin(parts, " ");
}

}  // namespace

std::string StateName(v1::TimerState state) {
  std::string name = v1::TimerState_Name(state);
  constexpr absl::string_view kPrefix = "TIMER_STATE_";
  if (absl::StartsWith(name, kPrefix)) name = name.substr(kPrefix.size());
  return name.empty() ? absl::StrCat(static_cast<int>(state)) : name;
}

std::string FireLine(const v1::Fire& fire) {
  const absl::Duration late = FromProto(fire.fire_time()) - FromProto(fire.scheduled_time());
  return absl::StrCat(FormatRfc3339(FromProto(fire.fire_time())), " ", fire.fire_id(),
                      " timer=", fire.timer_id(), " attempt=", fire.attempt(),
                      " scheduled=", FormatRfc3339(FromProto(fire.scheduled_time())),
                      " late=", chime::FormatDuration(late), " ", PayloadField(fire.payload()));
}

std::string FireJson(const v1::Fire& fire) { return JsonWithPayload(fire); }

std::string TimerJson(const v1::Timer& timer) { return JsonWithPayload(timer); }

std::string TimerLine(const v1::Timer& timer) {
  return absl::StrCat(timer.timer_id(), " ", StateName(timer.state()), " ",
                      TimeOrDash(timer.has_next_fire_time(), timer.next_fire_time()), " ",
                      TargetText(timer.target()));
}

std::string TimerDetails(const v1::Timer& timer) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"timer_id", timer.timer_id()},
      {"namespace", timer.namespace_()},
      {"state", StateName(timer.state())},
      {"schedule", ScheduleText(timer.schedule())},
      {"target", TargetText(timer.target())},
      {"next_fire_time", TimeOrDash(timer.has_next_fire_time(), timer.next_fire_time())},
      {"last_fire_time", TimeOrDash(timer.has_last_fire_time(), timer.last_fire_time())},
      {"fire_count", absl::StrCat(timer.fire_count())},
  };
  // Recurring timers: the next nominal due times (from the server) and the policies.
  for (int i = 0; i < timer.upcoming_fire_times_size(); ++i) {
    rows.emplace_back(i == 0 ? "upcoming" : "",
                      FormatRfc3339(FromProto(timer.upcoming_fire_times(i))));
  }
  if (timer.schedule().kind_case() != v1::Schedule::kFireAt) {
    rows.emplace_back("misfire_policy", v1::MisfirePolicy_Name(timer.misfire_policy()));
    rows.emplace_back("overlap_policy", v1::OverlapPolicy_Name(timer.overlap_policy()));
    if (timer.has_jitter())
      rows.emplace_back("jitter", chime::FormatDuration(FromProto(timer.jitter())));
    if (timer.has_spread())
      rows.emplace_back("spread", chime::FormatDuration(FromProto(timer.spread())));
  }
  const std::string payload = PayloadField(timer.payload());
  const size_t eq = payload.find('=');
  rows.emplace_back(payload.substr(0, eq), payload.substr(eq + 1));
  std::vector<std::string> labels;
  // Sorted, so the output is stable.
  std::map<std::string, std::string> sorted(timer.labels().begin(), timer.labels().end());
  for (const auto& [key, value] : sorted) labels.push_back(key + "=" + value);
  rows.emplace_back("labels", labels.empty() ? "-" : absl::StrJoin(labels, " "));
  rows.emplace_back("delivery_policy", PolicyText(timer.delivery_policy()));
  rows.emplace_back("idempotency_key",
                    timer.idempotency_key().empty() ? "-" : timer.idempotency_key());
  rows.emplace_back("create_time", TimeOrDash(timer.has_create_time(), timer.create_time()));
  if (timer.has_cancel_time())
    rows.emplace_back("cancel_time", FormatRfc3339(FromProto(timer.cancel_time())));
  if (timer.has_webhook_status()) {
    // "2 attempts, last: ack status=200 latency=1.2ms at <time>[ error=...]"
    const v1::WebhookStatus& w = timer.webhook_status();
    std::string text = absl::StrCat(
        w.attempts(), w.attempts() == 1 ? " attempt" : " attempts", ", last: ", w.last_outcome(),
        " status=", w.last_http_status() == 0 ? "-" : absl::StrCat(w.last_http_status()),
        " latency=", chime::FormatDuration(FromProto(w.last_latency())), " at ",
        TimeOrDash(w.has_last_attempt_time(), w.last_attempt_time()));
    if (!w.last_error().empty()) absl::StrAppend(&text, " error=", w.last_error());
    rows.emplace_back("webhook", text);
  }
  rows.emplace_back("version", absl::StrCat(timer.version()));
  std::string out;
  for (const auto& [name, value] : rows) {
    absl::StrAppendFormat(&out, "%-16s %s\n", name.empty() ? "" : name + ":", value);
  }
  return out;
}

}  // namespace chime::cli
