// The one place where a grpc::Status becomes an absl::Status. Both use the same canonical
// code numbers, so the code carries over unchanged and the server's message is kept.
#ifndef CHIME_CLIENT_GRPC_STATUS_H_
#define CHIME_CLIENT_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace chime {

absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace chime

#endif  // CHIME_CLIENT_GRPC_STATUS_H_
