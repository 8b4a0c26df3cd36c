// chime::Client: the C++ client of chime's TimerService.
//
//   ASSIGN_OR_RETURN(auto client, chime::Client::Connect("localhost:7070"));
//   v1::CreateTimerRequest req;
//   *req.mutable_delay() = chime::ToProtoDuration(absl::Minutes(5));
//   req.mutable_target()->set_topic("emails");
//   ASSIGN_OR_RETURN(auto created, client->CreateTimer(req));
//
//   // Go's time.AfterFunc, durable on the server:
//   ASSIGN_OR_RETURN(auto handle, client->AfterFunc(absl::Seconds(30), [] { Retry(); }));
//   handle->Stop();
//
// Errors are the server's gRPC status as an absl::Status (same code, same message).
// Thread-safe: every method may be called concurrently.
#ifndef CHIME_CLIENT_CLIENT_H_
#define CHIME_CLIENT_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"
#include "client/after_func.h"
#include "client/client_options.h"
#include "client/consumer.h"
#include "client/subscription.h"
#include "client/timer_rpc.h"

namespace chime {

class Client {
 public:
  // Creates a channel to `address` ("host:port"). The connection is made lazily: calls to an
  // unreachable server wait for it up to rpc_timeout (DEADLINE_EXCEEDED), or fail at once with
  // UNAVAILABLE when options.wait_for_ready is off.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& address,
                                                         ClientOptions options = {});
  // Stops AfterFunc's subscription, waiting for running callbacks, and cancels AfterFunc timers
  // that have not fired (their callbacks die with the client).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<v1::CreateTimerResponse> CreateTimer(const v1::CreateTimerRequest& request);
  // Up to 1000 creates in one call, each applied on its own: results(i) answers requests(i)
  // with its own status code. Fails as a whole only for an empty or oversized batch.
  absl::StatusOr<v1::CreateTimersResponse> CreateTimers(const v1::CreateTimersRequest& request);
  absl::StatusOr<v1::Timer> GetTimer(const std::string& ns, const std::string& timer_id);
  // FAILED_PRECONDITION if the timer already fired or was cancelled.
  absl::StatusOr<v1::Timer> CancelTimer(const std::string& ns, const std::string& timer_id);
  // Recurring schedules: pause (FAILED_PRECONDITION unless scheduled), resume (unless paused),
  // and update (unset fields unchanged; see UpdateTimerRequest).
  absl::StatusOr<v1::Timer> PauseTimer(const std::string& ns, const std::string& timer_id);
  absl::StatusOr<v1::Timer> ResumeTimer(const std::string& ns, const std::string& timer_id);
  absl::StatusOr<v1::Timer> UpdateTimer(const v1::UpdateTimerRequest& request);
  // One page; pass response.next_page_token() back in the request for the next.
  absl::StatusOr<v1::ListTimersResponse> ListTimers(const v1::ListTimersRequest& request);

  // Opens a subscription to the fires of (ns, topic); see subscription.h.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const std::string& ns,
                                                          const std::string& topic,
                                                          SubscribeOptions options = {});

  // Runs `handler` on each fire of (ns, topic) on worker threads, acking the fires it handles
  // and nacking the ones it fails; reconnects across server restarts. See consumer.h.
  absl::StatusOr<std::unique_ptr<Consumer>> Consume(const std::string& ns, const std::string& topic,
                                                    ConsumeOptions options, FireHandler handler);

  // Runs `fn` on a thread of its own once `d` has elapsed, through a one-shot timer on a topic
  // private to this client (namespace "default"). Stop() on the handle cancels it. `fn` runs
  // only while this client exists, and once per fire even when the fire is redelivered (e.g.
  // after a server restart lost its ack).
  absl::StatusOr<std::unique_ptr<TimerHandle>> AfterFunc(absl::Duration d,
                                                         std::function<void()> fn);

 private:
  explicit Client(std::shared_ptr<TimerRpc> rpc);

  const std::shared_ptr<TimerRpc> rpc_;
  absl::Mutex mu_;
  // Created by the first AfterFunc.
  std::shared_ptr<AfterFuncDispatcher> after_func_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chime

#endif  // CHIME_CLIENT_CLIENT_H_
