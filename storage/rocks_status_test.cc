#include "storage/rocks_status.h"

#include "gtest/gtest.h"

namespace chime::storage {
namespace {

TEST(RocksStatusTest, MapsEachKindToItsCode) {
  EXPECT_TRUE(FromRocks(rocksdb::Status::OK()).ok());
  EXPECT_EQ(FromRocks(rocksdb::Status::NotFound("x")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FromRocks(rocksdb::Status::Corruption("x")).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FromRocks(rocksdb::Status::IOError("x")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromRocks(rocksdb::Status::Busy("x")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromRocks(rocksdb::Status::TryAgain("x")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromRocks(rocksdb::Status::InvalidArgument("x")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromRocks(rocksdb::Status::NotSupported("x")).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(FromRocks(rocksdb::Status::Aborted("x")).code(), absl::StatusCode::kInternal);
}

TEST(RocksStatusTest, KeepsTheRocksDbMessageAfterTheContext) {
  EXPECT_EQ(FromRocks(rocksdb::Status::IOError("disk on fire"), "writing to shard 3").message(),
            "writing to shard 3: IO error: disk on fire");
  EXPECT_EQ(FromRocks(rocksdb::Status::IOError("disk on fire")).message(),
            "IO error: disk on fire");
}

}  // namespace
}  // namespace chime::storage
