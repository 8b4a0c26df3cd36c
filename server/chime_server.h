// One chime node in a process: Store -> Engine -> DeliveryManager -> gRPC server
// (TimerService on the callback API, the standard health service and server reflection).
// chimed's main() and the in-process integration tests both use it.
//
//   ServerOptions options;
//   options.data_dir = dir;
//   options.listen = "127.0.0.1:0";
//   CHIME_ASSIGN_OR_RETURN(auto server, ChimeServer::Start(options));
//   ... connect to server->address() ...
//   server->Shutdown(absl::Now() + absl::Seconds(5));
//
// Thread-safe.
#ifndef CHIME_SERVER_CHIME_SERVER_H_
#define CHIME_SERVER_CHIME_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "metrics/registry.h"
#include "server/api/call_tracker.h"
#include "server/delivery/delivery_manager.h"
#include "server/engine/engine.h"
#include "server/webhook/webhook_dispatcher.h"
#include "storage/store.h"

namespace chime {

namespace api {
class ReadPool;
class TimerService;
}  // namespace api
namespace admin {
class AdminService;
class FireMetricsListener;
}  // namespace admin
namespace http {
class HttpServer;
}  // namespace http

struct ServerOptions {
  std::string data_dir;
  // host:port; port 0 lets the kernel choose (see ChimeServer::port()).
  std::string listen = "0.0.0.0:7070";
  // 0: storage::DefaultShardCount() when the data dir is created, the existing count otherwise.
  int shards = 0;
  // Sync the WAL before acknowledging writes. false only for tests and benchmarks.
  bool fsync = true;
  // Longest a subscriber's ack or nack waits for its sync (storage::ShardStore::Sync::kDeferred).
  absl::Duration ack_sync_delay = absl::Milliseconds(50);
  // How long ended timers and idempotency keys are kept (storage/retention.h); replaces
  // engine.retention. InfiniteDuration(): for good.
  absl::Duration retention = absl::InfiniteDuration();
  // Memory for the records fires and acks read back, all shards together
  // (storage::StoreOptions::hot_record_bytes); 0 turns it off.
  size_t hot_record_bytes = size_t{320} << 20;
  // Heap entries of all shards together, split evenly (at least 1 each): replaces
  // engine.max_heap_entries_per_shard unless 0. A bound on the whole process's heap memory
  // whatever the shard count (one per core by default).
  size_t max_heap_entries = 0;
  Clock* clock = Clock::Real();
  // `clock` replaces engine.clock and delivery.clock; engine.default_ack_deadline replaces
  // delivery.default_ack_deadline, so both layers agree.
  engine::EngineOptions engine;
  delivery::DeliveryOptions delivery;
  // Threads serving GetTimer/ListTimers reads.
  int read_threads = 4;
  // host:port of the operator HTTP endpoints (/metrics, /healthz, /readyz); empty: none.
  // Started first, so /readyz answers "not ready" while the store recovers.
  std::string http_listen;
  // Webhook delivery: SSRF policy (also checked at create time), concurrency, secrets.
  // The clock and metrics registry are the server's.
  webhook::WebhookDispatcherOptions webhook;
};

class ChimeServer {
 public:
  // Opens the store, starts the engine, delivery and the gRPC server. Errors: the store's
  // (e.g. a --shards mismatch), or UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<ChimeServer>> Start(ServerOptions options);
  ~ChimeServer();  // Shutdown(now + 5 s) unless already shut down

  // The port actually bound, and "host:port" with it.
  int port() const { return port_; }
  const std::string& address() const { return address_; }
  int shard_count() const;
  // The HTTP port and "host:port" actually bound; 0 and "" without http_listen.
  int http_port() const;
  const std::string& http_address() const { return http_address_; }
  // True from the end of Start (store open, engine started, gRPC serving) until Shutdown.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // The node's metrics (served at /metrics); components register into it.
  metrics::Registry* registry() const { return registry_.get(); }
  absl::Time start_time() const { return start_time_; }
  // Persisted in the data dir (DATA_DIR/node_id).
  const std::string& node_id() const { return node_id_; }

  // Stops accepting calls, ends Subscribe streams with UNAVAILABLE "server shutting down,
  // reconnect", waits until `deadline` for calls in progress (then cancels them), stops the
  // engine and delivery and closes the store. Idempotent.
  void Shutdown(absl::Time deadline);

  engine::Engine* engine() const { return engine_.get(); }
  delivery::DeliveryManager* delivery() const { return delivery_.get(); }
  storage::Store* store() const { return store_.get(); }

 private:
  ChimeServer();
  // Waits (bounded) until every shard has loaded its first window, logging progress.
  void AwaitFirstWindows(absl::Time since);

  int port_ = 0;
  std::string address_;
  std::string http_address_;
  std::string node_id_;
  std::string data_dir_;
  absl::Time start_time_;
  std::atomic<bool> ready_{false};
  // Declared first: destroyed last, after everything holding metric pointers.
  std::unique_ptr<metrics::Registry> registry_;
  metrics::Registry::CollectorId server_collector_ = 0;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<admin::FireMetricsListener> fire_metrics_;
  // Outlives store_ and delivery_: their last callbacks may still reach it (stopped).
  std::unique_ptr<webhook::WebhookDispatcher> webhooks_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<delivery::DeliveryManager> delivery_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<api::ReadPool> reads_;
  std::unique_ptr<api::TimerService> service_;
  std::unique_ptr<admin::AdminService> admin_;
  // Outlives server_: the interceptors of its last calls report here.
  api::CallTracker calls_;
  std::unique_ptr<grpc::Server> server_;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace chime

#endif  // CHIME_SERVER_CHIME_SERVER_H_
