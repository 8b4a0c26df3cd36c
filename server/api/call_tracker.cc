#include "server/api/call_tracker.h"

#include <string_view>

namespace chime::api {
namespace {

// Lives exactly as long as its call: created when the call starts, destroyed with it.
class TrackingInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TrackingInterceptor(CallTracker* tracker) : tracker_(tracker) { tracker_->Enter(); }
  ~TrackingInterceptor() override { tracker_->Leave(); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  CallTracker* const tracker_;
};

bool IsOpenEndedStream(std::string_view method) {
  return method == "/grpc.health.v1.Health/Watch" ||
         method == "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
}

class TrackingFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit TrackingFactory(CallTracker* tracker) : tracker_(tracker) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // Streams that only end when the client or the server's own Shutdown ends them are not
    // work in flight: counting them made every shutdown with a health watcher (a load
    // balancer, a kubelet) wait for the whole deadline.
    if (IsOpenEndedStream(info->method())) return nullptr;
    return new TrackingInterceptor(tracker_);
  }

 private:
  CallTracker* const tracker_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallTracker::MakeInterceptorFactory() {
  return std::make_unique<TrackingFactory>(this);
}

void CallTracker::Enter() {
  absl::MutexLock lock(&mu_);
  ++alive_;
}

void CallTracker::Leave() {
  absl::MutexLock lock(&mu_);
  --alive_;
}

int CallTracker::alive() const {
  absl::MutexLock lock(&mu_);
  return alive_;
}

bool CallTracker::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return alive_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

}  // namespace chime::api
