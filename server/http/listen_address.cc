#include "server/http/listen_address.h"

#include <netdb.h>

#include <charconv>
#include <cstring>

namespace chime::http {

absl::StatusOr<HostPort> SplitHostPort(std::string_view address) {
  // Appended, not literal + string: g++ 12 -O3 reports a false -Wrestrict on the latter.
  std::string quoted;
  quoted.reserve(address.size() + 2);
  quoted.append(1, '"').append(address).append(1, '"');
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError("listen address " + quoted + " has no :port");
  }
  std::string_view host = address.substr(0, colon);
  const std::string_view port_text = address.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') {
      return absl::InvalidArgumentError("listen address " + quoted + " has an unclosed [");
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return absl::InvalidArgumentError("listen address " + quoted +
                                      ": write IPv6 addresses in brackets, e.g. [::1]:9090");
  }
  unsigned port = 0;
  const auto result = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || result.ec != std::errc() ||
      result.ptr != port_text.data() + port_text.size() || port > 65535) {
    return absl::InvalidArgumentError("listen address " + quoted + " has an invalid port");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

absl::StatusOr<ResolvedAddress> ResolveForListen(const HostPort& host_port) {
  addrinfo hints{};
  hints.ai_family = host_port.host.empty() ? AF_INET : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* results = nullptr;
  const std::string port = std::to_string(host_port.port);
  const int error = getaddrinfo(host_port.host.empty() ? nullptr : host_port.host.c_str(),
                                port.c_str(), &hints, &results);
  if (error != 0) {
    return absl::InvalidArgumentError("cannot resolve listen host \"" + host_port.host +
                                      "\": " + gai_strerror(error));
  }
  ResolvedAddress resolved;
  std::memcpy(&resolved.storage, results->ai_addr, results->ai_addrlen);
  resolved.length = results->ai_addrlen;
  freeaddrinfo(results);
  return resolved;
}

}  // namespace chime::http
