#include "tests/bench/unary_load.h"

#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <thread>

#include "absl/time/clock.h"

namespace chime::bench {
namespace {

struct Call {
  grpc::ClientContext ctx;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Time start;
  std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::ByteBuffer>> reader;
};

}  // namespace

void UnaryLoadResult::Add(UnaryLoadResult&& later) {
  ok += later.ok;
  if (failed == 0) first_error = std::move(later.first_error);
  failed += later.failed;
  latency_ms.insert(latency_ms.end(), later.latency_ms.begin(), later.latency_ms.end());
  elapsed += later.elapsed;
}

UnaryLoadResult RunUnaryLoad(const std::shared_ptr<grpc::Channel>& channel,
                             const UnaryLoadOptions& options) {
  return RunUnaryLoad(std::vector<std::shared_ptr<grpc::Channel>>{channel}, options);
}

UnaryLoadResult RunUnaryLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                             const UnaryLoadOptions& options) {
  UnaryLoadResult result;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (const auto& channel : channels)
    stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
  grpc::CompletionQueue cq;
  std::vector<grpc::ByteBuffer> buffers;
  for (const std::string& r : options.requests) {
    grpc::Slice slice(r);
    buffers.emplace_back(&slice, 1);
  }
  const absl::Time start = absl::Now();
  const absl::Time stop_issuing = start + options.duration;
  int64_t issued = 0;
  int inflight = 0;
  auto next_issue_time = [&] {
    return options.rate > 0 ? start + absl::Seconds(static_cast<double>(issued) / options.rate)
                            : absl::InfinitePast();
  };
  auto issue = [&] {
    auto* c = new Call;
    c->ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    c->start = absl::Now();
    if (options.request_for_call) {
      grpc::Slice slice(options.request_for_call(issued));
      c->request = grpc::ByteBuffer(&slice, 1);
    } else {
      c->request = buffers[issued % buffers.size()];
    }
    c->reader =
        stubs[issued % stubs.size()]->PrepareUnaryCall(&c->ctx, options.method, c->request, &cq);
    c->reader->StartCall();
    c->reader->Finish(&c->response, &c->status, c);
    ++issued;
    ++inflight;
  };
  while (true) {
    absl::Time now = absl::Now();
    const bool may_issue = now < stop_issuing && issued < options.max_calls;
    while (may_issue && inflight < options.inflight && issued < options.max_calls &&
           now >= next_issue_time()) {
      issue();
    }
    if (inflight == 0 && !may_issue) break;
    absl::Time wake = now + absl::Milliseconds(100);
    if (may_issue && options.rate > 0 && inflight < options.inflight) {
      wake = std::min(wake, next_issue_time());
    }
    void* tag = nullptr;
    bool ok = false;
    if (cq.AsyncNext(&tag, &ok, absl::ToChronoTime(wake)) != grpc::CompletionQueue::GOT_EVENT) {
      continue;
    }
    auto* c = static_cast<Call*>(tag);
    --inflight;
    if (c->status.ok()) {
      ++result.ok;
      if (options.keep_latencies) {
        result.latency_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - c->start));
      }
    } else {
      if (result.failed++ == 0) {
        result.first_error =
            std::to_string(c->status.error_code()) + " " + c->status.error_message();
      }
    }
    delete c;
  }
  result.elapsed = absl::Now() - start;
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return result;
}

}  // namespace chime::bench
