#include "schedule/cron.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace chime {
namespace {

// Every satisfiable expression matches at least once in any 8 consecutive years (the worst case
// is February 29 around a non-leap century year such as 2100), so searching further is useless.
constexpr int64_t kSearchYears = 10;

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct Field {
  const char* name;
  int min;
  int max;
  const char* const* names = nullptr;  // names[i] means value min + i
  int name_count = 0;
  bool day_of_week = false;
};

constexpr Field kSecond{"second", 0, 59};
constexpr Field kMinute{"minute", 0, 59};
constexpr Field kHour{"hour", 0, 23};
constexpr Field kDayOfMonth{"day-of-month", 1, 31};
constexpr Field kMonth{"month", 1, 12, kMonthNames, 12};
constexpr Field kDayOfWeek{"day-of-week", 0, 7, kDayNames, 7, true};

absl::Status FieldError(const Field& field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("cron field '", field.name, "': ", message));
}

std::string Expected(const Field& field) {
  std::string expected = absl::StrCat(field.min, "-", field.max);
  if (field.names != nullptr) {
    absl::StrAppend(&expected, " or ", field.names[0], "-", field.names[field.name_count - 1]);
  }
  return expected;
}

// Parses one value: a number or, where the field has them, a name. `*is_name` tells which.
absl::StatusOr<int> ParseValue(const Field& field, absl::string_view text, bool* is_name) {
  *is_name = false;
  if (!text.empty() && std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) {
    int value = 0;
    // More digits than any field allows: out of range (and keeps SimpleAtoi from overflowing).
    if (text.size() > 4 || !absl::SimpleAtoi(text, &value) || value < field.min ||
        value > field.max) {
      return FieldError(field,
                        absl::StrCat("value ", text, " out of range ", field.min, "-", field.max));
    }
    return value;
  }
  for (int i = 0; i < field.name_count; ++i) {
    if (absl::EqualsIgnoreCase(text, field.names[i])) {
      *is_name = true;
      return field.min + i;
    }
  }
  return FieldError(field,
                    absl::StrCat("invalid value '", text, "' (expected ", Expected(field), ")"));
}

// Rejects the Quartz-style extensions with a message that says they are not supported, rather
// than a confusing "invalid value".
absl::Status CheckUnsupported(const Field& field, absl::string_view item) {
  const std::string upper = absl::AsciiStrToUpper(item);
  bool unsupported = absl::StrContains(upper, '#');
  if (&field == &kDayOfMonth) {
    unsupported = unsupported || absl::StrContains(upper, 'L') || absl::StrContains(upper, 'W');
  }
  // No day name ends in L, so "L", "5L" and "FRIL" are all the "last weekday" extension.
  if (field.day_of_week) unsupported = unsupported || absl::EndsWith(upper, "L");
  if (unsupported) {
    return FieldError(field, absl::StrCat("'", item,
                                          "' is not supported (the L, W and # extensions are "
                                          "not implemented)"));
  }
  if (absl::StrContains(item, '?')) {
    return FieldError(field, "'?' is not supported (use '*')");
  }
  return absl::OkStatus();
}

// Adds the values of one list item ("*", "a", "a-b", with an optional "/n") to `mask`.
absl::Status ParseItem(const Field& field, absl::string_view item, uint64_t* mask) {
  CHIME_RETURN_IF_ERROR(CheckUnsupported(field, item));
  absl::string_view range = item;
  int step = 1;
  const size_t slash = item.find('/');
  const bool has_step = slash != absl::string_view::npos;
  if (has_step) {
    range = item.substr(0, slash);
    const absl::string_view step_text = item.substr(slash + 1);
    const int max_step = field.max - field.min + (field.day_of_week ? 0 : 1);
    if (step_text.empty() ||
        !std::all_of(step_text.begin(), step_text.end(), absl::ascii_isdigit)) {
      return FieldError(field, absl::StrCat("invalid step '", step_text, "' in '", item,
                                            "' (expected a number 1-", max_step, ")"));
    }
    if (step_text.size() > 4 || !absl::SimpleAtoi(step_text, &step) || step < 1 ||
        step > max_step) {
      return FieldError(field, absl::StrCat("step ", step_text, " out of range 1-", max_step));
    }
  }
  int low = 0;
  int high = 0;
  if (range == "*") {
    low = field.min;
    high = field.day_of_week ? 6 : field.max;  // 7 would repeat Sunday
  } else if (const size_t dash = range.find('-'); dash != absl::string_view::npos) {
    const absl::string_view first = range.substr(0, dash);
    const absl::string_view last = range.substr(dash + 1);
    if (first.empty() || last.empty() || absl::StrContains(last, '-')) {
      return FieldError(field, absl::StrCat("invalid range '", range, "' (expected a-b within ",
                                            Expected(field), ")"));
    }
    bool first_is_name = false;
    bool last_is_name = false;
    CHIME_ASSIGN_OR_RETURN(low, ParseValue(field, first, &first_is_name));
    CHIME_ASSIGN_OR_RETURN(high, ParseValue(field, last, &last_is_name));
    // "FRI-SUN" means Friday to Sunday: a range ending in the name SUN ends on the 7.
    if (field.day_of_week && last_is_name && high == 0 && low > 0) high = 7;
    if (low > high) {
      return FieldError(field, absl::StrCat("range '", range,
                                            "' is reversed (the start must not exceed the end)"));
    }
  } else {
    if (range.empty()) {
      return FieldError(
          field, absl::StrCat("invalid value '", item, "' (expected ", Expected(field), ")"));
    }
    bool is_name = false;
    CHIME_ASSIGN_OR_RETURN(low, ParseValue(field, range, &is_name));
    // "a/n" runs from a to the end of the field.
    high = has_step ? (field.day_of_week ? 6 : field.max) : low;
    if (high < low) high = low;  // "7/2" in day-of-week is just Sunday
  }
  for (int value = low; value <= high; value += step) {
    const int bit = field.day_of_week ? value % 7 : value;
    *mask |= uint64_t{1} << bit;
  }
  return absl::OkStatus();
}

// Parses a whole field. `*star` is true when the field is unrestricted ("*" or "*/1").
absl::Status ParseField(const Field& field, absl::string_view text, uint64_t* mask, bool* star) {
  *mask = 0;
  *star = text == "*" || text == "*/1";
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    if (item.empty()) {
      return FieldError(field, absl::StrCat("empty list item in '", text, "'"));
    }
    CHIME_RETURN_IF_ERROR(ParseItem(field, item, mask));
  }
  return absl::OkStatus();
}

// Expands the @shortcuts; returns the text unchanged otherwise.
absl::StatusOr<std::string> ExpandShortcut(absl::string_view text) {
  if (!absl::StartsWith(text, "@")) return std::string(text);
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "@yearly" || lower == "@annually") return std::string("0 0 1 1 *");
  if (lower == "@monthly") return std::string("0 0 1 * *");
  if (lower == "@weekly") return std::string("0 0 * * 0");
  if (lower == "@daily" || lower == "@midnight") return std::string("0 0 * * *");
  if (lower == "@hourly") return std::string("0 * * * *");
  if (absl::StartsWith(lower, "@every")) {
    return absl::InvalidArgumentError(
        absl::StrCat("cron shortcut '", text, "' is not supported (use an interval schedule)"));
  }
  if (lower == "@reboot") {
    return absl::InvalidArgumentError("cron shortcut '@reboot' is not supported");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown cron shortcut '", text,
                   "' (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or "
                   "@hourly)"));
}

// The first set bit at or above `from` and at most `max`, or -1.
int NextBit(uint64_t mask, int from, int max) {
  if (from > max) return -1;
  const uint64_t rest = mask & (~uint64_t{0} << from);
  if (rest == 0) return -1;
  const int bit = std::countr_zero(rest);
  return bit <= max ? bit : -1;
}

bool HasBit(uint64_t mask, int bit) { return (mask >> bit) & 1; }

int DaysInMonth(int64_t year, int month) {
  return (absl::CivilDay(absl::CivilMonth(year, month) + 1) - 1).day();
}

// Cron numbering: 0 = Sunday.
int CronWeekday(absl::CivilDay day) {
  return (static_cast<int>(absl::GetWeekday(day)) + 1) % 7;  // absl: Monday = 0
}

}  // namespace

absl::StatusOr<CronExpression> CronExpression::Parse(absl::string_view text) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.empty()) return absl::InvalidArgumentError("cron expression is empty");
  CHIME_ASSIGN_OR_RETURN(const std::string expanded, ExpandShortcut(trimmed));
  std::vector<absl::string_view> fields =
      absl::StrSplit(expanded, absl::ByAnyChar(" \t\n\r"), absl::SkipEmpty());
  if (fields.size() != 5 && fields.size() != 6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cron expression '", trimmed,
        "': expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading "
        "second, got ",
        fields.size()));
  }
  CronExpression cron;
  cron.text_ = std::string(trimmed);
  bool star = false;
  if (fields.size() == 6) {
    CHIME_RETURN_IF_ERROR(ParseField(kSecond, fields[0], &cron.seconds_, &star));
    fields.erase(fields.begin());
  } else {
    cron.seconds_ = 1;  // second 0
  }
  CHIME_RETURN_IF_ERROR(ParseField(kMinute, fields[0], &cron.minutes_, &star));
  CHIME_RETURN_IF_ERROR(ParseField(kHour, fields[1], &cron.hours_, &star));
  CHIME_RETURN_IF_ERROR(
      ParseField(kDayOfMonth, fields[2], &cron.days_of_month_, &cron.day_of_month_star_));
  CHIME_RETURN_IF_ERROR(ParseField(kMonth, fields[3], &cron.months_, &star));
  CHIME_RETURN_IF_ERROR(
      ParseField(kDayOfWeek, fields[4], &cron.days_of_week_, &cron.day_of_week_star_));

  // A restricted day-of-week matches some day of every month (alone, or OR-ed with the
  // day-of-month). Otherwise some selected day-of-month must exist in some selected month.
  cron.can_match_ = !cron.day_of_week_star_;
  for (int month = 1; month <= 12 && !cron.can_match_; ++month) {
    if (!HasBit(cron.months_, month)) continue;
    const int longest = month == 2 ? 29 : DaysInMonth(2001, month);
    cron.can_match_ = NextBit(cron.days_of_month_, 1, longest) >= 0;
  }
  return cron;
}

bool CronExpression::DayMatches(absl::CivilDay day) const {
  const bool dom = HasBit(days_of_month_, day.day());
  const bool dow = HasBit(days_of_week_, CronWeekday(day));
  if (day_of_month_star_ || day_of_week_star_) return dom && dow;
  return dom || dow;
}

bool CronExpression::Matches(absl::CivilSecond civil) const {
  return HasBit(months_, civil.month()) && DayMatches(absl::CivilDay(civil)) &&
         HasBit(hours_, civil.hour()) && HasBit(minutes_, civil.minute()) &&
         HasBit(seconds_, civil.second());
}

bool CronExpression::NextMatchingCivil(absl::CivilSecond from, int64_t limit_year,
                                       absl::CivilSecond* match) const {
  absl::CivilSecond t = from;
  // Each step either accepts t or moves it to the start of the next unit that can match, so a
  // search costs a handful of steps per year, month or day skipped, not one per second.
  while (t.year() < limit_year) {
    if (!HasBit(months_, t.month())) {
      const int month = NextBit(months_, t.month() + 1, 12);
      t = month < 0 ? absl::CivilSecond(absl::CivilYear(t) + 1)
                    : absl::CivilSecond(t.year(), month, 1, 0, 0, 0);
      continue;
    }
    if (!DayMatches(absl::CivilDay(t))) {
      if (day_of_week_star_) {
        // Only the day-of-month matters: jump straight to the next selected day.
        const int day = NextBit(days_of_month_, t.day() + 1, DaysInMonth(t.year(), t.month()));
        t = day < 0 ? absl::CivilSecond(absl::CivilMonth(t) + 1)
                    : absl::CivilSecond(t.year(), t.month(), day, 0, 0, 0);
      } else {
        t = absl::CivilSecond(absl::CivilDay(t) + 1);
      }
      continue;
    }
    if (!HasBit(hours_, t.hour())) {
      const int hour = NextBit(hours_, t.hour() + 1, 23);
      t = hour < 0 ? absl::CivilSecond(absl::CivilDay(t) + 1)
                   : absl::CivilSecond(t.year(), t.month(), t.day(), hour, 0, 0);
      continue;
    }
    if (!HasBit(minutes_, t.minute())) {
      const int minute = NextBit(minutes_, t.minute() + 1, 59);
      t = minute < 0 ? absl::CivilSecond(absl::CivilHour(t) + 1)
                     : absl::CivilSecond(t.year(), t.month(), t.day(), t.hour(), minute, 0);
      continue;
    }
    if (!HasBit(seconds_, t.second())) {
      const int second = NextBit(seconds_, t.second() + 1, 59);
      t = second < 0
              ? absl::CivilSecond(absl::CivilMinute(t) + 1)
              : absl::CivilSecond(t.year(), t.month(), t.day(), t.hour(), t.minute(), second);
      continue;
    }
    *match = t;
    return true;
  }
  return false;
}

absl::Time CronExpression::Next(absl::Time after, const absl::TimeZone& zone) const {
  if (!can_match_ || after == absl::InfiniteFuture() || after == absl::InfinitePast()) {
    return absl::InfiniteFuture();
  }
  // Every civil second up to the wall-clock reading of `after` has fired by `after` (the
  // mapping below is monotonic), so the search starts one second later.
  absl::CivilSecond from = zone.At(after).cs + 1;
  const int64_t limit_year = from.year() + kSearchYears;
  absl::CivilSecond civil;
  while (NextMatchingCivil(from, limit_year, &civil)) {
    const absl::TimeZone::TimeInfo info = zone.At(civil);
    switch (info.kind) {
      case absl::TimeZone::TimeInfo::UNIQUE:
        if (info.pre > after) return info.pre;
        from = civil + 1;
        break;
      case absl::TimeZone::TimeInfo::SKIPPED:
        // Inside a gap: fires when the gap ends. If that instant is not after `after`, every
        // civil time in the gap has fired; resume where the gap ends.
        if (info.trans > after) return info.trans;
        from = std::max(civil + 1, zone.At(info.trans).cs);
        break;
      case absl::TimeZone::TimeInfo::REPEATED: {
        // Fires on the first pass. If that is not after `after`, `after` is on the second
        // pass, and every civil time up to the end of the repeated range has fired.
        if (info.pre > after) return info.pre;
        const int shift = zone.At(info.pre).offset - zone.At(info.trans).offset;
        from = std::max(civil + 1, zone.At(info.trans).cs + shift);
        break;
      }
    }
  }
  return absl::InfiniteFuture();
}

}  // namespace chime
