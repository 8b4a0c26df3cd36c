#include "metrics/histogram.h"

#include <algorithm>
#include <cmath>

#include "metrics/text_format.h"

namespace chime::metrics {

const std::vector<double>& DefaultLatencyBuckets() {
  static const auto* const kBuckets = new std::vector<double>{
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,     0.25,   0.5,     1,      2.5,   5,      10,    30,   60};
  return *kBuckets;
}

absl::Status ValidateBucketBounds(const std::vector<double>& bounds) {
  if (bounds.empty()) return absl::InvalidArgumentError("histogram needs at least one bucket");
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      return absl::InvalidArgumentError(
          "histogram bucket bounds must be finite (+Inf is always added)");
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      return absl::InvalidArgumentError("histogram bucket bounds must be strictly increasing");
    }
  }
  return absl::OkStatus();
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_->size() + 1)) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // Bucket i holds (bounds[i-1], bounds[i]]: "le" is inclusive.
  const size_t index = std::lower_bound(bounds_->begin(), bounds_->end(), value) - bounds_->begin();
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> counts(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    counts[i] = total;
  }
  return counts;
}

uint64_t Histogram::Count() const { return CumulativeCounts().back(); }

void Histogram::AppendSamples(std::string_view name, const std::vector<std::string>& label_names,
                              const std::vector<std::string>& label_values,
                              std::string* out) const {
  // One snapshot of the buckets so the +Inf bucket and _count agree even while observing.
  const std::vector<uint64_t> counts = CumulativeCounts();
  const std::string bucket_name = std::string(name) + "_bucket";
  for (size_t i = 0; i < counts.size(); ++i) {
    const std::string le = i < bounds_->size() ? FormatDouble((*bounds_)[i]) : "+Inf";
    AppendSample(bucket_name, label_names, label_values, "le", le, FormatUint(counts[i]), out);
  }
  AppendSample(std::string(name) + "_sum", label_names, label_values, {}, {}, FormatDouble(Sum()),
               out);
  AppendSample(std::string(name) + "_count", label_names, label_values, {}, {},
               FormatUint(counts.back()), out);
}

}  // namespace chime::metrics
