#include "server/delivery/subscribe_reactor.h"

#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "common/limits.h"
#include "server/api/status_convert.h"
#include "server/api/validation.h"

namespace chime::delivery {
namespace {

// Reads pause while this many ack outcomes wait to be written.
constexpr size_t kMaxUnansweredAcks = limits::kMaxAckIdsPerMessage;

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Appends `bytes` as the length-delimited field `field` of a message (protobuf wire format).
void AppendField(int field, absl::string_view bytes, std::string* out) {
  AppendVarint((static_cast<uint64_t>(field) << 3) | 2, out);
  AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

// A ByteBuffer that owns `bytes` without copying them.
grpc::ByteBuffer OwningByteBuffer(std::string bytes) {
  auto* owned = new std::string(std::move(bytes));
  grpc::Slice slice(
      owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); }, owned);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* SubscribeReactor::Start(
    DeliveryManager* manager) {
  auto reactor = std::make_shared<SubscribeReactor>(manager);
  {
    absl::MutexLock lock(&reactor->mu_);
    reactor->self_ = reactor;
  }
  reactor->StartRead(&reactor->request_);
  return reactor.get();
}

SubscribeReactor::SubscribeReactor(DeliveryManager* manager) : manager_(manager) {}

void SubscribeReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The client half-closed or the call is over. After start that is the end of a
    // subscription; before it, the stream never became one.
    bool started = false;
    {
      absl::MutexLock lock(&mu_);
      started = id_.has_value();
    }
    BeginFinish(started ? grpc::Status::OK
                        : grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                       "first message must be start (the stream ended first)"));
    return;
  }
  v1::SubscribeRequest request;
  if (!grpc::SerializationTraits<v1::SubscribeRequest>::Deserialize(&request_, &request).ok()) {
    BeginFinish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a SubscribeRequest could not be parsed"));
    return;
  }
  if (!Handle(request)) return;
  {
    absl::MutexLock lock(&mu_);
    if (finishing_ || done_) return;
    if (unanswered_acks_ >= kMaxUnansweredAcks) {
      read_paused_ = true;  // OnWriteDone resumes once outcomes drain
      return;
    }
  }
  StartRead(&request_);
}

bool SubscribeReactor::Handle(const v1::SubscribeRequest& request) {
  std::optional<SubscriberId> id;
  {
    absl::MutexLock lock(&mu_);
    id = id_;
  }
  if (!id.has_value()) {
    if (request.kind_case() != v1::SubscribeRequest::kStart) {
      BeginFinish(
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "first message must be start"));
      return false;
    }
    absl::StatusOr<api::SubscribeParams> params = api::ValidateSubscribeStart(request.start());
    if (!params.ok()) {
      BeginFinish(api::ToGrpcStatus(params.status()));
      return false;
    }
    absl::StatusOr<SubscriberId> subscribed =
        manager_->Subscribe(params->ns, params->topic, params->max_outstanding, shared_from_this());
    if (!subscribed.ok()) {
      BeginFinish(api::ToGrpcStatus(subscribed.status()));
      return false;
    }
    bool finishing = false;
    {
      absl::MutexLock lock(&mu_);
      id_ = *subscribed;
      finishing = finishing_;
    }
    // Cancelled while subscribing: BeginFinish saw no id, so unsubscribe here.
    if (finishing) manager_->Unsubscribe(*subscribed);
    return !finishing;
  }
  switch (request.kind_case()) {
    case v1::SubscribeRequest::kStart:
      BeginFinish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                               "start may be sent only once per stream"));
      return false;
    case v1::SubscribeRequest::kAck: {
      if (absl::Status s = api::ValidateAck(request.ack()); !s.ok()) {
        BeginFinish(api::ToGrpcStatus(s));
        return false;
      }
      {
        absl::MutexLock lock(&mu_);
        unanswered_acks_ += request.ack().fire_ids_size();
      }
      manager_->Ack(*id, {request.ack().fire_ids().begin(), request.ack().fire_ids().end()});
      return true;
    }
    case v1::SubscribeRequest::kNack: {
      absl::StatusOr<std::optional<absl::Duration>> delay = api::ValidateNack(request.nack());
      if (!delay.ok()) {
        BeginFinish(api::ToGrpcStatus(delay.status()));
        return false;
      }
      {
        absl::MutexLock lock(&mu_);
        unanswered_acks_ += request.nack().fire_ids_size();
      }
      manager_->Nack(*id, {request.nack().fire_ids().begin(), request.nack().fire_ids().end()},
                     *delay);
      return true;
    }
    case v1::SubscribeRequest::KIND_NOT_SET:
      break;
  }
  BeginFinish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           "SubscribeRequest carries none of start, ack or nack"));
  return false;
}

void SubscribeReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    response_.Clear();
  }
  if (!ok) BeginFinish(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
  MaybeResumeReading();
  Pump();
}

void SubscribeReactor::OnCancel() {
  BeginFinish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
}

void SubscribeReactor::OnDone() {
  std::optional<SubscriberId> id;
  std::shared_ptr<SubscribeReactor> self;
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
    id = id_;
    self = std::move(self_);
  }
  if (id.has_value()) manager_->Unsubscribe(*id);
  // `self` may hold the last reference: nothing touches members after this point.
}

void SubscribeReactor::SendFires(std::vector<v1::Fire> fires) {
  std::vector<std::string> wire(fires.size());
  for (size_t i = 0; i < fires.size(); ++i) fires[i].SerializeToString(&wire[i]);
  SendWireFires(std::move(wire));
}

void SubscribeReactor::SendWireFires(std::vector<std::string> fires) {
  {
    absl::MutexLock lock(&mu_);
    // Finishing: the manager has taken these back (Unsubscribe returns in-flight fires).
    if (finishing_ || done_) return;
    for (std::string& f : fires) fires_.push_back(std::move(f));
  }
  Pump();
}

void SubscribeReactor::SendAckResults(std::vector<v1::AckResult> results) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || done_) return;
    for (v1::AckResult& r : results) results_.push_back(std::move(r));
  }
  Pump();
}

void SubscribeReactor::Close(const absl::Status& status) { BeginFinish(api::ToGrpcStatus(status)); }

void SubscribeReactor::BeginFinish(const grpc::Status& status) {
  std::optional<SubscriberId> id;
  {
    absl::MutexLock lock(&mu_);
    if (finishing_ || done_) return;
    finishing_ = true;
    finish_status_ = status;
    id = id_;
    fires_.clear();
  }
  // Before finishing, so the fires this stream holds go to other subscribers at once.
  if (id.has_value()) manager_->Unsubscribe(*id);
  Pump();
}

void SubscribeReactor::Pump() {
  // gRPC operations are started outside mu_: a reaction may run inline.
  grpc::ByteBuffer* to_write = nullptr;
  std::optional<grpc::Status> to_finish;
  {
    absl::MutexLock lock(&mu_);
    if (done_ || finished_ || write_in_flight_) return;
    if (!results_.empty() || (!finishing_ && !fires_.empty())) {
      // A SubscribeResponse: outcomes first (they are small and unblock the client), then
      // fires up to the size cap.
      std::string bytes;
      std::string result;
      size_t written = 0;
      while (!results_.empty() && bytes.size() < kMaxResponseBytes) {
        results_.front().SerializeToString(&result);
        AppendField(v1::SubscribeResponse::kAckResultsFieldNumber, result, &bytes);
        results_.pop_front();
        ++written;
      }
      unanswered_acks_ -= std::min(unanswered_acks_, written);
      while (!fires_.empty()) {
        const size_t size = fires_.front().size() + 8;
        if (!bytes.empty() && bytes.size() + size > kMaxResponseBytes) break;
        AppendField(v1::SubscribeResponse::kFiresFieldNumber, fires_.front(), &bytes);
        fires_.pop_front();
      }
      response_ = OwningByteBuffer(std::move(bytes));
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

void SubscribeReactor::MaybeResumeReading() {
  {
    absl::MutexLock lock(&mu_);
    if (!read_paused_ || finishing_ || done_ || unanswered_acks_ >= kMaxUnansweredAcks) return;
    read_paused_ = false;
  }
  StartRead(&request_);
}

}  // namespace chime::delivery
