#include "server/api/call_tracker.h"

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

class TrackingFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit TrackingFactory(CallTracker* tracker) : tracker_(tracker) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* /*info*/) override {
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
