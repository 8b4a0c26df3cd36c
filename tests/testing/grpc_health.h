// grpc.health.v1.Health/Check from tests, through a generic call: the health proto's
// generated code is not installed, and the answer is one varint field.
#ifndef CHIME_TESTS_TESTING_GRPC_HEALTH_H_
#define CHIME_TESTS_TESTING_GRPC_HEALTH_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/time/time.h"

namespace chime::testing {

// The ServingStatus number the server answers for `service` ("" = the whole server): 0
// UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN; -1 when the call fails (e.g. NOT_FOUND
// for a service never registered, or no server) or the answer is not a HealthCheckResponse.
int GrpcHealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service = "",
                     absl::Duration timeout = absl::Seconds(10));

}  // namespace chime::testing

#endif  // CHIME_TESTS_TESTING_GRPC_HEALTH_H_
