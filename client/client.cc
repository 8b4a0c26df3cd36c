#include "client/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

namespace chime {

Client::Client(std::shared_ptr<TimerRpc> rpc) : rpc_(std::move(rpc)) {}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& address,
                                                        ClientOptions options) {
  if (address.empty()) return absl::InvalidArgumentError("server address is empty");
  if (options.rpc_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("rpc_timeout must be positive");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options.credentials ? options.credentials : grpc::InsecureChannelCredentials();
  if (options.max_connect_backoff <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_connect_backoff must be positive");
  }
  // gRPC's default connection backoff (1 s growing to 120 s, 20 s minimum per attempt) keeps
  // every call failing with UNAVAILABLE for seconds after a restarted server is back.
  const int max_ms = static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(options.max_connect_backoff), 3600 * 1000));
  const int initial_ms = std::min(100, max_ms);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, initial_ms);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, std::max(max_ms, 1));
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(address, credentials, args);
  return std::unique_ptr<Client>(
      new Client(std::make_shared<TimerRpc>(std::move(channel), std::move(options))));
}

Client::~Client() {
  std::shared_ptr<AfterFuncDispatcher> after_func;
  {
    absl::MutexLock lock(&mu_);
    after_func = std::move(after_func_);
  }
  if (after_func != nullptr) after_func->Shutdown();
}

absl::StatusOr<v1::CreateTimerResponse> Client::CreateTimer(const v1::CreateTimerRequest& request) {
  return rpc_->CreateTimer(request);
}

absl::StatusOr<v1::CreateTimersResponse> Client::CreateTimers(
    const v1::CreateTimersRequest& request) {
  return rpc_->CreateTimers(request);
}

absl::StatusOr<v1::Timer> Client::GetTimer(const std::string& ns, const std::string& timer_id) {
  v1::GetTimerRequest request;
  request.set_namespace_(ns);
  request.set_timer_id(timer_id);
  return rpc_->GetTimer(request);
}

absl::StatusOr<v1::Timer> Client::CancelTimer(const std::string& ns, const std::string& timer_id) {
  v1::CancelTimerRequest request;
  request.set_namespace_(ns);
  request.set_timer_id(timer_id);
  return rpc_->CancelTimer(request);
}

absl::StatusOr<v1::Timer> Client::PauseTimer(const std::string& ns, const std::string& timer_id) {
  v1::PauseTimerRequest request;
  request.set_namespace_(ns);
  request.set_timer_id(timer_id);
  return rpc_->PauseTimer(request);
}

absl::StatusOr<v1::Timer> Client::ResumeTimer(const std::string& ns, const std::string& timer_id) {
  v1::ResumeTimerRequest request;
  request.set_namespace_(ns);
  request.set_timer_id(timer_id);
  return rpc_->ResumeTimer(request);
}

absl::StatusOr<v1::Timer> Client::UpdateTimer(const v1::UpdateTimerRequest& request) {
  return rpc_->UpdateTimer(request);
}

absl::StatusOr<v1::ListTimersResponse> Client::ListTimers(const v1::ListTimersRequest& request) {
  return rpc_->ListTimers(request);
}

absl::StatusOr<std::unique_ptr<Subscription>> Client::Subscribe(const std::string& ns,
                                                                const std::string& topic,
                                                                SubscribeOptions options) {
  return Subscription::Open(rpc_, ns, topic, options);
}

absl::StatusOr<std::unique_ptr<Consumer>> Client::Consume(const std::string& ns,
                                                          const std::string& topic,
                                                          ConsumeOptions options,
                                                          FireHandler handler) {
  return Consumer::Start(rpc_, ns, topic, std::move(options), std::move(handler));
}

absl::StatusOr<std::unique_ptr<TimerHandle>> Client::AfterFunc(absl::Duration d,
                                                               std::function<void()> fn) {
  if (!fn) return absl::InvalidArgumentError("AfterFunc: fn is empty");
  std::shared_ptr<AfterFuncDispatcher> after_func;
  {
    absl::MutexLock lock(&mu_);
    if (after_func_ == nullptr) after_func_ = std::make_shared<AfterFuncDispatcher>(rpc_);
    after_func = after_func_;
  }
  return after_func->Schedule(d, std::move(fn));
}

}  // namespace chime
