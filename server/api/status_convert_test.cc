#include "server/api/status_convert.h"

#include "gtest/gtest.h"

namespace chime::api {
namespace {

TEST(StatusConvertTest, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(StatusConvertTest, KeepsCodeAndMessage) {
  const struct {
    absl::Status in;
    grpc::StatusCode want;
  } cases[] = {
      {absl::InvalidArgumentError("payload is 70000 bytes, limit 65536"),
       grpc::StatusCode::INVALID_ARGUMENT},
      {absl::NotFoundError("timer \"x\" not found"), grpc::StatusCode::NOT_FOUND},
      {absl::AlreadyExistsError("key reused"), grpc::StatusCode::ALREADY_EXISTS},
      {absl::FailedPreconditionError("fired"), grpc::StatusCode::FAILED_PRECONDITION},
      {absl::UnavailableError("shard closed"), grpc::StatusCode::UNAVAILABLE},
      {absl::UnimplementedError("cron"), grpc::StatusCode::UNIMPLEMENTED},
      {absl::ResourceExhaustedError("busy"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::InternalError("bug"), grpc::StatusCode::INTERNAL},
      {absl::DataLossError("corrupt"), grpc::StatusCode::DATA_LOSS},
      {absl::CancelledError("gone"), grpc::StatusCode::CANCELLED},
      {absl::DeadlineExceededError("slow"), grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::UnauthenticatedError("who"), grpc::StatusCode::UNAUTHENTICATED},
  };
  for (const auto& c : cases) {
    grpc::Status out = ToGrpcStatus(c.in);
    EXPECT_EQ(out.error_code(), c.want) << c.in;
    EXPECT_EQ(out.error_message(), std::string(c.in.message()));
  }
}

TEST(StatusConvertTest, OutOfRangeCodeBecomesUnknown) {
  absl::Status odd(static_cast<absl::StatusCode>(42), "odd");
  EXPECT_EQ(ToGrpcStatus(odd).error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(ToGrpcStatus(odd).error_message(), "odd");
}

}  // namespace
}  // namespace chime::api
