// Subscription: a Subscribe stream of a (namespace, topic), read by a background thread into a
// queue that Next() pops. Fires are delivered at least once: a fire not acknowledged is sent
// again (same fire_id) later, possibly to another subscriber of the topic.
//
//   ASSIGN_OR_RETURN(auto sub, client->Subscribe("default", "emails"));
//   while (true) {
//     ASSIGN_OR_RETURN(std::optional<v1::Fire> fire, sub->Next(absl::Seconds(30)));
//     if (!fire) continue;  // timed out
//     Handle(*fire);
//     sub->Ack({fire->fire_id()}).IgnoreError();  // a lost ack only means a redelivery
//   }
//
// Reconnect: when the stream breaks (server restart, network, graceful shutdown: see
// IsRetryableStreamEnd), the reader reopens it with the same namespace, topic and window after
// a jittered exponential backoff (SubscribeOptions::reconnect). Fires already queued stay
// queued. An ack sent on the new stream settles a fire delivered on an old one (the server
// settles by fire_id); an ack while no stream is up is dropped with UNAVAILABLE, which is
// safe: the server redelivers the fire. Errors about the request itself (an invalid topic, a
// window over the limit) are final and surface from Next().
//
// Thread-safe: Next, Ack, Nack, the ack-result calls and Close may be called from any threads.
// Writes to the stream are serialized (gRPC allows one write in flight).
#ifndef CHIME_CLIENT_SUBSCRIPTION_H_
#define CHIME_CLIENT_SUBSCRIPTION_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
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
#include "client/timer_rpc.h"

namespace chime {

class Subscription {
 public:
  // Opens the stream and sends the start message. Fails if the first attempt cannot reach the
  // server; later breaks are reconnected. Errors the server reports about the start (e.g. an
  // invalid topic) end the subscription and surface from Next().
  static absl::StatusOr<std::unique_ptr<Subscription>> Open(std::shared_ptr<TimerRpc> rpc,
                                                            const std::string& ns,
                                                            const std::string& topic,
                                                            SubscribeOptions options);
  ~Subscription();  // Close()
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Waits up to `timeout` for the next fire. Returns nullopt on timeout; fires already received
  // are returned even after the subscription ended. Once it ended for good and the queue is
  // empty, returns its final status (CANCELLED after Close(); the server's error when it
  // rejected the subscription; the last error when reconnecting gave up or is disabled).
  absl::StatusOr<std::optional<v1::Fire>> Next(absl::Duration timeout);

  // Acknowledges fires: they are not delivered again. The server confirms each id with an
  // AckResult once the ack is durable (see TakeAckResults / AwaitAckResult / AckAndWait).
  // UNAVAILABLE when no stream is up (the ack is dropped; the fire will be redelivered).
  absl::Status Ack(const std::vector<std::string>& fire_ids);
  // Returns fires for redelivery, after `delay` when given, else after the timer's backoff.
  absl::Status Nack(const std::vector<std::string>& fire_ids,
                    std::optional<absl::Duration> delay = std::nullopt);

  // The ack helper: acks `fire_id` and waits up to `timeout` until the server confirms the ack
  // durable, sending it again on the new stream if the stream was replaced before the
  // confirmation came. ACKED, or UNKNOWN when the fire was not pending (already acked,
  // dead-lettered). DEADLINE_EXCEEDED on timeout; the final status if the subscription ended.
  absl::StatusOr<v1::AckOutcome> AckAndWait(const std::string& fire_id, absl::Duration timeout);

  // Ack/nack outcomes received since the last call (the most recent 10000 are retained).
  std::vector<v1::AckResult> TakeAckResults();
  // Waits up to `timeout` for the server's outcome for `fire_id` and consumes it.
  // DEADLINE_EXCEEDED on timeout; UNAVAILABLE if the stream broke first (the outcome of an ack
  // written on it is lost: ack again, or let the fire be redelivered); the final status if the
  // subscription ended.
  absl::StatusOr<v1::AckOutcome> AwaitAckResult(const std::string& fire_id, absl::Duration timeout);

  // Cancels the stream and joins the reader. Unacknowledged fires will be redelivered; acks
  // written but not yet confirmed may be lost (await them first). Idempotent.
  void Close();

  // Streams opened after the first (successful reconnects).
  int64_t reconnects() const;
  // Whether a stream is up (false while reconnecting and after the end).
  bool connected() const;
  // Waits up to `timeout` until reconnects() exceeds `seen`; false on timeout or end.
  bool AwaitReconnect(int64_t seen, absl::Duration timeout);

  const std::string& ns() const { return ns_; }
  const std::string& topic() const { return topic_; }

 private:
  Subscription(std::shared_ptr<TimerRpc> rpc, std::string ns, std::string topic,
               SubscribeOptions options);

  // Opens a stream and sends the start message; on success it is the current stream.
  absl::Status Connect();
  // Reads the current stream until it ends, then reconnects or records the final status.
  void ReadLoop();
  // Waits out a reconnect backoff until `until` while polling the channel; false if closed.
  bool WaitBeforeReconnect(absl::Time until);
  // Reads responses of the current stream into the queues until it ends; true if any came.
  bool ReadStream();
  // Finishes the current stream (all reads done) and releases it and its context.
  absl::Status FinishStream();
  // Waits out the backoff and reconnects; false when the subscription ended instead.
  bool Reconnect(absl::Status last_error);
  void End(absl::Status status);
  absl::Status Write(const v1::SubscribeRequest& request);
  // The status to report once the subscription is over.
  absl::Status EndStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<TimerRpc> rpc_;
  const std::string ns_;
  const std::string topic_;
  const SubscribeOptions options_;

  std::thread reader_;

  // The current call's context; Close() cancels it. Lock order: ctx_mu_ before mu_.
  absl::Mutex ctx_mu_;
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(ctx_mu_);

  // Serializes writes, and Finish() against writes. The reader thread reads stream_ without
  // this lock: only it replaces the stream, and gRPC allows a read alongside a write.
  absl::Mutex write_mu_;
  std::unique_ptr<TimerRpc::SubscribeStream> stream_ ABSL_GUARDED_BY(write_mu_);
  bool writes_closed_ ABSL_GUARDED_BY(write_mu_) = true;

  mutable absl::Mutex mu_;
  std::deque<v1::Fire> fires_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::AckResult> ack_results_ ABSL_GUARDED_BY(mu_);
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  // Bumped whenever a stream ends: outcomes awaited from an older stream will not come.
  int64_t stream_generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t reconnects_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;   // over for good
  bool closed_ ABSL_GUARDED_BY(mu_) = false;  // Close() was called
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);

  absl::Mutex close_mu_;  // one Close() joins the reader
};

}  // namespace chime

#endif  // CHIME_CLIENT_SUBSCRIPTION_H_
