#include "metrics/text_format.h"

#include <clocale>
#include <limits>

#include "gtest/gtest.h"

namespace chime::metrics {
namespace {

TEST(TextFormatTest, Doubles) {
  EXPECT_EQ(FormatDouble(0), "0");
  EXPECT_EQ(FormatDouble(1), "1");
  EXPECT_EQ(FormatDouble(-2.5), "-2.5");
  EXPECT_EQ(FormatDouble(0.00025), "0.00025");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(1e21), "1e+21");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatDouble(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(TextFormatTest, DoublesIgnoreTheLocale) {
  // A decimal comma locale, if the system has one; C.UTF-8 keeps the point either way.
  const char* previous = std::setlocale(LC_NUMERIC, nullptr);
  const std::string saved = previous != nullptr ? previous : "C";
  if (std::setlocale(LC_NUMERIC, "de_DE.UTF-8") == nullptr) std::setlocale(LC_NUMERIC, "C.UTF-8");
  EXPECT_EQ(FormatDouble(0.5), "0.5");
  std::setlocale(LC_NUMERIC, saved.c_str());
}

TEST(TextFormatTest, Uints) {
  EXPECT_EQ(FormatUint(0), "0");
  EXPECT_EQ(FormatUint(18446744073709551615u), "18446744073709551615");
}

TEST(TextFormatTest, Escaping) {
  std::string out;
  AppendEscapedLabelValue("a\\b\"c\nd", &out);
  EXPECT_EQ(out, "a\\\\b\\\"c\\nd");
  out.clear();
  AppendEscapedHelp("a\\b\"c\nd", &out);
  EXPECT_EQ(out, "a\\\\b\"c\\nd");
}

TEST(TextFormatTest, Sample) {
  std::string out;
  AppendSample("x", {}, {}, {}, {}, "1", &out);
  AppendSample("x", {"a", "b"}, {"1", "\""}, {}, {}, "2", &out);
  AppendSample("x_bucket", {"a"}, {"1"}, "le", "+Inf", "3", &out);
  AppendSample("x_bucket", {}, {}, "le", "0.5", "4", &out);
  EXPECT_EQ(out,
            "x 1\n"
            "x{a=\"1\",b=\"\\\"\"} 2\n"
            "x_bucket{a=\"1\",le=\"+Inf\"} 3\n"
            "x_bucket{le=\"0.5\"} 4\n");
}

}  // namespace
}  // namespace chime::metrics
