// Counts the gRPC calls alive on a server, of every service (but the open-ended health Watch
// and reflection streams, which gRPC's Shutdown ends itself), through an interceptor, so a
// graceful shutdown can wait for the calls in flight and then close the connections at once.
// gRPC's own Shutdown(deadline) also waits for clients to drop their idle connections, which a
// client holding its channel open never does: every shutdown would take the whole deadline.
//
//   CallTracker calls;
//   interceptors.push_back(calls.MakeInterceptorFactory());
//   ...
//   calls.WaitIdle(deadline);
//   server->Shutdown(absl::ToChronoTime(absl::Now()));
//
// Thread-safe. Must outlive the gRPC server the factory is installed in.
#ifndef CHIME_SERVER_API_CALL_TRACKER_H_
#define CHIME_SERVER_API_CALL_TRACKER_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chime::api {

class CallTracker {
 public:
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeInterceptorFactory();

  // True once no call is alive; false when `deadline` passes first.
  bool WaitIdle(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  int alive() const ABSL_LOCKS_EXCLUDED(mu_);

  // Called by the interceptor of each call, when the call starts and when it is destroyed.
  void Enter() ABSL_LOCKS_EXCLUDED(mu_);
  void Leave() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  int alive_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace chime::api

#endif  // CHIME_SERVER_API_CALL_TRACKER_H_
