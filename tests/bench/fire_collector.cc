#include "tests/bench/fire_collector.h"

#include "absl/time/clock.h"
#include "common/proto_time.h"

namespace chime::bench {

FireCollector::FireCollector(std::shared_ptr<grpc::Channel> channel, std::string topic,
                             int subscribers, int max_outstanding, int64_t expected)
    : channel_(std::move(channel)),
      stub_(chime::v1::TimerService::NewStub(channel_)),
      topic_(std::move(topic)),
      max_outstanding_(max_outstanding),
      expected_(expected) {
  lateness_ms_.reserve(static_cast<size_t>(expected));
  dispatch_ms_.reserve(static_cast<size_t>(expected));
  seen_.reserve(static_cast<size_t>(expected));
  for (int i = 0; i < subscribers; ++i)
    contexts_.push_back(std::make_unique<grpc::ClientContext>());
}

FireCollector::~FireCollector() { Stop(); }

void FireCollector::Start() {
  for (size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([this, i] { ReadLoop(static_cast<int>(i)); });
  }
  absl::MutexLock lock(&mu_);
  auto all = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return started_ == static_cast<int>(contexts_.size());
  };
  mu_.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(30));
}

void FireCollector::ReadLoop(int i) {
  auto stream = stub_->Subscribe(contexts_[i].get());
  chime::v1::SubscribeRequest start;
  start.mutable_start()->set_topic(topic_);
  start.mutable_start()->set_max_outstanding(max_outstanding_);
  const bool wrote = stream->Write(start);
  {
    absl::MutexLock lock(&mu_);
    ++started_;
  }
  if (!wrote) return;
  chime::v1::SubscribeResponse resp;
  while (stream->Read(&resp)) {
    const absl::Time received = absl::Now();
    chime::v1::SubscribeRequest ack;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& f : resp.fires()) {
        if (!seen_.insert(f.fire_id()).second) {
          ++duplicates_;
        } else {
          const double late = absl::ToDoubleMilliseconds(received - FromProto(f.scheduled_time()));
          lateness_ms_.push_back(late);
          const double dispatch =
              absl::ToDoubleMilliseconds(FromProto(f.fire_time()) - FromProto(f.scheduled_time()));
          dispatch_ms_.push_back(dispatch);
          if (receipts_.size() < 100000) receipts_.push_back(Receipt{received, late, dispatch});
        }
        ack.mutable_ack()->add_fire_ids(f.fire_id());
      }
      if (resp.fires_size() > 0) {
        first_ = std::min(first_, received);
        last_ = std::max(last_, received);
      }
    }
    if (ack.has_ack() && !stream->Write(ack)) break;
  }
  stream->Finish().ok();
}

bool FireCollector::WaitAll(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int64_t>(seen_.size()) >= expected_;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
}

void FireCollector::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& c : contexts_) c->TryCancel();
  for (auto& t : threads_) t.join();
}

int64_t FireCollector::distinct() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(seen_.size());
}
int64_t FireCollector::duplicates() const {
  absl::MutexLock lock(&mu_);
  return duplicates_;
}
absl::Time FireCollector::first_receipt() const {
  absl::MutexLock lock(&mu_);
  return first_;
}
absl::Time FireCollector::last_receipt() const {
  absl::MutexLock lock(&mu_);
  return last_;
}
absl::Time FireCollector::first_on_time(absl::Duration on_time) const {
  absl::MutexLock lock(&mu_);
  for (const Receipt& r : receipts_) {
    if (r.lateness_ms <= absl::ToDoubleMilliseconds(on_time)) return r.received;
  }
  return absl::InfiniteFuture();
}

}  // namespace chime::bench
