// Scrape-time metrics of a running node, read from its components' cheap estimates:
//   chime_timers_pending{shard,state}     state "scheduled" (waiting to fire, time index) or
//                                         "delivering" (fired, not yet acknowledged)
//   chime_dead_letters{shard}             fires in the dead letters
//   chime_engine_window_timers{shard}     timers held in memory (due inside the window)
//   chime_subscribers_connected           Subscribe streams
//   chime_topic_fires{namespace,topic,state}  per subscribed topic: ready / in_flight
//   chime_topic_backlog_on_disk{namespace,topic}  1 when pending fires wait on disk only
//   chime_rocksdb_write_stopped{shard}, chime_rocksdb_delayed_write_rate_bytes{shard}
//   chime_rocksdb_live_sst_bytes{shard}, chime_rocksdb_memtable_bytes{shard}
//   chime_storage_disk_bytes              SST + WAL bytes of all shards
// All values are RocksDB estimates or in-memory counts; no scan runs during a scrape.
#ifndef CHIME_SERVER_ADMIN_SERVER_COLLECTORS_H_
#define CHIME_SERVER_ADMIN_SERVER_COLLECTORS_H_

#include "metrics/emitter.h"
#include "server/delivery/delivery_manager.h"
#include "server/engine/engine.h"
#include "storage/store.h"

namespace chime::admin {

// Emits the samples above. The components must be alive while it runs (remove the
// collector before destroying them).
void CollectServerMetrics(const storage::Store& store, const engine::Engine& engine,
                          const delivery::DeliveryManager& delivery, metrics::Emitter& out);

}  // namespace chime::admin

#endif  // CHIME_SERVER_ADMIN_SERVER_COLLECTORS_H_
