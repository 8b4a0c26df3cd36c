#include "metrics/histogram.h"

#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chime::metrics {
namespace {

using ::testing::ElementsAre;

std::shared_ptr<const std::vector<double>> Bounds(std::vector<double> b) {
  return std::make_shared<const std::vector<double>>(std::move(b));
}

TEST(HistogramTest, DefaultBucketsAreSubMillisecondToAMinute) {
  const std::vector<double>& b = DefaultLatencyBuckets();
  EXPECT_TRUE(ValidateBucketBounds(b).ok());
  EXPECT_THAT(b, ElementsAre(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                             0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60));
}

TEST(HistogramTest, BucketBoundsAreInclusiveUpperBounds) {
  Histogram h(Bounds({1, 2}));
  h.Observe(0.5);
  h.Observe(1);  // le="1" includes 1
  h.Observe(1.5);
  h.Observe(2);
  h.Observe(3);
  h.Observe(std::numeric_limits<double>::infinity());
  EXPECT_THAT(h.CumulativeCounts(), ElementsAre(2, 4, 6));
  EXPECT_EQ(h.Count(), 6u);
  EXPECT_EQ(h.Sum(), std::numeric_limits<double>::infinity());
}

TEST(HistogramTest, NaNIsIgnoredAndDurationsAreSeconds) {
  Histogram h(Bounds({0.001}));
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  h.ObserveDuration(absl::Microseconds(250));
  h.ObserveDuration(absl::Milliseconds(2));
  EXPECT_THAT(h.CumulativeCounts(), ElementsAre(1, 2));
  EXPECT_DOUBLE_EQ(h.Sum(), 0.00225);
}

TEST(HistogramTest, Exposition) {
  Histogram h(Bounds({0.5, 1}));
  h.Observe(0.25);
  h.Observe(0.75);
  h.Observe(0.75);
  std::string out;
  h.AppendSamples("lat", {"stage"}, {"acked"}, &out);
  EXPECT_EQ(out,
            "lat_bucket{stage=\"acked\",le=\"0.5\"} 1\n"
            "lat_bucket{stage=\"acked\",le=\"1\"} 3\n"
            "lat_bucket{stage=\"acked\",le=\"+Inf\"} 3\n"
            "lat_sum{stage=\"acked\"} 1.75\n"
            "lat_count{stage=\"acked\"} 3\n");
}

TEST(HistogramTest, InvalidBounds) {
  EXPECT_FALSE(ValidateBucketBounds({}).ok());
  EXPECT_FALSE(ValidateBucketBounds({1, 1}).ok());
  EXPECT_FALSE(ValidateBucketBounds({2, 1}).ok());
  EXPECT_FALSE(ValidateBucketBounds({1, std::numeric_limits<double>::infinity()}).ok());
  EXPECT_FALSE(ValidateBucketBounds({std::numeric_limits<double>::quiet_NaN()}).ok());
  EXPECT_TRUE(ValidateBucketBounds({-1, 0, 1}).ok());
}

}  // namespace
}  // namespace chime::metrics
