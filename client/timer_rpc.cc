#include "client/timer_rpc.h"

#include "absl/time/clock.h"
#include "client/grpc_status.h"

namespace chime {

TimerRpc::TimerRpc(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : channel_(std::move(channel)),
      stub_(v1::TimerService::NewStub(channel_)),
      options_(std::move(options)) {}

void TimerRpc::PrepareCall(grpc::ClientContext* context, absl::Duration timeout) const {
  context->set_wait_for_ready(options_.wait_for_ready);
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

absl::StatusOr<v1::CreateTimerResponse> TimerRpc::CreateTimer(
    const v1::CreateTimerRequest& request) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.rpc_timeout);
  v1::CreateTimerResponse response;
  absl::Status status = FromGrpcStatus(stub_->CreateTimer(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::CreateTimersResponse> TimerRpc::CreateTimers(
    const v1::CreateTimersRequest& request) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.rpc_timeout);
  v1::CreateTimersResponse response;
  absl::Status status = FromGrpcStatus(stub_->CreateTimers(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Timer> TimerRpc::GetTimer(const v1::GetTimerRequest& request) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.rpc_timeout);
  v1::Timer response;
  absl::Status status = FromGrpcStatus(stub_->GetTimer(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Timer> TimerRpc::CancelTimer(const v1::CancelTimerRequest& request) {
  return CancelTimerWithin(request, options_.rpc_timeout);
}

absl::StatusOr<v1::Timer> TimerRpc::CancelTimerWithin(const v1::CancelTimerRequest& request,
                                                      absl::Duration timeout) {
  grpc::ClientContext context;
  PrepareCall(&context, timeout);
  v1::Timer response;
  absl::Status status = FromGrpcStatus(stub_->CancelTimer(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Timer> TimerRpc::PauseTimer(const v1::PauseTimerRequest& request) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.rpc_timeout);
  v1::Timer response;
  absl::Status status = FromGrpcStatus(stub_->PauseTimer(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Timer> TimerRpc::ResumeTimer(const v1::ResumeTimerRequest& request) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.rpc_timeout);
  v1::Timer response;
  absl::Status status = FromGrpcStatus(stub_->ResumeTimer(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Timer> TimerRpc::UpdateTimer(const v1::UpdateTimerRequest& request) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.rpc_timeout);
  v1::Timer response;
  absl::Status status = FromGrpcStatus(stub_->UpdateTimer(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ListTimersResponse> TimerRpc::ListTimers(const v1::ListTimersRequest& request) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.rpc_timeout);
  v1::ListTimersResponse response;
  absl::Status status = FromGrpcStatus(stub_->ListTimers(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

bool TimerRpc::AwaitConnected(absl::Time until) {
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (!channel_->WaitForStateChange(state, absl::ToChronoTime(until))) return false;
    state = channel_->GetState(/*try_to_connect=*/true);
  }
  return true;
}

std::unique_ptr<TimerRpc::SubscribeStream> TimerRpc::OpenSubscribe(grpc::ClientContext* context) {
  return stub_->Subscribe(context);
}

}  // namespace chime
