// A small embedded HTTP/1.1 server (libmicrohttpd) for operator endpoints: /metrics, /healthz,
// /readyz and the status page. Not for the timer API, which is gRPC.
//
//   http::HttpServer server;
//   server.Handle("/healthz", http::HealthzHandler());
//   CHIME_RETURN_IF_ERROR(server.Start("127.0.0.1:9090"));  // port 0 picks a free port
//   ... server.port() ...
//   server.Stop();
#ifndef CHIME_SERVER_HTTP_HTTP_SERVER_H_
#define CHIME_SERVER_HTTP_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace chime::http {

struct HttpRequest {
  std::string method;                        // "GET", "HEAD", "POST", ...
  std::string path;                          // decoded, without the query string
  std::map<std::string, std::string> query;  // decoded; the last of repeated keys wins
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;  // not sent for HEAD requests (Content-Length still is)
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Called on one of the server's threads, possibly concurrently with itself: must be
// thread-safe, and should be quick (probes share the few threads).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Thread-safe. Serves exact-path handlers on internal threads (a pool of two, so a slow scrape
// does not hold up a health probe); unknown paths get 404. Request bodies above 1 MiB get 413.
class HttpServer {
 public:
  HttpServer() = default;
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves `handler` at exactly `path` (e.g. "/metrics"), replacing any earlier handler.
  // May be called before or after Start.
  void Handle(const std::string& path, HttpHandler handler);

  // Binds "host:port" ("127.0.0.1:0", "[::1]:9090", "localhost:9090", ":9090" for every IPv4
  // interface, "[::]:9090" for IPv6 and IPv4) and starts serving. InvalidArgument for a bad
  // address, Unavailable when it cannot listen (e.g. the port is taken), FailedPrecondition
  // when called twice.
  absl::Status Start(const std::string& listen_address);

  // The bound port (the chosen one when started with port 0); 0 before Start.
  int port() const { return port_.load(std::memory_order_acquire); }

  // Stops listening and waits for requests in progress to finish. Idempotent.
  void Stop();

 private:
  // libmicrohttpd's callbacks, defined in the .cc so its header stays out of this one.
  struct Callbacks;
  friend struct Callbacks;

  HttpResponse Dispatch(const HttpRequest& request) const;

  absl::Mutex lifecycle_mu_;
  MHD_Daemon* daemon_ ABSL_GUARDED_BY(lifecycle_mu_) = nullptr;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::atomic<int> port_{0};

  mutable absl::Mutex handlers_mu_;
  std::map<std::string, std::shared_ptr<const HttpHandler>> handlers_ ABSL_GUARDED_BY(handlers_mu_);

  // libmicrohttpd's own messages: kept while starting (to explain a failure), else stderr.
  absl::Mutex log_mu_;
  bool starting_ ABSL_GUARDED_BY(log_mu_) = false;
  std::string start_log_ ABSL_GUARDED_BY(log_mu_);
};

}  // namespace chime::http

#endif  // CHIME_SERVER_HTTP_HTTP_SERVER_H_
