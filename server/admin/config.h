// chimed's settings: each from a command-line flag, a CHIME_<NAME> environment variable, a
// config file of `key = value` lines, or its default, in that order of precedence.
//
//   CHIME_ASSIGN_OR_RETURN(ChimedConfig config,
//                          LoadChimedConfig(args, [](const std::string& name) { ... getenv ... }));
//
// Flags are "--name value" or "--name=value" (dashes or underscores). The environment
// variable of --http-listen is CHIME_HTTP_LISTEN. The config file comes from --config or
// CHIME_CONFIG; its keys are the flag names, '#' starts a comment, and a value may be quoted
// ("..." for an empty value). Unknown flags or keys and invalid values are errors that name
// the setting, the value and where it came from.
#ifndef CHIME_SERVER_ADMIN_CONFIG_H_
#define CHIME_SERVER_ADMIN_CONFIG_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "server/webhook/address_policy.h"
#include "server/webhook/signer.h"

namespace chime::admin {

struct SettingSpec {
  std::string name;  // flag name, with dashes: "http-listen"
  std::string default_value;
  std::string value_name;  // for --help: "HOST:PORT"
  std::string help;
  // May be given more than once (each flag adds a value; the environment variable and the
  // config file take a comma-separated list).
  bool repeatable = false;
};

// Every chimed setting, in --help order.
const std::vector<SettingSpec>& ChimedSettings();

// "http-listen" -> "CHIME_HTTP_LISTEN".
std::string EnvName(const std::string& setting);

struct SettingValue {
  std::string value;
  std::string source;  // "flag", "env CHIME_X", "file PATH:LINE", "default"
};

// Typed, validated settings.
struct ChimedConfig {
  std::string data_dir;
  std::string listen;
  std::string http_listen;  // empty: no HTTP server
  int shards = 0;
  bool fsync = true;
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
  absl::Duration fire_ahead = absl::Milliseconds(5);          // EngineOptions::fire_ahead
  bool defer_fire_writes = true;                              // EngineOptions::defer_fire_writes
  absl::Duration ack_sync_delay = absl::Milliseconds(50);     // StoreOptions::deferred_sync_delay
  absl::Duration create_shard_turn = absl::Milliseconds(10);  // EngineOptions::create_shard_turn
  size_t max_heap_entries = 1'200'000;           // ServerOptions::max_heap_entries (all shards)
  size_t max_held_fires = 250'000;               // EngineOptions::max_held_fires_per_shard
  absl::Duration retention = absl::Hours(24);    // InfiniteDuration(): never (storage/retention.h)
  size_t hot_records_bytes = size_t{320} << 20;  // StoreOptions::hot_record_bytes
  // Delivery policy defaults, for timers whose policy leaves a field unset.
  absl::Duration default_ack_deadline = absl::Seconds(30);
  uint32_t default_max_attempts = 5;
  absl::Duration default_min_backoff = absl::Seconds(1);
  absl::Duration default_max_backoff = absl::Minutes(5);
  // Webhooks: --webhook-allow CIDRs (SSRF allow-list), --webhook-secret NS=SECRET and the
  // lines of --webhook-secrets-file, request concurrency in all and per host.
  webhook::AddressPolicy webhook_policy;
  webhook::WebhookSecrets webhook_secrets;
  int webhook_max_concurrent = 64;
  int webhook_max_per_host = 8;
  std::string config_file;  // empty: none
  bool help = false;        // --help was given: print ChimedHelp() and exit
  // Every setting's effective value and its source, by name.
  std::map<std::string, SettingValue> effective;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
using FileReader = std::function<absl::StatusOr<std::string>(const std::string& path)>;

// Parses `args` (argv without the program name). `read_file` defaults to reading the file
// system. INVALID_ARGUMENT (with a message fit for the operator) for anything wrong.
absl::StatusOr<ChimedConfig> LoadChimedConfig(const std::vector<std::string>& args,
                                              const EnvLookup& env,
                                              const FileReader& read_file = nullptr);

// The --help text: usage, then each setting with its environment variable and default.
std::string ChimedHelp();

}  // namespace chime::admin

#endif  // CHIME_SERVER_ADMIN_CONFIG_H_
