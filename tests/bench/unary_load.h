// Drives one unary gRPC method with a fixed number of calls in flight (async completion-queue
// API through GenericStub, so the same driver loads CreateTimer and grpc.health.v1.Health/Check
// and their figures are comparable). Not thread-safe; one load per call.
#ifndef CHIME_TESTS_BENCH_UNARY_LOAD_H_
#define CHIME_TESTS_BENCH_UNARY_LOAD_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace chime::bench {

struct UnaryLoadOptions {
  std::string method;                 // "/pkg.Service/Method"
  std::vector<std::string> requests;  // serialized requests, used round robin
  // If set, builds the serialized request of call n (0, 1, ...) instead: for requests that
  // must differ on every call. Runs on the issuing thread, so keep it cheap.
  std::function<std::string(int64_t)> request_for_call;
  int inflight = 1;
  absl::Duration duration = absl::Seconds(5);  // stop issuing after this
  int64_t max_calls = INT64_MAX;
  double rate = 0;  // calls/s; 0 = as fast as `inflight` allows
  bool keep_latencies = true;
};

struct UnaryLoadResult {
  int64_t ok = 0;
  int64_t failed = 0;
  std::string first_error;
  std::vector<double> latency_ms;
  absl::Duration elapsed;
  double PerSecond() const { return ok / std::max(1e-9, absl::ToDoubleSeconds(elapsed)); }
  // Adds a later load of the same method (a slice of a longer one): counts, latencies, time.
  void Add(UnaryLoadResult&& later);
};

UnaryLoadResult RunUnaryLoad(const std::shared_ptr<grpc::Channel>& channel,
                             const UnaryLoadOptions& options);
// The same, with call n on channels[n % channels.size()].
UnaryLoadResult RunUnaryLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                             const UnaryLoadOptions& options);

}  // namespace chime::bench

#endif  // CHIME_TESTS_BENCH_UNARY_LOAD_H_
