#include "server/admin/status_page.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/admin/fire_metrics.h"

namespace chime::admin {
namespace {

using ::testing::HasSubstr;

metrics::Histogram MakeHistogram() {
  return metrics::Histogram(
      std::make_shared<const std::vector<double>>(std::vector<double>{0.001, 0.01, 0.1, 1}));
}

TEST(HistogramQuantileTest, InterpolatesInsideTheBucket) {
  metrics::Histogram h = MakeHistogram();
  EXPECT_EQ(HistogramQuantile(h, 0.5), 0);        // empty
  for (int i = 0; i < 10; ++i) h.Observe(0.005);  // (0.001, 0.01]
  for (int i = 0; i < 10; ++i) h.Observe(0.05);   // (0.01, 0.1]
  // Rank 10 of 20 is the top of the second bucket; rank 18 is 8/10 into the third.
  EXPECT_DOUBLE_EQ(HistogramQuantile(h, 0.5), 0.01);
  EXPECT_DOUBLE_EQ(HistogramQuantile(h, 0.9), 0.01 + 0.09 * 0.8);
  EXPECT_DOUBLE_EQ(HistogramQuantile(h, 0.25), 0.001 + 0.009 * 0.5);
  h.Observe(100);  // +Inf bucket: reported as the last finite bound
  EXPECT_DOUBLE_EQ(HistogramQuantile(h, 0.999), 1);
}

TEST(StatusPageTest, PageIsSelfContainedHtml) {
  const http::HttpResponse page = StatusPageHandler()(http::HttpRequest{});
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(page.body, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(page.body, HasSubstr("fetch(\"status.json\""));
  // Nothing loaded from another origin.
  EXPECT_THAT(page.body, ::testing::Not(HasSubstr("src=\"http")));
  EXPECT_THAT(page.body, ::testing::Not(HasSubstr("href=\"http")));
}

TEST(StatusPageTest, StatusJsonCarriesStatusAndLateness) {
  metrics::Registry registry;
  FireMetricsListener fires(&registry, 1, nullptr);  // registers the dispatch histogram
  internal::DeliveryRecord record;
  record.mutable_fire()->mutable_scheduled_time()->set_seconds(100);
  record.mutable_fire()->mutable_fire_time()->set_seconds(100);
  record.mutable_fire()->mutable_fire_time()->set_nanos(2'000'000);  // 2 ms late
  fires.OnFires(0, {record});
  auto handler = StatusJsonHandler(
      [] {
        v1::GetStatusResponse s;
        s.set_node_id("n-7");
        return absl::StatusOr<v1::GetStatusResponse>(s);
      },
      &registry);
  const http::HttpResponse response = handler(http::HttpRequest{});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_THAT(response.body, HasSubstr(R"({"status":{"node_id":"n-7"})"));
  EXPECT_THAT(response.body, HasSubstr(R"("dispatch":{"count":1,"p50":)"));
  EXPECT_THAT(response.body, HasSubstr(R"("sent":{"count":0,)"));
  EXPECT_THAT(response.body, HasSubstr(R"("ack":{"count":0,)"));

  auto failing = StatusJsonHandler(
      [] { return absl::StatusOr<v1::GetStatusResponse>(absl::UnavailableError("down")); },
      &registry);
  EXPECT_EQ(failing(http::HttpRequest{}).status, 503);
}

}  // namespace
}  // namespace chime::admin
