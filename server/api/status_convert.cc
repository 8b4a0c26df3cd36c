#include "server/api/status_convert.h"

#include <string>

namespace chime::api {

static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
              static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
static_assert(static_cast<int>(absl::StatusCode::kDataLoss) ==
              static_cast<int>(grpc::StatusCode::DATA_LOSS));

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int code = static_cast<int>(status.code());
  // Codes outside gRPC's range cannot come from absl's constructors, but a raw cast could
  // produce one; report it as UNKNOWN rather than send an invalid code on the wire.
  if (code < 1 || code > 16)
    return grpc::Status(grpc::StatusCode::UNKNOWN, std::string(status.message()));
  return grpc::Status(static_cast<grpc::StatusCode>(code), std::string(status.message()));
}

}  // namespace chime::api
