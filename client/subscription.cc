#include "client/subscription.h"

#include <algorithm>

#include "client/grpc_status.h"
#include "common/limits.h"
#include "common/proto_time.h"

namespace chime {
namespace {

// Bounds memory when the caller never looks at ack results.
constexpr size_t kMaxRetainedAckResults = 10000;

}  // namespace

Subscription::Subscription(std::shared_ptr<TimerRpc> rpc, std::string ns, std::string topic,
                           SubscribeOptions options)
    : rpc_(std::move(rpc)), ns_(std::move(ns)), topic_(std::move(topic)), options_(options) {}

absl::StatusOr<std::unique_ptr<Subscription>> Subscription::Open(std::shared_ptr<TimerRpc> rpc,
                                                                 const std::string& ns,
                                                                 const std::string& topic,
                                                                 SubscribeOptions options) {
  std::unique_ptr<Subscription> sub(new Subscription(std::move(rpc), ns, topic, options));
  sub->stream_ = sub->rpc_->OpenSubscribe(&sub->context_);
  v1::SubscribeRequest start;
  start.mutable_start()->set_namespace_(ns);
  start.mutable_start()->set_topic(topic);
  if (options.max_outstanding > 0)
    start.mutable_start()->set_max_outstanding(options.max_outstanding);
  if (!sub->stream_->Write(start)) {
    // The call failed before it started (server unreachable, ...): its status says why.
    absl::Status status = FromGrpcStatus(sub->stream_->Finish());
    if (status.ok()) status = absl::UnavailableError("subscribe stream closed before it started");
    return status;
  }
  Subscription* raw = sub.get();
  sub->reader_ = std::thread([raw] { raw->ReadLoop(); });
  return sub;
}

Subscription::~Subscription() { Close(); }

void Subscription::ReadLoop() {
  v1::SubscribeResponse response;
  while (stream_->Read(&response)) {
    absl::MutexLock lock(&mu_);
    for (auto& fire : *response.mutable_fires()) fires_.push_back(std::move(fire));
    for (auto& result : *response.mutable_ack_results()) {
      ack_results_.push_back(std::move(result));
      if (ack_results_.size() > kMaxRetainedAckResults) ack_results_.pop_front();
    }
  }
  grpc::Status status;
  {
    absl::MutexLock lock(&write_mu_);
    writes_closed_ = true;
    status = stream_->Finish();
  }
  absl::MutexLock lock(&mu_);
  ended_ = true;
  final_status_ = status.ok() ? absl::UnavailableError("subscribe stream ended by the server")
                              : FromGrpcStatus(status);
}

absl::Status Subscription::EndStatus() const {
  if (closed_) return absl::CancelledError("subscription closed");
  return final_status_;
}

absl::StatusOr<std::optional<v1::Fire>> Subscription::Next(absl::Duration timeout) {
  std::optional<v1::Fire> fire;
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !fires_.empty() || ended_ || closed_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (closed_) return EndStatus();
    if (fires_.empty()) {
      if (ended_) return EndStatus();
      return std::optional<v1::Fire>();
    }
    fire = std::move(fires_.front());
    fires_.pop_front();
  }
  if (options_.auto_ack) {
    absl::Status status = Ack({fire->fire_id()});
    if (!status.ok()) return status;
  }
  return fire;
}

absl::Status Subscription::Write(const v1::SubscribeRequest& request) {
  absl::MutexLock lock(&write_mu_);
  if (writes_closed_ || !stream_->Write(request)) {
    return absl::UnavailableError("subscribe stream is closed");
  }
  return absl::OkStatus();
}

absl::Status Subscription::Ack(const std::vector<std::string>& fire_ids) {
  // Split so no message exceeds the server's per-message id limit.
  for (size_t i = 0; i < fire_ids.size(); i += limits::kMaxAckIdsPerMessage) {
    const size_t end = std::min(fire_ids.size(), i + limits::kMaxAckIdsPerMessage);
    v1::SubscribeRequest request;
    for (size_t j = i; j < end; ++j) request.mutable_ack()->add_fire_ids(fire_ids[j]);
    absl::Status status = Write(request);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status Subscription::Nack(const std::vector<std::string>& fire_ids,
                                std::optional<absl::Duration> delay) {
  for (size_t i = 0; i < fire_ids.size(); i += limits::kMaxAckIdsPerMessage) {
    const size_t end = std::min(fire_ids.size(), i + limits::kMaxAckIdsPerMessage);
    v1::SubscribeRequest request;
    for (size_t j = i; j < end; ++j) request.mutable_nack()->add_fire_ids(fire_ids[j]);
    if (delay.has_value()) *request.mutable_nack()->mutable_delay() = ToProtoDuration(*delay);
    absl::Status status = Write(request);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

std::vector<v1::AckResult> Subscription::TakeAckResults() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::AckResult> out(std::make_move_iterator(ack_results_.begin()),
                                 std::make_move_iterator(ack_results_.end()));
  ack_results_.clear();
  return out;
}

absl::StatusOr<v1::AckOutcome> Subscription::AwaitAckResult(const std::string& fire_id,
                                                            absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto find = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::find_if(ack_results_.begin(), ack_results_.end(),
                        [&](const v1::AckResult& r) { return r.fire_id() == fire_id; });
  };
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return find() != ack_results_.end() || ended_ || closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  auto it = find();
  if (it != ack_results_.end()) {
    v1::AckOutcome outcome = it->outcome();
    ack_results_.erase(it);
    return outcome;
  }
  if (ended_ || closed_) return EndStatus();
  return absl::DeadlineExceededError("no ack result for fire " + fire_id);
}

void Subscription::Close() {
  absl::MutexLock close_lock(&close_mu_);
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  context_.TryCancel();
  if (reader_.joinable()) reader_.join();
}

}  // namespace chime
