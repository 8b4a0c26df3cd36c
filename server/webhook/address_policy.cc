#include "server/webhook/address_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chime::webhook {
namespace {

// ::ffff:a.b.c.d and the NAT64 well-known prefix 64:ff9b::/96 carry an IPv4 address that is
// what actually gets reached, so classify (and match) that.
IpAddress Normalize(const IpAddress& a) {
  if (!a.v6) return a;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(a.bytes.data(), kMapped, 12) == 0 ||
      std::memcmp(a.bytes.data(), kNat64, 12) == 0) {
    IpAddress v4;
    std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
    return v4;
  }
  return a;
}

bool PrefixMatch(const IpAddress& a, const IpAddress& base, int bits) {
  if (a.v6 != base.v6) return false;
  int full = bits / 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (base.bytes[full] & mask);
}

bool In(const IpAddress& a, const char* base, int bits) {
  return PrefixMatch(a, *ParseIpAddress(base), bits);
}

}  // namespace

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf));
  return buf;
}

std::optional<IpAddress> ParseIpAddress(const std::string& raw) {
  std::string text = raw;
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  IpAddress a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) return Normalize(a);
  return std::nullopt;
}

std::optional<IpAddress> IpFromSockaddr(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  IpAddress a;
  if (address->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, address, sizeof(in));
    std::memcpy(a.bytes.data(), &in.sin_addr, 4);
    return a;
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, address, sizeof(in6));
    a.v6 = true;
    std::memcpy(a.bytes.data(), &in6.sin6_addr, 16);
    return Normalize(a);
  }
  return std::nullopt;
}

AddressClass ClassifyAddress(const IpAddress& raw) {
  IpAddress a = Normalize(raw);
  if (!a.v6) {
    // Metadata before link-local: it is inside 169.254/16 but deserves its own name.
    if (In(a, "169.254.169.254", 32)) return AddressClass::kMetadata;
    if (In(a, "0.0.0.0", 8)) return AddressClass::kUnspecified;
    if (In(a, "127.0.0.0", 8)) return AddressClass::kLoopback;
    if (In(a, "10.0.0.0", 8) || In(a, "172.16.0.0", 12) || In(a, "192.168.0.0", 16)) {
      return AddressClass::kPrivate;
    }
    if (In(a, "169.254.0.0", 16)) return AddressClass::kLinkLocal;
    if (In(a, "100.64.0.0", 10)) return AddressClass::kCgnat;
    if (In(a, "224.0.0.0", 4)) return AddressClass::kMulticast;
    if (In(a, "240.0.0.0", 4)) return AddressClass::kReserved;
    return AddressClass::kPublic;
  }
  if (In(a, "fd00:ec2::254", 128)) return AddressClass::kMetadata;
  if (In(a, "::", 128)) return AddressClass::kUnspecified;
  if (In(a, "::1", 128)) return AddressClass::kLoopback;
  if (In(a, "fc00::", 7)) return AddressClass::kPrivate;
  if (In(a, "fe80::", 10)) return AddressClass::kLinkLocal;
  if (In(a, "ff00::", 8)) return AddressClass::kMulticast;
  return AddressClass::kPublic;
}

const char* AddressClassName(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kMetadata:
      return "metadata";
    case AddressClass::kUnspecified:
      return "unspecified";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kCgnat:
      return "CGNAT";
    case AddressClass::kReserved:
      return "reserved";
  }
  return "unknown";
}

bool Cidr::Contains(const IpAddress& address) const {
  return PrefixMatch(Normalize(address), base, prefix_length);
}

std::string Cidr::ToString() const { return absl::StrCat(base.ToString(), "/", prefix_length); }

absl::StatusOr<Cidr> ParseCidr(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--webhook-allow \"", text, "\": ", why,
                     " (want a CIDR such as 127.0.0.0/8 or fd00::/8, or one address)"));
  };
  std::string addr = text;
  std::optional<int> bits;
  if (size_t slash = text.find('/'); slash != std::string::npos) {
    addr = text.substr(0, slash);
    int n = 0;
    if (!absl::SimpleAtoi(text.substr(slash + 1), &n)) return bad("prefix length is not a number");
    bits = n;
  }
  std::optional<IpAddress> ip = ParseIpAddress(addr);
  if (!ip) return bad("not an IPv4 or IPv6 address");
  int max = ip->v6 ? 128 : 32;
  // A mapped address with a v6 prefix length: translate to the v4 prefix.
  if (!ip->v6 && addr.find(':') != std::string::npos && bits) *bits -= 96;
  if (!bits) bits = max;
  if (*bits < 0 || *bits > max) {
    return bad(absl::StrCat("prefix length must be 0..", max));
  }
  Cidr c;
  c.base = *ip;
  c.prefix_length = *bits;
  for (int i = 0; i < 16; ++i) {
    int keep = std::min(8, std::max(0, *bits - 8 * i));
    c.base.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : (0xff << (8 - keep)));
  }
  return c;
}

absl::StatusOr<AddressPolicy> AddressPolicy::FromFlags(const std::vector<std::string>& allow) {
  std::vector<Cidr> cidrs;
  for (const std::string& s : allow) {
    absl::StatusOr<Cidr> c = ParseCidr(s);
    if (!c.ok()) return c.status();
    cidrs.push_back(*c);
  }
  return AddressPolicy(std::move(cidrs));
}

PolicyDecision AddressPolicy::Check(const IpAddress& address) const {
  for (const Cidr& c : allow_) {
    if (c.Contains(address)) return {true, absl::StrCat("allow-listed by ", c.ToString())};
  }
  AddressClass cls = ClassifyAddress(address);
  if (cls == AddressClass::kPublic) return {true, ""};
  return {false, absl::StrCat(address.ToString(), " is ", AddressClassName(cls),
                              " (not allow-listed by --webhook-allow)")};
}

}  // namespace chime::webhook
