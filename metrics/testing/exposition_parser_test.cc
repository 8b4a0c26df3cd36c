// The strict parser must accept valid exposition text and reject each kind of mistake, or it
// proves nothing about the registry's output.
#include "metrics/testing/exposition_parser.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace chime::metrics::testing {
namespace {

constexpr char kValid[] =
    "# HELP c_total Counts \\\\ things.\\nTwo lines.\n"
    "# TYPE c_total counter\n"
    "c_total{a=\"x\\\"y\\\\z\\n\",b=\"\"} 3\n"
    "c_total 1.5e+21 1700000000000\n"
    "# HELP g Gauge.\n"
    "# TYPE g gauge\n"
    "g{v=\"1\"} -Inf\n"
    "g{v=\"2\"} NaN\n"
    "g{v=\"3\"} -0.25\n"
    "# HELP h Histogram.\n"
    "# TYPE h histogram\n"
    "h_bucket{s=\"a\",le=\"0.001\"} 1\n"
    "h_bucket{s=\"a\",le=\"1e+01\"} 1\n"
    "h_bucket{s=\"a\",le=\"+Inf\"} 2\n"
    "h_sum{s=\"a\"} 100\n"
    "h_count{s=\"a\"} 2\n"
    "h_bucket{s=\"b\",le=\"+Inf\"} 0\n"
    "h_sum{s=\"b\"} 0\n"
    "h_count{s=\"b\"} 0\n"
    "# HELP empty Declared, no samples.\n"
    "# TYPE empty gauge\n";

TEST(ExpositionParserTest, AcceptsValidText) {
  ASSERT_OK_AND_ASSIGN(ParsedExposition parsed, ParseExposition(kValid));
  ASSERT_EQ(parsed.families.size(), 4u);
  EXPECT_EQ(parsed.families[0].help, "Counts \\ things.\nTwo lines.");
  EXPECT_EQ(parsed.Value("c_total", {{"b", ""}, {"a", "x\"y\\z\n"}}), 3);
  EXPECT_EQ(parsed.Value("c_total"), 1.5e21);
  EXPECT_TRUE(std::isnan(*parsed.Value("g", {{"v", "2"}})));
  EXPECT_EQ(parsed.Value("g", {{"v", "1"}}), -INFINITY);
  EXPECT_EQ(parsed.Value("h_count", {{"s", "a"}}), 2);
  EXPECT_EQ(parsed.Find("h")->samples.size(), 8u);
  EXPECT_EQ(parsed.Find("empty")->samples.size(), 0u);
  EXPECT_EQ(parsed.Find("nope"), nullptr);
  EXPECT_EQ(parsed.Value("c_total", {{"a", "other"}}), std::nullopt);
}

TEST(ExpositionParserTest, EmptyTextIsValid) {
  ASSERT_OK_AND_ASSIGN(ParsedExposition parsed, ParseExposition(""));
  EXPECT_TRUE(parsed.families.empty());
}

const char* const kHeader = "# HELP x X.\n# TYPE x gauge\n";
const char* const kHistogramHeader = "# HELP h H.\n# TYPE h histogram\n";

struct BadCase {
  const char* what;
  std::string text;
};

TEST(ExpositionParserTest, RejectsEachKindOfMistake) {
  const std::string g = kHeader;
  const std::string h = kHistogramHeader;
  const BadCase cases[] = {
      {"no final newline", g + "x 1"},
      {"blank line", g + "\nx 1\n"},
      {"CRLF", g + "x 1\r\n"},
      {"other comment", "# hello\n"},
      {"TYPE before HELP", "# TYPE x gauge\n# HELP x X.\nx 1\n"},
      {"TYPE without HELP", "# TYPE x gauge\nx 1\n"},
      {"HELP without TYPE", "# HELP x X.\nx 1\n"},
      {"HELP without TYPE at the end", "# HELP x X.\n"},
      {"TYPE twice", g + "# TYPE x gauge\nx 1\n"},
      {"TYPE after samples", g + "x 1\n# TYPE x gauge\n"},
      {"family twice", g + "x 1\n" + g},
      {"TYPE for another name", "# HELP x X.\n# TYPE y gauge\n"},
      {"unknown type", "# HELP x X.\n# TYPE x timer\n"},
      {"bad HELP escape", "# HELP x a\\tb\n# TYPE x gauge\n"},
      {"bad family name", "# HELP 1x X.\n# TYPE 1x gauge\n"},
      {"sample without family", "x 1\n"},
      {"sample of another family", g + "y 1\n"},
      {"suffix on a gauge", g + "x_count 1\n"},
      {"bad value", g + "x one\n"},
      {"lower-case inf", g + "x inf\n"},
      {"Inf without sign", g + "x Inf\n"},
      {"plus sign", g + "x +1\n"},
      {"hex value", g + "x 0x10\n"},
      {"trailing garbage", g + "x 1 2 3\n"},
      {"bad timestamp", g + "x 1 soon\n"},
      {"two spaces", g + "x  1\n"},
      {"no value", g + "x\n"},
      {"empty braces", g + "x{} 1\n"},
      {"trailing comma", g + "x{a=\"1\",} 1\n"},
      {"space in labels", g + "x{a=\"1\", b=\"2\"} 1\n"},
      {"unquoted value", g + "x{a=1} 1\n"},
      {"bad label escape", g + "x{a=\"\\t\"} 1\n"},
      {"unterminated label", g + "x{a=\"1} 1\n"},
      {"reserved label", g + "x{__a=\"1\"} 1\n"},
      {"bad label name", g + "x{a-b=\"1\"} 1\n"},
      {"repeated label", g + "x{a=\"1\",a=\"2\"} 1\n"},
      {"duplicate series", g + "x{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n"},
      {"negative counter", "# HELP c C.\n# TYPE c counter\nc -1\n"},
      {"NaN counter", "# HELP c C.\n# TYPE c counter\nc NaN\n"},
      {"bucket without le", h + "h_bucket 1\nh_sum 1\nh_count 1\n"},
      {"no +Inf bucket", h + "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"},
      {"not cumulative", h + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
      {"le not increasing",
       h + "h_bucket{le=\"2\"} 0\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\n"
           "h_count 0\n"},
      {"count differs from +Inf", h + "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"},
      {"no count", h + "h_bucket{le=\"+Inf\"} 2\nh_sum 1\n"},
      {"no sum", h + "h_bucket{le=\"+Inf\"} 2\nh_count 2\n"},
      {"fractional bucket", h + "h_bucket{le=\"+Inf\"} 1.5\nh_sum 1\nh_count 1.5\n"},
      {"le on sum", h + "h_bucket{le=\"+Inf\"} 1\nh_sum{le=\"1\"} 1\nh_count 1\n"},
      {"bad le", h + "h_bucket{le=\"big\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
      {"label set with only a sum",
       h + "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\nh_sum{s=\"x\"} 1\n"},
      {"histogram checked before the next family",
       h + "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n" + g},
  };
  for (const BadCase& c : cases) {
    EXPECT_THAT(ParseExposition(c.text),
                chime::testing::StatusIs(absl::StatusCode::kInvalidArgument))
        << c.what << ":\n"
        << c.text;
  }
}

}  // namespace
}  // namespace chime::metrics::testing
