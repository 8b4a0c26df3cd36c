// Options for chime::Client and its subscriptions.
#ifndef CHIME_CLIENT_CLIENT_OPTIONS_H_
#define CHIME_CLIENT_CLIENT_OPTIONS_H_

#include <grpcpp/security/credentials.h>

#include <cstdint>
#include <memory>

#include "absl/time/time.h"

namespace chime {

struct ClientOptions {
  // Channel credentials; nullptr means an insecure (plaintext) channel. TLS plugs in here.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Deadline of each unary call (create, get, cancel, list). Streams have none.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // Longest wait between the channel's attempts to reconnect to a server that went away. Until
  // it reconnects, calls fail with UNAVAILABLE; short, so a restarted server is used at once.
  absl::Duration max_connect_backoff = absl::Seconds(1);
  // While the server is unreachable (a restart, a deploy), unary calls wait for it, up to
  // rpc_timeout, rather than failing at once with UNAVAILABLE. Waiting calls also drive the
  // reconnect: a fail-fast call does not, and gRPC then notices the server is back only at its
  // next background poll, seconds later. The CLI turns this off to report a down server at once.
  bool wait_for_ready = true;
};

// How a subscription reconnects after its stream breaks (server restart, network, graceful
// shutdown). Reconnecting resubscribes with the same namespace, topic and window.
struct ReconnectOptions {
  bool enabled = true;
  // Waits grow exponentially from min_backoff up to max_backoff, with jitter.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Consecutive failed attempts before giving up (Next() then returns the last error);
  // 0 = retry until Close().
  int max_attempts = 0;
};

struct SubscribeOptions {
  // How many unacknowledged fires the server may hand this subscriber; 0 = server default.
  uint32_t max_outstanding = 0;
  // Ack each fire as Next() returns it: at-most-once processing in exchange for no Ack calls.
  bool auto_ack = false;
  ReconnectOptions reconnect;
};

}  // namespace chime

#endif  // CHIME_CLIENT_CLIENT_OPTIONS_H_
