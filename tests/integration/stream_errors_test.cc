// Bad input on the Subscribe stream gets a clean status and leaves the server healthy.
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/client_unary_call.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "tests/integration/server_fixture.h"
#include "tests/testing/grpc_health.h"

namespace chime::testing {
namespace {

using ::testing::HasSubstr;
using StreamErrorsTest = ServerTest;

bool Serving(const std::shared_ptr<grpc::Channel>& channel) {
  return GrpcHealthStatus(channel) == 1;
}

grpc::Status FinishWith(v1::TimerService::Stub* stub, const v1::SubscribeRequest& first,
                        const v1::SubscribeRequest* second = nullptr) {
  TestSubscription sub(stub, "");
  sub.Write(first);
  if (second != nullptr) sub.Write(*second);
  return sub.Finish();
}

TEST_F(StreamErrorsTest, BadFirstMessages) {
  ASSERT_TRUE(Serving(channel_));
  v1::SubscribeRequest ack;
  ack.mutable_ack()->add_fire_ids("t@1");
  grpc::Status s = FinishWith(stub_.get(), ack);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "first message must be start");

  v1::SubscribeRequest start;
  start.mutable_start()->set_topic("t");
  start.mutable_start()->set_max_outstanding(20000);
  s = FinishWith(stub_.get(), start);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "start.max_outstanding is 20000, limit 10000");

  start.mutable_start()->set_max_outstanding(0);
  start.mutable_start()->set_topic("");
  s = FinishWith(stub_.get(), start);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "start.topic is required");

  start.mutable_start()->set_topic("bad topic");
  s = FinishWith(stub_.get(), start);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  s = FinishWith(stub_.get(), v1::SubscribeRequest());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Serving(channel_));
}

TEST_F(StreamErrorsTest, BadLaterMessages) {
  v1::SubscribeRequest start;
  start.mutable_start()->set_topic("t");
  grpc::Status s = FinishWith(stub_.get(), start, &start);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("start may be sent only once"));

  const v1::SubscribeRequest empty;
  s = FinishWith(stub_.get(), start, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::SubscribeRequest flood;
  for (int i = 0; i < 10001; ++i) flood.mutable_ack()->add_fire_ids("x@1");
  s = FinishWith(stub_.get(), start, &flood);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "ack has 10001 fire ids, limit 10000");
  EXPECT_TRUE(Serving(channel_));
}

TEST_F(StreamErrorsTest, UnknownAndMalformedAcksAreAnsweredUnknown) {
  TestSubscription sub(stub_.get(), "acks");
  for (const std::string& id :
       std::vector<std::string>{"never-existed@1", "no-at-sign", "@", "x@01",
                                "x@99999999999999999999999", std::string("nul\0@1", 6)}) {
    EXPECT_EQ(sub.AckAndWait(id), v1::ACK_OUTCOME_UNKNOWN) << id;
  }
  EXPECT_TRUE(Serving(channel_));
}

TEST_F(StreamErrorsTest, GarbageBytesGetAStatusAndTheServerStaysHealthy) {
  grpc::ClientContext ctx;
  ctx.set_deadline(CallDeadline());
  // A raw bidi call (the factory returns an owning raw pointer).
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel_.get(),
          grpc::internal::RpcMethod("/chime.v1.TimerService/Subscribe",
                                    grpc::internal::RpcMethod::BIDI_STREAMING),
          &ctx));
  const std::string garbage = "\xff\xff\xff\xff\x0f not a protobuf";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer buffer(&slice, 1);
  stream->Write(buffer);
  stream->WritesDone();
  grpc::ByteBuffer ignored;
  while (stream->Read(&ignored)) {
  }
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "a SubscribeRequest could not be parsed");
  EXPECT_TRUE(Serving(channel_));

  // And the service still works.
  TestSubscription sub(stub_.get(), "after-garbage");
  CreateTimer("g1", absl::Seconds(1), "after-garbage");
  clock_.Advance(absl::Seconds(2));
  std::optional<v1::Fire> fire = sub.NextFire();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->timer_id(), "g1");
}

// TimerService lists the generated service's methods itself (Subscribe is raw), so a method
// added to the proto and not to that list would answer UNIMPLEMENTED: every method answers
// something else here, even to an empty request.
TEST_F(StreamErrorsTest, EveryMethodOfTheServiceIsServed) {
  const google::protobuf::ServiceDescriptor* service =
      v1::CreateTimerRequest::descriptor()->file()->FindServiceByName("TimerService");
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service->method(i);
    const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());
    grpc::ClientContext ctx;
    ctx.set_deadline(CallDeadline());
    grpc::Slice empty_slice(std::string{});
    grpc::ByteBuffer empty(&empty_slice, 1);
    grpc::Status s;
    if (method->client_streaming() || method->server_streaming()) {
      std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
          grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
              channel_.get(),
              grpc::internal::RpcMethod(path.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING),
              &ctx));
      stream->Write(empty);
      stream->WritesDone();
      grpc::ByteBuffer ignored;
      while (stream->Read(&ignored)) {
      }
      s = stream->Finish();
    } else {
      grpc::ByteBuffer response;
      s = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
          channel_.get(),
          grpc::internal::RpcMethod(path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC), &ctx,
          empty, &response);
    }
    EXPECT_NE(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << path;
  }
}

TEST_F(StreamErrorsTest, HealthIsNotServingAfterShutdown) {
  ASSERT_TRUE(Serving(channel_));
  auto channel = channel_;
  StopServer();
  EXPECT_FALSE(Serving(channel));
  StartServer();
  EXPECT_TRUE(Serving(channel_));
}

// A Health/Watch stream held open, as load balancers and kubelets do.
class HealthWatch final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit HealthWatch(const std::shared_ptr<grpc::Channel>& channel) : stub_(channel) {
    ctx_.set_deadline(CallDeadline());
    grpc::Slice nothing("");  // HealthCheckRequest{service: ""}
    request_ = grpc::ByteBuffer(&nothing, 1);
    stub_.PrepareBidiStreamingCall(&ctx_, "/grpc.health.v1.Health/Watch", grpc::StubOptions(),
                                   this);
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }
  ~HealthWatch() override { done_.WaitForNotification(); }

  void OnWriteDone(bool ok) override {
    if (ok) StartWritesDone();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!first_response_.HasBeenNotified()) first_response_.Notify();
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& /*status*/) override { done_.Notify(); }

  bool WaitForFirstResponse() {
    return first_response_.WaitForNotificationWithTimeout(absl::Seconds(30));
  }
  bool WaitDone() { return done_.WaitForNotificationWithTimeout(absl::Seconds(30)); }

 private:
  grpc::GenericStub stub_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  absl::Notification first_response_;
  absl::Notification done_;
};

// The watch is not work in flight: shutdown does not wait for it until its deadline.
TEST_F(StreamErrorsTest, AnOpenHealthWatchDoesNotHoldUpShutdown) {
  HealthWatch watch(channel_);
  ASSERT_TRUE(watch.WaitForFirstResponse());
  const absl::Time start = absl::Now();
  server_->Shutdown(start + absl::Seconds(60));
  // Counted as a call, it held the shutdown for the whole 60 s.
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_TRUE(watch.WaitDone());
  StopServer();
}

}  // namespace
}  // namespace chime::testing
