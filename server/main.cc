// chimed: the chime server.
//
//   chimed --data-dir DIR [--listen 0.0.0.0:7070] [--http-listen 0.0.0.0:9090] [--shards N]
//          [--fsync=always|never] [--log-format=text|json] [--log-level=info] [--config FILE]
//
// Every flag can also come from a CHIME_<FLAG> environment variable or the --config file
// (server/admin/config.h; `chimed --help` lists them with their defaults).
//
// Prints "chimed: http on <addr>" and then "chimed serving on <addr> (data <dir>, <N> shards)"
// on stdout once it accepts calls (system tests and scripts wait for that line); everything
// else is logged to stderr, one line per event. SIGINT/SIGTERM shut down gracefully; a second
// signal, or shutdown taking longer than 10 s, exits at once.
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "server/admin/config.h"
#include "server/chime_server.h"
#include "server/shutdown_signals.h"
#include "storage/crc32c_override.h"

namespace {

constexpr absl::Duration kGracePeriod = absl::Seconds(10);

int Fail(const std::string& message) {
  fprintf(stderr, "chimed: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // The system abseil is built with Mutex deadlock detection on: every Lock/Unlock then
  // updates a global lock graph (a few % of the server's CPU on the create path). Tests keep
  // it on; the server does not pay it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Timed waits may otherwise wake up to 50 us late (the default timer slack); every thread
  // created from here on inherits the tighter slack, and timers are chime's product.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<chime::admin::ChimedConfig> config = chime::admin::LoadChimedConfig(
      args, [](const std::string& name) -> std::optional<std::string> {
        const char* value = getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
      });
  if (!config.ok()) {
    return Fail(absl::StrCat(config.status().message(), "\n(see chimed --help)"));
  }
  if (config->help) {
    fputs(chime::admin::ChimedHelp().c_str(), stdout);
    return 0;
  }
  chime::log::Configure({.level = config->log_level, .format = config->log_format});
  {
    // The effective configuration, and where each value came from.
    std::string sources;
    for (const auto& [name, v] : config->effective) {
      if (v.source != "default")
        absl::StrAppend(&sources, sources.empty() ? "" : ", ", name, ": ", v.source);
    }
    const auto& e = config->effective;
    CHIME_LOG(kInfo, "config",
              {{"data_dir", e.at("data-dir").value},
               {"listen", e.at("listen").value},
               {"http_listen", e.at("http-listen").value},
               {"shards", e.at("shards").value},
               {"fsync", e.at("fsync").value},
               {"hot_records_mb", e.at("hot-records-mb").value},
               {"log_format", e.at("log-format").value},
               {"log_level", e.at("log-level").value},
               {"config", e.at("config").value},
               {"webhook_allow", e.at("webhook-allow").value},
               {"webhook_secrets", config->webhook_secrets.size()},
               {"crc32c", chime::storage::Crc32cImplementation()},
               {"set_by", sources}});
  }

  chime::ServerOptions options;
  options.data_dir = config->data_dir;
  options.listen = config->listen;
  options.http_listen = config->http_listen;
  options.shards = config->shards;
  options.fsync = config->fsync;
  options.ack_sync_delay = config->ack_sync_delay;
  options.retention = config->retention;
  options.hot_record_bytes = config->hot_records_bytes;
  options.engine.default_ack_deadline = config->default_ack_deadline;  // delivery follows it
  options.engine.fire_ahead = config->fire_ahead;
  options.engine.defer_fire_writes = config->defer_fire_writes;
  options.engine.create_shard_turn = config->create_shard_turn;
  options.max_heap_entries = config->max_heap_entries;
  options.engine.max_held_fires_per_shard = config->max_held_fires;
  options.delivery.default_max_attempts = config->default_max_attempts;
  options.delivery.default_min_backoff = config->default_min_backoff;
  options.delivery.default_max_backoff = config->default_max_backoff;
  options.webhook.client.policy = config->webhook_policy;
  options.webhook.client.max_concurrent = config->webhook_max_concurrent;
  options.webhook.client.max_per_host = config->webhook_max_per_host;
  options.webhook.secrets = config->webhook_secrets;

  if (absl::Status s = chime::InstallShutdownSignals(); !s.ok()) return Fail(s.ToString());

  auto server = chime::ChimeServer::Start(options);
  if (!server.ok()) {
    CHIME_LOG(kError, "start failed", {{"error", server.status().ToString()}});
    return Fail(server.status().ToString());
  }
  if (!(*server)->http_address().empty()) {
    printf("chimed: http on %s\n", (*server)->http_address().c_str());
  }
  printf("chimed serving on %s (data %s, %d shards)\n", (*server)->address().c_str(),
         options.data_dir.c_str(), (*server)->shard_count());
  fflush(stdout);
  if (!options.fsync) {
    CHIME_LOG(kWarn, "fsync disabled: acknowledged writes may be lost on power loss or OS crash");
  }

  const int sig = chime::WaitForShutdownSignal();
  CHIME_LOG(kInfo, "shutting down", {{"signal", sig}, {"note", "signal again to force"}});
  // A second signal or a stuck shutdown ends the process without waiting; a shutdown that
  // finished is never cut short.
  static std::atomic<bool> stopped{false};
  const absl::Time grace_end = absl::Now() + kGracePeriod;
  std::thread([grace_end] {
    const int got = chime::WaitForShutdownSignal(grace_end);
    if (stopped.load()) return;
    CHIME_LOG(kError, "exiting now",
              {{"reason", got > 0 ? "second signal" : "shutdown took too long"}});
    _exit(1);
  }).detach();
  (*server)->Shutdown(absl::Now() + absl::Seconds(5));
  server->reset();
  stopped.store(true);
  CHIME_LOG(kInfo, "stopped");
  return 0;
}
