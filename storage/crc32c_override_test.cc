#include "storage/crc32c_override.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "tests/testing/temp_dir.h"

extern "C" uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data,
                                                           size_t n);

namespace chime::storage {
namespace {

// CRC32C one bit at a time, straight from the definition (reflected Castagnoli polynomial).
uint32_t ReferenceCrc32c(const std::string& bytes) {
  uint32_t state = 0xffffffff;
  for (char c : bytes) {
    state ^= static_cast<uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit) state = (state >> 1) ^ (0x82f63b78 & -(state & 1));
  }
  return ~state;
}

uint32_t Crc(const std::string& bytes) {
  return rocksdb::crc32c::Extend(0, bytes.data(), bytes.size());
}

TEST(Crc32cOverrideTest, MatchesPublishedCheckValues) {
  // The iSCSI (RFC 3720) test vectors and the usual "123456789" check value.
  EXPECT_EQ(Crc("123456789"), 0xe3069283u);
  EXPECT_EQ(Crc(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(Crc(std::string(32, '\xff')), 0x62a8ab43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Crc(ascending), 0x46dd794eu);
  EXPECT_EQ(Crc(""), 0u);
}

TEST(Crc32cOverrideTest, ExtendsAcrossSplitsAndUnalignedStarts) {
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes.push_back(static_cast<char>(i * 131 + 7));
  for (size_t start : {0, 1, 3, 7, 8, 13}) {
    for (size_t length : {0, 1, 7, 8, 9, 63, 64, 500, 987}) {
      const std::string piece = bytes.substr(start, length);
      const uint32_t whole = ReferenceCrc32c(piece);
      ASSERT_EQ(Crc(piece), whole) << "start " << start << " length " << length;
      for (size_t split : {size_t{0}, length / 3, length}) {
        const uint32_t head = rocksdb::crc32c::Extend(0, piece.data(), split);
        EXPECT_EQ(rocksdb::crc32c::Extend(head, piece.data() + split, length - split), whole)
            << "start " << start << " length " << length << " split " << split;
      }
    }
  }
}

TEST(Crc32cOverrideTest, CallsToRocksDbsExtendReachTheOverride) {
  // This file's references to Extend are linked like the library's own: with the --wrap, they
  // name the override.
  EXPECT_EQ(&rocksdb::crc32c::Extend, &__wrap__ZN7rocksdb6crc32c6ExtendEjPKcm);
  if (__builtin_cpu_supports("sse4.2")) {
    EXPECT_STREQ(Crc32cImplementation(), "sse4.2");
  } else {
    EXPECT_STREQ(Crc32cImplementation(), "rocksdb");
  }
}

TEST(Crc32cOverrideTest, AWalWrittenWithTheOverrideReplays) {
  testing::TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.path(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(db->Put(sync, "key" + std::to_string(i), std::string(i * 10, 'v')).ok());
  }
  db.reset();  // closed without a flush: the reopen replays the WAL and checks its CRCs
  options.paranoid_checks = true;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.path(), &raw).ok());
  db.reset(raw);
  std::string value;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "key99", &value).ok());
  EXPECT_EQ(value, std::string(990, 'v'));
}

}  // namespace
}  // namespace chime::storage
