// The server side of one Subscribe stream.
//
// The first message must be `start` (namespace, topic, flow-control window); later messages
// carry acks and nacks, handed to the DeliveryManager. Fires and ack outcomes from the
// manager go into an outbox and are written batched, one SubscribeResponse per write, one
// write in flight at a time. The stream is raw (ByteBuffers): the manager hands over each fire
// serialized, and a response is the fires' bytes each behind its field's tag, so a fire is
// encoded once and never copied as a message. A read is re-armed only after the previous message is
// handled, and paused while too many ack outcomes wait to be written, so HTTP/2 flow control pushes
// back on a client that floods acks without reading.
//
// Lifetime: gRPC holds the reactor until OnDone; the manager may hold it (shared_ptr) a little
// longer while a call into it is in progress, so every gRPC operation is guarded by the
// reactor's own state. Finish runs exactly once, never with a write in flight, and the
// reactor unsubscribes from the manager before it finishes.
//
// Thread-safe (reactions and manager calls may run concurrently).
#ifndef CHIME_SERVER_DELIVERY_SUBSCRIBE_REACTOR_H_
#define CHIME_SERVER_DELIVERY_SUBSCRIBE_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chime/v1/timer.grpc.pb.h"
#include "server/delivery/delivery_manager.h"
#include "server/delivery/sink.h"

namespace chime::delivery {

class SubscribeReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                               public SubscriberSink,
                               public std::enable_shared_from_this<SubscribeReactor> {
 public:
  // Creates a reactor that keeps itself alive until OnDone and starts reading.
  static grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Start(
      DeliveryManager* manager);

  // Largest response the reactor writes (clients' default receive limit is 4 MiB); a single
  // fire larger than this still goes alone.
  static constexpr size_t kMaxResponseBytes = size_t{1} << 20;

  // grpc::ServerBidiReactor
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // SubscriberSink
  void SendFires(std::vector<v1::Fire> fires) override;
  bool TakesWireFires() const override { return true; }
  void SendWireFires(std::vector<std::string> fires) override;
  void SendAckResults(std::vector<v1::AckResult> results) override;
  void Close(const absl::Status& status) override;

  explicit SubscribeReactor(DeliveryManager* manager);  // use Start()

 private:
  // Handles one request; returns false when the stream is finishing.
  bool Handle(const v1::SubscribeRequest& request);
  // Ends the stream with `status` (first call wins): unsubscribes, then finishes once no
  // write is in flight.
  void BeginFinish(const grpc::Status& status);
  // Starts the next write, or the Finish, if nothing is in flight.
  void Pump();
  void MaybeResumeReading();

  DeliveryManager* const manager_;
  grpc::ByteBuffer request_;  // owned by the read in flight

  absl::Mutex mu_;
  std::shared_ptr<SubscribeReactor> self_ ABSL_GUARDED_BY(mu_);  // reset in OnDone
  std::optional<SubscriberId> id_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> fires_ ABSL_GUARDED_BY(mu_);  // each a serialized v1::Fire
  std::deque<v1::AckResult> results_ ABSL_GUARDED_BY(mu_);
  // Ack/nack ids handed to the manager whose outcomes are not yet written.
  size_t unanswered_acks_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ByteBuffer response_ ABSL_GUARDED_BY(mu_);  // owned by the write in flight
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace chime::delivery

#endif  // CHIME_SERVER_DELIVERY_SUBSCRIBE_REACTOR_H_
