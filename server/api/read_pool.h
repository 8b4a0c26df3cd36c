// A few threads that run blocking storage reads (GetTimer, ListTimers) for the gRPC
// handlers, so no gRPC callback thread ever waits on RocksDB. The queue is bounded: when it
// is full, Run() refuses and the caller answers RESOURCE_EXHAUSTED.
//
//   if (!pool.Run([=] { ...read...; reactor->Finish(status); })) reactor->Finish(busy);
//
// Thread-safe.
#ifndef CHIME_SERVER_API_READ_POOL_H_
#define CHIME_SERVER_API_READ_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chime::api {

class ReadPool {
 public:
  ReadPool(int threads, size_t max_queued);
  ~ReadPool();  // Stop()

  // Queues `task`; false if the queue is full or the pool is stopped.
  bool Run(std::function<void()> task);
  // Runs what is queued, then joins the threads. Idempotent.
  void Stop();

 private:
  void Loop();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace chime::api

#endif  // CHIME_SERVER_API_READ_POOL_H_
