#include "schedule/recurring.h"

#include <optional>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace chime {
namespace {

bool LooksLikeZoneName(absl::string_view name) {
  if (name.size() > 128) return false;
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
    for (const char c : part) {
      if (!absl::ascii_isalnum(c) && c != '_' && c != '+' && c != '-') return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<absl::TimeZone> LoadZone(absl::string_view name) {
  if (name.empty()) return absl::UTCTimeZone();
  absl::TimeZone zone;
  if (!LooksLikeZoneName(name) || !absl::LoadTimeZone(std::string(name), &zone)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown time zone '", name, "'"));
  }
  return zone;
}

absl::StatusOr<CronSpec> MakeCronSpec(absl::string_view expression, absl::string_view time_zone,
                                      std::optional<absl::Time> end) {
  CHIME_ASSIGN_OR_RETURN(CronExpression cron, CronExpression::Parse(expression));
  CHIME_ASSIGN_OR_RETURN(absl::TimeZone zone, LoadZone(time_zone));
  return CronSpec{std::move(cron), zone, end};
}

std::optional<absl::Time> NextDueTime(const RecurringSpec& spec, absl::Time after) {
  if (const auto* interval = std::get_if<IntervalSpec>(&spec)) {
    std::optional<IntervalOccurrence> next = NextIntervalOccurrence(*interval, after);
    if (!next.has_value()) return std::nullopt;
    return next->time;
  }
  const CronSpec& cron = std::get<CronSpec>(spec);
  const absl::Time next = cron.expression.Next(after, cron.zone);
  if (next == absl::InfiniteFuture()) return std::nullopt;
  if (cron.end.has_value() && next > *cron.end) return std::nullopt;
  return next;
}

}  // namespace chime
