#include "server/http/operator_handlers.h"

#include <utility>

namespace chime::http {
namespace {

bool IsRead(const HttpRequest& request) {
  return request.method == "GET" || request.method == "HEAD";
}

HttpResponse MethodNotAllowed() {
  return HttpResponse{
      405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", "GET, HEAD"}}};
}

}  // namespace

HttpHandler MetricsHandler(const metrics::Registry* registry) {
  return [registry](const HttpRequest& request) {
    if (!IsRead(request)) return MethodNotAllowed();
    return HttpResponse{200, kPrometheusContentType, registry->Exposition(), {}};
  };
}

HttpHandler HealthzHandler() {
  return [](const HttpRequest& request) {
    if (!IsRead(request)) return MethodNotAllowed();
    return HttpResponse{200, "text/plain; charset=utf-8", "ok\n", {}};
  };
}

HttpHandler ReadyzHandler(std::function<bool()> is_ready) {
  return [is_ready = std::move(is_ready)](const HttpRequest& request) {
    if (!IsRead(request)) return MethodNotAllowed();
    if (!is_ready()) return HttpResponse{503, "text/plain; charset=utf-8", "not ready\n", {}};
    return HttpResponse{200, "text/plain; charset=utf-8", "ok\n", {}};
  };
}

}  // namespace chime::http
