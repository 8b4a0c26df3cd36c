// Label sets for metric series, as name/value pairs.
//
//   family->WithLabels({{"shard", "3"}, {"state", "scheduled"}});
#ifndef CHIME_METRICS_LABELS_H_
#define CHIME_METRICS_LABELS_H_

#include <string>
#include <utility>
#include <vector>

namespace chime::metrics {

// Order does not matter where a family's label names are already known; the exposition writes
// labels in the order the family declared them.
using Labels = std::vector<std::pair<std::string, std::string>>;

}  // namespace chime::metrics

#endif  // CHIME_METRICS_LABELS_H_
