// The gRPC AdminService (callback API). GetStatus reads storage, so it runs on the read pool
// and finishes the call from there; no gRPC thread waits on RocksDB.
//
// Thread-safe.
#ifndef CHIME_SERVER_ADMIN_ADMIN_SERVICE_H_
#define CHIME_SERVER_ADMIN_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <functional>

#include "absl/status/statusor.h"
#include "chime/v1/admin.grpc.pb.h"
#include "server/api/read_pool.h"

namespace chime::admin {

class AdminService final : public v1::AdminService::CallbackService {
 public:
  // `status` builds the response (see CollectStatus); it is called on a read pool thread.
  // `reads` must outlive the service.
  using StatusFn = std::function<absl::StatusOr<v1::GetStatusResponse>()>;
  AdminService(StatusFn status, api::ReadPool* reads);

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::GetStatusRequest* request,
                                      v1::GetStatusResponse* response) override;

 private:
  const StatusFn status_;
  api::ReadPool* const reads_;
};

}  // namespace chime::admin

#endif  // CHIME_SERVER_ADMIN_ADMIN_SERVICE_H_
