#include "tests/bench/floor/floor_subscribe_reactor.h"

#include <utility>

namespace chime::floor {
namespace {

constexpr size_t kMaxResponseBytes = size_t{1} << 20;  // as chimed's
constexpr int64_t kDefaultMaxOutstanding = 100;        // as the API's

}  // namespace

grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>* FloorSubscribeReactor::Start(
    FloorFires* fires) {
  auto reactor = std::make_shared<FloorSubscribeReactor>(fires);
  {
    absl::MutexLock lock(&reactor->mu_);
    reactor->self_ = reactor;
  }
  reactor->StartRead(&reactor->request_);
  return reactor.get();
}

void FloorSubscribeReactor::OnReadDone(bool ok) {
  if (!ok) {
    BeginFinish(grpc::Status::OK);
    return;
  }
  if (Handle(request_)) StartRead(&request_);
}

bool FloorSubscribeReactor::Handle(const v1::SubscribeRequest& request) {
  std::optional<int64_t> id;
  {
    absl::MutexLock lock(&mu_);
    if (finishing_ || done_) return false;
    id = id_;
  }
  if (!id.has_value()) {
    if (request.kind_case() != v1::SubscribeRequest::kStart || request.start().topic().empty()) {
      BeginFinish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "the first message must be start, with a topic"));
      return false;
    }
    const int64_t max_outstanding = request.start().max_outstanding() > 0
                                        ? request.start().max_outstanding()
                                        : kDefaultMaxOutstanding;
    const int64_t subscribed =
        fires_->Subscribe(request.start().topic(), max_outstanding, shared_from_this());
    bool finishing = false;
    {
      absl::MutexLock lock(&mu_);
      id_ = subscribed;
      finishing = finishing_;
    }
    // Cancelled while subscribing: BeginFinish saw no id, so unsubscribe here.
    if (finishing) fires_->Unsubscribe(subscribed);
    return !finishing;
  }
  if (request.kind_case() != v1::SubscribeRequest::kAck) {
    BeginFinish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                             "chime-floor-server takes acks only after start"));
    return false;
  }
  fires_->Ack(*id, request.ack());
  return true;
}

void FloorSubscribeReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    response_.Clear();
  }
  if (!ok) BeginFinish(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
  Pump();
}

void FloorSubscribeReactor::OnCancel() {
  BeginFinish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
}

void FloorSubscribeReactor::OnDone() {
  std::optional<int64_t> id;
  std::shared_ptr<FloorSubscribeReactor> self;
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
    id = id_;
    self = std::move(self_);
  }
  if (id.has_value()) fires_->Unsubscribe(*id);
}

void FloorSubscribeReactor::SendFires(std::vector<v1::Fire> fires) {
  {
    absl::MutexLock lock(&mu_);
    if (finishing_ || done_) return;  // Unsubscribe has put them back
    for (v1::Fire& fire : fires) outbox_.push_back(std::move(fire));
  }
  Pump();
}

void FloorSubscribeReactor::SendAckResults(std::vector<v1::AckResult> results) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || done_) return;
    for (v1::AckResult& result : results) results_.push_back(std::move(result));
  }
  Pump();
}

void FloorSubscribeReactor::BeginFinish(const grpc::Status& status) {
  std::optional<int64_t> id;
  {
    absl::MutexLock lock(&mu_);
    if (finishing_ || done_) return;
    finishing_ = true;
    finish_status_ = status;
    id = id_;
    outbox_.clear();
  }
  // Before finishing, so the fires this stream holds go to other subscribers at once.
  if (id.has_value()) fires_->Unsubscribe(*id);
  Pump();
}

void FloorSubscribeReactor::Pump() {
  // gRPC operations start outside mu_: a reaction may run inline.
  v1::SubscribeResponse* to_write = nullptr;
  std::optional<grpc::Status> to_finish;
  {
    absl::MutexLock lock(&mu_);
    if (done_ || finished_ || write_in_flight_) return;
    if (!results_.empty() || (!finishing_ && !outbox_.empty())) {
      size_t bytes = 0;
      while (!results_.empty() && bytes < kMaxResponseBytes) {
        bytes += results_.front().ByteSizeLong() + 4;
        *response_.add_ack_results() = std::move(results_.front());
        results_.pop_front();
      }
      while (!outbox_.empty()) {
        const size_t size = outbox_.front().ByteSizeLong() + 8;
        if (bytes > 0 && bytes + size > kMaxResponseBytes) break;
        bytes += size;
        *response_.add_fires() = std::move(outbox_.front());
        outbox_.pop_front();
      }
      write_in_flight_ = true;
      to_write = &response_;
    } else if (finishing_) {
      finished_ = true;
      to_finish = finish_status_;
    }
  }
  if (to_write != nullptr) StartWrite(to_write);
  if (to_finish.has_value()) Finish(*to_finish);
}

}  // namespace chime::floor
