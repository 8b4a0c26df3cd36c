#include "client/cli/recurring_flags.h"

#include <string>
#include <vector>

#include "client/cli/requests.h"
#include "client/cli/spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chime::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ParsedArgs Parse(std::vector<std::string> argv) {
  ParsedArgs args;
  absl::Status s = ParseArgs(ChimeSpec(), argv, &args);
  EXPECT_TRUE(s.ok()) << s;
  return args;
}

absl::Time At(const std::string& text) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << err;
  return t;
}

TEST(NextTest, CronAcrossSpringForwardInParis) {
  auto lines = NextTimeLines(Parse({"next", "--cron", "30 2 * * *", "--tz", "Europe/Paris",
                                    "--from", "2026-03-27T12:00:00Z", "--count", "3"}),
                             absl::UnixEpoch());
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_THAT(*lines, ElementsAre("2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00",
                                  "2026-03-30T02:30:00+02:00"));
}

TEST(NextTest, EveryFromStartIncludesFrom) {
  auto lines = NextTimeLines(Parse({"next", "--every", "90m", "--start", "2026-01-01T00:00:00Z",
                                    "--from", "2026-01-01T03:00:00Z"}),
                             absl::UnixEpoch());
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_THAT(*lines, ElementsAre("2026-01-01T03:00:00+00:00", "2026-01-01T04:30:00+00:00",
                                  "2026-01-01T06:00:00+00:00", "2026-01-01T07:30:00+00:00",
                                  "2026-01-01T09:00:00+00:00"));
  // Without --start or --from, the anchor is now.
  lines =
      NextTimeLines(Parse({"next", "--every", "1h", "--count", "1"}), At("2026-05-01T10:00:00Z"));
  ASSERT_TRUE(lines.ok());
  EXPECT_THAT(*lines, ElementsAre("2026-05-01T10:00:00+00:00"));
}

TEST(NextTest, Errors) {
  EXPECT_THAT(
      std::string(
          NextTimeLines(Parse({"next", "--cron", "0 24 * * *"}), absl::Now()).status().message()),
      HasSubstr("cron field 'hour': value 24 out of range 0-23"));
  EXPECT_THAT(
      std::string(
          NextTimeLines(Parse({"next", "--cron", "0 9 * * *", "--tz", "Mars/Olympus"}), absl::Now())
              .status()
              .message()),
      HasSubstr("unknown time zone 'Mars/Olympus'"));
  EXPECT_FALSE(NextTimeLines(Parse({"next"}), absl::Now()).ok());
  EXPECT_FALSE(NextTimeLines(Parse({"next", "--every", "1h", "--count", "0"}), absl::Now()).ok());
}

TEST(RecurringFlagsTest, PoliciesOnCreate) {
  auto request =
      BuildCreateRequest(Parse({"create", "--every", "1m", "--topic", "t", "--misfire", "skip",
                                "--overlap", "forbid", "--jitter", "5s", "--spread", "30s"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->misfire_policy(), v1::MISFIRE_POLICY_SKIP);
  EXPECT_EQ(request->overlap_policy(), v1::OVERLAP_POLICY_FORBID);
  EXPECT_EQ(request->jitter().seconds(), 5);
  EXPECT_EQ(request->spread().seconds(), 30);
  auto bad = BuildCreateRequest(
      Parse({"create", "--every", "1m", "--topic", "t", "--misfire", "sometimes"}));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--misfire: want fire-once"));
  bad = BuildCreateRequest(Parse({"create", "--in", "1m", "--topic", "t", "--jitter", "1s"}));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--jitter: needs --every or --cron"));
}

}  // namespace
}  // namespace chime::cli
