// The operator status page on the HTTP port: `/` is one self-contained HTML page (inline CSS
// and JavaScript, nothing fetched from elsewhere) that polls `/status.json` every 2 s and shows
// pending timers over time, fire lateness percentiles, delivery backlog per topic, shards and
// the oldest overdue timer.
#ifndef CHIME_SERVER_ADMIN_STATUS_PAGE_H_
#define CHIME_SERVER_ADMIN_STATUS_PAGE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "chime/v1/admin.pb.h"
#include "metrics/histogram.h"
#include "metrics/registry.h"
#include "server/http/http_server.h"

namespace chime::admin {

// The q-quantile (0 < q < 1) estimated from a histogram's buckets by linear interpolation
// inside the bucket that holds it, as Prometheus' histogram_quantile does; the last finite
// bound when it falls in the +Inf bucket; 0 for an empty histogram.
double HistogramQuantile(const metrics::Histogram& histogram, double q);

// The HTML page (constant).
const std::string& StatusPageHtml();

// GET / : the page.
http::HttpHandler StatusPageHandler();

// GET /status.json : {"status": <GetStatusResponse as JSON, proto field names>,
//   "lateness": {"dispatch": {"count": N, "p50": s, "p90": s, "p99": s}, "sent": {...},
//                "ack": {...}}}.
// `status` is called on an HTTP thread. The registry must outlive the handler.
using StatusFn = std::function<absl::StatusOr<v1::GetStatusResponse>()>;
http::HttpHandler StatusJsonHandler(StatusFn status, metrics::Registry* registry);

}  // namespace chime::admin

#endif  // CHIME_SERVER_ADMIN_STATUS_PAGE_H_
