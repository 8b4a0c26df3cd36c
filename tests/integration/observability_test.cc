// The operator surface of a real in-process ChimeServer: /metrics (strictly parsed, counts
// checked against the traffic the test made), /healthz, /readyz, gRPC health and reflection.
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chime/v1/admin.grpc.pb.h"
#include "chime/v1/timer.grpc.pb.h"
#include "client/cli/run.h"
#include "common/fake_clock.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/testing/exposition_parser.h"
#include "server/chime_server.h"
#include "server/http/curl_fetch.h"
#include "tests/integration/server_fixture.h"
#include "tests/testing/eventually.h"
#include "tests/testing/grpc_health.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::testing {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;
using metrics::testing::ParsedExposition;

// One call of `method` with raw protobuf messages, as a client without the .proto would make
// it: sends `requests`, half-closes, returns every response (or the call's error).
absl::StatusOr<std::vector<std::string>> RawCall(grpc::Channel* channel, const std::string& method,
                                                 const std::vector<std::string>& requests) {
  grpc::GenericStub stub(channel->shared_from_this());
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(CallDeadline());
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(&ctx, method, &cq);
  auto step = [&cq](auto start) {
    void* tag = nullptr;
    bool ok = false;
    start();
    return cq.Next(&tag, &ok) && ok;
  };
  std::vector<std::string> responses;
  grpc::Status status;
  if (step([&] { call->StartCall(nullptr); })) {
    for (const std::string& request : requests) {
      grpc::Slice slice(request);
      grpc::ByteBuffer buffer(&slice, 1);
      if (!step([&] { call->Write(buffer, nullptr); })) break;
    }
    step([&] { call->WritesDone(nullptr); });
    grpc::ByteBuffer buffer;
    while (step([&] { call->Read(&buffer, nullptr); })) {
      std::vector<grpc::Slice> slices;
      std::string bytes;
      if (buffer.Dump(&slices).ok()) {
        for (const grpc::Slice& s : slices) {
          bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
      }
      responses.push_back(std::move(bytes));
    }
  }
  step([&] { call->Finish(&status, nullptr); });
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  if (!status.ok())
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  return responses;
}

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.data_dir = dir_.path() + "/data";
    options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.shards = 2;
    options.fsync = false;
    options.clock = &clock_;
    Configure(options);
    ASSERT_OK_AND_ASSIGN(server_, ChimeServer::Start(options));
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::TimerService::NewStub(channel_);
  }

  virtual void Configure(ServerOptions&) {}

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->http_port()) + path;
  }

  grpc::Status Create(const std::string& id, const std::string& topic,
                      const std::string& idempotency_key = "",
                      v1::CreateTimerResponse* response = nullptr) {
    v1::CreateTimerRequest request;
    request.set_timer_id(id);
    request.set_idempotency_key(idempotency_key);
    *request.mutable_delay() = ToProtoDuration(absl::Seconds(1));
    request.mutable_target()->set_topic(topic);
    v1::CreateTimerResponse unused;
    grpc::ClientContext ctx;
    ctx.set_deadline(CallDeadline());
    return stub_->CreateTimer(&ctx, request, response ? response : &unused);
  }

  grpc::Status Cancel(const std::string& id) {
    v1::CancelTimerRequest request;
    request.set_timer_id(id);
    v1::Timer timer;
    grpc::ClientContext ctx;
    ctx.set_deadline(CallDeadline());
    return stub_->CancelTimer(&ctx, request, &timer);
  }

  // Fires one timer of `topic` due in a second and acks it.
  void FireAndAckOne(const std::string& topic) {
    ASSERT_TRUE(Create("one", topic).ok());
    TestSubscription sub(stub_.get(), topic);
    clock_.Advance(absl::Seconds(2));
    std::optional<v1::Fire> fire = sub.NextFire();
    ASSERT_TRUE(fire.has_value());
    EXPECT_EQ(sub.AckAndWait(fire->fire_id()), v1::ACK_OUTCOME_ACKED);
  }

  // chime_storage_record_reads_total of `record` read from `source`, both shards together.
  double RecordReads(const ParsedExposition& m, const char* record, const char* source) {
    double sum = 0;
    for (const char* shard : {"0", "1"}) {
      sum += m.Value("chime_storage_record_reads_total",
                     {{"shard", shard}, {"record", record}, {"source", source}})
                 .value_or(0);
    }
    return sum;
  }

  ParsedExposition Scrape() {
    absl::StatusOr<http::testing::FetchResult> result = http::testing::Fetch(Url("/metrics"));
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->content_type, "text/plain; version=0.0.4; charset=utf-8");
    absl::StatusOr<ParsedExposition> parsed = metrics::testing::ParseExposition(result->body);
    EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << result->body;
    return parsed.ok() ? *std::move(parsed) : ParsedExposition{};
  }

  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  TempDir dir_;
  std::unique_ptr<ChimeServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TimerService::Stub> stub_;
};

TEST_F(ObservabilityTest, FiresAndAcksReadTheirRecordsFromMemory) {
  FireAndAckOne("jobs");
  ParsedExposition m = Scrape();
  EXPECT_GE(RecordReads(m, "timer", "hot"), 1) << "the fire's read of its timer";
  // The ack reads the fire's delivery, or, for a fire handed over before it was written
  // (engine::EngineOptions::defer_fire_writes), the timer again.
  EXPECT_GE(RecordReads(m, "timer", "hot") + RecordReads(m, "delivery", "hot"), 2)
      << "the ack's read";
}

// --hot-records-mb=0: every read of a fire and an ack goes to RocksDB.
class ObservabilityWithoutHotRecordsTest : public ObservabilityTest {
 protected:
  void Configure(ServerOptions& options) override { options.hot_record_bytes = 0; }
};

// --max-heap-entries bounds the heaps of all shards together: each of the 2 gets half.
class ObservabilityWithASmallHeapTest : public ObservabilityTest {
 protected:
  void Configure(ServerOptions& options) override { options.max_heap_entries = 10; }
};

TEST_F(ObservabilityWithASmallHeapTest, TheHeapBoundIsSharedByTheShards) {
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Create(absl::StrCat("t", i), "jobs").ok());
  const std::vector<engine::ShardStats> stats = server_->engine()->Stats();
  ASSERT_EQ(stats.size(), 2u);
  for (const engine::ShardStats& shard : stats) {
    SCOPED_TRACE(shard.shard);
    EXPECT_LE(shard.heap_high_water, 5u);
    EXPECT_GT(shard.heap_high_water, 0u);  // 40 ids all on one shard: odds 2^-39
  }
}

TEST_F(ObservabilityWithoutHotRecordsTest, FiresAndAcksReadRocksDb) {
  FireAndAckOne("jobs");
  ParsedExposition m = Scrape();
  EXPECT_EQ(RecordReads(m, "timer", "hot"), 0);
  EXPECT_EQ(RecordReads(m, "delivery", "hot"), 0);
  EXPECT_GE(RecordReads(m, "timer", "rocksdb"), 1);
  EXPECT_GE(RecordReads(m, "timer", "rocksdb") + RecordReads(m, "delivery", "rocksdb"), 2);
}

TEST_F(ObservabilityTest, HealthAndReadinessProbes) {
  EXPECT_TRUE(server_->ready());
  ASSERT_OK_AND_ASSIGN(auto healthz, http::testing::Fetch(Url("/healthz")));
  EXPECT_EQ(healthz.status, 200);
  ASSERT_OK_AND_ASSIGN(auto readyz, http::testing::Fetch(Url("/readyz")));
  EXPECT_EQ(readyz.status, 200);
  server_->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_FALSE(server_->ready());
  // The HTTP server is stopped with the rest.
  EXPECT_FALSE(http::testing::Fetch(Url("/healthz")).ok());
}

TEST_F(ObservabilityTest, GrpcHealthServesOnceStarted) {
  EXPECT_EQ(GrpcHealthStatus(channel_, ""), 1);
  EXPECT_EQ(GrpcHealthStatus(channel_, "chime.v1.TimerService"), 1);
  EXPECT_EQ(GrpcHealthStatus(channel_, "no.such.Service"), -1);  // NOT_FOUND
}

TEST_F(ObservabilityTest, ReflectionListsAndDescribesServices) {
  // ServerReflectionRequest.list_services (field 7).
  absl::StatusOr<std::vector<std::string>> responses =
      RawCall(channel_.get(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
              {std::string("\x3a\x01*", 3)});
  ASSERT_TRUE(responses.ok()) << responses.status();
  ASSERT_EQ(responses->size(), 1u);
  // ServerReflectionResponse.list_services_response (6) → repeated service (1) → name (1).
  std::vector<std::string> services;
  UnknownFieldSet response;
  ASSERT_TRUE(response.ParseFromString((*responses)[0]));
  for (int i = 0; i < response.field_count(); ++i) {
    if (response.field(i).number() != 6) continue;
    UnknownFieldSet list;
    ASSERT_TRUE(list.ParseFromString(response.field(i).length_delimited()));
    for (int j = 0; j < list.field_count(); ++j) {
      UnknownFieldSet service;
      ASSERT_TRUE(service.ParseFromString(list.field(j).length_delimited()));
      ASSERT_EQ(service.field_count(), 1);
      services.push_back(service.field(0).length_delimited());
    }
  }
  EXPECT_THAT(services, ::testing::IsSupersetOf({"chime.v1.TimerService", "grpc.health.v1.Health",
                                                 "grpc.reflection.v1alpha.ServerReflection"}));

  // file_containing_symbol (4): the descriptor of timer.proto comes back (field 4: a
  // FileDescriptorResponse holding serialized FileDescriptorProtos).
  const std::string symbol = "chime.v1.TimerService";
  std::string request = "\x22";
  request.push_back(static_cast<char>(symbol.size()));
  request += symbol;
  responses = RawCall(channel_.get(),
                      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", {request});
  ASSERT_TRUE(responses.ok()) << responses.status();
  ASSERT_EQ(responses->size(), 1u);
  EXPECT_NE((*responses)[0].find("chime/v1/timer.proto"), std::string::npos);
}

TEST_F(ObservabilityTest, StatusRpcAndCli) {
  ASSERT_TRUE(Create("a", "jobs").ok());
  TestSubscription sub(stub_.get(), "jobs");
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(sub.NextFire().has_value());  // in flight, not acked

  auto admin = v1::AdminService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(CallDeadline());
  v1::GetStatusResponse status;
  ASSERT_TRUE(admin->GetStatus(&ctx, v1::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.node_id(), server_->node_id());
  EXPECT_FALSE(status.node_id().empty());
  EXPECT_EQ(status.version(), CHIME_VERSION);
  EXPECT_TRUE(status.ready());
  EXPECT_EQ(status.grpc_address(), server_->address());
  EXPECT_EQ(status.http_address(), server_->http_address());
  EXPECT_EQ(FromProto(status.uptime()), absl::Seconds(2));
  ASSERT_EQ(status.shards_size(), 2);
  EXPECT_EQ(status.shards(0).fired_total() + status.shards(1).fired_total(), 1u);
  EXPECT_EQ(status.shards(0).held_fires() + status.shards(1).held_fires(), 0u);  // room enough
  EXPECT_FALSE(status.has_oldest_overdue());  // the engine fired what was due
  ASSERT_EQ(status.topics_size(), 1);
  EXPECT_EQ(status.topics(0).topic(), "jobs");
  EXPECT_EQ(status.topics(0).subscribers(), 1u);
  EXPECT_EQ(status.topics(0).in_flight(), 1u);
  EXPECT_GT(status.storage_bytes(), 0u);

  std::ostringstream out, err;
  ASSERT_EQ(cli::RunChime({"--server", server_->address(), "status"}, out, err), cli::kExitOk)
      << err.str();
  EXPECT_NE(out.str().find("node      " + server_->node_id()), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("default/jobs"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("overdue   none"), std::string::npos) << out.str();

  std::ostringstream json_out;
  ASSERT_EQ(cli::RunChime({"--server", server_->address(), "status", "--json"}, json_out, err),
            cli::kExitOk)
      << err.str();
  v1::GetStatusResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json_out.str(), &parsed).ok())
      << json_out.str();
  EXPECT_EQ(parsed.node_id(), server_->node_id());
  EXPECT_NE(json_out.str().find("\"node_id\""), std::string::npos);
  const std::string json = json_out.str();
  EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 1);
}

TEST_F(ObservabilityTest, MetricsCountTheTraffic) {
  // Creates: three new timers, one idempotent retry, one invalid request.
  ASSERT_TRUE(Create("a", "jobs").ok());
  ASSERT_TRUE(Create("b", "jobs").ok());
  v1::CreateTimerResponse first, retry;
  ASSERT_TRUE(Create("c", "jobs", "key-c", &first).ok());
  ASSERT_TRUE(Create("c", "jobs", "key-c", &retry).ok());
  EXPECT_TRUE(first.created());
  EXPECT_FALSE(retry.created());
  EXPECT_EQ(Create("d", "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Cancels: one timer, one unknown id.
  ASSERT_TRUE(Cancel("c").ok());
  EXPECT_EQ(Cancel("nope").error_code(), grpc::StatusCode::NOT_FOUND);

  // Two fires, delivered and acked one second after they were due.
  {
    TestSubscription sub(stub_.get(), "jobs");
    clock_.Advance(absl::Seconds(2));
    for (int i = 0; i < 2; ++i) {
      std::optional<v1::Fire> fire = sub.NextFire();
      ASSERT_TRUE(fire.has_value());
      EXPECT_EQ(sub.AckAndWait(fire->fire_id()), v1::ACK_OUTCOME_ACKED);
    }
    ParsedExposition m = Scrape();
    EXPECT_EQ(m.Value("chime_subscribers_connected"), 1);
    EXPECT_EQ(m.Value("chime_topic_fires",
                      {{"namespace", "default"}, {"topic", "jobs"}, {"state", "in_flight"}}),
              0);
  }

  ParsedExposition m = Scrape();
  EXPECT_EQ(m.Value("chime_timer_creates_total", {{"outcome", "created"}}), 3);
  EXPECT_EQ(m.Value("chime_timer_creates_total", {{"outcome", "existing"}}), 1);
  EXPECT_EQ(m.Value("chime_timer_creates_total", {{"outcome", "invalid_argument"}}), 1);
  EXPECT_EQ(m.Value("chime_timer_cancels_total", {{"outcome", "cancelled"}}), 1);
  EXPECT_EQ(m.Value("chime_timer_cancels_total", {{"outcome", "not_found"}}), 1);
  const metrics::Labels create_ok = {
      {"service", "chime.v1.TimerService"}, {"method", "CreateTimer"}, {"code", "OK"}};
  EXPECT_EQ(m.Value("chime_grpc_requests_total", create_ok), 4);
  EXPECT_EQ(m.Value("chime_grpc_requests_total", {{"service", "chime.v1.TimerService"},
                                                  {"method", "CreateTimer"},
                                                  {"code", "INVALID_ARGUMENT"}}),
            1);

  const double fires = m.Value("chime_fires_total", {{"shard", "0"}}).value_or(0) +
                       m.Value("chime_fires_total", {{"shard", "1"}}).value_or(0);
  EXPECT_EQ(fires, 2);
  // Due at +1 s, dispatched and acked at +2 s on the fake clock: exactly 1 s late each.
  EXPECT_EQ(m.Value("chime_fire_dispatch_lateness_seconds_count"), 2);
  EXPECT_NEAR(m.Value("chime_fire_dispatch_lateness_seconds_sum").value_or(-1), 2.0, 1e-6);
  EXPECT_EQ(m.Value("chime_fire_dispatch_lateness_seconds_bucket", {{"le", "0.5"}}), 0);
  EXPECT_EQ(m.Value("chime_fire_send_lateness_seconds_count"), 2);
  EXPECT_NEAR(m.Value("chime_fire_send_lateness_seconds_sum").value_or(-1), 2.0, 1e-6);
  EXPECT_EQ(m.Value("chime_fire_ack_lateness_seconds_count"), 2);
  EXPECT_NEAR(m.Value("chime_fire_ack_lateness_seconds_sum").value_or(-1), 2.0, 1e-6);
  EXPECT_EQ(m.Value("chime_deliveries_total", {{"outcome", "acked"}}), 2);
  EXPECT_EQ(m.Value("chime_delivery_attempts_total"), 2);
  EXPECT_EQ(m.Value("chime_redeliveries_total"), 0);
  // The server sees the closed stream end shortly after the client closed it.
  EXPECT_TRUE(chime::testing::Eventually(
      [&] { return Scrape().Value("chime_subscribers_connected") == 0; }));

  // Families read at scrape time, with their types.
  const std::pair<const char*, const char*> families[] = {
      {"chime_timers_pending", "gauge"},
      {"chime_dead_letters", "gauge"},
      {"chime_engine_window_timers", "gauge"},
      {"chime_engine_held_fires", "gauge"},
      {"chime_rocksdb_write_stopped", "gauge"},
      {"chime_rocksdb_delayed_write_rate_bytes", "gauge"},
      {"chime_rocksdb_live_sst_bytes", "gauge"},
      {"chime_rocksdb_memtable_bytes", "gauge"},
      {"chime_storage_disk_bytes", "gauge"},
      {"chime_storage_write_groups_total", "counter"},
      {"chime_storage_transactions_total", "counter"},
      {"chime_storage_wal_syncs_total", "counter"},
      {"chime_storage_wal_sync_seconds_total", "counter"},
      {"chime_storage_synced_transactions_total", "counter"},
      {"chime_storage_record_reads_total", "counter"},
      {"chime_storage_expired_records_total", "counter"},
      {"chime_fire_dispatch_lateness_seconds", "histogram"},
      {"chime_fire_send_lateness_seconds", "histogram"},
      {"chime_fire_ack_lateness_seconds", "histogram"},
      {"chime_grpc_requests_total", "counter"},
      {"process_resident_memory_bytes", "gauge"},
  };
  for (const auto& [name, type] : families) {
    const metrics::testing::ParsedFamily* family = m.Find(name);
    ASSERT_NE(family, nullptr) << name;
    EXPECT_EQ(family->type, type) << name;
  }
  for (const char* shard : {"0", "1"}) {
    for (const char* state : {"scheduled", "delivering"}) {
      EXPECT_TRUE(m.Value("chime_timers_pending", {{"shard", shard}, {"state", state}}))
          << shard << " " << state;
    }
    EXPECT_EQ(m.Value("chime_rocksdb_write_stopped", {{"shard", shard}}), 0);
  }
  EXPECT_GT(m.Value("process_resident_memory_bytes").value_or(0), 0);
}

}  // namespace
}  // namespace chime::testing
