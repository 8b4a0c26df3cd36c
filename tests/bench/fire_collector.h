// Subscribes to one topic with N streams, acks each received batch in one message, and
// records end-to-end lateness (receipt - scheduled time) of first deliveries, and the server's
// part of it (the fire's fire_time - scheduled time: when the engine fired it).
// It shares the machine with the chimed it measures, so each stream parses into an arena and
// keeps the shared lock only for the duplicate check: its CPU is taken from chimed's.
// Thread-safe: the streams run on their own threads; readers use the accessors.
#ifndef CHIME_TESTS_BENCH_FIRE_COLLECTOR_H_
#define CHIME_TESTS_BENCH_FIRE_COLLECTOR_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chime/v1/timer.grpc.pb.h"

namespace chime::bench {

class FireCollector {
 public:
  FireCollector(std::shared_ptr<grpc::Channel> channel, std::string topic, int subscribers,
                int max_outstanding, int64_t expected);
  ~FireCollector();  // Stop()

  // Returns once every stream has sent its start message.
  void Start();
  // Waits until `expected` distinct fires arrived or `deadline`; true if all arrived.
  bool WaitAll(absl::Time deadline);
  // Waits until `expected` acks are answered ACKED (durable) or `deadline`; true if all were.
  bool WaitAllAcked(absl::Time deadline);
  void Stop();

  // Valid after Stop().
  std::vector<double>& lateness_ms() { return lateness_ms_; }
  std::vector<double>& dispatch_ms() { return dispatch_ms_; }
  int64_t distinct() const;
  int64_t duplicates() const;
  absl::Time first_receipt() const;
  absl::Time last_receipt() const;
  // When the last ACKED ack result arrived.
  absl::Time last_ack_result() const;
  // Receipt time of the first fire with lateness <= on_time (InfiniteFuture if none).
  absl::Time first_on_time(absl::Duration on_time) const;

  struct Receipt {
    absl::Time received;
    double lateness_ms;
    double dispatch_ms;
  };
  // The first 100k first deliveries in receipt order. Valid after Stop().
  const std::vector<Receipt>& receipts() const { return receipts_; }

 private:
  void ReadLoop(int i);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<chime::v1::TimerService::Stub> stub_;
  const std::string topic_;
  const int max_outstanding_;
  const int64_t expected_;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
  std::vector<std::thread> threads_;
  mutable absl::Mutex mu_;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(mu_);
  std::vector<double> lateness_ms_;  // guarded by mu_ until Stop()
  std::vector<double> dispatch_ms_;  // guarded by mu_ until Stop()
  std::vector<Receipt> receipts_;    // guarded by mu_ until Stop()
  int64_t duplicates_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time first_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_acked_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stopped_ = false;
};

}  // namespace chime::bench

#endif  // CHIME_TESTS_BENCH_FIRE_COLLECTOR_H_
