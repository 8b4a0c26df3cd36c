// Which network destinations a webhook may reach (SSRF protection). Addresses that are not
// public (loopback, private, link-local, cloud metadata, ...) are refused unless an operator
// allow-lists them with `chimed --webhook-allow CIDR`. The HTTP client checks the address it is
// about to connect to (after DNS), so a hostname cannot smuggle a private address past it.
#ifndef CHIME_SERVER_WEBHOOK_ADDRESS_POLICY_H_
#define CHIME_SERVER_WEBHOOK_ADDRESS_POLICY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct sockaddr;

namespace chime::webhook {

// An IPv4 or IPv6 address. IPv4 uses bytes[0..3]. IPv4-mapped IPv6 (::ffff:a.b.c.d) is
// normalised to IPv4 by the parsers, so a mapped address is classified like the IPv4 one.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};

  std::string ToString() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// Parses a literal address ("10.0.0.1", "::1", "[::1]", "::ffff:127.0.0.1"); nullopt otherwise.
std::optional<IpAddress> ParseIpAddress(const std::string& text);
// From a socket address (AF_INET / AF_INET6); nullopt for other families.
std::optional<IpAddress> IpFromSockaddr(const sockaddr* address);

enum class AddressClass {
  kPublic,
  kLoopback,     // 127/8, ::1
  kPrivate,      // 10/8, 172.16/12, 192.168/16, fc00::/7
  kLinkLocal,    // 169.254/16, fe80::/10
  kMetadata,     // 169.254.169.254, fd00:ec2::254 (cloud instance metadata)
  kUnspecified,  // 0.0.0.0/8, ::
  kMulticast,    // 224/4, ff00::/8
  kCgnat,        // 100.64/10 (carrier-grade NAT, shared address space)
  kReserved,     // 240/4 incl. broadcast
};

AddressClass ClassifyAddress(const IpAddress& address);
const char* AddressClassName(AddressClass c);  // "loopback", "private", ...

struct Cidr {
  IpAddress base;  // host bits cleared
  int prefix_length = 0;
  bool Contains(const IpAddress& address) const;
  std::string ToString() const;
};

// "127.0.0.0/8", "fd00::/8", or a single address ("10.1.2.3" = /32, "::1" = /128).
// InvalidArgument naming the flag and the problem.
absl::StatusOr<Cidr> ParseCidr(const std::string& text);

struct PolicyDecision {
  bool allowed = false;
  std::string reason;  // e.g. "127.0.0.1 is loopback (not allow-listed)"; "" when public
};

// Immutable after construction, so thread-safe.
class AddressPolicy {
 public:
  AddressPolicy() = default;  // refuses every non-public address
  explicit AddressPolicy(std::vector<Cidr> allow) : allow_(std::move(allow)) {}
  // From `--webhook-allow` values; the error names the offending value.
  static absl::StatusOr<AddressPolicy> FromFlags(const std::vector<std::string>& allow);

  PolicyDecision Check(const IpAddress& address) const;
  const std::vector<Cidr>& allow_list() const { return allow_; }

 private:
  std::vector<Cidr> allow_;
};

}  // namespace chime::webhook

#endif  // CHIME_SERVER_WEBHOOK_ADDRESS_POLICY_H_
