#include "server/webhook/fire_json.h"

#include <gtest/gtest.h>

namespace chime::webhook {
namespace {

TEST(FireJsonTest, EscapesStrings) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c\n\t\r\b\f"), "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\"");
  EXPECT_EQ(JsonQuote(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(JsonQuote(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(JsonQuote("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x94"),
            "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x94\"");
  EXPECT_EQ(JsonQuote("bad\xff"), "\"bad\\ufffd\"");
}

TEST(FireJsonTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo \xf0\x9f\x94\x94"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

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
