// chime-floor-server: the least a durable create, and a durable fire, can cost on this machine,
// to measure chimed against. It serves chime.v1.TimerService's CreateTimer, CreateTimers and
// Subscribe (and the gRPC health check) with the same callback API as chimed, but a create only
// appends its timer to a log file and answers after that file's fdatasync: one hand-off from
// the gRPC thread to a log thread per group of creates, one write and one sync per group, no
// validation, no index, no database (with --rocksdb, one RocksDB write batch per group: what
// RocksDB adds to that). With --fires the created timers also wait in memory and
// fire to subscribers, whose acks are logged and synced before they are answered (FloorFires).
// It takes chimed's flags, so scripts/bench's create-floor and herd-floor scenarios measure it
// exactly as they measure chimed (docs/PERFORMANCE.md, fourteenth and twenty-fourth sittings).
//
//   chime-floor-server --data-dir D --listen 127.0.0.1:0 [--fsync=always|never] [--logs N]
//                      [--fires] [--log-writer per-log|shared|caller] [--rocksdb]
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chime/v1/timer.grpc.pb.h"
#include "tests/bench/floor/floor_fires.h"
#include "tests/bench/floor/floor_subscribe_reactor.h"
#include "tests/bench/floor/group_log.h"
#include "tests/bench/floor/rocks_log.h"
#include "tests/bench/floor/shared_logs.h"

ABSL_FLAG(std::string, data_dir, "./floor-data", "directory for the log files");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC listen address");
ABSL_FLAG(std::string, http_listen, "", "accepted for chimed's command line; unused");
ABSL_FLAG(std::string, fsync, "always", "always: answer after fdatasync; never: after write");
ABSL_FLAG(int, logs, 4, "log files, each with its own thread (chimed: one WAL per shard)");
ABSL_FLAG(std::string, log_writer, "per-log",
          "per-log: a create goes to log (id mod --logs), each log's thread writes its queue; "
          "shared: one queue, written by whichever log's thread is free; caller: one queue, "
          "written by the gRPC thread whose create found a log free (no hand-off)");
ABSL_FLAG(bool, rocksdb, false,
          "with --log-writer=caller (no hand-off) or shared (one hand-off to the log's thread) "
          "and --logs 1: each group is one RocksDB write batch with the WAL synced, in "
          "DIR/rocksdb, instead of a write to a log file");
ABSL_FLAG(int, preallocate_mb, 0,
          "write this many MB of zeros to each log first and then overwrite them, so a sync "
          "need not update the file's size (0: append to a growing file, as RocksDB's WAL does)");
ABSL_FLAG(bool, fires, false,
          "keep created timers in memory and fire them to subscribers at their due time; acks "
          "go to --logs more log files (ack-log-N)");

namespace {

namespace v1 = chime::v1;
using chime::floor::FloorFires;
using chime::floor::FloorSubscribeReactor;
using chime::floor::GroupLog;
using chime::floor::RocksLog;
using chime::floor::SharedLogs;

class FloorTimerService final : public v1::TimerService::CallbackService {
 public:
  // Created timers fire only with `schedule` (the herd floor); without it the server is the
  // create floor alone, and keeps nothing in memory.
  // With `shared_logs`, creates go there instead of to `logs`.
  FloorTimerService(std::vector<std::unique_ptr<GroupLog>>* logs, SharedLogs* shared_logs,
                    FloorFires* fires, bool schedule)
      : logs_(logs), shared_logs_(shared_logs), fires_(fires), schedule_(schedule) {}

  grpc::ServerUnaryReactor* CreateTimer(grpc::CallbackServerContext* context,
                                        const v1::CreateTimerRequest* request,
                                        v1::CreateTimerResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const uint64_t n = next_id_.fetch_add(1, std::memory_order_relaxed);
    FillTimer(*request, n, response->mutable_timer());
    response->set_created(true);
    std::string record;
    AppendRecord(response->timer(), &record);
    Append(n, std::move(record), [this, reactor, response](bool durable) {
      if (durable && schedule_) fires_->Schedule(response->timer());
      reactor->Finish(Outcome(durable));
    });
    return reactor;
  }

  // A batch is one group's worth of records in one log (chimed spreads it over its shards).
  grpc::ServerUnaryReactor* CreateTimers(grpc::CallbackServerContext* context,
                                         const v1::CreateTimersRequest* request,
                                         v1::CreateTimersResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const int count = request->requests_size();
    const uint64_t first = next_id_.fetch_add(count, std::memory_order_relaxed);
    std::string records;
    std::vector<v1::Timer> to_schedule;
    v1::Timer stored;
    for (int i = 0; i < count; ++i) {
      v1::CreateTimerResult* result = response->add_results();
      v1::Timer* timer = request->ids_only() ? &stored : result->mutable_timer();
      FillTimer(request->requests(i), first + i, timer);
      AppendRecord(*timer, &records);
      if (schedule_) to_schedule.push_back(*timer);
      if (request->ids_only()) result->mutable_timer()->set_timer_id(timer->timer_id());
      result->set_created(true);
    }
    Append(first, std::move(records),
           [this, reactor, timers = std::move(to_schedule)](bool durable) mutable {
             if (durable) {
               for (v1::Timer& timer : timers) fires_->Schedule(std::move(timer));
             }
             reactor->Finish(Outcome(durable));
           });
    return reactor;
  }

  grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* /*context*/) override {
    return FloorSubscribeReactor::Start(fires_);
  }

 private:
  void Append(uint64_t n, std::string records, GroupLog::Done done) {
    if (shared_logs_ != nullptr) {
      shared_logs_->Append(std::move(records), std::move(done));
    } else {
      (*logs_)[n % logs_->size()]->Append(std::move(records), std::move(done));
    }
  }

  // The answer carries what chimed's does for such a request: the timer as stored.
  static void FillTimer(const v1::CreateTimerRequest& request, uint64_t n, v1::Timer* timer) {
    timer->set_namespace_(request.namespace_().empty() ? "default" : request.namespace_());
    timer->set_timer_id(absl::StrCat("floor-", n));
    *timer->mutable_target() = request.target();
    timer->set_payload(request.payload());
    *timer->mutable_labels() = request.labels();
    timer->set_state(v1::TIMER_STATE_SCHEDULED);
    const int64_t now_ns = absl::GetCurrentTimeNanos();
    timer->mutable_create_time()->set_seconds(now_ns / 1'000'000'000);
    timer->mutable_create_time()->set_nanos(static_cast<int32_t>(now_ns % 1'000'000'000));
    if (request.has_fire_at()) *timer->mutable_next_fire_time() = request.fire_at();
    timer->set_version(1);
  }

  static grpc::Status Outcome(bool durable) {
    return durable ? grpc::Status::OK
                   : grpc::Status(grpc::StatusCode::UNAVAILABLE, "log write failed");
  }

  static void AppendRecord(const v1::Timer& timer, std::string* out) {
    const uint32_t size = static_cast<uint32_t>(timer.ByteSizeLong());
    out->append(reinterpret_cast<const char*>(&size), sizeof(size));
    timer.AppendToString(out);
  }

  std::vector<std::unique_ptr<GroupLog>>* logs_;
  SharedLogs* shared_logs_;
  FloorFires* fires_;
  const bool schedule_;
  std::atomic<uint64_t> next_id_{0};
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("a durable CreateTimer with nothing but a synced log; see source");
  // chimed's flags are spelled with dashes (--data-dir); absl's with underscores.
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> arg_ptrs;
  for (std::string& arg : args) {
    if (arg.rfind("--", 0) == 0) {
      const size_t end = std::min(arg.find('='), arg.size());
      std::replace(arg.begin() + 2, arg.begin() + end, '-', '_');
    }
    arg_ptrs.push_back(arg.data());
  }
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  // As chimed does: threads made from here on wake within ~1 µs of their deadline.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const std::string dir = absl::GetFlag(FLAGS_data_dir);
  const std::string fsync = absl::GetFlag(FLAGS_fsync);
  const int log_count = absl::GetFlag(FLAGS_logs);
  if (fsync != "always" && fsync != "never") {
    fprintf(stderr, "--fsync must be always or never, got %s\n", fsync.c_str());
    return 2;
  }
  const std::string log_writer = absl::GetFlag(FLAGS_log_writer);
  if (log_writer != "per-log" && log_writer != "shared" && log_writer != "caller") {
    fprintf(stderr, "--log-writer must be per-log, shared or caller, got %s\n", log_writer.c_str());
    return 2;
  }
  if (log_writer != "per-log" && absl::GetFlag(FLAGS_preallocate_mb) != 0) {
    fprintf(stderr, "--preallocate-mb needs --log-writer=per-log\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_rocksdb) && (log_writer == "per-log" || log_count != 1)) {
    fprintf(stderr, "--rocksdb needs --log-writer=caller or shared, and --logs 1\n");
    return 2;
  }
  if (log_count < 1 || log_count > 64) {
    fprintf(stderr, "--logs must be in [1, 64], got %d\n", log_count);
    return 2;
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    fprintf(stderr, "cannot create %s: %s\n", dir.c_str(), error.message().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<GroupLog>> logs;
  std::unique_ptr<RocksLog> rocks;  // outlives shared_logs, which writes to it
  if (absl::GetFlag(FLAGS_rocksdb)) {
    rocks = std::make_unique<RocksLog>(dir + "/rocksdb", fsync == "always");
  }
  std::unique_ptr<SharedLogs> shared_logs;
  if (log_writer != "per-log") {
    shared_logs = std::make_unique<SharedLogs>(
        dir + "/log-", log_count, fsync == "always",
        log_writer == "shared" ? SharedLogs::Writer::kLogThreads : SharedLogs::Writer::kCaller);
    if (rocks != nullptr) shared_logs->WriteToRocksDb(rocks.get());
  }
  for (int i = 0; shared_logs == nullptr && i < log_count; ++i) {
    logs.push_back(std::make_unique<GroupLog>(absl::StrCat(dir, "/log-", i), fsync == "always",
                                              int64_t{absl::GetFlag(FLAGS_preallocate_mb)} << 20));
  }
  std::vector<std::unique_ptr<GroupLog>> ack_logs;
  for (int i = 0; i < log_count; ++i) {
    ack_logs.push_back(
        std::make_unique<GroupLog>(absl::StrCat(dir, "/ack-log-", i), fsync == "always", 0));
  }
  FloorFires fires(&ack_logs);
  FloorTimerService service(&logs, shared_logs.get(), &fires, absl::GetFlag(FLAGS_fires));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    fprintf(stderr, "cannot listen on %s\n", absl::GetFlag(FLAGS_listen).c_str());
    return 1;
  }
  const std::string listen = absl::GetFlag(FLAGS_listen);
  // The line scripts/bench waits for, as chimed prints it.
  printf("serving on %s:%d\n", listen.substr(0, listen.rfind(':')).c_str(), port);
  fflush(stdout);
  server->Wait();  // until killed; scripts/bench stops it with SIGTERM
  return 0;
}
