#include "server/engine/timer_id.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chime::engine {
namespace {

TEST(TimerIdTest, EncodesCrockfordBase32) {
  EXPECT_EQ(EncodeCrockford128(0, 0), std::string(26, '0'));
  // StrCat, not operator+: g++ 12 -O2 reports a false -Warray-bounds on string + literal.
  EXPECT_EQ(EncodeCrockford128(0, 1), absl::StrCat(std::string(25, '0'), "1"));
  EXPECT_EQ(EncodeCrockford128(0, 31), absl::StrCat(std::string(25, '0'), "Z"));
  EXPECT_EQ(EncodeCrockford128(0, 32), absl::StrCat(std::string(24, '0'), "10"));
  // Bit 64 (lowest bit of hi) is bit 4 of the 13th character from the right: 2^64 = 16 * 32^12.
  EXPECT_EQ(EncodeCrockford128(1, 0),
            absl::StrCat(std::string(13, '0'), "G", std::string(12, '0')));
  // All ones: the first character carries the top 3 bits (7), the other 25 carry 5 each.
  EXPECT_EQ(EncodeCrockford128(UINT64_MAX, UINT64_MAX), "7" + std::string(25, 'Z'));
}

TEST(TimerIdTest, NewIdsHaveTheFormatAndAreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = NewTimerId(absl::FromUnixMillis(1'764'000'000'000));
    ASSERT_EQ(id.size(), kGeneratedIdLength) << id;
    ASSERT_TRUE(absl::StartsWith(id, kGeneratedIdPrefix)) << id;
    for (char c : id.substr(2)) {
      ASSERT_NE(std::string("0123456789ABCDEFGHJKMNPQRSTVWXYZ").find(c), std::string::npos) << id;
    }
    ASSERT_TRUE(seen.insert(id).second) << "duplicate " << id;
  }
}

TEST(TimerIdTest, NewIdsStartWithTheirCreationMillisecondAndSortByIt) {
  const absl::Time t = absl::FromUnixMillis(1'764'000'000'123);
  // The first 10 characters carry the top 50 bits: two zero bits and the 48-bit millisecond.
  const std::string time_part =
      EncodeCrockford128(uint64_t{1'764'000'000'123} << 16, 0).substr(0, 10);
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewTimerId(t + absl::Milliseconds(i));
    if (i == 0) {
      EXPECT_EQ(id.substr(2, 10), time_part) << id;
    } else {
      ASSERT_LT(previous, id) << "created " << i << " ms later";
    }
    previous = id;
  }
  // Ids of the same millisecond differ in their random part.
  EXPECT_NE(NewTimerId(t), NewTimerId(t));
  // Times before the epoch do not wrap around to the far future.
  EXPECT_EQ(NewTimerId(absl::FromUnixMillis(-5)).substr(2, 10), std::string(10, '0'));
}

}  // namespace
}  // namespace chime::engine
