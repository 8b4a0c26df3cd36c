#include "server/admin/config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/time_text.h"
#include "server/http/listen_address.h"

namespace chime::admin {
namespace {

constexpr char kConfig[] = "config";
// --shards at most.
constexpr int64_t kMaxShards = 4096;
// --hot-records-mb at most: 64 GB, far beyond any window's worth of records.
constexpr int64_t kMaxHotRecordsMb = 65536;
// --max-held-fires at most: ~1 GB of held entries per shard.
constexpr int64_t kMaxHeldFires = 10'000'000;
// --max-heap-entries at most: ~1.6 GB of heap entries in all.
constexpr int64_t kMaxHeapEntries = 10'000'000;

const SettingSpec* FindSetting(const std::string& name) {
  for (const SettingSpec& spec : ChimedSettings()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// Flag and file keys accept underscores for dashes.
std::string Canonical(std::string name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status Invalid(const std::string& name, const SettingValue& v, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid --", name, " \"", v.value, "\" (from ", v.source, "): ", why));
}

// The setting `name` as a whole number from `min` to `max`.
absl::StatusOr<int64_t> WholeNumber(std::map<std::string, SettingValue>& values,
                                    const std::string& name, int64_t min, int64_t max) {
  const SettingValue& v = values[name];
  int64_t n = 0;
  if (!absl::SimpleAtoi(v.value, &n) || n < min || n > max) {
    return Invalid(name, v, absl::StrCat("must be a whole number from ", min, " to ", max));
  }
  return n;
}

// Parses `key = value` lines into `out` (only keys not set yet).
absl::Status ParseConfigFile(const std::string& path, const std::string& text,
                             std::map<std::string, SettingValue>* out) {
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    const std::string where = absl::StrCat(path, ":", number);
    std::string_view body(line);
    // A '#' outside quotes starts a comment.
    bool quoted = false;
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '"') quoted = !quoted;
      if (body[i] == '#' && !quoted) {
        body = body.substr(0, i);
        break;
      }
    }
    const std::string trimmed(
        absl::StripAsciiWhitespace(absl::string_view(body.data(), body.size())));
    if (trimmed.empty()) continue;
    const size_t eq = trimmed.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected `key = value`, got \"", trimmed, "\""));
    }
    const std::string key =
        Canonical(std::string(absl::StripAsciiWhitespace(trimmed.substr(0, eq))));
    std::string value(absl::StripAsciiWhitespace(trimmed.substr(eq + 1)));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (FindSetting(key) == nullptr || key == kConfig) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown setting \"", key, "\""));
    }
    if (out->count(key) == 0) (*out)[key] = SettingValue{value, absl::StrCat("file ", where)};
  }
  return absl::OkStatus();
}

absl::Status CheckAddress(const std::string& name, const SettingValue& v, bool allow_empty) {
  if (v.value.empty()) {
    return allow_empty ? absl::OkStatus() : Invalid(name, v, "an address host:port is required");
  }
  absl::StatusOr<http::HostPort> hp = http::SplitHostPort(v.value);
  if (!hp.ok()) return Invalid(name, v, std::string(hp.status().message()));
  return absl::OkStatus();
}

// A repeatable setting's values: one per flag, or a comma-separated list from the
// environment or the config file.
std::vector<std::string> Values(const SettingValue& v) {
  std::vector<std::string> out;
  for (absl::string_view part :
       absl::StrSplit(v.value, v.source == "flag" ? absl::ByChar('\n') : absl::ByChar(','))) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

absl::Status LoadWebhookSettings(std::map<std::string, SettingValue>& values,
                                 ChimedConfig* config) {
  const SettingValue& allow = values["webhook-allow"];
  absl::StatusOr<webhook::AddressPolicy> policy = webhook::AddressPolicy::FromFlags(Values(allow));
  if (!policy.ok()) return Invalid("webhook-allow", allow, std::string(policy.status().message()));
  config->webhook_policy = *std::move(policy);
  // Secret values are never echoed: the error names the source only.
  const SettingValue& secrets = values["webhook-secret"];
  for (const std::string& entry : Values(secrets)) {
    if (absl::Status s = config->webhook_secrets.Add(entry); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --webhook-secret (from ", secrets.source, "): ", s.message()));
    }
  }
  const SettingValue& file = values["webhook-secrets-file"];
  if (!file.value.empty()) {
    if (absl::Status s = config->webhook_secrets.LoadFile(file.value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid --webhook-secrets-file ", file.value,
                                                     " (from ", file.source, "): ", s.message()));
    }
  }
  const SettingValue& all = values["webhook-max-concurrent"];
  if (!absl::SimpleAtoi(all.value, &config->webhook_max_concurrent) ||
      config->webhook_max_concurrent < 1 || config->webhook_max_concurrent > 10'000) {
    return Invalid("webhook-max-concurrent", all, "must be a whole number from 1 to 10000");
  }
  const SettingValue& per_host = values["webhook-max-per-host"];
  if (!absl::SimpleAtoi(per_host.value, &config->webhook_max_per_host) ||
      config->webhook_max_per_host < 1 || config->webhook_max_per_host > 10'000) {
    return Invalid("webhook-max-per-host", per_host, "must be a whole number from 1 to 10000");
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<SettingSpec>& ChimedSettings() {
  static const auto* const specs = new std::vector<SettingSpec>{
      {"data-dir", "", "DIR", "directory of the data (created if missing); required"},
      {"listen", "0.0.0.0:7070", "HOST:PORT", "gRPC address (port 0: any free port)"},
      {"http-listen", "0.0.0.0:9090", "HOST:PORT",
       "HTTP address of /metrics, /healthz, /readyz; \"\" for no HTTP server"},
      {"shards", "0", "N",
       "number of shards, fixed when the data dir is created (0: one per core, 2 to 16, for a "
       "new data dir; the existing count otherwise)"},
      {"fsync", "always", "always|never",
       "always: a write is acknowledged only once synced to disk; never: for tests and "
       "benchmarks only, acknowledged timers are lost on power loss or OS crash"},
      {"log-format", "text", "text|json", "log lines as text or as JSON objects"},
      {"log-level", "info", "LEVEL", "least severe level logged: debug, info, warn, error"},
      {"config", "", "FILE", "optional file of `key = value` lines (keys: the flag names)"},
      {"fire-ahead", "5ms", "D",
       "how long before its due time a timer's fire may be made durable (delivery still "
       "waits for the due time); takes the fsync off the path to subscribers; 0 disables"},
      {"fire-writes", "deferred", "deferred|at-fire",
       "deferred: a fire of a one-shot timer its subscribers take from memory is written only "
       "by its ack (then as the timer's end alone), or once it waits 1s unacked, is nacked or "
       "must wait on disk; a crash before fires it again (same fire id). at-fire: every fire "
       "is written when it fires"},
      {"ack-sync-delay", "50ms", "D",
       "a subscriber's acks are written with the shard's next other write and synced to "
       "disk at most this late, many in one sync (their results are sent after it; a create "
       "or cancel syncs at once and takes them along): back-to-back syncs slow the fires of "
       "the same shard; 0 writes and syncs each ack at once; a stream reads no more acks "
       "while 10,000 await results, so a long delay caps a subscriber at ~10,000 acks per "
       "delay"},
      {"create-shard-turn", "10ms", "D",
       "single creates with a generated id (and no idempotency key) all get ids on one shard "
       "for this long, then on the next, so their commits share one WAL sync; the timers "
       "still spread evenly over the shards; 0: each on a random shard"},
      {"max-heap-entries", "1200000", "N",
       "all shards together, split evenly: most timers of the fire window (the next minute) "
       "held in memory, ~160 bytes each (the default: ~190 MB at most); when a shard's window "
       "holds more, the rest wait on disk until its heap empties, and their records are read "
       "at their fire instead of ahead of it"},
      {"max-held-fires", "250000", "N",
       "per shard: a due fire of a one-shot timer whose subscribers have no room for it waits "
       "in memory, unwritten, until they have, instead of being written to disk for a later "
       "scan (a crash fires it again, as before its fire); past this many, or with no "
       "subscriber, it is written; 0: never wait"},
      {"retention", "24h", "D|never",
       "how long an ended timer (completed, cancelled or dead-lettered) stays readable after it "
       "ended, and an idempotency key after its create; then both are removed from disk within "
       "a day (a retried create with the key makes a new timer; a removed id can be used "
       "again); never: keep them for good"},
      {"hot-records-mb", "320", "N",
       "memory for copies of the records fires and acks read back (timers in the fire window: "
       "written there, or read ahead when it reaches them; pending deliveries), shared by the "
       "shards, so those reads skip RocksDB; 0 turns it off"},
      {"default-ack-deadline", "30s", "D",
       "ack deadline of a delivery attempt, for timers whose policy sets none"},
      {"default-max-attempts", "5", "N",
       "delivery attempts before a fire is dead-lettered, for timers whose policy sets none"},
      {"default-backoff", "1s..5m", "MIN..MAX",
       "bounds of the exponential, jittered backoff between attempts, for timers whose policy "
       "sets none"},
      {"webhook-allow", "", "CIDR",
       "allow webhooks to reach these non-public addresses (loopback, private, link-local, "
       "metadata are refused otherwise); repeatable, e.g. 10.1.0.0/16",
       /*repeatable=*/true},
      {"webhook-secret", "", "NS=SECRET",
       "sign webhook requests of namespace NS with SECRET (Chime-Signature); repeatable",
       /*repeatable=*/true},
      {"webhook-secrets-file", "", "FILE",
       "file of NS=SECRET lines (blank lines and # comments ignored), as --webhook-secret"},
      {"webhook-max-concurrent", "64", "N", "webhook requests in flight at most, in all"},
      {"webhook-max-per-host", "8", "N", "webhook requests in flight at most per host:port"},
  };
  return *specs;
}

std::string EnvName(const std::string& setting) {
  return "CHIME_" + absl::AsciiStrToUpper(absl::StrReplaceAll(setting, {{"-", "_"}}));
}

absl::StatusOr<ChimedConfig> LoadChimedConfig(const std::vector<std::string>& args,
                                              const EnvLookup& env, const FileReader& read_file) {
  ChimedConfig config;
  std::map<std::string, SettingValue>& values = config.effective;
  // Flags.
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h" || arg == "--helpfull") {
      config.help = true;
      continue;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    const size_t eq = arg.find('=');
    const std::string name = Canonical(arg.substr(2, eq == std::string::npos ? eq : eq - 2));
    if (FindSetting(name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
    }
    if (FindSetting(name)->repeatable && values.count(name)) {
      absl::StrAppend(&values[name].value, "\n", value);
    } else {
      values[name] = SettingValue{value, "flag"};
    }
  }
  if (config.help) return config;
  // Environment.
  for (const SettingSpec& spec : ChimedSettings()) {
    if (values.count(spec.name)) continue;
    if (std::optional<std::string> v = env(EnvName(spec.name)); v.has_value()) {
      values[spec.name] = SettingValue{*v, "env " + EnvName(spec.name)};
    }
  }
  // Config file.
  if (auto it = values.find(kConfig); it != values.end() && !it->second.value.empty()) {
    config.config_file = it->second.value;
    absl::StatusOr<std::string> text =
        read_file ? read_file(config.config_file) : ReadWholeFile(config.config_file);
    if (!text.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--config ", config.config_file, " (from ",
                                                     it->second.source,
                                                     "): ", text.status().message()));
    }
    if (absl::Status s = ParseConfigFile(config.config_file, *text, &values); !s.ok()) return s;
  }
  // Defaults.
  for (const SettingSpec& spec : ChimedSettings()) {
    if (!values.count(spec.name)) values[spec.name] = SettingValue{spec.default_value, "default"};
  }

  // Typed values.
  const SettingValue& data_dir = values["data-dir"];
  if (data_dir.value.empty()) {
    return absl::InvalidArgumentError(
        "--data-dir is required (or CHIME_DATA_DIR, or data-dir in the --config file)");
  }
  config.data_dir = data_dir.value;
  if (absl::Status s = CheckAddress("listen", values["listen"], false); !s.ok()) return s;
  config.listen = values["listen"].value;
  if (absl::Status s = CheckAddress("http-listen", values["http-listen"], true); !s.ok()) return s;
  config.http_listen = values["http-listen"].value;
  absl::StatusOr<int64_t> shards = WholeNumber(values, "shards", 0, kMaxShards);
  if (!shards.ok()) return shards.status();
  config.shards = static_cast<int>(*shards);
  absl::StatusOr<int64_t> hot_mb = WholeNumber(values, "hot-records-mb", 0, kMaxHotRecordsMb);
  if (!hot_mb.ok()) return hot_mb.status();
  config.hot_records_bytes = static_cast<size_t>(*hot_mb) << 20;
  absl::StatusOr<int64_t> max_heap = WholeNumber(values, "max-heap-entries", 1, kMaxHeapEntries);
  if (!max_heap.ok()) return max_heap.status();
  config.max_heap_entries = static_cast<size_t>(*max_heap);
  absl::StatusOr<int64_t> max_held = WholeNumber(values, "max-held-fires", 0, kMaxHeldFires);
  if (!max_held.ok()) return max_held.status();
  config.max_held_fires = static_cast<size_t>(*max_held);
  const SettingValue& fsync = values["fsync"];
  if (fsync.value != "always" && fsync.value != "never") {
    return Invalid("fsync", fsync, "must be always or never");
  }
  config.fsync = fsync.value == "always";
  absl::StatusOr<log::Format> format = log::ParseFormat(values["log-format"].value);
  if (!format.ok()) return Invalid("log-format", values["log-format"], "must be text or json");
  config.log_format = *format;
  absl::StatusOr<log::Level> level = log::ParseLevel(values["log-level"].value);
  if (!level.ok()) {
    return Invalid("log-level", values["log-level"], "must be debug, info, warn or error");
  }
  config.log_level = *level;
  const SettingValue& ahead = values["fire-ahead"];
  absl::StatusOr<absl::Duration> fire_ahead = ParseDuration(ahead.value);
  if (!fire_ahead.ok() || *fire_ahead < absl::ZeroDuration() || *fire_ahead > absl::Seconds(1)) {
    return Invalid("fire-ahead", ahead, "must be a duration from 0 to 1s, like 5ms");
  }
  config.fire_ahead = *fire_ahead;
  const SettingValue& fire_writes = values["fire-writes"];
  if (fire_writes.value != "deferred" && fire_writes.value != "at-fire") {
    return Invalid("fire-writes", fire_writes, "must be deferred or at-fire");
  }
  config.defer_fire_writes = fire_writes.value == "deferred";
  const SettingValue& ack_sync = values["ack-sync-delay"];
  absl::StatusOr<absl::Duration> ack_sync_delay = ParseDuration(ack_sync.value);
  if (!ack_sync_delay.ok() || *ack_sync_delay < absl::ZeroDuration() ||
      *ack_sync_delay > absl::Seconds(1)) {
    return Invalid("ack-sync-delay", ack_sync, "must be a duration from 0 to 1s, like 50ms");
  }
  config.ack_sync_delay = *ack_sync_delay;
  const SettingValue& turn = values["create-shard-turn"];
  absl::StatusOr<absl::Duration> create_shard_turn = ParseDuration(turn.value);
  if (!create_shard_turn.ok() || *create_shard_turn < absl::ZeroDuration() ||
      *create_shard_turn > absl::Seconds(1)) {
    return Invalid("create-shard-turn", turn, "must be a duration from 0 to 1s, like 10ms");
  }
  config.create_shard_turn = *create_shard_turn;
  const SettingValue& retention = values["retention"];
  if (retention.value == "never") {
    config.retention = absl::InfiniteDuration();
  } else {
    absl::StatusOr<absl::Duration> parsed = ParseDuration(retention.value);
    if (!parsed.ok()) {
      return Invalid("retention", retention, "must be a duration like 24h or 7d, or never");
    }
    config.retention = *parsed;
  }
  // Delivery policy defaults.
  const SettingValue& ack = values["default-ack-deadline"];
  absl::StatusOr<absl::Duration> ack_deadline = ParseDuration(ack.value);
  if (!ack_deadline.ok() || *ack_deadline <= absl::ZeroDuration()) {
    return Invalid("default-ack-deadline", ack, "must be a positive duration like 30s");
  }
  config.default_ack_deadline = *ack_deadline;
  const SettingValue& attempts = values["default-max-attempts"];
  if (!absl::SimpleAtoi(attempts.value, &config.default_max_attempts) ||
      config.default_max_attempts < 1 || config.default_max_attempts > 1000) {
    return Invalid("default-max-attempts", attempts, "must be a whole number from 1 to 1000");
  }
  const SettingValue& backoff = values["default-backoff"];
  const size_t dots = backoff.value.find("..");
  absl::StatusOr<absl::Duration> min_backoff = absl::InvalidArgumentError("");
  absl::StatusOr<absl::Duration> max_backoff = absl::InvalidArgumentError("");
  if (dots != std::string::npos) {
    min_backoff = ParseDuration(backoff.value.substr(0, dots));
    max_backoff = ParseDuration(backoff.value.substr(dots + 2));
  }
  if (!min_backoff.ok() || !max_backoff.ok() || *min_backoff < absl::ZeroDuration() ||
      *max_backoff < *min_backoff) {
    return Invalid("default-backoff", backoff, "must be MIN..MAX like 1s..5m with MIN <= MAX");
  }
  config.default_min_backoff = *min_backoff;
  config.default_max_backoff = *max_backoff;
  if (absl::Status s = LoadWebhookSettings(values, &config); !s.ok()) return s;
  return config;
}

std::string ChimedHelp() {
  std::string out =
      "chimed: the chime server (durable timers over gRPC).\n\n"
      "usage: chimed --data-dir DIR [flags]\n\n"
      "Every flag can also be set with an environment variable (shown) or in the --config "
      "file\n(`key = value` lines, keys as the flag names); precedence: flag > environment > "
      "file > default.\n\n";
  for (const SettingSpec& spec : ChimedSettings()) {
    absl::StrAppend(&out, "  --", spec.name, " ", spec.value_name, "   (", EnvName(spec.name),
                    ")\n      ", spec.help, "\n      default: ",
                    spec.default_value.empty() ? "none" : "\"" + spec.default_value + "\"", "\n");
  }
  return out;
}

}  // namespace chime::admin
