#include "server/api/timer_service.h"

#include <atomic>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "server/api/status_convert.h"
#include "server/api/validation.h"
#include "server/delivery/subscribe_reactor.h"

namespace chime::api {
namespace {

grpc::Status Busy() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server busy: too many reads queued");
}

}  // namespace

void TimerService::StopAccepting() { accepting_.store(false, std::memory_order_release); }

bool TimerService::RefuseIfStopped(grpc::ServerUnaryReactor* reactor) const {
  if (accepting_.load(std::memory_order_acquire)) return false;
  reactor->Finish(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down, retry shortly"));
  return true;
}

TimerService::TimerService(engine::Engine* engine, delivery::DeliveryManager* delivery,
                           ReadPool* reads, webhook::AddressPolicy webhook_policy)
    : engine_(engine),
      delivery_(delivery),
      reads_(reads),
      webhook_policy_(std::move(webhook_policy)) {}

grpc::ServerUnaryReactor* TimerService::CreateTimer(grpc::CallbackServerContext* context,
                                                    const v1::CreateTimerRequest* request,
                                                    v1::CreateTimerResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  absl::StatusOr<engine::CreateSpec> spec =
      ValidateCreate(*request, engine_->clock()->Now(), webhook_policy_);
  if (!spec.ok()) {
    reactor->Finish(ToGrpcStatus(spec.status()));
    return reactor;
  }
  engine_->Create(*std::move(spec),
                  [reactor, response](absl::StatusOr<engine::CreateResult> result) {
                    if (result.ok()) {
                      *response->mutable_timer() = std::move(result->timer);
                      response->set_created(result->created);
                    }
                    reactor->Finish(ToGrpcStatus(result.status()));
                  });
  return reactor;
}

grpc::ServerUnaryReactor* TimerService::CreateTimers(grpc::CallbackServerContext* context,
                                                     const v1::CreateTimersRequest* request,
                                                     v1::CreateTimersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  const size_t n = request->requests_size();
  if (n == 0 || n > limits::kMaxBatchCreates) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        n == 0 ? "requests is empty"
               : absl::StrCat("requests has ", n, " entries, limit ", limits::kMaxBatchCreates)));
    return reactor;
  }
  auto set_status = [](v1::CreateTimerResult* result, const absl::Status& status) {
    const grpc::Status grpc_status = ToGrpcStatus(status);
    result->set_code(grpc_status.error_code());
    result->set_message(grpc_status.error_message());
  };
  for (size_t i = 0; i < n; ++i) response->add_results();
  const absl::Time now = engine_->clock()->Now();
  std::vector<engine::CreateSpec> specs;
  specs.reserve(n);
  std::vector<size_t> spec_request;  // specs[k] came from request->requests(spec_request[k])
  spec_request.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<engine::CreateSpec> spec =
        ValidateCreate(request->requests(i), now, webhook_policy_);
    if (!spec.ok()) {
      set_status(response->mutable_results(i), spec.status());
      continue;
    }
    specs.push_back(*std::move(spec));
    spec_request.push_back(i);
  }
  if (specs.empty()) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  engine_->CreateMany(
      std::move(specs),
      [reactor, response, set_status, spec_request = std::move(spec_request),
       ids_only = request->ids_only()](std::vector<absl::StatusOr<engine::CreateResult>> created) {
        for (size_t k = 0; k < created.size(); ++k) {
          v1::CreateTimerResult* result = response->mutable_results(spec_request[k]);
          if (created[k].ok()) {
            if (ids_only) {
              result->mutable_timer()->set_timer_id(
                  std::move(*created[k]->timer.mutable_timer_id()));
            } else {
              *result->mutable_timer() = std::move(created[k]->timer);
            }
            result->set_created(created[k]->created);
          } else {
            set_status(result, created[k].status());
          }
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* TimerService::GetTimer(grpc::CallbackServerContext* context,
                                                 const v1::GetTimerRequest* request,
                                                 v1::Timer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  absl::StatusOr<TimerRef> ref = ValidateGet(*request);
  if (!ref.ok()) {
    reactor->Finish(ToGrpcStatus(ref.status()));
    return reactor;
  }
  if (!reads_->Run([this, reactor, response, ref = *std::move(ref)] {
        absl::StatusOr<v1::Timer> timer = engine_->Get(ref.ns, ref.timer_id);
        if (timer.ok()) *response = *std::move(timer);
        reactor->Finish(ToGrpcStatus(timer.status()));
      })) {
    reactor->Finish(Busy());
  }
  return reactor;
}

grpc::ServerUnaryReactor* TimerService::CancelTimer(grpc::CallbackServerContext* context,
                                                    const v1::CancelTimerRequest* request,
                                                    v1::Timer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  absl::StatusOr<TimerRef> ref = ValidateCancel(*request);
  if (!ref.ok()) {
    reactor->Finish(ToGrpcStatus(ref.status()));
    return reactor;
  }
  engine_->Cancel(std::move(ref->ns), std::move(ref->timer_id),
                  [reactor, response](absl::StatusOr<v1::Timer> timer) {
                    if (timer.ok()) *response = *std::move(timer);
                    reactor->Finish(ToGrpcStatus(timer.status()));
                  });
  return reactor;
}

// Pause, resume and update of recurring schedules: validated, then one engine transaction.
grpc::ServerUnaryReactor* TimerService::PauseTimer(grpc::CallbackServerContext* context,
                                                   const v1::PauseTimerRequest* request,
                                                   v1::Timer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  absl::StatusOr<TimerRef> ref = ValidatePause(*request);
  if (!ref.ok()) {
    reactor->Finish(ToGrpcStatus(ref.status()));
    return reactor;
  }
  engine_->Pause(std::move(ref->ns), std::move(ref->timer_id),
                 [reactor, response](absl::StatusOr<v1::Timer> timer) {
                   if (timer.ok()) *response = *std::move(timer);
                   reactor->Finish(ToGrpcStatus(timer.status()));
                 });
  return reactor;
}

grpc::ServerUnaryReactor* TimerService::ResumeTimer(grpc::CallbackServerContext* context,
                                                    const v1::ResumeTimerRequest* request,
                                                    v1::Timer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  absl::StatusOr<TimerRef> ref = ValidateResume(*request);
  if (!ref.ok()) {
    reactor->Finish(ToGrpcStatus(ref.status()));
    return reactor;
  }
  engine_->Resume(std::move(ref->ns), std::move(ref->timer_id),
                  [reactor, response](absl::StatusOr<v1::Timer> timer) {
                    if (timer.ok()) *response = *std::move(timer);
                    reactor->Finish(ToGrpcStatus(timer.status()));
                  });
  return reactor;
}

grpc::ServerUnaryReactor* TimerService::UpdateTimer(grpc::CallbackServerContext* context,
                                                    const v1::UpdateTimerRequest* request,
                                                    v1::Timer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  absl::StatusOr<v1::UpdateTimerRequest> update = ValidateUpdate(*request, engine_->clock()->Now());
  if (!update.ok()) {
    reactor->Finish(ToGrpcStatus(update.status()));
    return reactor;
  }
  engine_->Update(*std::move(update), [reactor, response](absl::StatusOr<v1::Timer> timer) {
    if (timer.ok()) *response = *std::move(timer);
    reactor->Finish(ToGrpcStatus(timer.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* TimerService::ListTimers(grpc::CallbackServerContext* context,
                                                   const v1::ListTimersRequest* request,
                                                   v1::ListTimersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  absl::StatusOr<v1::ListTimersRequest> list = ValidateList(*request);
  if (!list.ok()) {
    reactor->Finish(ToGrpcStatus(list.status()));
    return reactor;
  }
  if (!reads_->Run([this, reactor, response, list = *std::move(list)] {
        absl::StatusOr<v1::ListTimersResponse> page = engine_->List(list);
        if (page.ok()) *response = *std::move(page);
        reactor->Finish(ToGrpcStatus(page.status()));
      })) {
    reactor->Finish(Busy());
  }
  return reactor;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* TimerService::Subscribe(
    grpc::CallbackServerContext* /*context*/) {
  return delivery::SubscribeReactor::Start(delivery_);
}

grpc::ServerUnaryReactor* TimerService::ListDeadLetters(grpc::CallbackServerContext* context,
                                                        const v1::ListDeadLettersRequest* request,
                                                        v1::ListDeadLettersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  if (!reads_->Run([this, reactor, request, response] {
        absl::StatusOr<v1::ListDeadLettersResponse> page = delivery_->ListDeadLetters(*request);
        if (page.ok()) *response = *std::move(page);
        reactor->Finish(ToGrpcStatus(page.status()));
      })) {
    reactor->Finish(Busy());
  }
  return reactor;
}

grpc::ServerUnaryReactor* TimerService::ReplayDeadLetter(grpc::CallbackServerContext* context,
                                                         const v1::ReplayDeadLetterRequest* request,
                                                         v1::DeadLetter* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  if (!reads_->Run([this, reactor, request, response] {
        absl::StatusOr<v1::DeadLetter> dead =
            delivery_->ReplayDeadLetter(request->namespace_(), request->fire_id());
        if (dead.ok()) *response = *std::move(dead);
        reactor->Finish(ToGrpcStatus(dead.status()));
      })) {
    reactor->Finish(Busy());
  }
  return reactor;
}

grpc::ServerUnaryReactor* TimerService::PurgeDeadLetter(grpc::CallbackServerContext* context,
                                                        const v1::PurgeDeadLetterRequest* request,
                                                        v1::DeadLetter* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (RefuseIfStopped(reactor)) return reactor;
  if (!reads_->Run([this, reactor, request, response] {
        absl::StatusOr<v1::DeadLetter> dead =
            delivery_->PurgeDeadLetter(request->namespace_(), request->fire_id());
        if (dead.ok()) *response = *std::move(dead);
        reactor->Finish(ToGrpcStatus(dead.status()));
      })) {
    reactor->Finish(Busy());
  }
  return reactor;
}

}  // namespace chime::api
