// chime-bench scenarios. Each runs bounded in time and count against `channel`, prints table
// rows and appends JSON objects (bench_util.h); returns 0 on success.
#ifndef CHIME_TESTS_BENCH_SCENARIOS_H_
#define CHIME_TESTS_BENCH_SCENARIOS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tests/bench/unary_load.h"

namespace chime::bench {

// Serialized CreateTimerRequests for `topic` due at the given instants.
std::vector<std::string> CreateRequests(const std::string& topic,
                                        const std::vector<absl::Time>& due);
// Eight serialized CreateTimersRequests of `batch` creates each, due times taken in turn;
// `ids_only` asks for answers with ids only.
std::vector<std::string> CreateBatchRequests(const std::string& topic,
                                             const std::vector<absl::Time>& due, int batch,
                                             bool ids_only = false);
// Makes `load` (of `requests` for CreateTimer, or with `batched` for CreateTimers) send every
// create with its own idempotency key: `tag` (unique per run) and a count kept across the
// loads that share these options.
void GiveEachCreateItsOwnKey(const std::string& tag, bool batched, UnaryLoadOptions& load);
// Load options that create timers through CreateTimers, kFillBatch per call, 4 calls in
// flight (the fastest create path; issue `count / kFillBatch` calls).
inline constexpr int kFillBatch = 1000;
UnaryLoadOptions FillLoad(const std::string& topic, const std::vector<absl::Time>& due);
// Creates `count` timers of `topic` due in 1-3 days (FillLoad), in ten steps bounded by
// `bound` in total; returns how many were created. `on_step(pending, creates/s)`.
int64_t FillFarFuture(const std::shared_ptr<grpc::Channel>& channel, const std::string& topic,
                      int64_t count, absl::Duration bound,
                      const std::function<void(int64_t, double)>& on_step);
// Unique topic name for one scenario run.
std::string FreshTopic(const std::string& scenario);

// `name` is the scenario's name in the table and the JSON: "create", or "create-floor" when
// the server is chime-floor-server.
int RunCreate(const std::shared_ptr<grpc::Channel>& channel, const std::string& name);
// `name`: "fire"; "mixed" (fires while creating); "fire-floor" when the server is
// chime-floor-server --fires.
int RunFire(const std::shared_ptr<grpc::Channel>& channel, const std::string& name);
// `name`: "herd", or "herd-floor" when the server is chime-floor-server --fires.
int RunHerd(const std::shared_ptr<grpc::Channel>& channel, const std::string& name);
int RunCapacity(const std::shared_ptr<grpc::Channel>& channel);
// --phase fill: N far-future timers plus canaries due shortly after; prints "filled".
// --phase measure: polls Health until serving, then waits for the first on-time canary.
int RunRestart(const std::shared_ptr<grpc::Channel>& channel);
// Webhook deliveries/s to a receiver in this process (chimed needs --webhook-allow 127.0.0.0/8).
int RunWebhook(const std::shared_ptr<grpc::Channel>& channel);

}  // namespace chime::bench

#endif  // CHIME_TESTS_BENCH_SCENARIOS_H_
