// The chime CLI (RunChime) against an in-process server: what a user types and sees.
#include "client/cli/run.h"

#include <sstream>
#include <thread>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/chime_server.h"
#include "server/delivery/delivery_manager.h"
#include "tests/testing/temp_dir.h"

namespace chime::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int code;
  std::string out;
  std::string err;
};

class RunChimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.data_dir = dir_.path() + "/data";
    options.listen = "127.0.0.1:0";
    options.shards = 2;
    options.fsync = false;
    absl::StatusOr<std::unique_ptr<ChimeServer>> server = ChimeServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Now() + absl::Seconds(5));
  }

  Result Chime(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server_->address()});
    std::ostringstream out, err;
    int code = RunChime(args, out, err);
    return {code, out.str(), err.str()};
  }

  testing::TempDir dir_;
  std::unique_ptr<ChimeServer> server_;
};

TEST_F(RunChimeTest, CreateGetListCancel) {
  Result created = Chime({"create", "--at", "2030-01-01T00:00:00Z", "--topic", "demo", "--id",
                          "invoice-42", "--label", "kind=invoice", "--payload", "hi"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_EQ(created.out, "invoice-42\n");

  Result got = Chime({"get", "invoice-42"});
  ASSERT_EQ(got.code, 0) << got.err;
  EXPECT_THAT(got.out, HasSubstr("state:           SCHEDULED\n"));
  EXPECT_THAT(got.out, HasSubstr("schedule:        at 2030-01-01T00:00:00Z\n"));
  EXPECT_THAT(got.out, HasSubstr("labels:          kind=invoice\n"));

  Result json = Chime({"get", "invoice-42", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_THAT(json.out, StartsWith("{\"namespace\":\"default\",\"timer_id\":\"invoice-42\""));
  EXPECT_THAT(json.out, HasSubstr("\"payload\":\"hi\"}\n"));

  ASSERT_EQ(Chime({"create", "--in", "1h", "--topic", "demo", "--id", "second"}).code, 0);
  Result listed = Chime({"list", "--topic", "demo"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("invoice-42 SCHEDULED 2030-01-01T00:00:00Z topic=demo\n"));
  EXPECT_THAT(listed.out, HasSubstr("second SCHEDULED "));
  Result limited = Chime({"list", "--topic", "demo", "--limit", "1"});
  EXPECT_EQ(std::count(limited.out.begin(), limited.out.end(), '\n'), 1) << limited.out;

  Result cancelled = Chime({"cancel", "invoice-42"});
  ASSERT_EQ(cancelled.code, 0) << cancelled.err;
  EXPECT_EQ(cancelled.out, "invoice-42 CANCELLED - topic=demo\n");
  Result listed_cancelled = Chime({"list", "--state", "cancelled"});
  EXPECT_EQ(listed_cancelled.out, "invoice-42 CANCELLED - topic=demo\n");

  Result again = Chime({"cancel", "invoice-42"});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, StartsWith("error: FAILED_PRECONDITION: "));
  Result missing = Chime({"get", "nope"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, StartsWith("error: NOT_FOUND: "));
}

TEST_F(RunChimeTest, ServerValidationErrorExitsOne) {
  Result r =
      Chime({"create", "--in", "1h", "--topic", "demo", "--payload", std::string(70000, 'x')});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, StartsWith("error: INVALID_ARGUMENT: "));
  EXPECT_THAT(r.err, HasSubstr("65536"));
  EXPECT_EQ(r.out, "");
}

TEST_F(RunChimeTest, UsageErrorExitsTwoWithUsageLine) {
  Result r = Chime({"create", "--in", "5m", "--at", "2030-01-01T00:00:00Z", "--topic", "t"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, StartsWith("error: INVALID_ARGUMENT: --in and --at cannot be combined\n"
                                "usage: chime create "));
}

TEST_F(RunChimeTest, WatchPrintsAcksAndExitsAfterCount) {
  Result watched;
  std::thread watcher([&] { watched = Chime({"watch", "--topic", "w", "--count", "2"}); });
  Result a = Chime({"create", "--in", "300ms", "--topic", "w", "--id", "w1", "--payload", "one"});
  Result b = Chime({"create", "--in", "400ms", "--topic", "w", "--id", "w2", "--payload", "two"});
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  watcher.join();
  ASSERT_EQ(watched.code, 0) << watched.err;
  std::vector<std::string> lines = absl::StrSplit(watched.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << watched.out;
  for (const std::string& line : lines) {
    EXPECT_THAT(line, MatchesRegex("[0-9T:.Z-]+ [^ ]+ timer=w[12] attempt=1 "
                                   "scheduled=[0-9T:.Z-]+ late=[^ ]+ payload=(one|two)"));
  }
  // Both fires were acked durably before watch exited.
  EXPECT_THAT(Chime({"get", "w1"}).out, HasSubstr("state:           COMPLETED"));
  EXPECT_THAT(Chime({"get", "w2"}).out, HasSubstr("state:           COMPLETED"));
}

TEST_F(RunChimeTest, WatchJsonNoAck) {
  Result watched;
  std::thread watcher([&] {
    watched = Chime({"watch", "--topic", "j", "--count", "1", "--json", "--no-ack"});
  });
  ASSERT_EQ(Chime({"create", "--in", "300ms", "--topic", "j", "--id", "j1", "--payload", "x"}).code,
            0);
  watcher.join();
  ASSERT_EQ(watched.code, 0) << watched.err;
  EXPECT_THAT(watched.out, StartsWith("{\"fire_id\":\""));
  EXPECT_THAT(watched.out, HasSubstr("\"timer_id\":\"j1\""));
  EXPECT_THAT(watched.out, HasSubstr("\"attempt\":1"));
  EXPECT_THAT(watched.out, HasSubstr("\"scheduled_time\":\""));
  EXPECT_THAT(watched.out, HasSubstr("\"fire_time\":\""));
  EXPECT_THAT(watched.out, HasSubstr("\"payload\":\"x\"}\n"));
  // Not acked: the fire is still pending, so the timer has not completed.
  EXPECT_THAT(Chime({"get", "j1"}).out, HasSubstr("state:           FIRED"));
}

TEST_F(RunChimeTest, WatchMaxOutstandingBoundsWhatTheServerHandsOut) {
  Result watched;
  std::thread watcher([&] {
    watched =
        Chime({"watch", "--topic", "m", "--count", "2", "--no-ack", "--max-outstanding", "1"});
  });
  // Short ack deadlines: unacked fires come back within seconds, so the watcher finishes.
  for (const char* id : {"m1", "m2"}) {
    Result created = Chime({"create", "--in", "300ms", "--topic", "m", "--id", id, "--ack-deadline",
                            "1s", "--backoff", "100ms..200ms"});
    ASSERT_EQ(created.code, 0) << created.err;
  }
  // Both fired; a window of 1 keeps one of them waiting (the default, 100, would hand out both).
  bool held = false;
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (!held && absl::Now() < give_up) {
    std::optional<delivery::TopicStats> stats = server_->delivery()->GetTopicStats("default", "m");
    held = stats.has_value() && stats->in_flight == 1 && stats->ready == 1;
    if (!held) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(held);
  watcher.join();
  ASSERT_EQ(watched.code, 0) << watched.err;
  std::vector<std::string> lines = absl::StrSplit(watched.out, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 2u) << watched.out;
  // --no-ack: nothing was acked, so neither timer completed.
  EXPECT_THAT(Chime({"get", "m1"}).out, Not(HasSubstr("COMPLETED")));
  EXPECT_THAT(Chime({"get", "m2"}).out, Not(HasSubstr("COMPLETED")));
}

}  // namespace
}  // namespace chime::cli
