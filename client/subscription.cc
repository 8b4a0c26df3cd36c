#include "client/subscription.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "client/grpc_status.h"
#include "client/reconnect_backoff.h"
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
  if (options.reconnect.enabled) {
    if (absl::Status s = ValidateReconnectOptions(options.reconnect); !s.ok()) return s;
  }
  std::unique_ptr<Subscription> sub(new Subscription(std::move(rpc), ns, topic, options));
  // The first attempt is synchronous so a wrong address or a down server shows at once.
  if (absl::Status s = sub->Connect(); !s.ok()) return s;
  Subscription* raw = sub.get();
  sub->reader_ = std::thread([raw] { raw->ReadLoop(); });
  return sub;
}

Subscription::~Subscription() { Close(); }

absl::Status Subscription::Connect() {
  auto context = std::make_unique<grpc::ClientContext>();
  std::unique_ptr<TimerRpc::SubscribeStream> stream;
  {
    absl::MutexLock ctx_lock(&ctx_mu_);
    {
      // Checked under ctx_mu_: a Close() after this point cancels the context installed here.
      absl::MutexLock lock(&mu_);
      if (closed_) return absl::CancelledError("subscription closed");
    }
    stream = rpc_->OpenSubscribe(context.get());
    context_ = std::move(context);
  }
  v1::SubscribeRequest start;
  start.mutable_start()->set_namespace_(ns_);
  start.mutable_start()->set_topic(topic_);
  if (options_.max_outstanding > 0) {
    start.mutable_start()->set_max_outstanding(options_.max_outstanding);
  }
  absl::Status status;
  {
    absl::MutexLock lock(&write_mu_);
    stream_ = std::move(stream);
    writes_closed_ = false;
    if (stream_->Write(start)) {
      absl::MutexLock state_lock(&mu_);
      connected_ = true;
      return absl::OkStatus();
    }
    // The call failed before it started (server unreachable, ...): its status says why.
    writes_closed_ = true;
    status = FromGrpcStatus(stream_->Finish());
    stream_.reset();
  }
  {
    absl::MutexLock ctx_lock(&ctx_mu_);
    context_.reset();
  }
  if (status.ok()) status = absl::UnavailableError("subscribe stream closed before it started");
  return status;
}

bool Subscription::ReadStream() {
  TimerRpc::SubscribeStream* stream;
  {
    absl::MutexLock lock(&write_mu_);
    stream = stream_.get();
  }
  bool any = false;
  v1::SubscribeResponse response;
  while (stream->Read(&response)) {
    any = true;
    absl::MutexLock lock(&mu_);
    for (auto& fire : *response.mutable_fires()) fires_.push_back(std::move(fire));
    for (auto& result : *response.mutable_ack_results()) {
      ack_results_.push_back(std::move(result));
      if (ack_results_.size() > kMaxRetainedAckResults) ack_results_.pop_front();
    }
  }
  return any;
}

absl::Status Subscription::FinishStream() {
  grpc::Status status;
  {
    absl::MutexLock lock(&write_mu_);
    writes_closed_ = true;
    status = stream_->Finish();
    stream_.reset();  // before its context
  }
  {
    absl::MutexLock ctx_lock(&ctx_mu_);
    context_.reset();
  }
  {
    absl::MutexLock lock(&mu_);
    connected_ = false;
    ++stream_generation_;
  }
  return status.ok() ? absl::UnavailableError("subscribe stream ended by the server")
                     : FromGrpcStatus(status);
}

void Subscription::End(absl::Status status) {
  absl::MutexLock lock(&mu_);
  ended_ = true;
  final_status_ = std::move(status);
}

void Subscription::ReadLoop() {
  ReconnectBackoff backoff(options_.reconnect);
  while (true) {
    const absl::Time opened = absl::Now();
    const bool got_responses = ReadStream();
    absl::Status status = FinishStream();
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {
        ended_ = true;
        return;
      }
    }
    if (!options_.reconnect.enabled || !IsRetryableStreamEnd(status)) return End(status);
    // A stream that worked for a while starts the backoff over; one that dies at once (a
    // server shutting down, a crash loop) keeps growing it.
    if (got_responses || absl::Now() - opened >= options_.reconnect.max_backoff) backoff.Reset();
    while (true) {
      if (backoff.Exhausted()) return End(status);
      if (!WaitBeforeReconnect(absl::Now() + backoff.NextDelay())) {
        absl::MutexLock lock(&mu_);
        ended_ = true;
        return;
      }
      status = Connect();
      if (status.ok()) break;
      if (absl::IsCancelled(status)) {  // Close() meanwhile
        absl::MutexLock lock(&mu_);
        if (closed_) {
          ended_ = true;
          return;
        }
      }
      if (!IsRetryableStreamEnd(status)) return End(status);
    }
    absl::MutexLock lock(&mu_);
    ++reconnects_;
  }
}

bool Subscription::WaitBeforeReconnect(absl::Time until) {
  // Short slices keep Close() prompt while the channel is polled towards a connection.
  constexpr absl::Duration kSlice = absl::Milliseconds(50);
  while (true) {
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return false;
      if (now >= until) return true;
    }
    if (rpc_->AwaitConnected(std::min(until, now + kSlice))) {
      // Connected: the rest of the backoff is an ordinary wait (a server that ends streams at
      // once must not be hammered).
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&closed_), until - absl::Now());
      return !closed_;
    }
  }
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
    // While reconnecting the ack is dropped and the fire comes again: not the caller's error.
    if (!status.ok() && !absl::IsUnavailable(status)) return status;
  }
  return fire;
}

absl::Status Subscription::Write(const v1::SubscribeRequest& request) {
  absl::MutexLock lock(&write_mu_);
  if (writes_closed_ || stream_ == nullptr || !stream_->Write(request)) {
    return absl::UnavailableError(
        "subscribe stream is not connected; the request was dropped (unacked fires are "
        "redelivered)");
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
  const int64_t generation = stream_generation_;
  auto find = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::find_if(ack_results_.begin(), ack_results_.end(),
                        [&](const v1::AckResult& r) { return r.fire_id() == fire_id; });
  };
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return find() != ack_results_.end() || ended_ || closed_ || stream_generation_ != generation;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  auto it = find();
  if (it != ack_results_.end()) {
    v1::AckOutcome outcome = it->outcome();
    ack_results_.erase(it);
    return outcome;
  }
  if (ended_ || closed_) return EndStatus();
  if (stream_generation_ != generation) {
    return absl::UnavailableError("subscribe stream broke before the server confirmed " + fire_id +
                                  "; ack it again");
  }
  return absl::DeadlineExceededError("no ack result for fire " + fire_id);
}

absl::StatusOr<v1::AckOutcome> Subscription::AckAndWait(const std::string& fire_id,
                                                        absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no ack result for fire " + fire_id);
  while (true) {
    int64_t seen;
    {
      absl::MutexLock lock(&mu_);
      if (ended_ || closed_) return EndStatus();
      seen = reconnects_;
    }
    if (absl::Status s = Ack({fire_id}); s.ok()) {
      absl::StatusOr<v1::AckOutcome> outcome = AwaitAckResult(fire_id, give_up - absl::Now());
      if (outcome.ok() || !absl::IsUnavailable(outcome.status())) return outcome;
      last = outcome.status();
    } else {
      last = s;
    }
    // The stream is down or broke before confirming: ack again once a new one is up.
    if (!AwaitReconnect(seen, give_up - absl::Now())) {
      absl::MutexLock lock(&mu_);
      if (ended_ || closed_) return EndStatus();
      return absl::DeadlineExceededError("no ack result for fire " + fire_id + " (" +
                                         std::string(last.message()) + ")");
    }
  }
}

int64_t Subscription::reconnects() const {
  absl::MutexLock lock(&mu_);
  return reconnects_;
}

bool Subscription::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

bool Subscription::AwaitReconnect(int64_t seen, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return reconnects_ > seen || ended_ || closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return reconnects_ > seen;
}

void Subscription::Close() {
  absl::MutexLock close_lock(&close_mu_);
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  {
    absl::MutexLock ctx_lock(&ctx_mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
  if (reader_.joinable()) reader_.join();
}

}  // namespace chime
