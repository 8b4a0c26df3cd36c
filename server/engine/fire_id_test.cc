#include <string>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "server/engine/engine.h"

namespace chime::engine {
namespace {

TEST(FireIdTest, RoundTrips) {
  for (uint64_t occurrence : {uint64_t{0}, uint64_t{1}, uint64_t{42}, UINT64_MAX}) {
    for (std::string id : {"t1", "t_3ZK0Q8W1MB7RXJ4T9VHCN2PD6E", "a@b", "x@@1@"}) {
      const std::string fire_id = MakeFireId(id, occurrence);
      std::string parsed_id;
      uint64_t parsed = 7;
      ASSERT_TRUE(ParseFireId(fire_id, &parsed_id, &parsed)) << fire_id;
      EXPECT_EQ(parsed_id, id);
      EXPECT_EQ(parsed, occurrence);
    }
  }
  EXPECT_EQ(MakeFireId("order-17", 3), "order-17@3");
}

TEST(FireIdTest, SplitsAtTheLastAt) {
  std::string id;
  uint64_t occurrence = 0;
  ASSERT_TRUE(ParseFireId("user@example.com@12", &id, &occurrence));
  EXPECT_EQ(id, "user@example.com");
  EXPECT_EQ(occurrence, 12u);
}

TEST(FireIdTest, AViewOfTheTimerIdPointsIntoTheFireId) {
  const std::string fire_id = "user@example.com@12";
  absl::string_view id;
  uint64_t occurrence = 0;
  ASSERT_TRUE(ParseFireId(fire_id, &id, &occurrence));
  EXPECT_EQ(id, "user@example.com");
  EXPECT_EQ(id.data(), fire_id.data());
  EXPECT_EQ(occurrence, 12u);
  EXPECT_FALSE(ParseFireId("t1@01", &id, &occurrence));
}

TEST(FireIdTest, RejectsMalformed) {
  std::string id = "unchanged";
  uint64_t occurrence = 9;
  for (const char* bad : {"", "t1", "t1@", "@3", "t1@x", "t1@-1", "t1@+1", "t1@ 1", "t1@1 ",
                          "t1@01", "t1@3@", "t1@18446744073709551616", "t1@1e3"}) {
    EXPECT_FALSE(ParseFireId(bad, &id, &occurrence)) << bad;
  }
  EXPECT_EQ(id, "unchanged");
  EXPECT_EQ(occurrence, 9u);
}

}  // namespace
}  // namespace chime::engine
