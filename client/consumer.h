// Consumer: a callback consumer of a topic. Worker threads take fires from a reconnecting
// Subscription and run the handler on each; a handler that returns OK acks the fire, one that
// returns an error nacks it (redelivered after ConsumeOptions::nack_delay, else the timer's
// backoff). Server restarts are survived through the subscription's reconnect; a fire whose
// ack was lost with a broken stream comes again (at least once: handlers should be idempotent).
//
//   ASSIGN_OR_RETURN(auto consumer, client->Consume("default", "emails", {}, [](const v1::Fire& f)
//   {
//     return SendEmail(f.payload());
//   }));
//   ...
//   consumer->Stop();
//
// Thread-safe.
#ifndef CHIME_CLIENT_CONSUMER_H_
#define CHIME_CLIENT_CONSUMER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"
#include "client/client_options.h"
#include "client/subscription.h"
#include "client/timer_rpc.h"

namespace chime {

struct ConsumeOptions {
  // Window and reconnect policy of the subscription (auto_ack is ignored: the consumer acks).
  SubscribeOptions subscribe;
  // Handlers running at once, each on a worker thread of its own. 1..kMaxConsumeParallelism.
  int parallelism = 1;
  // When a handler fails, redeliver after this delay; nullopt = the timer's backoff.
  std::optional<absl::Duration> nack_delay;
};

inline constexpr int kMaxConsumeParallelism = 1000;

// Returns OK when the fire was handled (it is acked), an error otherwise (it is nacked).
using FireHandler = std::function<absl::Status(const v1::Fire& fire)>;

class Consumer {
 public:
  static absl::StatusOr<std::unique_ptr<Consumer>> Start(std::shared_ptr<TimerRpc> rpc,
                                                         const std::string& ns,
                                                         const std::string& topic,
                                                         ConsumeOptions options,
                                                         FireHandler handler);
  ~Consumer();  // Stop()
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Stops taking fires, waits for running handlers and writes their acks, then closes the
  // stream. Fires taken from the queue but not started are nacked for immediate redelivery.
  // Idempotent.
  void Stop();
  // Blocks until the consumer is over: OK after Stop(), else the error that ended the
  // subscription (e.g. an invalid topic, or reconnecting gave up).
  absl::Status Wait();

  // Handler outcomes so far.
  int64_t acked() const;
  int64_t nacked() const;
  // The underlying subscription (for reconnects() and connected()).
  Subscription& subscription() { return *sub_; }

 private:
  Consumer(std::unique_ptr<Subscription> sub, ConsumeOptions options, FireHandler handler);
  void Work();

  const std::unique_ptr<Subscription> sub_;
  const ConsumeOptions options_;
  const FireHandler handler_;
  std::vector<std::thread> workers_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int running_ ABSL_GUARDED_BY(mu_) = 0;  // handlers in progress
  int exited_ ABSL_GUARDED_BY(mu_) = 0;   // workers that returned
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
  int64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t nacked_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex stop_mu_;  // one Stop() joins the workers
  bool joined_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace chime

#endif  // CHIME_CLIENT_CONSUMER_H_
