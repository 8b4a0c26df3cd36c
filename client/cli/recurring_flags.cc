#include "client/cli/recurring_flags.h"

#include <cstdint>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/cli/requests.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "common/time_text.h"
#include "schedule/next_times.h"
#include "schedule/recurring.h"

namespace chime::cli {
namespace {

constexpr int kDefaultNextCount = 5;
constexpr int kMaxNextCount = 10000;

absl::StatusOr<absl::Duration> DurationOf(const ParsedArgs& args, const std::string& flag) {
  absl::StatusOr<absl::Duration> d = ParseDuration(*args.Get(flag));
  if (!d.ok()) return FlagError(flag, d.status().message());
  return d;
}

absl::StatusOr<absl::Time> TimeOf(const ParsedArgs& args, const std::string& flag) {
  absl::StatusOr<absl::Time> t = ParseRfc3339(*args.Get(flag));
  if (!t.ok()) return FlagError(flag, t.status().message());
  return t;
}

}  // namespace

absl::Status SetRecurringOptions(const ParsedArgs& args, v1::CreateTimerRequest* request) {
  const bool recurring = args.Has("every") || args.Has("cron") || args.command == "update";
  for (const char* flag : {"misfire", "overlap", "jitter", "spread"}) {
    if (args.Has(flag) && !recurring) return FlagError(flag, "needs --every or --cron");
  }
  if (args.Has("misfire")) {
    const std::string v = *args.Get("misfire");
    if (v == "fire-once") {
      request->set_misfire_policy(v1::MISFIRE_POLICY_FIRE_ONCE);
    } else if (v == "fire-all") {
      request->set_misfire_policy(v1::MISFIRE_POLICY_FIRE_ALL);
    } else if (v == "skip") {
      request->set_misfire_policy(v1::MISFIRE_POLICY_SKIP);
    } else {
      return FlagError("misfire",
                       absl::StrCat("want fire-once, fire-all or skip, got \"", v, "\""));
    }
  }
  if (args.Has("overlap")) {
    const std::string v = *args.Get("overlap");
    if (v == "allow") {
      request->set_overlap_policy(v1::OVERLAP_POLICY_ALLOW);
    } else if (v == "forbid") {
      request->set_overlap_policy(v1::OVERLAP_POLICY_FORBID);
    } else if (v == "replace") {
      request->set_overlap_policy(v1::OVERLAP_POLICY_REPLACE);
    } else {
      return FlagError("overlap", absl::StrCat("want allow, forbid or replace, got \"", v, "\""));
    }
  }
  if (args.Has("jitter")) {
    CHIME_ASSIGN_OR_RETURN(absl::Duration d, DurationOf(args, "jitter"));
    *request->mutable_jitter() = ToProtoDuration(d);
  }
  if (args.Has("spread")) {
    CHIME_ASSIGN_OR_RETURN(absl::Duration d, DurationOf(args, "spread"));
    *request->mutable_spread() = ToProtoDuration(d);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::UpdateTimerRequest> BuildUpdateRequest(const ParsedArgs& args) {
  v1::UpdateTimerRequest request;
  request.set_namespace_(NamespaceOf(args));
  request.set_timer_id(args.positional.at(0));
  if (args.Has("every") && args.Has("cron")) {
    return absl::InvalidArgumentError("--every and --cron cannot be combined");
  }
  if (args.Has("start") && !args.Has("every")) return FlagError("start", "needs --every");
  if (args.Has("tz") && !args.Has("cron")) return FlagError("tz", "needs --cron");
  if (args.Has("every")) {
    CHIME_ASSIGN_OR_RETURN(absl::Duration every, DurationOf(args, "every"));
    *request.mutable_interval()->mutable_every() = ToProtoDuration(every);
    if (args.Has("start")) {
      CHIME_ASSIGN_OR_RETURN(absl::Time start, TimeOf(args, "start"));
      *request.mutable_interval()->mutable_start() = ToProtoTimestamp(start);
    }
  } else if (args.Has("cron")) {
    request.mutable_cron()->set_expression(*args.Get("cron"));
    if (args.Has("tz")) request.mutable_cron()->set_time_zone(*args.Get("tz"));
  }
  if (args.Has("payload")) request.set_payload(*args.Get("payload"));
  for (const std::string& text : args.GetAll("label")) {
    CHIME_ASSIGN_OR_RETURN(auto label, ParseLabel(text));
    (*request.mutable_labels())[label.first] = label.second;
  }
  v1::CreateTimerRequest options;
  CHIME_RETURN_IF_ERROR(SetRecurringOptions(args, &options));
  request.set_misfire_policy(options.misfire_policy());
  request.set_overlap_policy(options.overlap_policy());
  if (options.has_jitter()) *request.mutable_jitter() = options.jitter();
  if (options.has_spread()) *request.mutable_spread() = options.spread();
  return request;
}

absl::StatusOr<std::vector<std::string>> NextTimeLines(const ParsedArgs& args, absl::Time now) {
  if (args.Has("every") == args.Has("cron")) {
    return absl::InvalidArgumentError("one of --every or --cron is required (not both)");
  }
  if (args.Has("start") && !args.Has("every")) return FlagError("start", "needs --every");
  absl::Time from = now;
  if (args.Has("from")) {
    CHIME_ASSIGN_OR_RETURN(from, TimeOf(args, "from"));
  }
  int count = kDefaultNextCount;
  if (args.Has("count")) {
    if (!absl::SimpleAtoi(*args.Get("count"), &count) || count < 1 || count > kMaxNextCount) {
      return FlagError("count", absl::StrCat("want a number from 1 to ", kMaxNextCount, ", got \"",
                                             *args.Get("count"), "\""));
    }
  }
  std::string zone_name = args.Has("tz") ? *args.Get("tz") : "";
  absl::StatusOr<absl::TimeZone> zone = LoadZone(zone_name);
  if (!zone.ok()) return FlagError("tz", zone.status().message());

  RecurringSpec spec;
  if (args.Has("every")) {
    IntervalSpec interval;
    CHIME_ASSIGN_OR_RETURN(interval.every, DurationOf(args, "every"));
    interval.start = from;
    if (args.Has("start")) {
      CHIME_ASSIGN_OR_RETURN(interval.start, TimeOf(args, "start"));
    }
    if (absl::Status s = ValidateIntervalSpec(interval); !s.ok()) {
      return FlagError("every", s.message());
    }
    spec = interval;
  } else {
    absl::StatusOr<CronSpec> cron = MakeCronSpec(*args.Get("cron"), zone_name);
    if (!cron.ok()) return FlagError("cron", cron.status().message());
    spec = *std::move(cron);
  }
  std::vector<std::string> lines;
  for (absl::Time t : NextTimes(spec, from - absl::Nanoseconds(1), count)) {
    lines.push_back(absl::FormatTime("%Y-%m-%dT%H:%M:%E*S%Ez", t, *zone));
  }
  return lines;
}

}  // namespace chime::cli
