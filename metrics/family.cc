#include "metrics/family.h"

#include <cstdio>
#include <cstdlib>

#include "metrics/text_format.h"

namespace chime::metrics {

template <typename Cell>
absl::StatusOr<Cell*> Family<Cell>::TryWithLabels(const Labels& labels) {
  const std::vector<std::string>& names = label_names();
  if (labels.size() != names.size()) {
    return absl::InvalidArgumentError("metric " + name() + " takes " +
                                      std::to_string(names.size()) + " labels, got " +
                                      std::to_string(labels.size()));
  }
  std::vector<std::string> values(names.size());
  std::vector<bool> seen(names.size(), false);
  for (const auto& [label, value] : labels) {
    size_t i = 0;
    while (i < names.size() && names[i] != label) ++i;
    if (i == names.size() || seen[i]) {
      return absl::InvalidArgumentError("metric " + name() + ": unexpected or repeated label \"" +
                                        label + "\"");
    }
    seen[i] = true;
    values[i] = value;
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Cell>& cell = cells_[std::move(values)];
  if (cell == nullptr) cell = make_cell_();
  return cell.get();
}

template <typename Cell>
Cell* Family<Cell>::WithLabels(const Labels& labels) {
  absl::StatusOr<Cell*> cell = TryWithLabels(labels);
  if (!cell.ok()) {
    std::fprintf(stderr, "chime metrics: %s\n", cell.status().ToString().c_str());
    std::abort();
  }
  return *cell;
}

template <typename Cell>
void Family<Cell>::AppendText(std::string* out) const {
  absl::MutexLock lock(&mu_);
  if (cells_.empty()) return;
  AppendFamilyHeader(name(), help(), type(), out);
  for (const auto& [values, cell] : cells_) {
    cell->AppendSamples(name(), label_names(), values, out);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

}  // namespace chime::metrics
