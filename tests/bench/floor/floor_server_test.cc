// System test of chime-floor-server, the benchmark's durable floor: a create it answers is in
// its log file, or with --rocksdb in its database (the figure it gives is of creates really
// written and synced), a batch answers each create, bad flags are refused, and the health
// check answers for the RPC floor. With --fires, created timers fire to a subscriber at their due
// time and an ack it answers is in its ack log.
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chime/v1/timer.grpc.pb.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "tests/bench/floor/rocks_log.h"
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

// The records in a log file: 4-byte native-endian length, then a serialized `Record` (a Timer
// in the create logs, an Acknowledge in the ack logs).
template <typename Record>
std::vector<Record> ReadLog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<Record> records;
  size_t pos = 0;
  while (pos + sizeof(uint32_t) <= bytes.size()) {
    uint32_t size = 0;
    std::memcpy(&size, bytes.data() + pos, sizeof(size));
    pos += sizeof(size);
    if (size == 0 || pos + size > bytes.size()) break;  // preallocated zeros, or torn
    Record record;
    EXPECT_TRUE(record.ParseFromArray(bytes.data() + pos, static_cast<int>(size)));
    records.push_back(std::move(record));
    pos += size;
  }
  return records;
}

// The timer ids in the floor server's database (--rocksdb), read after the server is gone.
std::set<std::string> TimerIdsInRocksDb(const std::string& path) {
  std::set<std::string> ids;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path, &raw);
  EXPECT_TRUE(status.ok()) << status.ToString();
  if (!status.ok()) return ids;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(std::string(1, floor::RocksLog::kRecordPrefix));
       it->Valid() && it->key()[0] == floor::RocksLog::kRecordPrefix; it->Next()) {
    const rocksdb::Slice value = it->value();
    uint32_t size = 0;
    EXPECT_GE(value.size(), sizeof(size));
    if (value.size() < sizeof(size)) continue;
    std::memcpy(&size, value.data(), sizeof(size));
    v1::Timer timer;
    EXPECT_EQ(value.size(), sizeof(size) + size);
    EXPECT_TRUE(timer.ParseFromArray(value.data() + sizeof(size), static_cast<int>(size)));
    ids.insert(timer.timer_id());
  }
  return ids;
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
  if (absl::c_linear_search(GetParam(), "--rocksdb")) {
    logged = TimerIdsInRocksDb(dir.path() + "/rocksdb");
  } else {
    for (const v1::Timer& timer : ReadLog<v1::Timer>(dir.path() + "/log-0"))
      logged.insert(timer.timer_id());
  }
  EXPECT_EQ(logged, answered);
}

INSTANTIATE_TEST_SUITE_P(
    AppendOrOverwrite, FloorServerTest,
    ::testing::Values(std::vector<std::string>{}, std::vector<std::string>{"--preallocate-mb", "1"},
                      std::vector<std::string>{"--log-writer", "shared"},
                      std::vector<std::string>{"--log-writer", "caller"},
                      std::vector<std::string>{"--log-writer", "caller", "--rocksdb"},
                      std::vector<std::string>{"--log-writer", "shared", "--rocksdb"}));

TEST(FloorServerFiresTest, FiresCreatedTimersAtTheirDueTimeAndLogsTheAcksItAnswers) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto server, ChimedProcess::StartBinary(kFloorServer, dir.path(),
                                                               {"--fires", "--logs", "1"}));
  auto stub = v1::TimerService::NewStub(
      grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext subscribe_ctx;
  subscribe_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = stub->Subscribe(&subscribe_ctx);
  v1::SubscribeRequest start;
  start.mutable_start()->set_topic("floor");
  start.mutable_start()->set_max_outstanding(2);  // fewer than the timers: acks free the room
  ASSERT_TRUE(stream->Write(start));

  const absl::Time due = absl::Now() + absl::Milliseconds(300);
  std::set<std::string> created;
  {
    grpc::ClientContext ctx;
    v1::CreateTimersRequest req;
    for (int i = 0; i < 3; ++i) {
      v1::CreateTimerRequest* create = req.add_requests();
      *create = Request(absl::StrCat("p", i));
      create->clear_delay();
      *create->mutable_fire_at() = ToProtoTimestamp(due);
    }
    v1::CreateTimersResponse resp;
    ASSERT_TRUE(stub->CreateTimers(&ctx, req, &resp).ok());
    for (const v1::CreateTimerResult& result : resp.results()) {
      created.insert(result.timer().timer_id());
    }
  }
  ASSERT_EQ(created.size(), 3u);

  // Each fire is acked as it comes (with one id it never sent); the room of 2 lets the third
  // through only after an ack is durable.
  std::set<std::string> fired, acked;
  int unknown = 0;
  bool sent_unknown = false;
  v1::SubscribeResponse resp;
  while ((fired.size() < 3 || acked.size() < 3) && stream->Read(&resp)) {
    v1::SubscribeRequest ack;
    for (const v1::Fire& fire : resp.fires()) {
      EXPECT_GE(FromProto(fire.scheduled_time()), due - absl::Milliseconds(1));
      EXPECT_GE(absl::Now(), due);
      EXPECT_EQ(fire.attempt(), 1u);
      EXPECT_EQ(fire.payload().substr(0, 1), "p");
      fired.insert(fire.timer_id());
      ack.mutable_ack()->add_fire_ids(fire.fire_id());
    }
    if (!sent_unknown && ack.has_ack()) {
      ack.mutable_ack()->add_fire_ids("never-sent@1");
      sent_unknown = true;
    }
    for (const v1::AckResult& result : resp.ack_results()) {
      if (result.outcome() == v1::ACK_OUTCOME_ACKED) acked.insert(result.fire_id());
      if (result.outcome() == v1::ACK_OUTCOME_UNKNOWN) ++unknown;
    }
    if (ack.has_ack()) {
      ASSERT_TRUE(stream->Write(ack));
    }
  }
  EXPECT_EQ(fired, created);
  EXPECT_EQ(acked.size(), 3u);
  EXPECT_EQ(unknown, 1);

  // Killed right after the answers: the acks they reported are on disk.
  server->Kill();
  std::set<std::string> logged;
  for (const v1::Acknowledge& ack : ReadLog<v1::Acknowledge>(dir.path() + "/ack-log-0")) {
    logged.insert(ack.fire_ids().begin(), ack.fire_ids().end());
  }
  EXPECT_EQ(logged, acked);
}

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

TEST(FloorServerFlagsTest, RefusesAnUnknownLogWriter) {
  TempDir dir;
  auto server = ChimedProcess::StartBinary(kFloorServer, dir.path(), {"--log-writer=thread"},
                                           absl::Seconds(20));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(
      server.status().message().find("--log-writer must be per-log, shared or caller, got thread"),
      std::string::npos)
      << server.status();
}

TEST(FloorServerFlagsTest, RefusesRocksDbWithoutOneSharedOrCallerWrittenLog) {
  TempDir dir;
  auto server =
      ChimedProcess::StartBinary(kFloorServer, dir.path(), {"--rocksdb"}, absl::Seconds(20));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(
      server.status().message().find("--rocksdb needs --log-writer=caller or shared, and --logs 1"),
      std::string::npos)
      << server.status();
}

}  // namespace
}  // namespace chime
