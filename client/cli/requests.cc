#include "client/cli/requests.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/recurring_flags.h"
#include "common/limits.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "common/time_text.h"

namespace chime::cli {
namespace {

absl::StatusOr<absl::Duration> DurationFlag(const ParsedArgs& args, const std::string& flag) {
  absl::StatusOr<absl::Duration> d = ParseDuration(*args.Get(flag));
  if (!d.ok()) return FlagError(flag, d.status().message());
  return d;
}

absl::StatusOr<absl::Time> TimeFlag(const ParsedArgs& args, const std::string& flag) {
  absl::StatusOr<absl::Time> t = ParseRfc3339(*args.Get(flag));
  if (!t.ok()) return FlagError(flag, t.status().message());
  return t;
}

// A positive integer.
absl::StatusOr<uint32_t> CountFlag(const ParsedArgs& args, const std::string& flag) {
  const std::string text = *args.Get(flag);
  uint32_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n == 0) {
    return FlagError(flag, absl::StrCat("want a positive integer, got \"", text, "\""));
  }
  return n;
}

// The flags of `names` that are present, as "--a and --b".
std::vector<std::string> Present(const ParsedArgs& args, const std::vector<std::string>& names) {
  std::vector<std::string> present;
  for (const std::string& name : names) {
    if (args.Has(name)) present.push_back("--" + name);
  }
  return present;
}

// Exactly one of `names` (or at most one, when !required).
absl::Status OneOf(const ParsedArgs& args, const std::vector<std::string>& names, bool required) {
  std::vector<std::string> present = Present(args, names);
  if (present.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::StrJoin(present, " and "), " cannot be combined"));
  }
  if (present.empty() && required) {
    std::vector<std::string> all;
    for (const std::string& name : names) all.push_back("--" + name);
    return absl::InvalidArgumentError(
        absl::StrCat("one of ", absl::StrJoin(all, ", "), " is required"));
  }
  return absl::OkStatus();
}

absl::Status Requires(const ParsedArgs& args, const std::string& flag, const std::string& needs) {
  if (args.Has(flag) && !args.Has(needs)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " needs --", needs));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FlagError("payload-file", absl::StrCat("cannot open \"", path, "\""));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return FlagError("payload-file", absl::StrCat("cannot read \"", path, "\""));
  return content.str();
}

absl::Status SetSchedule(const ParsedArgs& args, v1::CreateTimerRequest* request) {
  CHIME_RETURN_IF_ERROR(OneOf(args, {"in", "at", "every", "cron"}, /*required=*/true));
  CHIME_RETURN_IF_ERROR(Requires(args, "start", "every"));
  CHIME_RETURN_IF_ERROR(Requires(args, "tz", "cron"));
  if (args.Has("in")) {
    CHIME_ASSIGN_OR_RETURN(absl::Duration delay, DurationFlag(args, "in"));
    *request->mutable_delay() = ToProtoDuration(delay);
  } else if (args.Has("at")) {
    CHIME_ASSIGN_OR_RETURN(absl::Time at, TimeFlag(args, "at"));
    *request->mutable_fire_at() = ToProtoTimestamp(at);
  } else if (args.Has("every")) {
    CHIME_ASSIGN_OR_RETURN(absl::Duration every, DurationFlag(args, "every"));
    if (every <= absl::ZeroDuration()) return FlagError("every", "must be positive");
    v1::IntervalSchedule* interval = request->mutable_interval();
    *interval->mutable_every() = ToProtoDuration(every);
    if (args.Has("start")) {
      CHIME_ASSIGN_OR_RETURN(absl::Time start, TimeFlag(args, "start"));
      *interval->mutable_start() = ToProtoTimestamp(start);
    }
  } else {
    const std::string expression = *args.Get("cron");
    if (absl::StripAsciiWhitespace(expression).empty()) return FlagError("cron", "is empty");
    v1::CronSchedule* cron = request->mutable_cron();
    cron->set_expression(expression);
    if (args.Has("tz")) cron->set_time_zone(*args.Get("tz"));
  }
  return absl::OkStatus();
}

absl::Status SetTarget(const ParsedArgs& args, v1::CreateTimerRequest* request) {
  CHIME_RETURN_IF_ERROR(OneOf(args, {"topic", "webhook"}, /*required=*/true));
  CHIME_RETURN_IF_ERROR(Requires(args, "header", "webhook"));
  CHIME_RETURN_IF_ERROR(Requires(args, "method", "webhook"));
  CHIME_RETURN_IF_ERROR(Requires(args, "webhook-timeout", "webhook"));
  if (args.Has("topic")) {
    const std::string topic = *args.Get("topic");
    if (topic.empty()) return FlagError("topic", "is empty");
    request->mutable_target()->set_topic(topic);
    return absl::OkStatus();
  }
  v1::WebhookTarget* webhook = request->mutable_target()->mutable_webhook();
  webhook->set_url(*args.Get("webhook"));
  if (args.Has("method")) webhook->set_method(absl::AsciiStrToUpper(*args.Get("method")));
  if (args.Has("webhook-timeout")) {
    CHIME_ASSIGN_OR_RETURN(absl::Duration timeout, DurationFlag(args, "webhook-timeout"));
    *webhook->mutable_timeout() = ToProtoDuration(timeout);
  }
  for (const std::string& header : args.GetAll("header")) {
    const size_t colon = header.find(':');
    if (colon == std::string::npos || colon == 0) {
      return FlagError("header", absl::StrCat("want name:value, got \"", header, "\""));
    }
    const std::string name(absl::StripAsciiWhitespace(header.substr(0, colon)));
    const std::string value(absl::StripAsciiWhitespace(header.substr(colon + 1)));
    if (webhook->headers().count(name)) {
      return FlagError("header", absl::StrCat("\"", name, "\" given more than once"));
    }
    (*webhook->mutable_headers())[name] = value;
  }
  return absl::OkStatus();
}

absl::Status SetDeliveryPolicy(const ParsedArgs& args, v1::CreateTimerRequest* request) {
  if (args.Has("ack-deadline")) {
    CHIME_ASSIGN_OR_RETURN(absl::Duration d, DurationFlag(args, "ack-deadline"));
    if (d <= absl::ZeroDuration()) return FlagError("ack-deadline", "must be positive");
    *request->mutable_delivery_policy()->mutable_ack_deadline() = ToProtoDuration(d);
  }
  if (args.Has("max-attempts")) {
    CHIME_ASSIGN_OR_RETURN(uint32_t n, CountFlag(args, "max-attempts"));
    request->mutable_delivery_policy()->set_max_attempts(n);
  }
  if (args.Has("backoff")) {
    const std::string text = *args.Get("backoff");
    const size_t dots = text.find("..");
    if (dots == std::string::npos) {
      return FlagError("backoff", absl::StrCat("want MIN..MAX like 1s..5m, got \"", text, "\""));
    }
    absl::StatusOr<absl::Duration> min = ParseDuration(text.substr(0, dots));
    if (!min.ok()) return FlagError("backoff", min.status().message());
    absl::StatusOr<absl::Duration> max = ParseDuration(text.substr(dots + 2));
    if (!max.ok()) return FlagError("backoff", max.status().message());
    if (*min > *max) {
      return FlagError("backoff", absl::StrCat("minimum ", chime::FormatDuration(*min),
                                               " is above maximum ", chime::FormatDuration(*max)));
    }
    *request->mutable_delivery_policy()->mutable_min_backoff() = ToProtoDuration(*min);
    *request->mutable_delivery_policy()->mutable_max_backoff() = ToProtoDuration(*max);
  }
  return absl::OkStatus();
}

}  // namespace

std::string NamespaceOf(const ParsedArgs& args) {
  return args.Get("namespace").value_or(limits::kDefaultNamespace);
}

absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return FlagError("label", absl::StrCat("want key=value, got \"", text, "\""));
  }
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

absl::StatusOr<v1::TimerState> ParseTimerState(const std::string& text) {
  std::string name = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(name, "TIMER_STATE_")) name = "TIMER_STATE_" + name;
  v1::TimerState state;
  if (!v1::TimerState_Parse(name, &state) || state == v1::TIMER_STATE_UNSPECIFIED) {
    return FlagError("state",
                     absl::StrCat("unknown state \"", text,
                                  "\" (want scheduled, fired, completed, cancelled, paused or "
                                  "dead_lettered)"));
  }
  return state;
}

absl::StatusOr<v1::CreateTimerRequest> BuildCreateRequest(const ParsedArgs& args) {
  v1::CreateTimerRequest request;
  request.set_namespace_(NamespaceOf(args));
  CHIME_RETURN_IF_ERROR(SetSchedule(args, &request));
  CHIME_RETURN_IF_ERROR(SetTarget(args, &request));
  CHIME_RETURN_IF_ERROR(OneOf(args, {"payload", "payload-file"}, /*required=*/false));
  if (args.Has("payload")) {
    request.set_payload(*args.Get("payload"));
  } else if (args.Has("payload-file")) {
    CHIME_ASSIGN_OR_RETURN(std::string payload, ReadFile(*args.Get("payload-file")));
    request.set_payload(std::move(payload));
  }
  if (args.Has("id")) request.set_timer_id(*args.Get("id"));
  if (args.Has("idempotency-key")) request.set_idempotency_key(*args.Get("idempotency-key"));
  for (const std::string& text : args.GetAll("label")) {
    CHIME_ASSIGN_OR_RETURN(auto label, ParseLabel(text));
    if (request.labels().count(label.first)) {
      return FlagError("label", absl::StrCat("key \"", label.first, "\" given more than once"));
    }
    (*request.mutable_labels())[label.first] = label.second;
  }
  CHIME_RETURN_IF_ERROR(SetDeliveryPolicy(args, &request));
  CHIME_RETURN_IF_ERROR(SetRecurringOptions(args, &request));
  return request;
}

absl::StatusOr<ListPlan> BuildListPlan(const ParsedArgs& args) {
  ListPlan plan;
  plan.request.set_namespace_(NamespaceOf(args));
  if (args.Has("topic")) plan.request.set_topic(*args.Get("topic"));
  if (args.Has("state")) {
    CHIME_ASSIGN_OR_RETURN(v1::TimerState state, ParseTimerState(*args.Get("state")));
    plan.request.set_state(state);
  }
  if (args.Has("limit")) {
    CHIME_ASSIGN_OR_RETURN(plan.limit, CountFlag(args, "limit"));
  }
  return plan;
}

absl::StatusOr<WatchPlan> BuildWatchPlan(const ParsedArgs& args) {
  WatchPlan plan;
  plan.ns = NamespaceOf(args);
  if (!args.Has("topic") || args.Get("topic")->empty()) {
    return absl::InvalidArgumentError("--topic is required");
  }
  plan.topic = *args.Get("topic");
  if (args.Has("count")) {
    CHIME_ASSIGN_OR_RETURN(plan.count, CountFlag(args, "count"));
  }
  plan.ack = !args.Has("no-ack");
  if (args.Has("max-outstanding")) {
    CHIME_ASSIGN_OR_RETURN(plan.max_outstanding, CountFlag(args, "max-outstanding"));
  }
  return plan;
}

}  // namespace chime::cli
