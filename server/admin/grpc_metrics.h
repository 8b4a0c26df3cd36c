// A gRPC server interceptor counting every call by service, method and status code
// (chime_grpc_requests_total), plus timer creates and cancels by outcome
// (chime_timer_creates_total: created, existing (an idempotent retry), or the error code;
// chime_timer_cancels_total: cancelled or the error code). It sees every service — the
// TimerService, admin, health and reflection — without touching their handlers.
//
//   std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
//   f.push_back(admin::MakeGrpcMetricsInterceptorFactory(&registry));
//   builder.experimental().SetInterceptorCreators(std::move(f));
#ifndef CHIME_SERVER_ADMIN_GRPC_METRICS_H_
#define CHIME_SERVER_ADMIN_GRPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

#include "metrics/registry.h"

namespace chime::admin {

// "/chime.v1.TimerService/CreateTimer" -> service "chime.v1.TimerService", method "CreateTimer".
void SplitGrpcMethod(const std::string& full, std::string* service, std::string* method);

// The registry must outlive the gRPC server. The factory is thread-safe.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeGrpcMetricsInterceptorFactory(metrics::Registry* registry);

}  // namespace chime::admin

#endif  // CHIME_SERVER_ADMIN_GRPC_METRICS_H_
