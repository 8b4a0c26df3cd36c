#include "server/admin/server_collectors.h"

#include <rocksdb/db.h>

#include <string>

namespace chime::admin {
namespace {

uint64_t DbProperty(rocksdb::DB* db, const std::string& name) {
  uint64_t value = 0;
  if (!db->GetIntProperty(name, &value)) return 0;
  return value;
}

// Summed over every column family of the shard.
uint64_t AggregatedProperty(rocksdb::DB* db, const std::string& name) {
  uint64_t value = 0;
  if (!db->GetAggregatedIntProperty(name, &value)) return 0;
  return value;
}

}  // namespace

void CollectServerMetrics(const storage::Store& store, const engine::Engine& engine,
                          const delivery::DeliveryManager& delivery, metrics::Emitter& out) {
  for (int i = 0; i < store.shard_count(); ++i) {
    const storage::ShardStore* shard = store.shard(i);
    const std::string s = std::to_string(i);
    out.EmitGauge("chime_timers_pending",
                  "Timers per shard waiting to fire (scheduled) or fired and not yet "
                  "acknowledged (delivering); RocksDB estimates.",
                  {{"shard", s}, {"state", "scheduled"}},
                  static_cast<double>(shard->EstimateScheduled()));
    out.EmitGauge("chime_timers_pending", "", {{"shard", s}, {"state", "delivering"}},
                  static_cast<double>(shard->EstimateDeliveries()));
    out.EmitGauge("chime_dead_letters", "Fires in the dead letters per shard (estimate).",
                  {{"shard", s}}, static_cast<double>(shard->EstimateDeadLetters()));
    const storage::ShardStore::WriteStats writes = shard->GetWriteStats();
    out.EmitCounter("chime_storage_write_groups_total",
                    "Group commits per shard: RocksDB writes, each of one or more transactions.",
                    {{"shard", s}}, static_cast<double>(writes.groups));
    out.EmitCounter("chime_storage_transactions_total",
                    "Transactions (creates, fires, acks, ...) run by the shard's writer.",
                    {{"shard", s}}, static_cast<double>(writes.transactions));
    out.EmitCounter("chime_storage_wal_syncs_total", "WAL syncs (fdatasync) per shard.",
                    {{"shard", s}}, static_cast<double>(writes.wal_syncs));
    out.EmitCounter("chime_storage_wal_sync_seconds_total",
                    "Time spent in WAL syncs per shard; over chime_storage_wal_syncs_total, the "
                    "disk's sync latency.",
                    {{"shard", s}}, absl::ToDoubleSeconds(writes.wal_sync_time));
    out.EmitCounter("chime_storage_synced_transactions_total",
                    "Durable transactions answered after a WAL sync, per shard; over "
                    "chime_storage_wal_syncs_total, how many each sync carried.",
                    {{"shard", s}}, static_cast<double>(writes.synced_transactions));
    out.EmitCounter("chime_storage_record_reads_total",
                    "Timer and delivery reads of the shard's transactions (fires, acks, ...): "
                    "answered from the records the writer keeps (source hot) or read from "
                    "RocksDB (source rocksdb).",
                    {{"shard", s}, {"record", "timer"}, {"source", "hot"}},
                    static_cast<double>(writes.timer_reads.hot));
    out.EmitCounter("chime_storage_record_reads_total", "",
                    {{"shard", s}, {"record", "timer"}, {"source", "rocksdb"}},
                    static_cast<double>(writes.timer_reads.db));
    out.EmitCounter("chime_storage_record_reads_total", "",
                    {{"shard", s}, {"record", "delivery"}, {"source", "hot"}},
                    static_cast<double>(writes.delivery_reads.hot));
    out.EmitCounter("chime_storage_record_reads_total", "",
                    {{"shard", s}, {"record", "delivery"}, {"source", "rocksdb"}},
                    static_cast<double>(writes.delivery_reads.db));
    const storage::ShardStore::RetentionStats retention = shard->GetRetentionStats();
    out.EmitCounter("chime_storage_expired_records_total",
                    "Records removed past --retention per shard: ended timers (kind timer) and "
                    "idempotency keys (kind idempotency_key).",
                    {{"shard", s}, {"kind", "timer"}},
                    static_cast<double>(retention.timers_removed));
    out.EmitCounter("chime_storage_expired_records_total", "",
                    {{"shard", s}, {"kind", "idempotency_key"}},
                    static_cast<double>(retention.idempotency_keys_removed));
    rocksdb::DB* db = shard->db();
    out.EmitGauge("chime_rocksdb_write_stopped",
                  "1 while RocksDB stops writes to the shard (write stall).", {{"shard", s}},
                  static_cast<double>(DbProperty(db, "rocksdb.is-write-stopped")));
    out.EmitGauge("chime_rocksdb_delayed_write_rate_bytes",
                  "Write rate RocksDB throttles the shard to while writes are delayed; 0 "
                  "when not delayed.",
                  {{"shard", s}},
                  static_cast<double>(DbProperty(db, "rocksdb.actual-delayed-write-rate")));
    out.EmitGauge("chime_rocksdb_live_sst_bytes", "Size of the shard's live SST files.",
                  {{"shard", s}},
                  static_cast<double>(AggregatedProperty(db, "rocksdb.live-sst-files-size")));
    out.EmitGauge("chime_rocksdb_memtable_bytes", "Size of the shard's memtables.", {{"shard", s}},
                  static_cast<double>(AggregatedProperty(db, "rocksdb.cur-size-all-mem-tables")));
  }
  out.EmitGauge("chime_storage_disk_bytes", "Bytes on disk (SST + WAL) of all shards.", {},
                static_cast<double>(store.DiskBytes()));
  for (const engine::ShardStats& stats : engine.Stats()) {
    out.EmitGauge(
        "chime_engine_window_timers", "Timers held in memory per shard (due inside the window).",
        {{"shard", std::to_string(stats.shard)}}, static_cast<double>(stats.heap_entries));
    out.EmitGauge("chime_engine_held_fires",
                  "Due fires per shard waiting in memory, unwritten, for their subscribers' room.",
                  {{"shard", std::to_string(stats.shard)}}, static_cast<double>(stats.held_fires));
  }
  size_t subscribers = 0;
  for (const auto& [key, topic] : delivery.AllTopicStats()) {
    subscribers += topic.subscribers;
    const auto& [ns, name] = key;
    out.EmitGauge("chime_topic_fires",
                  "Fires held in memory per subscribed topic: ready to send, or in flight "
                  "(sent, awaiting ack).",
                  {{"namespace", ns}, {"topic", name}, {"state", "ready"}},
                  static_cast<double>(topic.ready));
    out.EmitGauge("chime_topic_fires", "",
                  {{"namespace", ns}, {"topic", name}, {"state", "in_flight"}},
                  static_cast<double>(topic.in_flight));
    out.EmitGauge("chime_topic_backlog_on_disk",
                  "1 when a subscribed topic has pending fires waiting on disk only.",
                  {{"namespace", ns}, {"topic", name}}, topic.backlog_on_disk ? 1 : 0);
  }
  out.EmitGauge("chime_subscribers_connected", "Subscribe streams connected.", {},
                static_cast<double>(subscribers));
}

}  // namespace chime::admin
