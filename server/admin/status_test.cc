#include "server/admin/status.h"

#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::admin {
namespace {

using chime::testing::TempDir;

TEST(CollectStatusTest, ReportsShardsAndTheOldestOverdueTimer) {
  TempDir dir;
  storage::StoreOptions options;
  options.data_dir = dir.path();
  options.shard_count = 2;
  options.fsync = false;
  ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open(options));
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  auto put_due = [&](int shard, absl::Time due, const std::string& id) {
    ASSERT_OK(store->shard(shard)->SubmitAndWait([&](storage::ShardTxn& txn) {
      txn.PutDue(absl::ToUnixMicros(due), "default", id);
      return absl::OkStatus();
    }));
  };
  put_due(0, now + absl::Seconds(10), "future");
  put_due(0, now - absl::Seconds(2), "recent");
  put_due(1, now - absl::Seconds(5), "oldest");

  NodeInfo node{"n-1", "0.1.0", now - absl::Minutes(3), "127.0.0.1:1", "", dir.path(), true};
  ASSERT_OK_AND_ASSIGN(v1::GetStatusResponse status,
                       CollectStatus(node, *store, nullptr, nullptr, now));
  EXPECT_EQ(status.node_id(), "n-1");
  EXPECT_EQ(FromProto(status.uptime()), absl::Minutes(3));
  ASSERT_EQ(status.shards_size(), 2);
  EXPECT_EQ(status.shards(0).timers_scheduled(), 2u);
  EXPECT_EQ(status.shards(1).timers_scheduled(), 1u);
  EXPECT_EQ(status.timers_scheduled(), 3u);
  // Per shard the earliest due entry at or before now; overall the oldest of them.
  EXPECT_EQ(status.shards(0).oldest_overdue().timer_id(), "recent");
  EXPECT_EQ(status.oldest_overdue().timer_id(), "oldest");
  EXPECT_EQ(status.oldest_overdue().shard(), 1u);
  EXPECT_EQ(FromProto(status.oldest_overdue().overdue_by()), absl::Seconds(5));
  EXPECT_EQ(status.topics_size(), 0);

  // Nothing overdue an hour earlier.
  ASSERT_OK_AND_ASSIGN(status, CollectStatus(node, *store, nullptr, nullptr, now - absl::Hours(1)));
  EXPECT_FALSE(status.has_oldest_overdue());
  EXPECT_FALSE(status.shards(0).has_oldest_overdue());
}

}  // namespace
}  // namespace chime::admin
