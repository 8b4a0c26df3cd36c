// Ready-made handlers for the operator endpoints.
//
//   std::atomic<bool> recovered{false};
//   server.Handle("/metrics", http::MetricsHandler(&registry));
//   server.Handle("/healthz", http::HealthzHandler());
//   server.Handle("/readyz", http::ReadyzHandler([&] { return recovered.load(); }));
#ifndef CHIME_SERVER_HTTP_OPERATOR_HANDLERS_H_
#define CHIME_SERVER_HTTP_OPERATOR_HANDLERS_H_

#include <functional>

#include "metrics/registry.h"
#include "server/http/http_server.h"

namespace chime::http {

inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// GET/HEAD: the registry's Prometheus text exposition. REQUIRES: registry outlives the server.
HttpHandler MetricsHandler(const metrics::Registry* registry);

// GET/HEAD: 200 "ok" whenever the process serves HTTP at all (liveness).
HttpHandler HealthzHandler();

// GET/HEAD: 200 "ok" while is_ready() returns true, else 503 "not ready" (readiness: e.g.
// recovery has finished). is_ready is called on server threads, so it must be thread-safe.
HttpHandler ReadyzHandler(std::function<bool()> is_ready);

}  // namespace chime::http

#endif  // CHIME_SERVER_HTTP_OPERATOR_HANDLERS_H_
