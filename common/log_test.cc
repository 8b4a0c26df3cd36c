#include "common/log.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chime::log {
namespace {

const absl::Time kT = absl::FromUnixMicros(1'800'000'000'123'456);

TEST(LogTest, TextLine) {
  EXPECT_EQ(FormatLine(Format::kText, kT, Level::kInfo, "shard opened",
                       {{"shard", 3},
                        {"path", "/data/shards/003"},
                        {"note", "two words"},
                        {"ok", true},
                        {"took", absl::Milliseconds(1500)}}),
            "2027-01-15T08:00:00.123456Z INFO shard opened shard=3 path=/data/shards/003 "
            "note=\"two words\" ok=true took=1.5s\n");
}

TEST(LogTest, JsonLine) {
  EXPECT_EQ(FormatLine(Format::kJson, kT, Level::kWarn, "x \"y\"",
                       {{"n", uint64_t{7}}, {"s", "a\nb"}, {"f", 0.25}}),
            "{\"ts\":\"2027-01-15T08:00:00.123456Z\",\"level\":\"warn\",\"msg\":\"x \\\"y\\\"\","
            "\"n\":7,\"s\":\"a\\nb\",\"f\":0.25}\n");
}

TEST(LogTest, LevelFilterAndSink) {
  std::vector<std::string> lines;
  Configure({.level = Level::kWarn,
             .format = Format::kText,
             .sink = [&](const std::string& line) { lines.push_back(line); },
             .now = [] { return kT; }});
  CHIME_LOG(kInfo, "hidden");
  CHIME_LOG(kError, "shown", {{"code", "UNAVAILABLE"}});
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  Configure({});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "2027-01-15T08:00:00.123456Z ERROR shown code=UNAVAILABLE\n");
}

TEST(LogTest, ParseLevelAndFormat) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("WARNING"), Level::kWarn);
  EXPECT_FALSE(ParseLevel("loud").ok());
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

}  // namespace
}  // namespace chime::log
