#include "metrics/names.h"

#include "gtest/gtest.h"

namespace chime::metrics {
namespace {

TEST(NamesTest, MetricNames) {
  for (const char* ok : {"a", "_", ":", "chime_fires_total", "a:b_c9", "A", "__x"}) {
    EXPECT_TRUE(ValidateMetricName(ok).ok()) << ok;
  }
  for (const char* bad : {"", "9a", "a-b", "a b", "é", "a.b", "a{"}) {
    EXPECT_EQ(ValidateMetricName(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(NamesTest, LabelNames) {
  for (const char* ok : {"a", "_", "shard", "state_2", "_x", "A"}) {
    EXPECT_TRUE(ValidateLabelName(ok).ok()) << ok;
  }
  for (const char* bad : {"", "9a", "a:b", "a-b", "__name__", "__x", "a b"}) {
    EXPECT_EQ(ValidateLabelName(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace chime::metrics
