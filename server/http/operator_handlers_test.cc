#include "server/http/operator_handlers.h"

#include <atomic>

#include "gtest/gtest.h"
#include "metrics/process_collector.h"
#include "metrics/testing/exposition_parser.h"
#include "server/http/curl_fetch.h"

namespace chime::http {
namespace {

using ::chime::http::testing::Fetch;
using ::chime::http::testing::FetchResult;

class OperatorHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Handle("/metrics", MetricsHandler(&registry_));
    server_.Handle("/healthz", HealthzHandler());
    server_.Handle("/readyz", ReadyzHandler([this] { return ready_.load(); }));
    ASSERT_TRUE(server_.Start("127.0.0.1:0").ok());
  }

  absl::StatusOr<FetchResult> Get(const std::string& path, const std::string& method = "GET") {
    return Fetch("http://127.0.0.1:" + std::to_string(server_.port()) + path, method);
  }

  metrics::Registry registry_;
  std::atomic<bool> ready_{false};
  HttpServer server_;  // declared last: stops before what its handlers use goes away
};

TEST_F(OperatorHandlersTest, MetricsServesTheExposition) {
  metrics::Counter* fires = (*registry_.AddCounter("chime_fires_total", "Timers fired.", {"shard"}))
                                ->WithLabels({{"shard", "0"}});
  fires->Increment(3);
  metrics::AddProcessCollector(&registry_);

  absl::StatusOr<FetchResult> got = Get("/metrics");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->content_type, "text/plain; version=0.0.4; charset=utf-8");
  absl::StatusOr<metrics::testing::ParsedExposition> parsed =
      metrics::testing::ParseExposition(got->body);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << got->body;
  EXPECT_EQ(parsed->Value("chime_fires_total", {{"shard", "0"}}), 3);
  EXPECT_NE(parsed->Find("process_resident_memory_bytes"), nullptr);

  // Each scrape reads current values.
  fires->Increment();
  parsed = metrics::testing::ParseExposition(Get("/metrics")->body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Value("chime_fires_total", {{"shard", "0"}}), 4);
}

TEST_F(OperatorHandlersTest, Healthz) {
  absl::StatusOr<FetchResult> got = Get("/healthz");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "ok\n");
}

TEST_F(OperatorHandlersTest, ReadyzFollowsTheFlag) {
  absl::StatusOr<FetchResult> got = Get("/readyz");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 503);
  EXPECT_EQ(got->body, "not ready\n");
  // Liveness does not depend on readiness.
  EXPECT_EQ(Get("/healthz")->status, 200);
  ready_.store(true);
  got = Get("/readyz");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "ok\n");
}

TEST_F(OperatorHandlersTest, ReadMethodsOnly) {
  for (const char* path : {"/metrics", "/healthz", "/readyz"}) {
    EXPECT_EQ(Get(path, "POST")->status, 405) << path;
    EXPECT_EQ(Get(path, "DELETE")->status, 405) << path;
    absl::StatusOr<FetchResult> head = Get(path, "HEAD");
    ASSERT_TRUE(head.ok()) << head.status();
    EXPECT_NE(head->status, 405) << path;
    EXPECT_EQ(head->body, "") << path;
  }
}

}  // namespace
}  // namespace chime::http
