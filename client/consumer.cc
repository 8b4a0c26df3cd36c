#include "client/consumer.h"

#include "absl/strings/str_cat.h"

namespace chime {

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Start(std::shared_ptr<TimerRpc> rpc,
                                                          const std::string& ns,
                                                          const std::string& topic,
                                                          ConsumeOptions options,
                                                          FireHandler handler) {
  if (!handler) return absl::InvalidArgumentError("Consume: handler is empty");
  if (options.parallelism < 1 || options.parallelism > kMaxConsumeParallelism) {
    return absl::InvalidArgumentError(absl::StrCat("parallelism is ", options.parallelism,
                                                   ", must be 1..", kMaxConsumeParallelism));
  }
  if (options.nack_delay.has_value() && *options.nack_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "nack_delay is ", absl::FormatDuration(*options.nack_delay), ", must not be negative"));
  }
  options.subscribe.auto_ack = false;
  absl::StatusOr<std::unique_ptr<Subscription>> sub =
      Subscription::Open(std::move(rpc), ns, topic, options.subscribe);
  if (!sub.ok()) return sub.status();
  std::unique_ptr<Consumer> consumer(
      new Consumer(std::move(*sub), std::move(options), std::move(handler)));
  for (int i = 0; i < consumer->options_.parallelism; ++i) {
    consumer->workers_.emplace_back([c = consumer.get()] { c->Work(); });
  }
  return consumer;
}

Consumer::Consumer(std::unique_ptr<Subscription> sub, ConsumeOptions options, FireHandler handler)
    : sub_(std::move(sub)), options_(std::move(options)), handler_(std::move(handler)) {}

Consumer::~Consumer() { Stop(); }

void Consumer::Work() {
  while (true) {
    absl::StatusOr<std::optional<v1::Fire>> next = sub_->Next(absl::InfiniteDuration());
    if (!next.ok()) {
      absl::MutexLock lock(&mu_);
      if (!stopping_ && end_status_.ok()) end_status_ = next.status();
      ++exited_;
      return;
    }
    if (!next->has_value()) continue;
    const v1::Fire& fire = **next;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        // Taken after Stop began: hand it back now rather than after its ack deadline.
        sub_->Nack({fire.fire_id()}, absl::ZeroDuration()).IgnoreError();
        continue;
      }
      ++running_;
    }
    const absl::Status handled = handler_(fire);
    // A failed write means the stream is down: the fire is redelivered, as if unanswered.
    const absl::Status written = handled.ok() ? sub_->Ack({fire.fire_id()})
                                              : sub_->Nack({fire.fire_id()}, options_.nack_delay);
    absl::MutexLock lock(&mu_);
    --running_;
    if (written.ok()) ++(handled.ok() ? acked_ : nacked_);
  }
}

void Consumer::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  if (joined_) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // Running handlers finish and write their acks before the stream goes.
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
    mu_.Await(absl::Condition(&idle));
  }
  sub_->Close();  // wakes the workers blocked in Next()
  for (std::thread& worker : workers_) worker.join();
  joined_ = true;
}

absl::Status Consumer::Wait() {
  absl::MutexLock lock(&mu_);
  auto over = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return exited_ == static_cast<int>(workers_.size());
  };
  mu_.Await(absl::Condition(&over));
  return end_status_;
}

int64_t Consumer::acked() const {
  absl::MutexLock lock(&mu_);
  return acked_;
}

int64_t Consumer::nacked() const {
  absl::MutexLock lock(&mu_);
  return nacked_;
}

}  // namespace chime
