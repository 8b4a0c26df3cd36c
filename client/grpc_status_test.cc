#include "client/grpc_status.h"

#include "gtest/gtest.h"

namespace chime {
namespace {

TEST(FromGrpcStatusTest, OkIsOk) { EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok()); }

TEST(FromGrpcStatusTest, KeepsEveryCodeAndTheMessage) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status status =
        FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(code), "payload is too big"));
    EXPECT_EQ(static_cast<int>(status.code()), code);
    EXPECT_EQ(status.message(), "payload is too big");
  }
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "fired")).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace chime
