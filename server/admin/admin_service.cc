#include "server/admin/admin_service.h"

#include <utility>

#include "server/api/status_convert.h"

namespace chime::admin {

AdminService::AdminService(StatusFn status, api::ReadPool* reads)
    : status_(std::move(status)), reads_(reads) {}

grpc::ServerUnaryReactor* AdminService::GetStatus(grpc::CallbackServerContext* context,
                                                  const v1::GetStatusRequest* /*request*/,
                                                  v1::GetStatusResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!reads_->Run([this, reactor, response] {
        absl::StatusOr<v1::GetStatusResponse> status = status_();
        if (status.ok()) *response = *std::move(status);
        reactor->Finish(api::ToGrpcStatus(status.status()));
      })) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server busy: too many reads queued"));
  }
  return reactor;
}

}  // namespace chime::admin
