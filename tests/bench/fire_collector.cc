#include "tests/bench/fire_collector.h"

#include <google/protobuf/arena.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "common/proto_time.h"

namespace chime::bench {
namespace {

// Holds a message of a few thousand fires without another block.
constexpr size_t kArenaBlockBytes = size_t{1} << 20;
// How far ahead of its insert a fire id's place in the seen set is loaded.
constexpr int kSeenPrefetchAhead = 8;

}  // namespace

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
  // Each message is parsed into the arena, acked from it, and dropped with one Reset: no
  // malloc and free per field of every fire. The block is reused; larger messages add blocks.
  std::vector<char> block(kArenaBlockBytes);
  google::protobuf::Arena arena(block.data(), block.size());
  std::vector<std::pair<double, double>> timings;  // per fire: lateness, dispatch (ms)
  while (true) {
    auto* resp = google::protobuf::Arena::CreateMessage<chime::v1::SubscribeResponse>(&arena);
    if (!stream->Read(resp)) break;
    const absl::Time received = absl::Now();
    // Computed before taking the lock the streams share.
    timings.clear();
    int64_t acked = 0;
    for (const auto& r : resp->ack_results()) acked += r.outcome() == v1::ACK_OUTCOME_ACKED;
    for (const auto& f : resp->fires()) {
      timings.emplace_back(
          absl::ToDoubleMilliseconds(received - FromProto(f.scheduled_time())),
          absl::ToDoubleMilliseconds(FromProto(f.fire_time()) - FromProto(f.scheduled_time())));
    }
    {
      absl::MutexLock lock(&mu_);
      // A herd's million ids do not fit in the caches: each insert missed on its slot, a fifth
      // of this process's CPU. Looking the next ones up ahead overlaps those misses.
      const int n = resp->fires_size();
      for (int k = 0; k < std::min(n, kSeenPrefetchAhead); ++k)
        seen_.prefetch(resp->fires(k).fire_id());
      for (int k = 0; k < n; ++k) {
        if (k + kSeenPrefetchAhead < n)
          seen_.prefetch(resp->fires(k + kSeenPrefetchAhead).fire_id());
        if (!seen_.insert(resp->fires(k).fire_id()).second) {
          ++duplicates_;
          continue;
        }
        const auto [late, dispatch] = timings[static_cast<size_t>(k)];
        lateness_ms_.push_back(late);
        dispatch_ms_.push_back(dispatch);
        if (receipts_.size() < 100000) receipts_.push_back(Receipt{received, late, dispatch});
      }
      if (acked > 0) {
        acked_ += acked;
        last_acked_ = received;
      }
      if (resp->fires_size() > 0) {
        first_ = std::min(first_, received);
        last_ = std::max(last_, received);
      }
    }
    if (resp->fires_size() > 0) {
      auto* ack = google::protobuf::Arena::CreateMessage<chime::v1::SubscribeRequest>(&arena);
      for (const auto& f : resp->fires()) ack->mutable_ack()->add_fire_ids(f.fire_id());
      if (!stream->Write(*ack)) break;
    }
    arena.Reset();
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

bool FireCollector::WaitAllAcked(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return acked_ >= expected_; };
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
absl::Time FireCollector::last_ack_result() const {
  absl::MutexLock lock(&mu_);
  return last_acked_;
}
absl::Time FireCollector::first_on_time(absl::Duration on_time) const {
  absl::MutexLock lock(&mu_);
  for (const Receipt& r : receipts_) {
    if (r.lateness_ms <= absl::ToDoubleMilliseconds(on_time)) return r.received;
  }
  return absl::InfiniteFuture();
}

}  // namespace chime::bench
