#include "server/admin/status.h"

#include <vector>

#include "common/proto_time.h"

namespace chime::admin {

absl::StatusOr<v1::GetStatusResponse> CollectStatus(const NodeInfo& node,
                                                    const storage::Store& store,
                                                    const engine::Engine* engine,
                                                    const delivery::DeliveryManager* delivery,
                                                    absl::Time now) {
  v1::GetStatusResponse out;
  out.set_node_id(node.node_id);
  out.set_version(node.version);
  *out.mutable_start_time() = ToProtoTimestamp(node.start_time);
  *out.mutable_uptime() = ToProtoDuration(now - node.start_time);
  *out.mutable_now() = ToProtoTimestamp(now);
  out.set_ready(node.ready);
  out.set_grpc_address(node.grpc_address);
  out.set_http_address(node.http_address);
  out.set_data_dir(node.data_dir);

  const std::vector<engine::ShardStats> engine_stats =
      engine != nullptr ? engine->Stats() : std::vector<engine::ShardStats>();
  const int64_t now_us = absl::ToUnixMicros(now);
  for (int i = 0; i < store.shard_count(); ++i) {
    const storage::ShardStore* shard = store.shard(i);
    v1::ShardStatus* s = out.add_shards();
    s->set_shard(i);
    s->set_timers_scheduled(shard->EstimateScheduled());
    s->set_deliveries_pending(shard->EstimateDeliveries());
    s->set_dead_letters(shard->EstimateDeadLetters());
    s->set_disk_bytes(shard->DiskBytes());
    if (static_cast<size_t>(i) < engine_stats.size()) {
      s->set_window_timers(engine_stats[i].heap_entries);
      s->set_fired_total(engine_stats[i].fired_total);
      s->set_held_fires(engine_stats[i].held_fires);
    }
    out.set_timers_scheduled(out.timers_scheduled() + s->timers_scheduled());
    out.set_deliveries_pending(out.deliveries_pending() + s->deliveries_pending());

    // The earliest timer not fired yet: with the engine's figures, its heap's top or the first
    // entry it has not loaded (below its load cursor, an entry not in the heap belongs to a
    // fire handed to delivery before its write, engine::EngineOptions::defer_fire_writes).
    std::vector<storage::DueEntry> due;
    bool more = false;
    const engine::ShardStats* engine_shard =
        static_cast<size_t>(i) < engine_stats.size() ? &engine_stats[i] : nullptr;
    const std::optional<storage::DueEntry> after =
        engine_shard != nullptr ? engine_shard->load_cursor : std::nullopt;
    if (absl::Status st = shard->ScanDue(after, now_us, 1, &due, &more); !st.ok()) {
      return st;
    }
    if (engine_shard != nullptr && engine_shard->heap_top.has_value() &&
        engine_shard->heap_top->due_us <= now_us &&
        (due.empty() || engine_shard->heap_top->due_us < due[0].due_us)) {
      due.assign(1, *engine_shard->heap_top);
    }
    if (!due.empty()) {
      v1::OverdueTimer* overdue = s->mutable_oldest_overdue();
      overdue->set_shard(i);
      overdue->set_namespace_(due[0].ns);
      overdue->set_timer_id(due[0].timer_id);
      const absl::Time due_time = absl::FromUnixMicros(due[0].due_us);
      *overdue->mutable_due_time() = ToProtoTimestamp(due_time);
      *overdue->mutable_overdue_by() = ToProtoDuration(now - due_time);
      if (!out.has_oldest_overdue() ||
          due[0].due_us < ToUnixMicros(out.oldest_overdue().due_time())) {
        *out.mutable_oldest_overdue() = *overdue;
      }
    }
  }
  out.set_storage_bytes(store.DiskBytes());

  if (delivery == nullptr) return out;
  for (const auto& [key, stats] : delivery->AllTopicStats()) {
    v1::TopicBacklog* topic = out.add_topics();
    topic->set_namespace_(key.first);
    topic->set_topic(key.second);
    topic->set_subscribers(static_cast<uint32_t>(stats.subscribers));
    topic->set_ready(stats.ready);
    topic->set_in_flight(stats.in_flight);
    topic->set_backlog_on_disk(stats.backlog_on_disk);
  }
  return out;
}

}  // namespace chime::admin
