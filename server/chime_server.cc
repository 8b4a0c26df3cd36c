#include "server/chime_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "metrics/process_collector.h"
#include "server/admin/admin_service.h"
#include "server/admin/fire_metrics.h"
#include "server/admin/grpc_metrics.h"
#include "server/admin/node_id.h"
#include "server/admin/server_collectors.h"
#include "server/admin/status.h"
#include "server/admin/status_page.h"
#include "server/api/read_pool.h"
#include "server/api/timer_service.h"
#include "server/http/http_server.h"
#include "server/http/operator_handlers.h"

namespace chime {
namespace {

// Shards whose memtables hold less are not flushed at shutdown: replaying that little is
// quicker than writing table files (and tests start and stop small stores often).
constexpr uint64_t kFlushOnShutdownMinBytes = uint64_t{1} << 20;

// "host:port" with the port replaced by the one bound ("[::]:0" -> "[::]:41234").
std::string WithPort(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  const std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  return absl::StrCat(host, ":", port);
}

}  // namespace

ChimeServer::ChimeServer() = default;

ChimeServer::~ChimeServer() { Shutdown(absl::Now() + absl::Seconds(5)); }

int ChimeServer::shard_count() const { return store_->shard_count(); }

int ChimeServer::http_port() const { return http_ == nullptr ? 0 : http_->port(); }

absl::StatusOr<std::unique_ptr<ChimeServer>> ChimeServer::Start(ServerOptions options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir is required");
  std::unique_ptr<ChimeServer> server(new ChimeServer());
  server->start_time_ = options.clock->Now();
  server->registry_ = std::make_unique<metrics::Registry>();
  metrics::AddProcessCollector(server->registry_.get());
  if (!options.http_listen.empty()) {
    server->http_ = std::make_unique<http::HttpServer>();
    ChimeServer* self = server.get();
    server->http_->Handle("/metrics", http::MetricsHandler(server->registry_.get()));
    server->http_->Handle("/healthz", http::HealthzHandler());
    server->http_->Handle("/readyz", http::ReadyzHandler([self] { return self->ready(); }));
    server->http_->Handle("/", admin::StatusPageHandler());
    if (absl::Status s = server->http_->Start(options.http_listen); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("--http-listen: ", s.message()));
    }
    server->http_address_ = WithPort(options.http_listen, server->http_->port());
  }

  storage::StoreOptions store_options;
  store_options.data_dir = options.data_dir;
  store_options.shard_count = options.shards;
  store_options.fsync = options.fsync;
  store_options.deferred_sync_delay = options.ack_sync_delay;
  // The engine fires what its window holds; a timer written inside it is read back by its fire.
  store_options.hot_timer_horizon = options.engine.window;
  store_options.hot_record_bytes = options.hot_record_bytes;
  store_options.hot_record_clock = options.clock;
  store_options.retention.retention = options.retention;
  store_options.retention.clock = options.clock;
  store_options.retention.resolve_completion = [](const storage::ShardStore& shard,
                                                  internal::TimerRecord& record) {
    return engine::ResolveCompletion(shard, record);
  };
  const absl::Time open_start = absl::Now();
  CHIME_LOG(kInfo, "opening store", {{"data_dir", options.data_dir}});
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(store_options);
  if (!store.ok()) return store.status();
  server->store_ = *std::move(store);
  for (int i = 0; i < server->store_->shard_count(); ++i) {
    const storage::ShardStore* shard = server->store_->shard(i);
    CHIME_LOG(kInfo, "shard opened",
              {{"shard", i},
               {"timers_scheduled", shard->EstimateScheduled()},
               {"deliveries_pending", shard->EstimateDeliveries()},
               {"disk_bytes", shard->DiskBytes()}});
  }
  CHIME_LOG(kInfo, "store opened",
            {{"shards", server->store_->shard_count()}, {"took", absl::Now() - open_start}});
  server->data_dir_ = options.data_dir;
  absl::StatusOr<std::string> node_id = admin::LoadOrCreateNodeId(options.data_dir);
  if (!node_id.ok()) return node_id.status();
  server->node_id_ = *std::move(node_id);

  options.engine.clock = options.clock;
  if (options.max_heap_entries > 0) {
    options.engine.max_heap_entries_per_shard = std::max<size_t>(
        1, options.max_heap_entries / static_cast<size_t>(server->store_->shard_count()));
  }
  options.engine.warm_loaded_timers = options.hot_record_bytes > 0;
  // Cheap (once per idle spell) and the first fires after a pause are the ones users watch.
  options.engine.touch_after_idle = absl::Seconds(1);
  options.engine.retention = options.retention;
  options.delivery.clock = options.clock;
  options.delivery.default_ack_deadline = options.engine.default_ack_deadline;
  options.delivery.metrics = server->registry_.get();
  server->delivery_ =
      std::make_unique<delivery::DeliveryManager>(server->store_.get(), options.delivery);
  options.webhook.clock = options.clock;
  options.webhook.metrics = server->registry_.get();
  const webhook::AddressPolicy webhook_policy = options.webhook.client.policy;
  server->webhooks_ = std::make_unique<webhook::WebhookDispatcher>(
      server->store_.get(), server->delivery_.get(), std::move(options.webhook));
  // Before the engine: fires of the first window reach an already listening dispatcher.
  server->webhooks_->Start();
  server->fire_metrics_ = std::make_unique<admin::FireMetricsListener>(
      server->registry_.get(), server->store_->shard_count(), server->delivery_.get());
  absl::StatusOr<std::unique_ptr<engine::Engine>> engine =
      engine::Engine::Start(server->store_.get(), options.engine, server->fire_metrics_.get());
  if (!engine.ok()) {
    server->webhooks_->Stop();
    server->delivery_->Stop();
    return engine.status();
  }
  server->engine_ = *std::move(engine);
  server->AwaitFirstWindows(open_start);
  server->reads_ = std::make_unique<api::ReadPool>(options.read_threads, /*max_queued=*/10'000);
  server->service_ = std::make_unique<api::TimerService>(
      server->engine_.get(), server->delivery_.get(), server->reads_.get(), webhook_policy);
  {
    ChimeServer* self = server.get();
    Clock* clock = options.clock;
    auto status = [self, clock] {
      admin::NodeInfo node{self->node_id_,      CHIME_VERSION,   self->start_time_, self->address_,
                           self->http_address_, self->data_dir_, self->ready()};
      return admin::CollectStatus(node, *self->store_, self->engine_.get(), self->delivery_.get(),
                                  clock->Now());
    };
    server->admin_ = std::make_unique<admin::AdminService>(status, server->reads_.get());
    if (server->http_ != nullptr) {
      // Shutdown stops the HTTP server before the components this reads go away.
      server->http_->Handle("/status.json",
                            admin::StatusJsonHandler(status, server->registry_.get()));
    }
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->admin_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(admin::MakeGrpcMetricsInterceptorFactory(server->registry_.get()));
  interceptors.push_back(server->calls_.MakeInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // Subscribe streams live for hours: ping idle connections so dead peers are noticed and
  // proxies keep them open, and let clients ping us as often as every 10 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    server->server_.reset();
    server->Shutdown(absl::Now());
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  server->port_ = port;
  server->address_ = WithPort(options.listen, port);
  {
    ChimeServer* self = server.get();
    server->server_collector_ = server->registry_->AddCollector([self](metrics::Emitter& out) {
      admin::CollectServerMetrics(*self->store_, *self->engine_, *self->delivery_, out);
    });
  }
  // The overall status ("") is SERVING from BuildAndStart, which comes after recovery; name
  // the services too, for probes that ask about one.
  if (auto* health = server->server_->GetHealthCheckService()) {
    health->SetServingStatus(v1::TimerService::service_full_name(), true);
    health->SetServingStatus(v1::AdminService::service_full_name(), true);
  }
  server->ready_.store(true, std::memory_order_release);
  CHIME_LOG(kInfo, "serving",
            {{"grpc", server->address_},
             {"http", server->http_address_},
             {"node_id", server->node_id_},
             {"version", CHIME_VERSION}});
  return server;
}

void ChimeServer::AwaitFirstWindows(absl::Time since) {
  // Start-up only: the dispatchers load their first window right away; wait for that (a
  // bounded poll) so readiness means "timers due soon are in memory", and report it.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  std::vector<bool> reported(store_->shard_count(), false);
  size_t loaded = 0;
  while (loaded < reported.size()) {
    for (const engine::ShardStats& stats : engine_->Stats()) {
      if (stats.window_end_us == 0 || static_cast<size_t>(stats.shard) >= reported.size() ||
          reported[stats.shard]) {
        continue;
      }
      reported[stats.shard] = true;
      ++loaded;
      CHIME_LOG(
          kInfo, "window loaded",
          {{"shard", stats.shard},
           {"timers", stats.heap_entries},
           {"until", absl::FormatTime(absl::RFC3339_full, absl::FromUnixMicros(stats.window_end_us),
                                      absl::UTCTimeZone())}});
    }
    if (loaded == reported.size()) break;
    if (absl::Now() > give_up) {
      CHIME_LOG(kWarn, "first windows still loading; serving anyway",
                {{"loaded", loaded}, {"shards", reported.size()}});
      return;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  size_t in_memory = 0;
  for (const engine::ShardStats& stats : engine_->Stats()) in_memory += stats.heap_entries;
  CHIME_LOG(kInfo, "recovery finished",
            {{"shards", loaded}, {"timers_in_window", in_memory}, {"took", absl::Now() - since}});
}

void ChimeServer::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  CHIME_LOG(kInfo, "server shutting down");
  ready_.store(false, std::memory_order_release);
  // Probes see the port close (not ready); handlers reading the components finish first.
  if (http_ != nullptr) http_->Stop();
  // The collector reads the components torn down below.
  if (server_collector_ != 0) registry_->RemoveCollector(server_collector_);
  if (server_ != nullptr) {
    if (auto* health = server_->GetHealthCheckService()) health->Shutdown();  // NOT_SERVING
  }
  // New calls are refused with UNAVAILABLE; streams end with a status that tells clients to
  // reconnect elsewhere or later.
  if (service_ != nullptr) service_->StopAccepting();
  if (delivery_ != nullptr) {
    delivery_->CloseAll(absl::UnavailableError("server shutting down, reconnect"));
  }
  if (server_ != nullptr) {
    // The calls in flight finish (their writes are durable and answered); then the connections
    // close at once rather than at `deadline` (see CallTracker), cancelling what is left.
    if (!calls_.WaitIdle(deadline)) {
      CHIME_LOG(kWarn, "cancelling calls still running at the shutdown deadline",
                {{"calls", calls_.alive()}});
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now()));
    server_->Wait();
  }
  if (reads_ != nullptr) reads_->Stop();
  engine_.reset();
  // Before delivery stops: requests in flight are abandoned, their fires stay pending.
  if (webhooks_ != nullptr) webhooks_->Stop();
  // The delivery thread reads the store; its transactions must finish while it is open.
  if (delivery_ != nullptr) delivery_->Stop();
  // Closing the store drains queued transactions, which may still call OnFires. Flushing the
  // memtables makes the next start (a deploy's restart) replay almost no WAL.
  if (store_ != nullptr) {
    const absl::Time flush_start = absl::Now();
    if (absl::Status s = store_->CloseAndFlush(kFlushOnShutdownMinBytes); !s.ok()) {
      CHIME_LOG(kWarn, "flushing the store at shutdown failed; the next start replays the WAL",
                {{"error", s.ToString()}});
    } else {
      CHIME_LOG(kInfo, "store flushed", {{"took", absl::Now() - flush_start}});
    }
  }
  store_.reset();
  delivery_.reset();
}

}  // namespace chime
