// System test of chime-floor-server, the benchmark's durable floor: a create it answers is in
// its log file (the figure it gives is of creates really written and synced), a batch answers
// each create, bad flags are refused, and the health check answers for the RPC floor.
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "chime/v1/timer.grpc.pb.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "tests/testing/chimed_process.h"
#include "tests/testing/grpc_health.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime {
namespace {

using testing::ChimedProcess;
using testing::TempDir;

constexpr char kFloorServer[] = "tests/bench/chime-floor-server";

v1::CreateTimerRequest Request(const std::string& payload) {
  v1::CreateTimerRequest req;
  *req.mutable_delay() = ToProtoDuration(absl::Hours(1));
  req.mutable_target()->set_topic("floor");
  req.set_payload(payload);
  return req;
}

// The timers in a log file: 4-byte native-endian length, then a serialized Timer.
std::vector<v1::Timer> ReadLog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<v1::Timer> timers;
  size_t pos = 0;
  while (pos + sizeof(uint32_t) <= bytes.size()) {
    uint32_t size = 0;
    std::memcpy(&size, bytes.data() + pos, sizeof(size));
    pos += sizeof(size);
    if (size == 0 || pos + size > bytes.size()) break;  // preallocated zeros, or torn
    v1::Timer timer;
    EXPECT_TRUE(timer.ParseFromArray(bytes.data() + pos, static_cast<int>(size)));
    timers.push_back(std::move(timer));
    pos += size;
  }
  return timers;
}

class FloorServerTest : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(FloorServerTest, AnsweredCreatesAreInTheLog) {
  TempDir dir;
  std::vector<std::string> args = {"--fsync=always", "--logs", "1"};
  args.insert(args.end(), GetParam().begin(), GetParam().end());
  ASSERT_OK_AND_ASSIGN(auto server, ChimedProcess::StartBinary(kFloorServer, dir.path(), args));
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::TimerService::NewStub(channel);

  std::set<std::string> answered;
  {
    grpc::ClientContext ctx;
    v1::CreateTimerResponse resp;
    ASSERT_TRUE(stub->CreateTimer(&ctx, Request("one"), &resp).ok());
    EXPECT_TRUE(resp.created());
    EXPECT_EQ(resp.timer().payload(), "one");
    EXPECT_EQ(resp.timer().state(), v1::TIMER_STATE_SCHEDULED);
    answered.insert(resp.timer().timer_id());
  }
  {
    grpc::ClientContext ctx;
    v1::CreateTimersRequest req;
    for (int i = 0; i < 3; ++i) *req.add_requests() = Request("batch");
    v1::CreateTimersResponse resp;
    ASSERT_TRUE(stub->CreateTimers(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.results_size(), 3);
    for (const v1::CreateTimerResult& result : resp.results()) {
      EXPECT_EQ(result.code(), 0);
      EXPECT_EQ(result.timer().payload(), "batch");
      answered.insert(result.timer().timer_id());
    }
  }
  EXPECT_EQ(answered.size(), 4u);  // distinct ids

  // Killed right after the answers: what they acknowledged is on disk.
  server->Kill();
  std::set<std::string> logged;
  for (const v1::Timer& timer : ReadLog(dir.path() + "/log-0")) logged.insert(timer.timer_id());
  EXPECT_EQ(logged, answered);
}

INSTANTIATE_TEST_SUITE_P(AppendOrOverwrite, FloorServerTest,
                         ::testing::Values(std::vector<std::string>{},
                                           std::vector<std::string>{"--preallocate-mb", "1"}));

TEST(FloorServerHealthTest, AnswersTheHealthCheck) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto server, ChimedProcess::StartBinary(kFloorServer, dir.path()));
  EXPECT_EQ(testing::GrpcHealthStatus(
                grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials())),
            1);  // SERVING
}

TEST(FloorServerFlagsTest, RefusesAnUnknownFsyncMode) {
  TempDir dir;
  auto server = ChimedProcess::StartBinary(kFloorServer, dir.path(), {"--fsync=sometimes"},
                                           absl::Seconds(20));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("--fsync must be always or never, got sometimes"),
            std::string::npos)
      << server.status();
}

}  // namespace
}  // namespace chime
