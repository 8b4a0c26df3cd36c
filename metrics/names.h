// Validation of metric and label names against the Prometheus data model.
#ifndef CHIME_METRICS_NAMES_H_
#define CHIME_METRICS_NAMES_H_

#include <string_view>

#include "absl/status/status.h"

namespace chime::metrics {

// [a-zA-Z_:][a-zA-Z0-9_:]*
absl::Status ValidateMetricName(std::string_view name);

// [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" (reserved for Prometheus itself).
absl::Status ValidateLabelName(std::string_view name);

}  // namespace chime::metrics

#endif  // CHIME_METRICS_NAMES_H_
