#include "common/time_text.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chime {

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  if (s == "0") return absl::ZeroDuration();
  absl::Duration d;
  // absl::ParseDuration takes everything but a day unit; expand "Nd" ourselves.
  std::string expanded;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 'd') {
      absl::string_view num = s.substr(start, i - start);
      size_t digits = num.find_last_not_of("0123456789.");
      absl::string_view prefix =
          digits == absl::string_view::npos ? absl::string_view() : num.substr(0, digits + 1);
      absl::string_view days = num.substr(prefix.size());
      double n = 0;
      if (days.empty() || !absl::SimpleAtod(days, &n)) {
        return absl::InvalidArgumentError(absl::StrCat("invalid duration \"", text, "\""));
      }
      absl::StrAppend(&expanded, prefix, n * 24, "h");
      start = i + 1;
    }
  }
  absl::StrAppend(&expanded, s.substr(start));
  if (expanded.empty() || expanded[0] == '-' || !absl::ParseDuration(expanded, &d) ||
      d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration \"", text, "\" (use e.g. 90s, 5m, 2h, 1h30m, 250ms)"));
  }
  return d;
}

std::string FormatDuration(absl::Duration d) { return absl::FormatDuration(d); }

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text) {
  absl::Time t;
  std::string err;
  std::string s(absl::StripAsciiWhitespace(text));
  // RFC 3339 allows a lower-case 't'/'z' and a space separator; absl takes the canonical form.
  for (char& c : s) c = (c == 't' || c == ' ') ? 'T' : (c == 'z' ? 'Z' : c);
  if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid time \"", text, "\": want RFC 3339 like 2026-12-01T09:00:00Z (", err, ")"));
  }
  return t;
}

std::string FormatRfc3339(absl::Time t) {
  // "Z" rather than absl's "+00:00": the form every RFC 3339 reader and person expects.
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

}  // namespace chime
