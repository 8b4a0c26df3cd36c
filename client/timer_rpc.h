// TimerRpc: the TimerService stub with per-call deadlines and absl::Status results. Shared
// (through shared_ptr) by the Client, its subscriptions and AfterFunc handles, so any of them
// may outlive the others without dangling.
//
// Thread-safe.
#ifndef CHIME_CLIENT_TIMER_RPC_H_
#define CHIME_CLIENT_TIMER_RPC_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chime/v1/timer.grpc.pb.h"
#include "client/client_options.h"

namespace chime {

class TimerRpc {
 public:
  using SubscribeStream = grpc::ClientReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>;

  TimerRpc(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  absl::StatusOr<v1::CreateTimerResponse> CreateTimer(const v1::CreateTimerRequest& request);
  absl::StatusOr<v1::CreateTimersResponse> CreateTimers(const v1::CreateTimersRequest& request);
  absl::StatusOr<v1::Timer> GetTimer(const v1::GetTimerRequest& request);
  absl::StatusOr<v1::Timer> CancelTimer(const v1::CancelTimerRequest& request);
  absl::StatusOr<v1::Timer> PauseTimer(const v1::PauseTimerRequest& request);
  absl::StatusOr<v1::Timer> ResumeTimer(const v1::ResumeTimerRequest& request);
  absl::StatusOr<v1::Timer> UpdateTimer(const v1::UpdateTimerRequest& request);
  absl::StatusOr<v1::ListTimersResponse> ListTimers(const v1::ListTimersRequest& request);
  // Same as CancelTimer with a caller-chosen deadline (shutdown paths use a short one).
  absl::StatusOr<v1::Timer> CancelTimerWithin(const v1::CancelTimerRequest& request,
                                              absl::Duration timeout);

  // Starts a Subscribe stream on `context`, which must outlive the stream.
  std::unique_ptr<SubscribeStream> OpenSubscribe(grpc::ClientContext* context);

  // Waits until the channel is connected or `until`, asking it to connect. Returns whether it
  // is connected. Blocking sync streams and fail-fast calls do not poll the channel, so without
  // a waiter the outcome of a reconnect attempt sits unprocessed until gRPC's backup poller
  // (every 5 s); this wait polls it.
  bool AwaitConnected(absl::Time until);

  const ClientOptions& options() const { return options_; }

 private:
  // Deadline (none for an infinite timeout) and wait-for-ready, from the options.
  void PrepareCall(grpc::ClientContext* context, absl::Duration timeout) const;

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::TimerService::Stub> stub_;
  const ClientOptions options_;
};

}  // namespace chime

#endif  // CHIME_CLIENT_TIMER_RPC_H_
