#include "server/admin/config.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace chime::admin {
namespace {

using ::testing::HasSubstr;

struct Fixture {
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> files;

  absl::StatusOr<ChimedConfig> Load(const std::vector<std::string>& args) {
    return LoadChimedConfig(
        args,
        [this](const std::string& name) -> std::optional<std::string> {
          auto it = env.find(name);
          if (it == env.end()) return std::nullopt;
          return it->second;
        },
        [this](const std::string& path) -> absl::StatusOr<std::string> {
          auto it = files.find(path);
          if (it == files.end()) return absl::NotFoundError("no such file");
          return it->second;
        });
  }
};

TEST(ConfigTest, DefaultsWithOnlyTheDataDir) {
  Fixture f;
  ASSERT_OK_AND_ASSIGN(ChimedConfig c, f.Load({"--data-dir", "/d"}));
  EXPECT_EQ(c.data_dir, "/d");
  EXPECT_EQ(c.listen, "0.0.0.0:7070");
  EXPECT_EQ(c.http_listen, "0.0.0.0:9090");
  EXPECT_EQ(c.shards, 0);
  EXPECT_TRUE(c.fsync);
  EXPECT_EQ(c.log_format, log::Format::kText);
  EXPECT_EQ(c.log_level, log::Level::kInfo);
  EXPECT_EQ(c.fire_ahead, absl::Milliseconds(5));
  EXPECT_TRUE(c.defer_fire_writes);
  EXPECT_EQ(c.ack_sync_delay, absl::Milliseconds(50));
  EXPECT_EQ(c.create_shard_turn, absl::Milliseconds(10));
  EXPECT_EQ(c.max_heap_entries, 1'200'000u);
  EXPECT_EQ(c.max_held_fires, 250'000u);
  EXPECT_EQ(c.retention, absl::Hours(24));
  EXPECT_EQ(c.hot_records_bytes, size_t{320} << 20);
  EXPECT_EQ(c.effective["data-dir"].source, "flag");
  EXPECT_EQ(c.effective["listen"].source, "default");
}

TEST(ConfigTest, WebhookSettings) {
  Fixture f;
  ASSERT_OK_AND_ASSIGN(ChimedConfig c, f.Load({"--data-dir", "/d"}));
  EXPECT_TRUE(c.webhook_policy.allow_list().empty()) << "non-public addresses refused";
  EXPECT_EQ(c.webhook_secrets.size(), 0u);
  EXPECT_EQ(c.webhook_max_concurrent, 64);
  EXPECT_EQ(c.webhook_max_per_host, 8);

  ASSERT_OK_AND_ASSIGN(
      c, f.Load({"--data-dir", "/d", "--webhook-allow", "127.0.0.0/8", "--webhook-allow=fd00::/8",
                 "--webhook-secret", "billing=abc", "--webhook-secret", "ops=def,ghi",
                 "--webhook-max-concurrent", "100", "--webhook-max-per-host", "4"}));
  ASSERT_EQ(c.webhook_policy.allow_list().size(), 2u);
  EXPECT_EQ(c.webhook_policy.allow_list()[1].ToString(), "fd00::/8");
  EXPECT_EQ(c.webhook_secrets.Find("billing"), "abc");
  EXPECT_EQ(c.webhook_secrets.Find("ops"), "def,ghi") << "a flag's value is never split";
  EXPECT_EQ(c.webhook_max_concurrent, 100);
  EXPECT_EQ(c.webhook_max_per_host, 4);

  // From the environment: a comma-separated list.
  f.env["CHIME_WEBHOOK_ALLOW"] = "10.0.0.0/8, 192.168.1.1";
  ASSERT_OK_AND_ASSIGN(c, f.Load({"--data-dir", "/d"}));
  EXPECT_EQ(c.webhook_policy.allow_list().size(), 2u);
  f.env.clear();

  absl::StatusOr<ChimedConfig> bad = f.Load({"--data-dir", "/d", "--webhook-allow", "10.0.0.0/33"});
  EXPECT_THAT(bad.status().message(), HasSubstr("invalid --webhook-allow"));
  bad = f.Load({"--data-dir", "/d", "--webhook-secret", "no-equals-sign-topsecret"});
  EXPECT_THAT(bad.status().message(), HasSubstr("invalid --webhook-secret (from flag)"));
  EXPECT_THAT(bad.status().message(), ::testing::Not(HasSubstr("topsecret")));
  bad = f.Load({"--data-dir", "/d", "--webhook-max-concurrent", "0"});
  EXPECT_THAT(bad.status().message(), HasSubstr("--webhook-max-concurrent"));
}

TEST(ConfigTest, FlagBeatsEnvBeatsFileBeatsDefault) {
  Fixture f;
  f.files["/etc/chime.conf"] =
      "# chimed settings\n"
      "data_dir = /from/file\n"
      "listen = 127.0.0.1:1\n"
      "http-listen = \"\"   # no HTTP\n"
      "shards = 4\n"
      "\n"
      "log-level = debug\n";
  f.env["CHIME_CONFIG"] = "/etc/chime.conf";
  f.env["CHIME_LISTEN"] = "127.0.0.1:2";
  f.env["CHIME_SHARDS"] = "8";
  f.env["CHIME_LOG_FORMAT"] = "json";
  ASSERT_OK_AND_ASSIGN(ChimedConfig c, f.Load({"--shards=2", "--fsync", "never"}));
  EXPECT_EQ(c.data_dir, "/from/file");
  EXPECT_EQ(c.listen, "127.0.0.1:2");
  EXPECT_EQ(c.http_listen, "");
  EXPECT_EQ(c.shards, 2);
  EXPECT_FALSE(c.fsync);
  EXPECT_EQ(c.log_format, log::Format::kJson);
  EXPECT_EQ(c.log_level, log::Level::kDebug);
  EXPECT_EQ(c.config_file, "/etc/chime.conf");
  EXPECT_EQ(c.effective["data-dir"].source, "file /etc/chime.conf:2");
  EXPECT_EQ(c.effective["listen"].source, "env CHIME_LISTEN");
  EXPECT_EQ(c.effective["shards"].source, "flag");
}

TEST(ConfigTest, InvalidSettingsNameTheValueAndItsSource) {
  Fixture f;
  f.env["CHIME_SHARDS"] = "many";
  EXPECT_THAT(f.Load({"--data-dir=/d"}).status().message(),
              HasSubstr("invalid --shards \"many\" (from env CHIME_SHARDS): must be a whole"));
  f.env.clear();
  EXPECT_THAT(f.Load({"--data-dir=/d", "--fsync=sometimes"}).status().message(),
              HasSubstr("invalid --fsync \"sometimes\" (from flag): must be always or never"));
  EXPECT_THAT(f.Load({"--data-dir=/d", "--listen=nowhere"}).status().message(),
              HasSubstr("invalid --listen \"nowhere\""));
  EXPECT_THAT(f.Load({"--data-dir=/d", "--log-level=loud"}).status().message(),
              HasSubstr("invalid --log-level \"loud\""));
  EXPECT_THAT(
      f.Load({"--data-dir=/d", "--fire-ahead=2s"}).status().message(),
      HasSubstr("invalid --fire-ahead \"2s\" (from flag): must be a duration from 0 to 1s"));
  ASSERT_OK_AND_ASSIGN(ChimedConfig off, f.Load({"--data-dir=/d", "--fire-ahead=0"}));
  EXPECT_EQ(off.fire_ahead, absl::ZeroDuration());
  EXPECT_THAT(
      f.Load({"--data-dir=/d", "--fire-writes=later"}).status().message(),
      HasSubstr("invalid --fire-writes \"later\" (from flag): must be deferred or at-fire"));
  ASSERT_OK_AND_ASSIGN(ChimedConfig at_fire, f.Load({"--data-dir=/d", "--fire-writes=at-fire"}));
  EXPECT_FALSE(at_fire.defer_fire_writes);
  EXPECT_THAT(
      f.Load({"--data-dir=/d", "--ack-sync-delay=-1ms"}).status().message(),
      HasSubstr("invalid --ack-sync-delay \"-1ms\" (from flag): must be a duration from 0 to 1s"));
  EXPECT_THAT(f.Load({"--data-dir=/d", "--ack-sync-delay=5s"}).status().message(),
              HasSubstr("invalid --ack-sync-delay \"5s\""));
  ASSERT_OK_AND_ASSIGN(ChimedConfig each, f.Load({"--data-dir=/d", "--ack-sync-delay=0"}));
  EXPECT_EQ(each.ack_sync_delay, absl::ZeroDuration());
  EXPECT_THAT(f.Load({"--data-dir=/d", "--create-shard-turn=2s"}).status().message(),
              HasSubstr("invalid --create-shard-turn \"2s\" (from flag): must be a duration "
                        "from 0 to 1s"));
  ASSERT_OK_AND_ASSIGN(ChimedConfig spread, f.Load({"--data-dir=/d", "--create-shard-turn=0"}));
  EXPECT_EQ(spread.create_shard_turn, absl::ZeroDuration());
  EXPECT_THAT(f.Load({"--data-dir=/d", "--max-heap-entries=0"}).status().message(),
              HasSubstr("invalid --max-heap-entries \"0\" (from flag): must be a whole number "
                        "from 1 to 10000000"));
  EXPECT_THAT(f.Load({"--data-dir=/d", "--max-heap-entries=10000001"}).status().message(),
              HasSubstr("invalid --max-heap-entries \"10000001\""));
  ASSERT_OK_AND_ASSIGN(ChimedConfig small_heap,
                       f.Load({"--data-dir=/d", "--max-heap-entries=1000"}));
  EXPECT_EQ(small_heap.max_heap_entries, 1000u);
  EXPECT_THAT(f.Load({"--data-dir=/d", "--max-held-fires=-1"}).status().message(),
              HasSubstr("invalid --max-held-fires \"-1\" (from flag): must be a whole number "
                        "from 0 to 10000000"));
  ASSERT_OK_AND_ASSIGN(ChimedConfig never_held, f.Load({"--data-dir=/d", "--max-held-fires=0"}));
  EXPECT_EQ(never_held.max_held_fires, 0u);
  EXPECT_THAT(f.Load({"--data-dir=/d", "--retention=-1h"}).status().message(),
              HasSubstr("invalid --retention \"-1h\" (from flag): must be a duration like 24h or "
                        "7d, or never"));
  EXPECT_THAT(f.Load({"--data-dir=/d", "--retention=forever"}).status().message(),
              HasSubstr("invalid --retention \"forever\""));
  ASSERT_OK_AND_ASSIGN(ChimedConfig week, f.Load({"--data-dir=/d", "--retention=7d"}));
  EXPECT_EQ(week.retention, absl::Hours(24 * 7));
  ASSERT_OK_AND_ASSIGN(ChimedConfig never, f.Load({"--data-dir=/d", "--retention=never"}));
  EXPECT_EQ(never.retention, absl::InfiniteDuration());
  ASSERT_OK_AND_ASSIGN(ChimedConfig small, f.Load({"--data-dir=/d", "--hot-records-mb=16"}));
  EXPECT_EQ(small.hot_records_bytes, size_t{16} << 20);
  ASSERT_OK_AND_ASSIGN(ChimedConfig none, f.Load({"--data-dir=/d", "--hot-records-mb=0"}));
  EXPECT_EQ(none.hot_records_bytes, 0u);
  EXPECT_THAT(f.Load({"--data-dir=/d", "--hot-records-mb=-1"}).status().message(),
              HasSubstr("invalid --hot-records-mb \"-1\" (from flag): must be a whole number "
                        "from 0 to 65536"));
  EXPECT_THAT(f.Load({"--data-dir=/d", "--hot-records-mb=65537"}).status().message(),
              HasSubstr("invalid --hot-records-mb \"65537\""));
  EXPECT_THAT(f.Load({"--data-dir=/d", "--hot-records-mb=1g"}).status().message(),
              HasSubstr("invalid --hot-records-mb \"1g\""));
  EXPECT_THAT(f.Load({}).status().message(), HasSubstr("--data-dir is required"));
  EXPECT_THAT(f.Load({"--data-dir=/d", "--colour=red"}).status().message(),
              HasSubstr("unknown flag --colour"));
  EXPECT_THAT(f.Load({"--data-dir=/d", "stray"}).status().message(),
              HasSubstr("unexpected argument \"stray\""));
  EXPECT_THAT(f.Load({"--data-dir"}).status().message(), HasSubstr("needs a value"));
  EXPECT_THAT(f.Load({"--data-dir=/d", "--config=/missing"}).status().message(),
              HasSubstr("--config /missing (from flag)"));
  f.files["/c"] = "shards = 1\ncolour = red\n";
  EXPECT_THAT(f.Load({"--data-dir=/d", "--config=/c"}).status().message(),
              HasSubstr("/c:2: unknown setting \"colour\""));
  f.files["/c"] = "just words\n";
  EXPECT_THAT(f.Load({"--data-dir=/d", "--config=/c"}).status().message(),
              HasSubstr("/c:1: expected `key = value`"));
}

TEST(ConfigTest, HelpListsEverySettingWithEnvAndDefault) {
  Fixture f;
  ASSERT_OK_AND_ASSIGN(ChimedConfig c, f.Load({"--help"}));
  EXPECT_TRUE(c.help);
  const std::string help = ChimedHelp();
  for (const SettingSpec& spec : ChimedSettings()) {
    EXPECT_THAT(help, HasSubstr("--" + spec.name)) << spec.name;
    EXPECT_THAT(help, HasSubstr(EnvName(spec.name))) << spec.name;
  }
  EXPECT_THAT(help, HasSubstr("default: \"0.0.0.0:9090\""));
  EXPECT_EQ(EnvName("http-listen"), "CHIME_HTTP_LISTEN");
}

}  // namespace
}  // namespace chime::admin
