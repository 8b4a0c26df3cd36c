#include "tests/integration/server_fixture.h"

#include "common/proto_time.h"

namespace chime::testing {

std::chrono::system_clock::time_point CallDeadline() {
  return absl::ToChronoTime(absl::Now() + absl::Seconds(30));
}

TestSubscription::TestSubscription(v1::TimerService::Stub* stub, const std::string& topic,
                                   uint32_t max_outstanding, const std::string& ns) {
  ctx_.set_deadline(CallDeadline());
  stream_ = stub->Subscribe(&ctx_);
  if (topic.empty()) return;  // the test sends its own first message
  v1::SubscribeRequest start;
  start.mutable_start()->set_namespace_(ns);
  start.mutable_start()->set_topic(topic);
  start.mutable_start()->set_max_outstanding(max_outstanding);
  EXPECT_TRUE(stream_->Write(start));
}

TestSubscription::~TestSubscription() {
  if (!finished_) {
    ctx_.TryCancel();
    stream_->Finish().ok();
  }
}

bool TestSubscription::ReadOne() {
  v1::SubscribeResponse response;
  if (!stream_->Read(&response)) return false;
  for (const v1::Fire& f : response.fires()) fires_.push_back(f);
  for (const v1::AckResult& r : response.ack_results()) outcomes_[r.fire_id()] = r.outcome();
  return true;
}

std::optional<v1::Fire> TestSubscription::NextFire() {
  while (fires_.empty()) {
    if (!ReadOne()) {
      ADD_FAILURE() << "stream ended while waiting for a fire";
      return std::nullopt;
    }
  }
  v1::Fire f = fires_.front();
  fires_.erase(fires_.begin());
  return f;
}

v1::AckOutcome TestSubscription::AckAndWait(const std::string& fire_id) {
  v1::SubscribeRequest ack;
  ack.mutable_ack()->add_fire_ids(fire_id);
  return SendAndWait(ack, fire_id);
}

v1::AckOutcome TestSubscription::NackAndWait(const std::string& fire_id,
                                             std::optional<absl::Duration> delay) {
  v1::SubscribeRequest nack;
  nack.mutable_nack()->add_fire_ids(fire_id);
  if (delay.has_value()) *nack.mutable_nack()->mutable_delay() = ToProtoDuration(*delay);
  return SendAndWait(nack, fire_id);
}

v1::AckOutcome TestSubscription::SendAndWait(const v1::SubscribeRequest& request,
                                             const std::string& fire_id) {
  outcomes_.erase(fire_id);
  EXPECT_TRUE(stream_->Write(request));
  while (!outcomes_.count(fire_id)) {
    if (!ReadOne()) {
      ADD_FAILURE() << "stream ended while waiting for the outcome of " << fire_id;
      return v1::ACK_OUTCOME_UNSPECIFIED;
    }
  }
  return outcomes_[fire_id];
}

bool TestSubscription::Write(const v1::SubscribeRequest& request) {
  return stream_->Write(request);
}

grpc::Status TestSubscription::Finish() {
  while (ReadOne()) {
  }
  finished_ = true;
  return stream_->Finish();
}

ServerTest::ServerTest() { StartServer(); }

ServerTest::~ServerTest() { StopServer(); }

void ServerTest::StartServer() {
  ServerOptions options;
  options.data_dir = dir_.path() + "/data";
  options.listen = "127.0.0.1:0";
  options.shards = 4;
  options.fsync = false;
  options.clock = &clock_;
  auto server = ChimeServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  stub_ = v1::TimerService::NewStub(channel_);
}

void ServerTest::StopServer() {
  if (server_ == nullptr) return;
  server_->Shutdown(absl::Now() + absl::Seconds(5));
  server_.reset();
  stub_.reset();
  channel_.reset();
}

v1::Timer ServerTest::CreateTimer(const std::string& id, absl::Duration delay,
                                  const std::string& topic, const std::string& payload) {
  v1::CreateTimerRequest request;
  request.set_timer_id(id);
  *request.mutable_delay() = ToProtoDuration(delay);
  request.mutable_target()->set_topic(topic);
  request.set_payload(payload);
  v1::CreateTimerResponse response;
  grpc::Status s = Create(request, &response);
  EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
  return response.timer();
}

grpc::Status ServerTest::Create(const v1::CreateTimerRequest& request,
                                v1::CreateTimerResponse* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(CallDeadline());
  return stub_->CreateTimer(&ctx, request, response);
}

grpc::Status ServerTest::Get(const std::string& id, v1::Timer* timer) {
  grpc::ClientContext ctx;
  ctx.set_deadline(CallDeadline());
  v1::GetTimerRequest request;
  request.set_timer_id(id);
  return stub_->GetTimer(&ctx, request, timer);
}

grpc::Status ServerTest::Cancel(const std::string& id, v1::Timer* timer) {
  grpc::ClientContext ctx;
  ctx.set_deadline(CallDeadline());
  v1::CancelTimerRequest request;
  request.set_timer_id(id);
  return stub_->CancelTimer(&ctx, request, timer);
}

grpc::Status ServerTest::List(const v1::ListTimersRequest& request,
                              v1::ListTimersResponse* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(CallDeadline());
  return stub_->ListTimers(&ctx, request, response);
}

}  // namespace chime::testing
