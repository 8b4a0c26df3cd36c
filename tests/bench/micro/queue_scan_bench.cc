// What the webhook dispatcher reads at start-up to find the namespaces with pending webhook
// fires, in a shard holding a backlog of `pending` deliveries of a topic nobody consumes and
// one webhook fire. First argument: 0 reads every pending delivery (ShardStore::
// ScanAllDeliveries, as before), 1 one queue entry per topic (ShardStore::ScanQueuedTopics).
// Second: 1 when the backlog's queue entries carry no copy of their record (QueueCopy::
// kKeyOnly: fires written while delivery expected to keep them in memory), so a full read
// looks each record up.
#include <benchmark/benchmark.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/engine/engine.h"
#include "storage/store.h"
#include "tests/bench/micro/temp_store.h"

namespace chime::storage {
namespace {

absl::Status FillBacklog(ShardStore* shard, int64_t pending, QueueCopy copy) {
  for (int64_t b = 0; b < pending; b += 1000) {
    absl::Status s = shard->SubmitAndWait([&](ShardTxn& txn) {
      for (int64_t i = b; i < std::min(pending, b + 1000); ++i) {
        DeliveryRecord d;
        v1::Fire& f = *d.mutable_fire();
        f.set_fire_id(absl::StrCat("t-", i, "@0"));
        f.set_namespace_("default");
        f.set_timer_id(absl::StrCat("t-", i));
        f.set_topic("idle");
        f.set_payload(std::string(64, 'p'));
        d.set_visible_at_us(1'800'000'000'000'000 + i);
        txn.PutNewDelivery(d, copy);
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  return shard->SubmitAndWait([](ShardTxn& txn) {
    DeliveryRecord d;
    v1::Fire& f = *d.mutable_fire();
    f.set_fire_id("w@0");
    f.set_namespace_("hooks");
    f.set_timer_id("w");
    f.set_topic(engine::kWebhookTopic);
    d.set_visible_at_us(1);
    txn.PutNewDelivery(d, QueueCopy::kWithRecord);
    return absl::OkStatus();
  });
}

void BM_FindWebhookNamespaces(benchmark::State& state) {
  const bool per_topic = state.range(0) == 1;
  const QueueCopy copy = state.range(1) == 1 ? QueueCopy::kKeyOnly : QueueCopy::kWithRecord;
  const int64_t pending = 100'000;
  TempStore temp(state);
  if (temp.store() == nullptr) return;
  ShardStore* shard = temp.store()->shard(0);
  if (absl::Status s = FillBacklog(shard, pending, copy); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  for (auto _ : state) {
    std::set<std::string> found;
    absl::Status s =
        per_topic ? shard->ScanQueuedTopics([&](absl::string_view ns, absl::string_view topic) {
          if (topic == engine::kWebhookTopic) found.insert(std::string(ns));
          return true;
        })
                  : shard->ScanAllDeliveries([&](const DeliveryRecord& record) {
                      if (record.fire().topic() == engine::kWebhookTopic) {
                        found.insert(record.fire().namespace_());
                      }
                      return true;
                    });
    if (!s.ok() || found != std::set<std::string>{"hooks"}) {
      state.SkipWithError(s.ok() ? "the webhook namespace was not found"
                                 : std::string(s.message()).c_str());
      break;
    }
  }
}
BENCHMARK(BM_FindWebhookNamespaces)
    ->ArgNames({"per_topic", "key_only"})
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chime::storage
