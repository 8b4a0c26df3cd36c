// The one place an absl::Status becomes a grpc::Status. The numeric codes are the same
// (both follow google.rpc.Code), so the conversion keeps code and message.
#ifndef CHIME_SERVER_API_STATUS_CONVERT_H_
#define CHIME_SERVER_API_STATUS_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace chime::api {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace chime::api

#endif  // CHIME_SERVER_API_STATUS_CONVERT_H_
