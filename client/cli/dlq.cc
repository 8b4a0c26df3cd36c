#include "client/cli/dlq.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "chime/v1/timer.grpc.pb.h"
#include "client/grpc_status.h"

namespace chime::cli {
namespace {

std::unique_ptr<v1::TimerService::Stub> Stub(const std::string& server) {
  return v1::TimerService::NewStub(grpc::CreateChannel(server, grpc::InsecureChannelCredentials()));
}

}  // namespace

std::string DeadLetterLine(const v1::DeadLetter& dead) {
  const v1::Fire& f = dead.fire();
  return absl::StrCat(f.fire_id(), " timer=", f.timer_id(), " topic=", f.topic(),
                      " attempts=", f.attempt(), " last_error=\"", dead.last_error(), "\"");
}

std::string DeadLetterJson(const v1::DeadLetter& dead) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(dead, &json, options).ok()) return "{}";
  return json;
}

absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(const std::string& server,
                                                            const v1::ListDeadLettersRequest& req,
                                                            absl::Duration timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::ListDeadLettersResponse response;
  grpc::Status status = Stub(server)->ListDeadLetters(&ctx, req, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::DeadLetter> SettleDeadLetter(const std::string& server, bool replay,
                                                const std::string& ns, const std::string& fire_id,
                                                absl::Duration timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::DeadLetter response;
  grpc::Status status;
  if (replay) {
    v1::ReplayDeadLetterRequest req;
    req.set_namespace_(ns);
    req.set_fire_id(fire_id);
    status = Stub(server)->ReplayDeadLetter(&ctx, req, &response);
  } else {
    v1::PurgeDeadLetterRequest req;
    req.set_namespace_(ns);
    req.set_fire_id(fire_id);
    status = Stub(server)->PurgeDeadLetter(&ctx, req, &response);
  }
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace chime::cli
