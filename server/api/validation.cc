#include "server/api/validation.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/proto_time.h"
#include "common/time_text.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "schedule/recurring.h"
#include "server/api/webhook_validation.h"

namespace chime::api {
namespace {

// How a string field's characters are restricted.
enum class Charset {
  // Printable ASCII without whitespace: namespaces, topics, idempotency keys, label keys.
  kToken,
  // URL-safe, and never '@' (it separates a fire id's timer id from its occurrence).
  kTimerId,
};

// Quotes a client value for an error message: escaped and shortened so a hostile value
// cannot flood a log line or a terminal.
std::string Quote(absl::string_view value) {
  constexpr size_t kShown = 48;
  std::string shown = absl::CHexEscape(value.substr(0, kShown));
  return absl::StrCat("\"", shown, value.size() > kShown ? "...\"" : "\"");
}

bool IsTokenChar(char c) { return c > 0x20 && c < 0x7f; }

bool IsTimerIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '~' || c == '-';
}

absl::Status CheckString(absl::string_view field, absl::string_view value, size_t limit,
                         Charset charset) {
  if (value.size() > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", value.size(), " bytes, limit ", limit));
  }
  for (char c : value) {
    if (charset == Charset::kTimerId && !IsTimerIdChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " ", Quote(value), " has a character outside [A-Za-z0-9._:~-]"));
    }
    if (charset == Charset::kToken && !IsTokenChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " ", Quote(value),
          " has a character outside printable ASCII (no spaces or control characters)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRequired(absl::string_view field, absl::string_view value, size_t limit,
                           Charset charset) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  return CheckString(field, value, limit, charset);
}

// Empty means the default namespace.
absl::StatusOr<std::string> Namespace(absl::string_view value) {
  if (value.empty()) return std::string(limits::kDefaultNamespace);
  if (absl::Status s =
          CheckString("namespace", value, limits::kMaxNamespaceLength, Charset::kToken);
      !s.ok()) {
    return s;
  }
  return std::string(value);
}

absl::Status CheckTimestamp(absl::string_view field, const google::protobuf::Timestamp& ts) {
  // google.protobuf.Timestamp's documented range: 0001-01-01 to 9999-12-31.
  if (ts.seconds() < -62'135'596'800 || ts.seconds() > 253'402'300'799 || ts.nanos() < 0 ||
      ts.nanos() > 999'999'999) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not a valid timestamp (seconds ",
                                                   ts.seconds(), ", nanos ", ts.nanos(), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckDuration(absl::string_view field, const google::protobuf::Duration& d) {
  const bool sign_ok = (d.seconds() >= 0 && d.nanos() >= 0) || (d.seconds() <= 0 && d.nanos() <= 0);
  if (d.seconds() < -315'576'000'000 || d.seconds() > 315'576'000'000 || d.nanos() < -999'999'999 ||
      d.nanos() > 999'999'999 || !sign_ok) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not a valid duration (seconds ",
                                                   d.seconds(), ", nanos ", d.nanos(), ")"));
  }
  return absl::OkStatus();
}

std::string ShowDuration(absl::Duration d) {
  return d < absl::ZeroDuration() ? absl::StrCat("-", chime::FormatDuration(-d))
                                  : chime::FormatDuration(d);
}

// A non-negative duration at most `max`.
absl::Status CheckDurationRange(absl::string_view field, const google::protobuf::Duration& proto,
                                absl::Duration min, absl::Duration max) {
  if (absl::Status s = CheckDuration(field, proto); !s.ok()) return s;
  const absl::Duration d = FromProto(proto);
  if (d < min || d > max) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is ", ShowDuration(d),
                                                   ", must be between ", chime::FormatDuration(min),
                                                   " and ", chime::FormatDuration(max)));
  }
  return absl::OkStatus();
}

absl::Status CheckLabels(const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > limits::kMaxLabels) {
    return absl::InvalidArgumentError(
        absl::StrCat("labels has ", labels.size(), " entries, limit ", limits::kMaxLabels));
  }
  for (const auto& [key, value] : labels) {
    if (absl::Status s =
            CheckRequired("label key", key, limits::kMaxLabelKeyLength, Charset::kToken);
        !s.ok()) {
      return s;
    }
    if (value.size() > limits::kMaxLabelValueLength) {
      return absl::InvalidArgumentError(absl::StrCat("label ", Quote(key), " value is ",
                                                     value.size(), " bytes, limit ",
                                                     limits::kMaxLabelValueLength));
    }
    for (char c : value) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return absl::InvalidArgumentError(
            absl::StrCat("label ", Quote(key), " value has a control character"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPolicy(const v1::DeliveryPolicy& policy) {
  if (policy.has_ack_deadline()) {
    if (absl::Status s = CheckDurationRange("delivery_policy.ack_deadline", policy.ack_deadline(),
                                            absl::Seconds(limits::kMinAckDeadlineSeconds),
                                            absl::Seconds(limits::kMaxAckDeadlineSeconds));
        !s.ok()) {
      return s;
    }
  }
  if (policy.max_attempts() > limits::kMaxMaxAttempts) {
    return absl::InvalidArgumentError(absl::StrCat("delivery_policy.max_attempts is ",
                                                   policy.max_attempts(), ", limit ",
                                                   limits::kMaxMaxAttempts));
  }
  const absl::Duration max_backoff = absl::Seconds(limits::kMaxBackoffSeconds);
  if (policy.has_min_backoff()) {
    if (absl::Status s = CheckDurationRange("delivery_policy.min_backoff", policy.min_backoff(),
                                            absl::ZeroDuration(), max_backoff);
        !s.ok()) {
      return s;
    }
  }
  if (policy.has_max_backoff()) {
    if (absl::Status s = CheckDurationRange("delivery_policy.max_backoff", policy.max_backoff(),
                                            absl::ZeroDuration(), max_backoff);
        !s.ok()) {
      return s;
    }
  }
  if (policy.has_min_backoff() && policy.has_max_backoff() &&
      FromProto(policy.min_backoff()) > FromProto(policy.max_backoff())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "delivery_policy.min_backoff (", chime::FormatDuration(FromProto(policy.min_backoff())),
        ") is greater than delivery_policy.max_backoff (",
        chime::FormatDuration(FromProto(policy.max_backoff())), ")"));
  }
  return absl::OkStatus();
}

// Resolves the request's `when` to an absolute due time.
absl::StatusOr<absl::Time> DueTime(const v1::CreateTimerRequest& request, absl::Time now) {
  const absl::Duration max_ahead = absl::Seconds(limits::kMaxFutureSeconds);
  const int64_t max_days = limits::kMaxFutureSeconds / 86400;
  switch (request.when_case()) {
    case v1::CreateTimerRequest::kFireAt: {
      if (absl::Status s = CheckTimestamp("fire_at", request.fire_at()); !s.ok()) return s;
      const absl::Time at = FromProto(request.fire_at());
      if (at - now > max_ahead) {
        return absl::InvalidArgumentError(absl::StrCat("fire_at is ", chime::FormatRfc3339(at),
                                                       ", more than ", max_days,
                                                       " days ahead (limit)"));
      }
      if (now - at > absl::Seconds(limits::kMaxPastSeconds)) {
        return absl::InvalidArgumentError(
            absl::StrCat("fire_at is ", chime::FormatRfc3339(at), ", more than ",
                         limits::kMaxPastSeconds / 3600, " hours in the past (limit)"));
      }
      return at;
    }
    case v1::CreateTimerRequest::kDelay: {
      if (absl::Status s = CheckDuration("delay", request.delay()); !s.ok()) return s;
      const absl::Duration delay = FromProto(request.delay());
      if (delay < absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            absl::StrCat("delay is ", ShowDuration(delay), ", must not be negative"));
      }
      if (delay > max_ahead) {
        return absl::InvalidArgumentError(absl::StrCat("delay is ", chime::FormatDuration(delay),
                                                       ", more than ", max_days, " days (limit)"));
      }
      return now + delay;
    }
    case v1::CreateTimerRequest::kInterval:
    case v1::CreateTimerRequest::kCron:
      return now;  // recurring: see RecurringSchedule
    case v1::CreateTimerRequest::WHEN_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("one of fire_at, delay, interval or cron is required");
}

absl::Status CheckEnd(absl::string_view field, const google::protobuf::Timestamp& end,
                      absl::Time now) {
  if (absl::Status s = CheckTimestamp(field, end); !s.ok()) return s;
  if (FromProto(end) <= now) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", chime::FormatRfc3339(FromProto(end)), ", already past"));
  }
  return absl::OkStatus();
}

// The recurring schedule of a create request (interval start defaulted to `now`), checked
// with the schedule library so errors name the bad cron field, zone or interval.
absl::StatusOr<v1::Schedule> RecurringSchedule(const v1::CreateTimerRequest& request,
                                               absl::Time now) {
  const absl::Duration max_ahead = absl::Seconds(limits::kMaxFutureSeconds);
  v1::Schedule schedule;
  RecurringSpec spec;
  if (request.when_case() == v1::CreateTimerRequest::kInterval) {
    v1::IntervalSchedule in = request.interval();
    if (!in.has_every()) return absl::InvalidArgumentError("interval.every is required");
    if (absl::Status s = CheckDuration("interval.every", in.every()); !s.ok()) return s;
    const absl::Duration every = FromProto(in.every());
    const absl::Duration min = absl::Milliseconds(limits::kMinIntervalMillis);
    if (every < min) {
      return absl::InvalidArgumentError(absl::StrCat("interval.every is ", ShowDuration(every),
                                                     ", must be at least ",
                                                     chime::FormatDuration(min)));
    }
    if (every > max_ahead) {
      return absl::InvalidArgumentError(absl::StrCat("interval.every is ", ShowDuration(every),
                                                     ", more than ",
                                                     limits::kMaxFutureSeconds / 86400, " days"));
    }
    if (in.has_start()) {
      if (absl::Status s = CheckTimestamp("interval.start", in.start()); !s.ok()) return s;
      const absl::Time start = FromProto(in.start());
      if (start - now > max_ahead) {
        return absl::InvalidArgumentError(
            absl::StrCat("interval.start is ", chime::FormatRfc3339(start), ", more than ",
                         limits::kMaxFutureSeconds / 86400, " days ahead (limit)"));
      }
    } else {
      *in.mutable_start() = ToProtoTimestamp(now);  // receipt time
    }
    if (in.has_end()) {
      if (absl::Status s = CheckEnd("interval.end", in.end(), now); !s.ok()) return s;
      if (FromProto(in.end()) < FromProto(in.start())) {
        return absl::InvalidArgumentError("interval.end is before interval.start");
      }
    }
    IntervalSpec interval{.start = FromProto(in.start()), .every = every};
    if (in.has_end()) interval.end = FromProto(in.end());
    spec = interval;
    *schedule.mutable_interval() = std::move(in);
  } else {
    const v1::CronSchedule& in = request.cron();
    std::optional<absl::Time> end;
    if (in.has_end()) {
      if (absl::Status s = CheckEnd("cron.end", in.end(), now); !s.ok()) return s;
      end = FromProto(in.end());
    }
    absl::StatusOr<CronSpec> cron = MakeCronSpec(in.expression(), in.time_zone(), end);
    if (!cron.ok()) return cron.status();
    if (!cron->expression.CanMatch()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cron expression '", in.expression(), "' never matches a date"));
    }
    spec = *std::move(cron);
    *schedule.mutable_cron() = in;
  }
  if (!NextDueTime(spec, now - absl::Microseconds(1)).has_value()) {
    return absl::InvalidArgumentError("the schedule has no due time after now (check end)");
  }
  return schedule;
}

// jitter/spread and the policies: recurring timers only.
absl::Status CheckRecurringOptions(const v1::CreateTimerRequest& request, bool recurring) {
  const bool any = request.has_jitter() || request.has_spread() ||
                   request.misfire_policy() != v1::MISFIRE_POLICY_UNSPECIFIED ||
                   request.overlap_policy() != v1::OVERLAP_POLICY_UNSPECIFIED;
  if (!recurring) {
    if (any) {
      return absl::InvalidArgumentError(
          "jitter, spread, misfire_policy and overlap_policy apply to interval and cron "
          "schedules only");
    }
    return absl::OkStatus();
  }
  if (request.has_jitter()) {
    if (absl::Status s = CheckDurationRange("jitter", request.jitter(), absl::ZeroDuration(),
                                            absl::Seconds(limits::kMaxJitterSeconds));
        !s.ok()) {
      return s;
    }
  }
  if (request.has_spread()) {
    if (absl::Status s = CheckDurationRange("spread", request.spread(), absl::ZeroDuration(),
                                            absl::Seconds(limits::kMaxSpreadSeconds));
        !s.ok()) {
      return s;
    }
  }
  if (!v1::MisfirePolicy_IsValid(request.misfire_policy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("misfire_policy ", request.misfire_policy(), " is unknown"));
  }
  if (!v1::OverlapPolicy_IsValid(request.overlap_policy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("overlap_policy ", request.overlap_policy(), " is unknown"));
  }
  return absl::OkStatus();
}

// Topics starting with '$' are chime's own (engine::kWebhookTopic): a client may neither
// create timers for them nor consume them.
absl::Status CheckClientTopic(absl::string_view field, absl::string_view topic) {
  if (!topic.empty() && topic[0] == '$') {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", Quote(topic), " starts with '$', which is reserved"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Target> ValidTarget(const v1::Target& target, bool has_target,
                                       const webhook::AddressPolicy& policy) {
  if (!has_target || target.kind_case() == v1::Target::KIND_NOT_SET) {
    return absl::InvalidArgumentError("target.topic is required (or target.webhook)");
  }
  v1::Target out;
  if (target.kind_case() == v1::Target::kWebhook) {
    absl::StatusOr<v1::WebhookTarget> webhook = ValidateWebhookTarget(target.webhook(), policy);
    if (!webhook.ok()) return webhook.status();
    *out.mutable_webhook() = *std::move(webhook);
    return out;
  }
  if (absl::Status s =
          CheckRequired("target.topic", target.topic(), limits::kMaxTopicLength, Charset::kToken);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckClientTopic("target.topic", target.topic()); !s.ok()) return s;
  out.set_topic(target.topic());
  return out;
}

absl::StatusOr<TimerRef> ValidateRef(absl::string_view ns, absl::string_view timer_id) {
  TimerRef ref;
  absl::StatusOr<std::string> resolved = Namespace(ns);
  if (!resolved.ok()) return resolved.status();
  ref.ns = *std::move(resolved);
  if (absl::Status s =
          CheckRequired("timer_id", timer_id, limits::kMaxTimerIdLength, Charset::kTimerId);
      !s.ok()) {
    return s;
  }
  ref.timer_id = std::string(timer_id);
  return ref;
}

absl::Status CheckAckIds(absl::string_view what,
                         const google::protobuf::RepeatedPtrField<std::string>& ids) {
  if (ids.size() > static_cast<int>(limits::kMaxAckIdsPerMessage)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", ids.size(), " fire ids, limit ", limits::kMaxAckIdsPerMessage));
  }
  return absl::OkStatus();
}

}  // namespace

const webhook::AddressPolicy& DefaultWebhookPolicy() {
  static const webhook::AddressPolicy* const policy = new webhook::AddressPolicy();
  return *policy;
}

absl::StatusOr<engine::CreateSpec> ValidateCreate(const v1::CreateTimerRequest& request,
                                                  absl::Time now,
                                                  const webhook::AddressPolicy& webhook_policy) {
  absl::StatusOr<std::string> ns = Namespace(request.namespace_());
  if (!ns.ok()) return ns.status();
  if (!request.timer_id().empty()) {
    if (absl::Status s = CheckString("timer_id", request.timer_id(), limits::kMaxTimerIdLength,
                                     Charset::kTimerId);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckString("idempotency_key", request.idempotency_key(),
                                   limits::kMaxIdempotencyKeyLength, Charset::kToken);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<absl::Time> due = DueTime(request, now);
  if (!due.ok()) return due.status();
  const bool recurring = request.when_case() == v1::CreateTimerRequest::kInterval ||
                         request.when_case() == v1::CreateTimerRequest::kCron;
  std::optional<v1::Schedule> schedule;
  if (recurring) {
    absl::StatusOr<v1::Schedule> s = RecurringSchedule(request, now);
    if (!s.ok()) return s.status();
    schedule = *std::move(s);
  }
  if (absl::Status s = CheckRecurringOptions(request, recurring); !s.ok()) return s;
  absl::StatusOr<v1::Target> target =
      ValidTarget(request.target(), request.has_target(), webhook_policy);
  if (!target.ok()) return target.status();
  if (request.payload().size() > limits::kMaxPayloadBytes) {
    return absl::InvalidArgumentError(absl::StrCat("payload is ", request.payload().size(),
                                                   " bytes, limit ", limits::kMaxPayloadBytes));
  }
  if (absl::Status s = CheckLabels(request.labels()); !s.ok()) return s;
  if (absl::Status s = CheckPolicy(request.delivery_policy()); !s.ok()) return s;

  engine::CreateSpec spec;
  v1::Timer& timer = spec.timer;
  timer.set_namespace_(*ns);
  timer.set_timer_id(request.timer_id());
  if (schedule.has_value()) {
    *timer.mutable_schedule() = *std::move(schedule);
    timer.set_misfire_policy(request.misfire_policy());
    timer.set_overlap_policy(request.overlap_policy());
    if (request.has_jitter()) *timer.mutable_jitter() = request.jitter();
    if (request.has_spread()) *timer.mutable_spread() = request.spread();
  } else {
    *timer.mutable_schedule()->mutable_fire_at() = ToProtoTimestamp(*due);
  }
  *timer.mutable_target() = *std::move(target);
  timer.set_payload(request.payload());
  *timer.mutable_labels() = request.labels();
  if (request.has_delivery_policy()) *timer.mutable_delivery_policy() = request.delivery_policy();
  timer.set_idempotency_key(request.idempotency_key());
  spec.idempotency_key = request.idempotency_key();
  // Only a create that names its timer or carries a key can be retried onto an existing one
  // (a generated id is new); the fingerprint hashes the whole request, payload included.
  if (!request.timer_id().empty() || !request.idempotency_key().empty()) {
    spec.request_fingerprint = RequestFingerprint(request);
  }
  return spec;
}

absl::StatusOr<TimerRef> ValidateGet(const v1::GetTimerRequest& request) {
  return ValidateRef(request.namespace_(), request.timer_id());
}

absl::StatusOr<TimerRef> ValidateCancel(const v1::CancelTimerRequest& request) {
  return ValidateRef(request.namespace_(), request.timer_id());
}

absl::StatusOr<TimerRef> ValidatePause(const v1::PauseTimerRequest& request) {
  return ValidateRef(request.namespace_(), request.timer_id());
}

absl::StatusOr<TimerRef> ValidateResume(const v1::ResumeTimerRequest& request) {
  return ValidateRef(request.namespace_(), request.timer_id());
}

absl::StatusOr<v1::UpdateTimerRequest> ValidateUpdate(const v1::UpdateTimerRequest& request,
                                                      absl::Time now) {
  absl::StatusOr<TimerRef> ref = ValidateRef(request.namespace_(), request.timer_id());
  if (!ref.ok()) return ref.status();
  // The same checks as a create carrying these fields (a placeholder schedule when the
  // update keeps the timer's own).
  v1::CreateTimerRequest create;
  create.mutable_target()->set_topic("update");
  if (request.has_interval()) {
    *create.mutable_interval() = request.interval();
  } else if (request.has_cron()) {
    *create.mutable_cron() = request.cron();
  } else {
    *create.mutable_interval()->mutable_every() = ToProtoDuration(absl::Hours(1));
  }
  create.set_payload(request.payload());
  *create.mutable_labels() = request.labels();
  create.set_misfire_policy(request.misfire_policy());
  create.set_overlap_policy(request.overlap_policy());
  if (request.has_jitter()) *create.mutable_jitter() = request.jitter();
  if (request.has_spread()) *create.mutable_spread() = request.spread();
  absl::StatusOr<engine::CreateSpec> spec = ValidateCreate(create, now);
  if (!spec.ok()) return spec.status();
  v1::UpdateTimerRequest out = request;
  out.set_namespace_(ref->ns);
  if (request.has_interval()) *out.mutable_interval() = spec->timer.schedule().interval();
  return out;
}

absl::StatusOr<v1::ListTimersRequest> ValidateList(const v1::ListTimersRequest& request) {
  v1::ListTimersRequest out = request;
  absl::StatusOr<std::string> ns = Namespace(request.namespace_());
  if (!ns.ok()) return ns.status();
  out.set_namespace_(*ns);
  if (absl::Status s =
          CheckString("topic", request.topic(), limits::kMaxTopicLength, Charset::kToken);
      !s.ok()) {
    return s;
  }
  if (!v1::TimerState_IsValid(request.state())) {
    return absl::InvalidArgumentError(
        absl::StrCat("state ", static_cast<int>(request.state()), " is not a TimerState"));
  }
  if (request.page_size() > limits::kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size is ", request.page_size(), ", limit ", limits::kMaxPageSize));
  }
  if (request.page_size() == 0) out.set_page_size(limits::kDefaultPageSize);
  if (request.page_token().size() > limits::kMaxPageTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat("page_token is ", request.page_token().size(),
                                                   " bytes, limit ", limits::kMaxPageTokenLength));
  }
  return out;
}

absl::StatusOr<SubscribeParams> ValidateSubscribeStart(const v1::SubscribeStart& start) {
  SubscribeParams params;
  absl::StatusOr<std::string> ns = Namespace(start.namespace_());
  if (!ns.ok()) return ns.status();
  params.ns = *std::move(ns);
  if (absl::Status s =
          CheckRequired("start.topic", start.topic(), limits::kMaxTopicLength, Charset::kToken);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckClientTopic("start.topic", start.topic()); !s.ok()) return s;
  params.topic = start.topic();
  if (start.max_outstanding() > limits::kMaxMaxOutstanding) {
    return absl::InvalidArgumentError(absl::StrCat("start.max_outstanding is ",
                                                   start.max_outstanding(), ", limit ",
                                                   limits::kMaxMaxOutstanding));
  }
  params.max_outstanding =
      start.max_outstanding() == 0 ? limits::kDefaultMaxOutstanding : start.max_outstanding();
  return params;
}

absl::Status ValidateAck(const v1::Acknowledge& ack) { return CheckAckIds("ack", ack.fire_ids()); }

absl::StatusOr<std::optional<absl::Duration>> ValidateNack(const v1::NegativeAcknowledge& nack) {
  if (absl::Status s = CheckAckIds("nack", nack.fire_ids()); !s.ok()) return s;
  if (!nack.has_delay()) return std::optional<absl::Duration>();
  if (absl::Status s = CheckDurationRange("nack.delay", nack.delay(), absl::ZeroDuration(),
                                          absl::Seconds(limits::kMaxNackDelaySeconds));
      !s.ok()) {
    return s;
  }
  return std::optional<absl::Duration>(FromProto(nack.delay()));
}

uint64_t Fnv1a64(absl::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

uint64_t RequestFingerprint(const v1::CreateTimerRequest& request) {
  // The namespace is defaulted first so "" and "default" are the same request.
  v1::CreateTimerRequest normalized = request;
  if (normalized.namespace_().empty()) normalized.set_namespace_(limits::kDefaultNamespace);
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    // Deterministic: map entries sorted by key, so equal requests give equal bytes.
    coded.SetSerializationDeterministic(true);
    normalized.SerializeToCodedStream(&coded);
  }
  return Fnv1a64(bytes);
}

}  // namespace chime::api
