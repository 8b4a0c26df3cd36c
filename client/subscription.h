// Subscription: one Subscribe stream of a (namespace, topic), read by a background thread into a
// queue that Next() pops. Fires are delivered at least once: a fire not acknowledged is sent
// again (same fire_id) later, possibly to another subscriber of the topic.
//
//   ASSIGN_OR_RETURN(auto sub, client->Subscribe("default", "emails"));
//   while (true) {
//     ASSIGN_OR_RETURN(std::optional<v1::Fire> fire, sub->Next(absl::Seconds(30)));
//     if (!fire) continue;  // timed out
//     Handle(*fire);
//     RETURN_IF_ERROR(sub->Ack({fire->fire_id()}));
//   }
//
// Thread-safe: Next, Ack, Nack, the ack-result calls and Close may be called from any threads.
// Writes to the stream are serialized (gRPC allows one write in flight).
#ifndef CHIME_CLIENT_SUBSCRIPTION_H_
#define CHIME_CLIENT_SUBSCRIPTION_H_

#include <grpcpp/grpcpp.h>

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
  // Opens the stream and sends the start message. Errors the server reports about the start
  // (e.g. an invalid topic) end the stream and surface from Next().
  static absl::StatusOr<std::unique_ptr<Subscription>> Open(std::shared_ptr<TimerRpc> rpc,
                                                            const std::string& ns,
                                                            const std::string& topic,
                                                            SubscribeOptions options);
  ~Subscription();  // Close()
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Waits up to `timeout` for the next fire. Returns nullopt on timeout; fires already received
  // are returned even after the stream ended. Once the stream ended and the queue is empty,
  // returns the stream's final status (CANCELLED after Close(), UNAVAILABLE when the server
  // ended the stream without an error).
  absl::StatusOr<std::optional<v1::Fire>> Next(absl::Duration timeout);

  // Acknowledges fires: they are not delivered again. The server confirms each id with an
  // AckResult once the ack is durable (see TakeAckResults / AwaitAckResult).
  absl::Status Ack(const std::vector<std::string>& fire_ids);
  // Returns fires for redelivery, after `delay` when given, else after the timer's backoff.
  absl::Status Nack(const std::vector<std::string>& fire_ids,
                    std::optional<absl::Duration> delay = std::nullopt);

  // Ack/nack outcomes received since the last call (the most recent 10000 are retained).
  std::vector<v1::AckResult> TakeAckResults();
  // Waits up to `timeout` for the server's outcome for `fire_id` and consumes it.
  // DEADLINE_EXCEEDED on timeout; the stream's status if it ended first.
  absl::StatusOr<v1::AckOutcome> AwaitAckResult(const std::string& fire_id, absl::Duration timeout);

  // Cancels the stream and joins the reader. Unacknowledged fires will be redelivered; acks
  // written but not yet confirmed may be lost (await them first). Idempotent.
  void Close();

  const std::string& ns() const { return ns_; }
  const std::string& topic() const { return topic_; }

 private:
  Subscription(std::shared_ptr<TimerRpc> rpc, std::string ns, std::string topic,
               SubscribeOptions options);

  // Reads responses until the stream ends, then records its final status. Automatic
  // reconnection (issue 3) belongs here: reopen with start_ and keep the queue.
  void ReadLoop();
  absl::Status Write(const v1::SubscribeRequest& request);
  // The status to report once the stream is over.
  absl::Status EndStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<TimerRpc> rpc_;
  const std::string ns_;
  const std::string topic_;
  const SubscribeOptions options_;

  grpc::ClientContext context_;
  std::unique_ptr<TimerRpc::SubscribeStream> stream_;
  std::thread reader_;

  // Serializes writes, and Finish() against writes.
  absl::Mutex write_mu_;
  bool writes_closed_ ABSL_GUARDED_BY(write_mu_) = false;

  mutable absl::Mutex mu_;
  std::deque<v1::Fire> fires_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::AckResult> ack_results_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;   // the stream is over
  bool closed_ ABSL_GUARDED_BY(mu_) = false;  // Close() was called
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);

  absl::Mutex close_mu_;  // one Close() joins the reader
};

}  // namespace chime

#endif  // CHIME_CLIENT_SUBSCRIPTION_H_
