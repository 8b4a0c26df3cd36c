#include "client/after_func.h"

#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"

namespace chime {
namespace {

std::string RandomHex(absl::BitGen& gen) {
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

constexpr absl::Duration kMinReconnectBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxReconnectBackoff = absl::Seconds(5);
// Total time Shutdown spends cancelling timers whose callbacks died with the client.
constexpr absl::Duration kShutdownCancelBudget = absl::Seconds(2);

}  // namespace

TimerHandle::TimerHandle(std::shared_ptr<TimerRpc> rpc,
                         std::weak_ptr<AfterFuncDispatcher> dispatcher, std::string ns,
                         std::string timer_id)
    : rpc_(std::move(rpc)),
      dispatcher_(std::move(dispatcher)),
      ns_(std::move(ns)),
      timer_id_(std::move(timer_id)) {}

bool TimerHandle::Stop() {
  absl::StatusOr<bool> stopped = TryStop();
  return stopped.ok() && *stopped;
}

absl::StatusOr<bool> TimerHandle::TryStop() {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  v1::CancelTimerRequest request;
  request.set_namespace_(ns_);
  request.set_timer_id(timer_id_);
  absl::StatusOr<v1::Timer> cancelled = rpc_->CancelTimer(request);
  if (cancelled.ok()) {
    // The server cancels only a timer that has not fired, so the callback can never run.
    stopped_ = true;
    if (auto dispatcher = dispatcher_.lock()) dispatcher->Forget(timer_id_);
    return true;
  }
  // FAILED_PRECONDITION: it fired (or was cancelled) already. NOT_FOUND: it is gone.
  if (absl::IsFailedPrecondition(cancelled.status()) || absl::IsNotFound(cancelled.status())) {
    return false;
  }
  return cancelled.status();
}

AfterFuncDispatcher::AfterFuncDispatcher(std::shared_ptr<TimerRpc> rpc)
    : rpc_(std::move(rpc)), topic_([] {
        absl::BitGen gen;
        return absl::StrCat("afterfunc.", RandomHex(gen));
      }()) {}

AfterFuncDispatcher::~AfterFuncDispatcher() { Shutdown(); }

absl::StatusOr<std::unique_ptr<TimerHandle>> AfterFuncDispatcher::Schedule(
    absl::Duration delay, std::function<void()> fn) {
  std::string timer_id;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return absl::FailedPreconditionError("client is shutting down");
    if (!started_) {
      // Subscribe before the first timer exists, so its fire finds a subscriber.
      absl::StatusOr<std::unique_ptr<Subscription>> sub =
          Subscription::Open(rpc_, kNamespace, topic_, SubscribeOptions{});
      if (!sub.ok()) return sub.status();
      subscription_ = std::move(*sub);
      started_ = true;
      loop_ = std::thread([this] { DispatchLoop(); });
    }
    absl::BitGen gen;
    timer_id = absl::StrCat("af-", RandomHex(gen));
    // Registered before the create: the fire can arrive before CreateTimer returns.
    pending_[timer_id] = std::move(fn);
  }
  v1::CreateTimerRequest request;
  request.set_namespace_(kNamespace);
  request.set_timer_id(timer_id);
  *request.mutable_delay() = ToProtoDuration(std::max(delay, absl::ZeroDuration()));
  request.mutable_target()->set_topic(topic_);
  absl::StatusOr<v1::CreateTimerResponse> created = rpc_->CreateTimer(request);
  if (!created.ok()) {
    Forget(timer_id);
    return created.status();
  }
  return std::unique_ptr<TimerHandle>(
      new TimerHandle(rpc_, weak_from_this(), kNamespace, timer_id));
}

void AfterFuncDispatcher::Forget(const std::string& timer_id) {
  absl::MutexLock lock(&mu_);
  pending_.erase(timer_id);
}

void AfterFuncDispatcher::DispatchLoop() {
  absl::Duration backoff = kMinReconnectBackoff;
  while (true) {
    std::shared_ptr<Subscription> sub;
    {
      absl::MutexLock lock(&mu_);
      if (shutdown_) return;
      sub = subscription_;
    }
    if (sub == nullptr) {
      absl::StatusOr<std::unique_ptr<Subscription>> opened =
          Subscription::Open(rpc_, kNamespace, topic_, SubscribeOptions{});
      absl::MutexLock lock(&mu_);
      if (opened.ok()) {
        subscription_ = std::move(*opened);
        if (shutdown_) subscription_->Close();
        continue;
      }
    } else {
      absl::StatusOr<std::optional<v1::Fire>> next = sub->Next(absl::InfiniteDuration());
      if (next.ok()) {
        backoff = kMinReconnectBackoff;
        if (next->has_value()) HandleFire(sub, **next);
        continue;
      }
      absl::MutexLock lock(&mu_);
      if (subscription_ == sub) subscription_.reset();
    }
    // The stream broke (e.g. the server restarted): wait, then resubscribe. Fires not acked
    // are pending on the server and come again.
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&shutdown_), backoff);
    backoff = std::min(backoff * 2, kMaxReconnectBackoff);
  }
}

void AfterFuncDispatcher::HandleFire(const std::shared_ptr<Subscription>& sub,
                                     const v1::Fire& fire) {
  {
    absl::MutexLock lock(&mu_);
    ReapWorkersLocked();
    auto it = RememberFireLocked(fire.fire_id()) ? pending_.find(fire.timer_id()) : pending_.end();
    if (it != pending_.end()) {
      std::function<void()> fn = std::move(it->second);
      pending_.erase(it);
      // Each callback on its own thread, like a goroutine: a slow callback delays no other.
      Worker& worker = workers_.emplace_back();
      worker.thread =
          std::thread([this, sub, fn = std::move(fn), fire_id = fire.fire_id(), &worker] {
            fn();
            // Acked after the callback returned; if the ack is lost (the stream broke), the
            // redelivery is only acked.
            sub->Ack({fire_id}).IgnoreError();
            absl::MutexLock lock(&mu_);
            worker.done = true;  // the list element outlives the thread: it is joined before erase
          });
      return;
    }
  }
  // A redelivery of a fire whose callback already ran (or of an unknown timer): ack only.
  sub->Ack({fire.fire_id()}).IgnoreError();
}

bool AfterFuncDispatcher::RememberFireLocked(const std::string& fire_id) {
  if (!handled_fires_.insert(fire_id).second) return false;
  handled_order_.push_back(fire_id);
  if (handled_order_.size() > kMaxRememberedFires) {
    handled_fires_.erase(handled_order_.front());
    handled_order_.pop_front();
  }
  return true;
}

void AfterFuncDispatcher::ReapWorkersLocked() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void AfterFuncDispatcher::Shutdown() {
  std::shared_ptr<Subscription> sub;
  std::vector<std::string> orphaned;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
    sub = subscription_;
    for (const auto& [timer_id, fn] : pending_) orphaned.push_back(timer_id);
    pending_.clear();
  }
  if (sub != nullptr) sub->Close();  // wakes DispatchLoop's Next()
  if (loop_.joinable()) loop_.join();
  std::list<Worker> workers;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
  }
  // Running callbacks finish (their acks may fail; the fires then stay pending, harmlessly).
  for (Worker& worker : workers) worker.thread.join();
  {
    absl::MutexLock lock(&mu_);
    if (subscription_ != nullptr) subscription_->Close();
    subscription_.reset();
  }
  // Callbacks die with the client, so their timers would fire into a topic nobody reads.
  const absl::Time give_up = absl::Now() + kShutdownCancelBudget;
  for (const std::string& timer_id : orphaned) {
    const absl::Duration left = give_up - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    v1::CancelTimerRequest request;
    request.set_namespace_(kNamespace);
    request.set_timer_id(timer_id);
    absl::Status status = rpc_->CancelTimerWithin(request, left).status();
    if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) break;
  }
}

}  // namespace chime
