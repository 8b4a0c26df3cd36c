#include "server/admin/grpc_metrics.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "chime/v1/timer.pb.h"

namespace chime::admin {

namespace {

constexpr char kCreateTimer[] = "/chime.v1.TimerService/CreateTimer";
constexpr char kCancelTimer[] = "/chime.v1.TimerService/CancelTimer";

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

struct Families {
  metrics::CounterFamily* requests;
  metrics::CounterFamily* creates;
  metrics::CounterFamily* cancels;
};

// One per call: counts it once, when its status is sent (or, for a call that ended without
// one, as CANCELLED when it is destroyed).
class Interceptor final : public grpc::experimental::Interceptor {
 public:
  Interceptor(const Families* families, std::string method)
      : families_(families), method_(std::move(method)) {}
  ~Interceptor() override {
    if (!counted_) Count(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE) &&
        method_ == kCreateTimer) {
      if (const void* message = methods->GetSendMessage(); message != nullptr) {
        created_ = static_cast<const v1::CreateTimerResponse*>(message)->created();
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) && !counted_) {
      Count(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Count(grpc::StatusCode code) {
    counted_ = true;
    std::string service, method;
    SplitGrpcMethod(method_, &service, &method);
    const std::string code_name = CodeName(code);
    families_->requests->WithLabels({{"service", service}, {"method", method}, {"code", code_name}})
        ->Increment();
    const bool ok = code == grpc::StatusCode::OK;
    if (method_ == kCreateTimer) {
      families_->creates
          ->WithLabels({{"outcome", ok ? (created_ ? "created" : "existing")
                                       : absl::AsciiStrToLower(code_name)}})
          ->Increment();
    } else if (method_ == kCancelTimer) {
      families_->cancels
          ->WithLabels({{"outcome", ok ? "cancelled" : absl::AsciiStrToLower(code_name)}})
          ->Increment();
    }
  }

  const Families* const families_;
  const std::string method_;
  bool created_ = true;
  bool counted_ = false;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(metrics::Registry* registry)
      : families_{
            metrics::MustRegister(
                registry->AddCounter("chime_grpc_requests_total",
                                     "gRPC calls handled, by service, method and status code.",
                                     {"service", "method", "code"}),
                "grpc metrics"),
            metrics::MustRegister(
                registry->AddCounter("chime_timer_creates_total",
                                     "CreateTimer calls by outcome: created, existing (an "
                                     "idempotent retry), or the error code.",
                                     {"outcome"}),
                "grpc metrics"),
            metrics::MustRegister(
                registry->AddCounter("chime_timer_cancels_total",
                                     "CancelTimer calls by outcome: cancelled, or the error "
                                     "code.",
                                     {"outcome"}),
                "grpc metrics")} {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new Interceptor(&families_, info->method() == nullptr ? "" : info->method());
  }

 private:
  const Families families_;
};

}  // namespace

void SplitGrpcMethod(const std::string& full, std::string* service, std::string* method) {
  const size_t slash = full.rfind('/');
  if (full.empty() || full[0] != '/' || slash == 0 || slash == std::string::npos) {
    *service = "unknown";
    *method = full.empty() ? "unknown" : full;
    return;
  }
  *service = full.substr(1, slash - 1);
  *method = full.substr(slash + 1);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeGrpcMetricsInterceptorFactory(metrics::Registry* registry) {
  return std::make_unique<Factory>(registry);
}

}  // namespace chime::admin
