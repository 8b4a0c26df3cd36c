// chimed as an operator runs it: settings from a config file and the environment, JSON logs
// with the start-up report, /metrics and /readyz on the HTTP port, `chime status`, a clean
// SIGTERM, and a clear failure on an invalid setting.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>

#include "client/cli/run.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/testing/exposition_parser.h"
#include "server/http/curl_fetch.h"
#include "tests/testing/chimed_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::testing {
namespace {

using ::testing::HasSubstr;

TEST(OperabilityTest, ConfigFileEnvJsonLogsMetricsAndStatus) {
  TempDir dir;
  const std::string config = dir.path() + "/chimed.conf";
  std::ofstream(config) << "# test settings\nshards = 3\nlog-format = json\n";
  setenv("CHIME_FSYNC", "never", 1);
  auto started = ChimedProcess::Start(dir.path() + "/data", {"--config", config});
  unsetenv("CHIME_FSYNC");
  ASSERT_OK(started.status());
  std::unique_ptr<ChimedProcess> chimed = *std::move(started);
  ASSERT_FALSE(chimed->http_address().empty()) << chimed->Log();

  // Start-up report: effective configuration with sources, store and recovery progress.
  const std::string log = chimed->Log();
  EXPECT_THAT(log, HasSubstr("\"msg\":\"config\""));
  EXPECT_THAT(log, HasSubstr("\"fsync\":\"never\""));
  EXPECT_THAT(log, HasSubstr("shards: file " + config + ":2"));
  EXPECT_THAT(log, HasSubstr("fsync: env CHIME_FSYNC"));
  EXPECT_THAT(log, HasSubstr("\"msg\":\"shard opened\",\"shard\":2"));
  EXPECT_THAT(log, HasSubstr("\"msg\":\"recovery finished\""));
  EXPECT_THAT(log, HasSubstr("\"msg\":\"serving\""));

  const std::string http = "http://" + chimed->http_address();
  ASSERT_OK_AND_ASSIGN(auto ready, http::testing::Fetch(http + "/readyz"));
  EXPECT_EQ(ready.status, 200);
  ASSERT_OK_AND_ASSIGN(auto scrape, http::testing::Fetch(http + "/metrics"));
  ASSERT_EQ(scrape.status, 200);
  ASSERT_OK_AND_ASSIGN(auto parsed, metrics::testing::ParseExposition(scrape.body));
  EXPECT_TRUE(parsed.Value("chime_timers_pending", {{"shard", "2"}, {"state", "scheduled"}}));
  EXPECT_FALSE(parsed.Value("chime_timers_pending", {{"shard", "3"}, {"state", "scheduled"}}));
  EXPECT_GT(parsed.Value("process_resident_memory_bytes").value_or(0), 0);

  std::ostringstream out, err;
  ASSERT_EQ(cli::RunChime({"--server", chimed->address(), "status"}, out, err), cli::kExitOk)
      << err.str();
  EXPECT_THAT(out.str(), HasSubstr("shards    3"));

  ASSERT_OK_AND_ASSIGN(int wait_status, chimed->Signal(SIGTERM, absl::Seconds(30)));
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) << chimed->Log();
  EXPECT_THAT(chimed->Log(), HasSubstr("\"msg\":\"stopped\""));
}

TEST(OperabilityTest, InvalidSettingFailsAtStartWithAClearMessage) {
  TempDir dir;
  auto started =
      ChimedProcess::Start(dir.path() + "/data", {"--shards", "lots"}, absl::Seconds(30));
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(std::string(started.status().message()),
              HasSubstr("invalid --shards \"lots\" (from flag): must be a whole number"));
}

}  // namespace
}  // namespace chime::testing
