#include "server/admin/node_id.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::admin {
namespace {

using chime::testing::StatusIs;
using chime::testing::TempDir;

TEST(NodeIdTest, CreatedOnceThenKept) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::string first, LoadOrCreateNodeId(dir.path()));
  EXPECT_EQ(first.rfind("n-", 0), 0u);
  EXPECT_EQ(first.size(), 18u);
  ASSERT_OK_AND_ASSIGN(std::string second, LoadOrCreateNodeId(dir.path()));
  EXPECT_EQ(first, second);
  TempDir other;
  ASSERT_OK_AND_ASSIGN(std::string third, LoadOrCreateNodeId(other.path()));
  EXPECT_NE(first, third);
}

TEST(NodeIdTest, GarbageIsDataLoss) {
  TempDir dir;
  std::ofstream(dir.path() + "/node_id") << "not an id!\n";
  EXPECT_THAT(LoadOrCreateNodeId(dir.path()).status(), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace chime::admin
