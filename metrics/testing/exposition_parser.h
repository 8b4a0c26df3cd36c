// A strict parser for Prometheus text exposition format 0.0.4, for tests: it accepts the
// canonical form chime writes and rejects anything a scraper could misread.
//
//   ASSERT_OK_AND_ASSIGN(auto parsed, metrics::testing::ParseExposition(registry.Exposition()));
//   EXPECT_EQ(parsed.Value("chime_fires_total", {{"shard", "0"}}), 3);
//
// Checked on every line: the grammar of HELP, TYPE and sample lines (names, label syntax and
// escapes, values, optional integer timestamp), one '\n' per line and no blank lines. Per
// family: HELP then TYPE, each exactly once, before its samples, which are contiguous and
// named after the family (histograms: _bucket/_sum/_count; summaries: quantiles/_sum/_count);
// no duplicate series; counters non-negative. Histograms, per label set: le on buckets only,
// bounds strictly increasing and ending in +Inf, counts cumulative, whole and non-negative,
// the +Inf bucket equal to _count, and _sum present.
#ifndef CHIME_METRICS_TESTING_EXPOSITION_PARSER_H_
#define CHIME_METRICS_TESTING_EXPOSITION_PARSER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/labels.h"

namespace chime::metrics::testing {

struct ParsedSample {
  std::string name;  // with its suffix (e.g. x_bucket)
  Labels labels;     // in the order written
  double value = 0;
};

struct ParsedFamily {
  std::string name;
  std::string help;  // unescaped
  std::string type;
  std::vector<ParsedSample> samples;
};

struct ParsedExposition {
  std::vector<ParsedFamily> families;  // in the order written

  const ParsedFamily* Find(std::string_view family_name) const;
  // The value of the sample with exactly this name and label set (any order).
  std::optional<double> Value(std::string_view sample_name, const Labels& labels = {}) const;
};

absl::StatusOr<ParsedExposition> ParseExposition(std::string_view text);

}  // namespace chime::metrics::testing

#endif  // CHIME_METRICS_TESTING_EXPOSITION_PARSER_H_
