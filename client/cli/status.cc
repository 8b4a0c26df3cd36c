#include "client/cli/status.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chime/v1/admin.grpc.pb.h"
#include "client/grpc_status.h"
#include "common/proto_time.h"
#include "common/time_text.h"

namespace chime::cli {
namespace {

std::string Bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrCat(n, " B") : absl::StrFormat("%.1f %s", v, units[u]);
}

std::string Overdue(const v1::OverdueTimer& t) {
  return absl::StrCat(
      t.namespace_(), "/", t.timer_id(), " due ", chime::FormatRfc3339(FromProto(t.due_time())),
      " (", chime::FormatDuration(FromProto(t.overdue_by())), " ago, shard ", t.shard(), ")");
}

}  // namespace

absl::StatusOr<v1::GetStatusResponse> FetchStatus(const std::string& server,
                                                  absl::Duration timeout) {
  auto stub =
      v1::AdminService::NewStub(grpc::CreateChannel(server, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::GetStatusResponse response;
  grpc::Status status = stub->GetStatus(&ctx, v1::GetStatusRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

std::string StatusText(const v1::GetStatusResponse& s) {
  std::string out;
  absl::StrAppend(&out, "node      ", s.node_id(), " (chime ", s.version(), ")",
                  s.ready() ? "" : " NOT READY", "\n");
  absl::StrAppend(&out, "uptime    ", chime::FormatDuration(FromProto(s.uptime())), " (since ",
                  chime::FormatRfc3339(FromProto(s.start_time())), ")\n");
  absl::StrAppend(&out, "grpc      ", s.grpc_address(), "\n");
  if (!s.http_address().empty()) absl::StrAppend(&out, "http      ", s.http_address(), "\n");
  absl::StrAppend(&out, "storage   ", Bytes(s.storage_bytes()), " in ", s.data_dir(), "\n");
  absl::StrAppend(&out, "timers    ", s.timers_scheduled(), " scheduled, ", s.deliveries_pending(),
                  " pending delivery (estimates)\n");
  absl::StrAppend(&out, "overdue   ", s.has_oldest_overdue() ? Overdue(s.oldest_overdue()) : "none",
                  "\n");
  absl::StrAppend(&out, "shards    ", s.shards_size(), "\n");
  absl::StrAppend(&out,
                  absl::StrFormat("  %5s %10s %10s %6s %10s %10s %10s\n", "SHARD", "SCHEDULED",
                                  "DELIVERING", "DEAD", "IN_WINDOW", "FIRED", "DISK"));
  for (const v1::ShardStatus& shard : s.shards()) {
    absl::StrAppend(&out, absl::StrFormat("  %5d %10d %10d %6d %10d %10d %10s\n", shard.shard(),
                                          shard.timers_scheduled(), shard.deliveries_pending(),
                                          shard.dead_letters(), shard.window_timers(),
                                          shard.fired_total(), Bytes(shard.disk_bytes())));
  }
  if (s.topics_size() == 0) {
    absl::StrAppend(&out, "topics    none subscribed\n");
  } else {
    absl::StrAppend(&out, "topics    ", s.topics_size(), " subscribed\n");
    absl::StrAppend(&out, absl::StrFormat("  %-30s %11s %8s %9s %s\n", "NAMESPACE/TOPIC",
                                          "SUBSCRIBERS", "READY", "IN_FLIGHT", "BACKLOG"));
    for (const v1::TopicBacklog& t : s.topics()) {
      absl::StrAppend(
          &out, absl::StrFormat("  %-30s %11d %8d %9d %s\n",
                                absl::StrCat(t.namespace_(), "/", t.topic()), t.subscribers(),
                                t.ready(), t.in_flight(), t.backlog_on_disk() ? "on disk" : "-"));
    }
  }
  return out;
}

std::string StatusJson(const v1::GetStatusResponse& status) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(status, &json, options).ok()) return "{}";
  return json;
}

}  // namespace chime::cli
