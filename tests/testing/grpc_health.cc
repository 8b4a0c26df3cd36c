#include "tests/testing/grpc_health.h"

#include <grpcpp/generic/generic_stub.h>

#include <vector>

#include "absl/synchronization/notification.h"

namespace chime::testing {

int GrpcHealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                     absl::Duration timeout) {
  // HealthCheckRequest{service}: field 1, length-delimited; "" encodes to no bytes.
  std::string request_bytes;
  if (!service.empty()) {
    request_bytes.push_back(0x0a);
    request_bytes.push_back(static_cast<char>(service.size()));
    request_bytes += service;
  }
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status}: field 1, varint (one byte for every defined value); UNKNOWN,
  // the default, is written as nothing.
  if (bytes.empty()) return 0;
  if (bytes.size() == 2 && bytes[0] == 0x08 && (bytes[1] & 0x80) == 0) return bytes[1];
  return -1;
}

}  // namespace chime::testing
