// A ChimeServer on 127.0.0.1:0 over a temporary data dir and a FakeClock, restartable on the
// same dir, plus a synchronous Subscribe helper. Tests wait on events (a blocking stream read
// bounded by the stream's deadline), never on sleeps.
#ifndef CHIME_TESTS_INTEGRATION_SERVER_FIXTURE_H_
#define CHIME_TESTS_INTEGRATION_SERVER_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chime/v1/timer.grpc.pb.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "server/chime_server.h"
#include "tests/testing/temp_dir.h"

namespace chime::testing {

// A Subscribe stream read by the test thread.
class TestSubscription {
 public:
  // Opens the stream and sends `start` (topic, namespace, window).
  TestSubscription(v1::TimerService::Stub* stub, const std::string& topic,
                   uint32_t max_outstanding = 100, const std::string& ns = "");
  ~TestSubscription();

  // The next fire; nullopt if the stream ended first (fails the test).
  std::optional<v1::Fire> NextFire();
  // Sends an ack and waits for its outcome (fires arriving meanwhile are kept for NextFire).
  v1::AckOutcome AckAndWait(const std::string& fire_id);
  // Sends a nack (with `delay` unless nullopt) and waits for its outcome.
  v1::AckOutcome NackAndWait(const std::string& fire_id, std::optional<absl::Duration> delay);
  // Sends raw requests.
  bool Write(const v1::SubscribeRequest& request);
  // Reads until the server ends the stream and returns its status.
  grpc::Status Finish();

 private:
  bool ReadOne();
  v1::AckOutcome SendAndWait(const v1::SubscribeRequest& request, const std::string& fire_id);

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>> stream_;
  std::vector<v1::Fire> fires_;
  std::map<std::string, v1::AckOutcome> outcomes_;
  bool finished_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  ServerTest();
  ~ServerTest() override;

  void StartServer();
  void StopServer();
  void RestartServer() {
    StopServer();
    StartServer();
  }

  // Creates a timer due `delay` from the fake now on `topic`.
  v1::Timer CreateTimer(const std::string& id, absl::Duration delay, const std::string& topic,
                        const std::string& payload = "");
  grpc::Status Create(const v1::CreateTimerRequest& request, v1::CreateTimerResponse* response);
  grpc::Status Get(const std::string& id, v1::Timer* timer);
  grpc::Status Cancel(const std::string& id, v1::Timer* timer);
  grpc::Status List(const v1::ListTimersRequest& request, v1::ListTimersResponse* response);

  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  TempDir dir_;
  std::unique_ptr<ChimeServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TimerService::Stub> stub_;
};

// A deadline for one test call or stream: generous, only to bound a broken test.
std::chrono::system_clock::time_point CallDeadline();

}  // namespace chime::testing

#endif  // CHIME_TESTS_INTEGRATION_SERVER_FIXTURE_H_
