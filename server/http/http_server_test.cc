// Real HTTP over loopback with libcurl as the client.
#include "server/http/http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http/curl_fetch.h"

namespace chime::http {
namespace {

using ::chime::http::testing::Fetch;
using ::chime::http::testing::FetchResult;
using ::testing::HasSubstr;

std::string Url(const HttpServer& server, const std::string& path_and_query,
                const std::string& host = "127.0.0.1") {
  return "http://" + host + ":" + std::to_string(server.port()) + path_and_query;
}

// Echoes what the handler saw, so tests can check the request as parsed.
HttpResponse Echo(const HttpRequest& request) {
  std::string body = request.method + " " + request.path + "\n";
  for (const auto& [key, value] : request.query) body += key + "=" + value + "\n";
  body += "body=" + request.body + "\n";
  return HttpResponse{201, "text/x-echo", body, {{"X-Chime", "yes"}}};
}

TEST(HttpServerTest, ServesHandlersOnAnEphemeralPort) {
  HttpServer server;
  EXPECT_EQ(server.port(), 0);
  server.Handle("/echo", Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  ASSERT_GT(server.port(), 0);

  absl::StatusOr<FetchResult> got = Fetch(Url(server, "/echo?a=1&b=x%20y&flag&a=2"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 201);
  EXPECT_EQ(got->content_type, "text/x-echo");
  EXPECT_EQ(got->body, "GET /echo\na=2\nb=x y\nflag=\nbody=\n");

  got = Fetch(Url(server, "/echo"), "POST", "hello");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->body, "POST /echo\nbody=hello\n");
}

TEST(HttpServerTest, UnknownPathIs404) {
  HttpServer server;
  server.Handle("/echo", Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  for (const char* path : {"/", "/nope", "/echo/", "/ech"}) {
    absl::StatusOr<FetchResult> got = Fetch(Url(server, path));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->status, 404) << path;
  }
}

TEST(HttpServerTest, HandlersAddedOrReplacedWhileServing) {
  HttpServer server;
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  EXPECT_EQ(Fetch(Url(server, "/late"))->status, 404);
  server.Handle("/late", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "1"}; });
  EXPECT_EQ(Fetch(Url(server, "/late"))->body, "1");
  server.Handle("/late", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "2"}; });
  EXPECT_EQ(Fetch(Url(server, "/late"))->body, "2");
}

TEST(HttpServerTest, HeadSendsNoBody) {
  HttpServer server;
  server.Handle("/echo", Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  absl::StatusOr<FetchResult> got = Fetch(Url(server, "/echo"), "HEAD");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 201);
  EXPECT_EQ(got->body, "");
}

TEST(HttpServerTest, LargeBodiesAreRefused) {
  HttpServer server;
  server.Handle("/echo", Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  absl::StatusOr<FetchResult> got =
      Fetch(Url(server, "/echo"), "POST", std::string((1 << 20) + 1, 'x'));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 413);
  got = Fetch(Url(server, "/echo"), "POST", std::string(1 << 20, 'x'));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 201);
}

TEST(HttpServerTest, Ipv6Loopback) {
  // Containers without IPv6 cannot run this; say so rather than pass silently.
  const int probe = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 loopback{};
  loopback.sin6_family = AF_INET6;
  loopback.sin6_addr = in6addr_loopback;
  const bool has_ipv6 =
      probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&loopback), sizeof(loopback)) == 0;
  if (probe >= 0) close(probe);
  if (!has_ipv6) GTEST_SKIP() << "no IPv6 loopback here";

  HttpServer server;
  server.Handle("/echo", Echo);
  const absl::Status started = server.Start("[::1]:0");
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<FetchResult> got = Fetch(Url(server, "/echo", "[::1]"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 201);
  // Bound to ::1 only: IPv4 loopback is not served.
  EXPECT_FALSE(Fetch(Url(server, "/echo")).ok());
}

TEST(HttpServerTest, StartErrors) {
  HttpServer first;
  ASSERT_TRUE(first.Start("127.0.0.1:0").ok());
  EXPECT_EQ(first.Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);

  HttpServer second;
  const absl::Status taken = second.Start("127.0.0.1:" + std::to_string(first.port()));
  EXPECT_EQ(taken.code(), absl::StatusCode::kUnavailable) << taken;
  EXPECT_THAT(std::string(taken.message()), HasSubstr(std::to_string(first.port())));

  HttpServer third;
  EXPECT_EQ(third.Start("127.0.0.1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(third.Start("[::1:80").code(), absl::StatusCode::kInvalidArgument);
}

TEST(HttpServerTest, StopClosesTheListenerAndIsIdempotent) {
  HttpServer server;
  server.Handle("/echo", Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  ASSERT_TRUE(Fetch(Url(server, "/echo")).ok());
  server.Stop();
  EXPECT_EQ(Fetch(Url(server, "/echo")).status().code(), absl::StatusCode::kUnavailable);
  server.Stop();
}

TEST(HttpServerTest, ConcurrentRequests) {
  HttpServer server;
  std::atomic<int> served{0};
  server.Handle("/count", [&served](const HttpRequest& request) {
    served.fetch_add(1);
    return HttpResponse{200, "text/plain", request.query.at("i")};
  });
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  constexpr int kThreads = 4;
  constexpr int kRequests = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        const std::string id = std::to_string(t * 1000 + i);
        absl::StatusOr<FetchResult> got = Fetch(Url(server, "/count?i=" + id));
        if (got.ok() && got->status == 200 && got->body == id) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& c : clients) c.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_EQ(served.load(), kThreads * kRequests);
}

}  // namespace
}  // namespace chime::http
