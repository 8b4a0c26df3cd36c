// The status page as a browser shows it: headless Chromium loads chimed's `/`, runs its
// script (which fetches /status.json) and the rendered DOM and a screenshot are checked.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "chime/v1/admin.grpc.pb.h"
#include "chime/v1/timer.grpc.pb.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/chimed_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kChromium[] = "/usr/bin/chromium";

// Runs a shell command (bounded by `timeout`) and returns its stdout.
std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  pclose(pipe);
  return out;
}

std::string ChromiumCommand(const std::string& profile_dir, const std::string& action,
                            const std::string& url) {
  return std::string("timeout 90 ") + kChromium +
         " --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
         " --disable-component-update --disable-sync --user-data-dir=" +
         profile_dir + " --virtual-time-budget=5000 --window-size=1000,1100 " + action + " " + url +
         " 2>/dev/null";
}

TEST(StatusPageTest, ChromiumRendersTheLiveStatus) {
  struct stat st;
  if (stat(kChromium, &st) != 0) GTEST_SKIP() << "chromium is not installed (scripts/setup)";
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(dir.path() + "/data", {"--shards", "2"}));
  auto channel = grpc::CreateChannel(chimed->address(), grpc::InsecureChannelCredentials());
  auto timers = v1::TimerService::NewStub(channel);
  auto admin = v1::AdminService::NewStub(channel);

  for (const char* id : {"a", "b", "c"}) {
    v1::CreateTimerRequest request;
    request.set_timer_id(id);
    *request.mutable_delay() = ToProtoDuration(absl::Hours(1));
    request.mutable_target()->set_topic("jobs");
    v1::CreateTimerResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    ASSERT_TRUE(timers->CreateTimer(&ctx, request, &response).ok());
  }
  // A subscriber, so the page has a topic to show; wait until the node reports it.
  grpc::ClientContext sub_ctx;
  auto stream = timers->Subscribe(&sub_ctx);
  v1::SubscribeRequest start;
  start.mutable_start()->set_topic("jobs");
  ASSERT_TRUE(stream->Write(start));
  v1::GetStatusResponse status;
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30); absl::Now() < give_up;) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    ASSERT_TRUE(admin->GetStatus(&ctx, v1::GetStatusRequest(), &status).ok());
    if (status.topics_size() == 1) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(status.topics_size(), 1);

  const std::string url = "http://" + chimed->http_address() + "/";
  const std::string dom = RunCommand(ChromiumCommand(dir.path() + "/profile", "--dump-dom", url));
  ASSERT_THAT(dom, HasSubstr("<title>chime status</title>"));
  // Filled in by the page's script from /status.json.
  EXPECT_THAT(dom, HasSubstr("<span id=\"node\">" + status.node_id() + "</span>"));
  EXPECT_THAT(dom, HasSubstr("id=\"pending\">3<"));
  EXPECT_THAT(dom, HasSubstr("<td>default/jobs</td><td>1</td>"));
  EXPECT_THAT(dom, HasSubstr("scheduled → dispatched"));
  EXPECT_THAT(dom, HasSubstr("class=\"ok\">ready<"));
  EXPECT_THAT(dom, HasSubstr("<span id=\"error\" class=\"bad\"></span>"));  // no fetch error

  const std::string png = dir.path() + "/status.png";
  RunCommand(ChromiumCommand(dir.path() + "/profile", "--screenshot=" + png, url));
  std::ifstream in(png, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  ASSERT_GT(bytes.str().size(), 10'000u) << "no screenshot";
  EXPECT_EQ(bytes.str().substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));

  sub_ctx.TryCancel();
  stream->Finish();
}

}  // namespace
}  // namespace chime::testing
