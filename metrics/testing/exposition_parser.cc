#include "metrics/testing/exposition_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "metrics/names.h"

namespace chime::metrics::testing {
namespace {

absl::Status LineError(size_t line_number, std::string_view line, const std::string& what) {
  return absl::InvalidArgumentError("line " + std::to_string(line_number) + ": " + what + ": \"" +
                                    std::string(line) + "\"");
}

bool IsMetricNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

// Consumes a metric name at the front of *rest.
std::string_view TakeName(std::string_view* rest) {
  size_t n = 0;
  while (n < rest->size() && IsMetricNameChar((*rest)[n], n == 0)) ++n;
  std::string_view name = rest->substr(0, n);
  rest->remove_prefix(n);
  return name;
}

// Values: "+Inf", "-Inf", "NaN" or a decimal float ([-]digits[.digits][e[+-]digits]).
std::optional<double> ParseValue(std::string_view text) {
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '-') digits.remove_prefix(1);
  if (digits.empty() || !(digits[0] >= '0' && digits[0] <= '9')) return std::nullopt;
  double value;
  const auto result =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// Unescapes HELP text: only \\ and \n are escapes.
std::optional<std::string> UnescapeHelp(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    if (text[i] == '\\') {
      out.push_back('\\');
    } else if (text[i] == 'n') {
      out.push_back('\n');
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// Parses {a="x",b="y"} at the front of *rest (canonical form: no spaces, no trailing comma).
absl::StatusOr<Labels> TakeLabels(std::string_view* rest) {
  Labels labels;
  if (rest->empty() || (*rest)[0] != '{') return labels;
  rest->remove_prefix(1);
  if (!rest->empty() && (*rest)[0] == '}') {
    return absl::InvalidArgumentError("empty label braces");
  }
  while (true) {
    size_t n = 0;
    while (n < rest->size() && (*rest)[n] != '=') ++n;
    const std::string name(rest->substr(0, n));
    if (absl::Status s = ValidateLabelName(name); !s.ok()) return s;
    for (const auto& [seen, unused] : labels) {
      if (seen == name) return absl::InvalidArgumentError("repeated label " + name);
    }
    rest->remove_prefix(n);
    if (rest->size() < 2 || (*rest)[0] != '=' || (*rest)[1] != '"') {
      return absl::InvalidArgumentError("expected =\" after label " + name);
    }
    rest->remove_prefix(2);
    std::string value;
    while (true) {
      if (rest->empty()) return absl::InvalidArgumentError("unterminated label value");
      const char c = (*rest)[0];
      rest->remove_prefix(1);
      if (c == '"') break;
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      if (rest->empty()) return absl::InvalidArgumentError("dangling backslash");
      const char e = (*rest)[0];
      rest->remove_prefix(1);
      if (e == '\\' || e == '"') {
        value.push_back(e);
      } else if (e == 'n') {
        value.push_back('\n');
      } else {
        return absl::InvalidArgumentError(std::string("invalid escape \\") + e);
      }
    }
    labels.emplace_back(name, std::move(value));
    if (rest->empty()) return absl::InvalidArgumentError("unterminated label set");
    const char c = (*rest)[0];
    rest->remove_prefix(1);
    if (c == '}') return labels;
    if (c != ',') return absl::InvalidArgumentError("expected , or } after a label");
  }
}

std::string SeriesKey(std::string_view name, Labels labels) {
  std::sort(labels.begin(), labels.end());
  std::string key(name);
  for (const auto& [n, v] : labels) key += "\x1f" + n + "\x1e" + v;
  return key;
}

// Which suffixes a family's sample names may carry.
bool BelongsTo(const ParsedFamily& family, std::string_view sample_name, std::string* suffix) {
  if (sample_name.substr(0, family.name.size()) != family.name) return false;
  *suffix = std::string(sample_name.substr(family.name.size()));
  if (family.type == "histogram") {
    return *suffix == "_bucket" || *suffix == "_sum" || *suffix == "_count";
  }
  if (family.type == "summary") return suffix->empty() || *suffix == "_sum" || *suffix == "_count";
  return suffix->empty();
}

absl::Status CheckHistogram(const ParsedFamily& family) {
  struct Series {
    std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
    std::optional<double> sum, count;
  };
  std::map<std::string, Series> by_labels;
  for (const ParsedSample& sample : family.samples) {
    Labels others;
    std::optional<std::string> le;
    for (const auto& label : sample.labels) {
      if (label.first == "le") {
        le = label.second;
      } else {
        others.push_back(label);
      }
    }
    Series& series = by_labels[SeriesKey("", others)];
    const std::string suffix = sample.name.substr(family.name.size());
    if (suffix == "_bucket") {
      if (!le) return absl::InvalidArgumentError(sample.name + " without an le label");
      std::optional<double> bound = ParseValue(*le);
      if (!bound || std::isnan(*bound)) {
        return absl::InvalidArgumentError(sample.name + " has an invalid le \"" + *le + "\"");
      }
      if (!(sample.value >= 0) || sample.value != std::floor(sample.value)) {
        return absl::InvalidArgumentError(sample.name + " count is not a whole number >= 0");
      }
      if (!series.buckets.empty()) {
        const auto& [last_bound, last_count] = series.buckets.back();
        if (!(last_bound < *bound)) {
          return absl::InvalidArgumentError(family.name + ": le bounds not strictly increasing");
        }
        if (sample.value < last_count) {
          return absl::InvalidArgumentError(family.name + ": bucket counts are not cumulative");
        }
      }
      series.buckets.emplace_back(*bound, sample.value);
      continue;
    }
    if (le) return absl::InvalidArgumentError(sample.name + " must not have an le label");
    (suffix == "_sum" ? series.sum : series.count) = sample.value;
  }
  for (const auto& [key, series] : by_labels) {
    if (series.buckets.empty() || !std::isinf(series.buckets.back().first)) {
      return absl::InvalidArgumentError(family.name + ": buckets do not end with le=\"+Inf\"");
    }
    if (!series.sum) return absl::InvalidArgumentError(family.name + ": a series has no _sum");
    if (!series.count) {
      return absl::InvalidArgumentError(family.name + ": a series has no _count");
    }
    if (*series.count != series.buckets.back().second) {
      return absl::InvalidArgumentError(family.name + ": _count differs from the +Inf bucket");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFamily(const ParsedFamily& family) {
  if (family.type == "histogram") return CheckHistogram(family);
  if (family.type == "counter") {
    for (const ParsedSample& sample : family.samples) {
      if (!(sample.value >= 0)) {
        return absl::InvalidArgumentError("counter " + sample.name + " is negative or NaN");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

const ParsedFamily* ParsedExposition::Find(std::string_view family_name) const {
  for (const ParsedFamily& family : families) {
    if (family.name == family_name) return &family;
  }
  return nullptr;
}

std::optional<double> ParsedExposition::Value(std::string_view sample_name,
                                              const Labels& labels) const {
  const std::string wanted = SeriesKey(sample_name, labels);
  for (const ParsedFamily& family : families) {
    for (const ParsedSample& sample : family.samples) {
      if (sample.name == sample_name && SeriesKey(sample.name, sample.labels) == wanted) {
        return sample.value;
      }
    }
  }
  return std::nullopt;
}

absl::StatusOr<ParsedExposition> ParseExposition(std::string_view text) {
  ParsedExposition parsed;
  if (text.empty()) return parsed;
  if (text.back() != '\n') return absl::InvalidArgumentError("text does not end with a newline");
  std::set<std::string> family_names;
  std::set<std::string> series;
  ParsedFamily* current = nullptr;
  bool current_typed = false;
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    ++line_number;
    if (line.empty()) return LineError(line_number, line, "blank line");
    if (line.find('\r') != std::string_view::npos) {
      return LineError(line_number, line, "carriage return");
    }

    if (line[0] == '#') {
      const bool help = line.substr(0, 7) == "# HELP ";
      const bool type = line.substr(0, 7) == "# TYPE ";
      if (!help && !type) return LineError(line_number, line, "comment other than HELP/TYPE");
      std::string_view rest = line.substr(7);
      const std::string name(TakeName(&rest));
      if (!ValidateMetricName(name).ok()) return LineError(line_number, line, "bad metric name");
      if (rest.empty() || rest[0] != ' ') return LineError(line_number, line, "missing space");
      rest.remove_prefix(1);
      if (help && current != nullptr) {
        if (!current_typed) return LineError(line_number, line, current->name + " has no TYPE");
        if (absl::Status s = CheckFamily(*current); !s.ok()) return s;
      }
      if (help) {
        if (!family_names.insert(name).second) {
          return LineError(line_number, line, "second HELP for " + name);
        }
        std::optional<std::string> unescaped = UnescapeHelp(rest);
        if (!unescaped) return LineError(line_number, line, "invalid escape in HELP");
        parsed.families.push_back(ParsedFamily{name, *unescaped, "", {}});
        current = &parsed.families.back();
        current_typed = false;
        continue;
      }
      if (current == nullptr || current->name != name || current_typed ||
          !current->samples.empty()) {
        return LineError(line_number, line, "TYPE must follow the family's HELP, once");
      }
      if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" &&
          rest != "untyped") {
        return LineError(line_number, line, "unknown type");
      }
      current->type = std::string(rest);
      current_typed = true;
      continue;
    }

    std::string_view rest = line;
    const std::string name(TakeName(&rest));
    if (name.empty()) return LineError(line_number, line, "bad sample name");
    std::string suffix;
    if (current == nullptr || !current_typed || !BelongsTo(*current, name, &suffix)) {
      return LineError(line_number, line, "sample outside its family's HELP/TYPE block");
    }
    absl::StatusOr<Labels> labels = TakeLabels(&rest);
    if (!labels.ok()) return LineError(line_number, line, std::string(labels.status().message()));
    if (rest.empty() || rest[0] != ' ') return LineError(line_number, line, "missing space");
    rest.remove_prefix(1);
    const size_t space = rest.find(' ');
    std::optional<double> value = ParseValue(rest.substr(0, space));
    if (!value) return LineError(line_number, line, "bad value");
    if (space != std::string_view::npos) {
      const std::string_view timestamp = rest.substr(space + 1);
      int64_t ms;
      const auto result =
          std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ms);
      if (timestamp.empty() || result.ec != std::errc() ||
          result.ptr != timestamp.data() + timestamp.size()) {
        return LineError(line_number, line, "bad timestamp");
      }
    }
    if (!series.insert(SeriesKey(name, *labels)).second) {
      return LineError(line_number, line, "duplicate series");
    }
    current->samples.push_back(ParsedSample{name, std::move(*labels), *value});
  }
  if (current != nullptr) {
    if (!current_typed) return absl::InvalidArgumentError(current->name + " has no TYPE");
    if (absl::Status s = CheckFamily(*current); !s.ok()) return s;
  }
  return parsed;
}

}  // namespace chime::metrics::testing
