#include "server/http/listen_address.h"

#include <netinet/in.h>

#include "gtest/gtest.h"

namespace chime::http {
namespace {

TEST(ListenAddressTest, Splits) {
  struct Case {
    const char* address;
    const char* host;
    uint16_t port;
  };
  for (const Case& c : {Case{"127.0.0.1:9090", "127.0.0.1", 9090}, Case{"[::1]:0", "::1", 0},
                        Case{"localhost:80", "localhost", 80}, Case{":65535", "", 65535},
                        Case{"[::]:1", "::", 1}}) {
    absl::StatusOr<HostPort> hp = SplitHostPort(c.address);
    ASSERT_TRUE(hp.ok()) << c.address << ": " << hp.status();
    EXPECT_EQ(hp->host, c.host);
    EXPECT_EQ(hp->port, c.port);
  }
}

TEST(ListenAddressTest, RejectsBadAddresses) {
  for (const char* bad : {"", "9090", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536",
                          "127.0.0.1:-1", "::1:80", "[::1:80", "127.0.0.1:80 "}) {
    EXPECT_EQ(SplitHostPort(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ListenAddressTest, Resolves) {
  absl::StatusOr<ResolvedAddress> v4 = ResolveForListen({"127.0.0.1", 8080});
  ASSERT_TRUE(v4.ok()) << v4.status();
  ASSERT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(v4->get())->sin_port), 8080);

  absl::StatusOr<ResolvedAddress> v6 = ResolveForListen({"::1", 1});
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->family(), AF_INET6);

  absl::StatusOr<ResolvedAddress> any = ResolveForListen({"", 0});
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->family(), AF_INET);

  EXPECT_EQ(ResolveForListen({"no such host.invalid", 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chime::http
