// The gRPC TimerService (callback API): each handler validates its request, hands it to the
// engine (creates, cancels: asynchronous transactions) or to the read pool (gets, lists), and
// finishes the call from that callback, so no gRPC thread waits on storage. Subscribe
// returns a SubscribeReactor bound to the DeliveryManager.
//
// Thread-safe.
#ifndef CHIME_SERVER_API_TIMER_SERVICE_H_
#define CHIME_SERVER_API_TIMER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "chime/v1/timer.grpc.pb.h"
#include "server/api/read_pool.h"
#include "server/delivery/delivery_manager.h"
#include "server/engine/engine.h"
#include "server/webhook/address_policy.h"

namespace chime::api {

// The generated CallbackService with Subscribe raw (ByteBuffers), so that
// delivery::SubscribeReactor writes fires serialized once. A method added to the service must be
// added here too (unlisted, it would answer UNIMPLEMENTED).
using TimerServiceBase = v1::TimerService::WithCallbackMethod_CreateTimer<
    v1::TimerService::WithCallbackMethod_CreateTimers<v1::TimerService::WithCallbackMethod_GetTimer<
        v1::TimerService::WithCallbackMethod_CancelTimer<
            v1::TimerService::WithCallbackMethod_ListTimers<
                v1::TimerService::WithRawCallbackMethod_Subscribe<
                    v1::TimerService::WithCallbackMethod_PauseTimer<
                        v1::TimerService::WithCallbackMethod_ResumeTimer<
                            v1::TimerService::WithCallbackMethod_UpdateTimer<
                                v1::TimerService::WithCallbackMethod_ListDeadLetters<
                                    v1::TimerService::WithCallbackMethod_ReplayDeadLetter<
                                        v1::TimerService::WithCallbackMethod_PurgeDeadLetter<
                                            v1::TimerService::Service>>>>>>>>>>>>;

class TimerService final : public TimerServiceBase {
 public:
  // All three must outlive the service (and the gRPC server it is registered with).
  // `webhook_policy` checks webhook URLs with literal addresses at create time.
  TimerService(engine::Engine* engine, delivery::DeliveryManager* delivery, ReadPool* reads,
               webhook::AddressPolicy webhook_policy = {});

  grpc::ServerUnaryReactor* CreateTimer(grpc::CallbackServerContext* context,
                                        const v1::CreateTimerRequest* request,
                                        v1::CreateTimerResponse* response) override;
  grpc::ServerUnaryReactor* CreateTimers(grpc::CallbackServerContext* context,
                                         const v1::CreateTimersRequest* request,
                                         v1::CreateTimersResponse* response) override;
  grpc::ServerUnaryReactor* GetTimer(grpc::CallbackServerContext* context,
                                     const v1::GetTimerRequest* request,
                                     v1::Timer* response) override;
  grpc::ServerUnaryReactor* CancelTimer(grpc::CallbackServerContext* context,
                                        const v1::CancelTimerRequest* request,
                                        v1::Timer* response) override;
  grpc::ServerUnaryReactor* PauseTimer(grpc::CallbackServerContext* context,
                                       const v1::PauseTimerRequest* request,
                                       v1::Timer* response) override;
  grpc::ServerUnaryReactor* ResumeTimer(grpc::CallbackServerContext* context,
                                        const v1::ResumeTimerRequest* request,
                                        v1::Timer* response) override;
  grpc::ServerUnaryReactor* UpdateTimer(grpc::CallbackServerContext* context,
                                        const v1::UpdateTimerRequest* request,
                                        v1::Timer* response) override;
  grpc::ServerUnaryReactor* ListTimers(grpc::CallbackServerContext* context,
                                       const v1::ListTimersRequest* request,
                                       v1::ListTimersResponse* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context) override;
  // Dead letters: run on the read pool (they wait for storage).
  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext* context,
                                            const v1::ListDeadLettersRequest* request,
                                            v1::ListDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* ReplayDeadLetter(grpc::CallbackServerContext* context,
                                             const v1::ReplayDeadLetterRequest* request,
                                             v1::DeadLetter* response) override;
  grpc::ServerUnaryReactor* PurgeDeadLetter(grpc::CallbackServerContext* context,
                                            const v1::PurgeDeadLetterRequest* request,
                                            v1::DeadLetter* response) override;

  // From now on every unary call is answered UNAVAILABLE at once (clients retry, elsewhere or
  // after the restart); calls already started finish normally. Shutdown's first step.
  void StopAccepting();

 private:
  // Finishes `reactor` with UNAVAILABLE, and returns true, after StopAccepting.
  bool RefuseIfStopped(grpc::ServerUnaryReactor* reactor) const;

  std::atomic<bool> accepting_{true};
  engine::Engine* const engine_;
  delivery::DeliveryManager* const delivery_;
  ReadPool* const reads_;
  const webhook::AddressPolicy webhook_policy_;
};

}  // namespace chime::api

#endif  // CHIME_SERVER_API_TIMER_SERVICE_H_
