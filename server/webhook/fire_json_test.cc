#include "server/webhook/fire_json.h"

#include <gtest/gtest.h>

namespace chime::webhook {
namespace {

TEST(FireJsonTest, FullBody) {
  FireBody f;
  f.fire_id = "f-1";
  f.timer_id = "t\"1";
  f.ns = "prod";
  f.scheduled_time = absl::FromUnixSeconds(1700000000);
  f.fire_time = absl::FromUnixMillis(1700000000250);
  f.attempt = 3;
  f.labels = {{"b", "2"}, {"a", "x\ny"}};
  f.payload = "{\"k\":1}";
  EXPECT_EQ(FireToJson(f),
            "{\"fire_id\":\"f-1\",\"timer_id\":\"t\\\"1\",\"namespace\":\"prod\","
            "\"scheduled_time\":\"2023-11-14T22:13:20Z\",\"fire_time\":\"2023-11-14T22:13:20.25Z\","
            "\"attempt\":3,\"labels\":{\"a\":\"x\\ny\",\"b\":\"2\"},"
            "\"payload\":\"{\\\"k\\\":1}\"}");
  f.payload = std::string("\x00\xff\x10", 3);
  f.labels.clear();
  std::string j = FireToJson(f);
  EXPECT_NE(j.find("\"labels\":{},\"payload_base64\":\"AP8Q\"}"), std::string::npos) << j;
  EXPECT_EQ(j.find("\"payload\":"), std::string::npos);
}

}  // namespace
}  // namespace chime::webhook
