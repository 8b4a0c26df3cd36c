#include "common/time_text.h"

#include "gtest/gtest.h"

namespace chime {
namespace {

TEST(ParseDurationTest, AcceptsUnitsAndCompounds) {
  EXPECT_EQ(*ParseDuration("90s"), absl::Seconds(90));
  EXPECT_EQ(*ParseDuration("5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseDuration("2h"), absl::Hours(2));
  EXPECT_EQ(*ParseDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseDuration("1d"), absl::Hours(24));
  EXPECT_EQ(*ParseDuration("2d12h"), absl::Hours(60));
  EXPECT_EQ(*ParseDuration("0"), absl::ZeroDuration());
}

TEST(ParseDurationTest, RejectsGarbageAndNegatives) {
  for (const char* bad : {"", "5", "abc", "-5s", "5x", "inf", "d"}) {
    auto d = ParseDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(Rfc3339Test, RoundTripsUtcAndOffsets) {
  auto t = ParseRfc3339("2026-12-01T09:00:00Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(absl::ToUnixSeconds(*t), 1796115600);
  EXPECT_EQ(FormatRfc3339(*t), "2026-12-01T09:00:00Z");
  auto offset = ParseRfc3339("2026-12-01T10:00:00.5+01:00");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, *t + absl::Milliseconds(500));
  EXPECT_FALSE(ParseRfc3339("tomorrow").ok());
  EXPECT_FALSE(ParseRfc3339("2026-13-01T00:00:00Z").ok());
}

}  // namespace
}  // namespace chime
