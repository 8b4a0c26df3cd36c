// Parsing of listen addresses such as "127.0.0.1:9090", "[::1]:0", "localhost:9090" and
// ":9090" into a socket address to bind.
#ifndef CHIME_SERVER_HTTP_LISTEN_ADDRESS_H_
#define CHIME_SERVER_HTTP_LISTEN_ADDRESS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace chime::http {

struct HostPort {
  std::string host;  // without brackets; empty means every IPv4 interface
  uint16_t port = 0;
};

// "host:port" or "[ipv6]:port"; the port is required and may be 0 (any free port).
absl::StatusOr<HostPort> SplitHostPort(std::string_view address);

struct ResolvedAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Resolves a host name or numeric address (the first result) for binding.
absl::StatusOr<ResolvedAddress> ResolveForListen(const HostPort& host_port);

}  // namespace chime::http

#endif  // CHIME_SERVER_HTTP_LISTEN_ADDRESS_H_
