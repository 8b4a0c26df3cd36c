// The floor server's side of one Subscribe stream: `start` subscribes to FloorFires, acks go to
// it, fires and ack outcomes are written batched, one response at a time (as chimed's
// SubscribeReactor does). Nacks are refused: the floor measures fires that are acked.
//
// Lifetime: gRPC holds the reactor until OnDone; FloorFires may hold it (shared_ptr) a little
// longer, so every gRPC operation is guarded by the reactor's own state.
#ifndef CHIME_TESTS_BENCH_FLOOR_FLOOR_SUBSCRIBE_REACTOR_H_
#define CHIME_TESTS_BENCH_FLOOR_FLOOR_SUBSCRIBE_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chime/v1/timer.grpc.pb.h"
#include "tests/bench/floor/floor_fires.h"

namespace chime::floor {

class FloorSubscribeReactor final
    : public grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>,
      public FireSink,
      public std::enable_shared_from_this<FloorSubscribeReactor> {
 public:
  static grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>* Start(
      FloorFires* fires);
  explicit FloorSubscribeReactor(FloorFires* fires) : fires_(fires) {}  // use Start()

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  void SendFires(std::vector<v1::Fire> fires) override;
  void SendAckResults(std::vector<v1::AckResult> results) override;

 private:
  // Handles one request; false when the stream is finishing.
  bool Handle(const v1::SubscribeRequest& request);
  void BeginFinish(const grpc::Status& status);
  void Pump();

  FloorFires* const fires_;
  v1::SubscribeRequest request_;  // owned by the read in flight
  absl::Mutex mu_;
  std::shared_ptr<FloorSubscribeReactor> self_ ABSL_GUARDED_BY(mu_);  // reset in OnDone
  std::optional<int64_t> id_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::Fire> outbox_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::AckResult> results_ ABSL_GUARDED_BY(mu_);
  v1::SubscribeResponse response_ ABSL_GUARDED_BY(mu_);  // the write in flight
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chime::floor

#endif  // CHIME_TESTS_BENCH_FLOOR_FLOOR_SUBSCRIBE_REACTOR_H_
