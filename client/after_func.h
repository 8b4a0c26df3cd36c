// AfterFunc support: Go's time.AfterFunc over chime. Each call creates a one-shot timer on a
// topic private to the client; a background subscription on that topic runs the callback on a
// thread of its own when the fire arrives, then acks the fire.
//
//   ASSIGN_OR_RETURN(auto handle, client->AfterFunc(absl::Seconds(5), [] { Remind(); }));
//   if (handle->Stop()) { /* stopped before it fired: Remind() will not run */ }
//
// Internal to the client library apart from TimerHandle, which Client::AfterFunc returns.
#ifndef CHIME_CLIENT_AFTER_FUNC_H_
#define CHIME_CLIENT_AFTER_FUNC_H_

#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"
#include "client/subscription.h"
#include "client/timer_rpc.h"

namespace chime {

class AfterFuncDispatcher;

// A timer created by Client::AfterFunc. May outlive the Client (Stop then only cancels).
// Thread-safe.
class TimerHandle {
 public:
  // Cancels the timer. Returns true if this call stopped the timer before it fired (the
  // callback will not run); false if the timer already fired (the callback runs or ran), was
  // already stopped, or the cancel could not be confirmed (see TryStop).
  bool Stop();
  // Like Stop, but a failed cancel RPC (e.g. UNAVAILABLE) is an error rather than false.
  absl::StatusOr<bool> TryStop();

  const std::string& ns() const { return ns_; }
  const std::string& timer_id() const { return timer_id_; }

 private:
  friend class AfterFuncDispatcher;
  TimerHandle(std::shared_ptr<TimerRpc> rpc, std::weak_ptr<AfterFuncDispatcher> dispatcher,
              std::string ns, std::string timer_id);

  const std::shared_ptr<TimerRpc> rpc_;
  const std::weak_ptr<AfterFuncDispatcher> dispatcher_;
  const std::string ns_;
  const std::string timer_id_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// Owns the private topic, its (reconnecting) subscription and the callbacks of timers not yet
// fired. A callback runs once per fire: the first delivery of a fire claims the callback
// (removing it from the pending map) and records its fire_id; redeliveries of that fire (same
// fire_id, e.g. after a server restart lost the ack) are only acked. The remembered fire ids
// are bounded (kMaxRememberedFires, oldest forgotten first); a redelivery older than that still
// finds no callback to claim, since a one-shot timer's callback is claimed only once.
// Thread-safe.
class AfterFuncDispatcher : public std::enable_shared_from_this<AfterFuncDispatcher> {
 public:
  static constexpr char kNamespace[] = "default";
  static constexpr size_t kMaxRememberedFires = 10000;

  explicit AfterFuncDispatcher(std::shared_ptr<TimerRpc> rpc);
  ~AfterFuncDispatcher();  // Shutdown()

  // Creates the timer; opens the subscription first if it is not running.
  absl::StatusOr<std::unique_ptr<TimerHandle>> Schedule(absl::Duration delay,
                                                        std::function<void()> fn);

  // Stops the subscription, waits for running callbacks to return, and cancels (best effort,
  // bounded) the timers whose callbacks can no longer run. Idempotent.
  void Shutdown();

  const std::string& topic() const { return topic_; }

 private:
  friend class TimerHandle;

  // Drops the callback of a timer that was cancelled.
  void Forget(const std::string& timer_id);
  // Reads fires until Shutdown. The subscription reconnects by itself; if it ends for good
  // (e.g. reconnecting gave up) it is reopened with backoff.
  void DispatchLoop();
  void HandleFire(const std::shared_ptr<Subscription>& sub, const v1::Fire& fire);
  // Records `fire_id` as handled; false if it was already.
  bool RememberFireLocked(const std::string& fire_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Joins callback threads that have finished.
  void ReapWorkersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Worker {
    std::thread thread;
    bool done = false;
  };

  const std::shared_ptr<TimerRpc> rpc_;
  const std::string topic_;

  absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  // Callbacks of timers that have not fired (nor been stopped), by timer id.
  std::map<std::string, std::function<void()>> pending_ ABSL_GUARDED_BY(mu_);
  std::list<Worker> workers_ ABSL_GUARDED_BY(mu_);
  // Fire ids whose callbacks were claimed, oldest first (bounded).
  std::set<std::string> handled_fires_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> handled_order_ ABSL_GUARDED_BY(mu_);
  std::thread loop_;
};

}  // namespace chime

#endif  // CHIME_CLIENT_AFTER_FUNC_H_
