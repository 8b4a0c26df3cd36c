// A distribution of observations over fixed buckets (Prometheus "histogram"), e.g. fire
// lateness in seconds.
//
//   metrics::Histogram* lateness = lateness_family->WithLabels({{"stage", "dispatched"}});
//   lateness->ObserveDuration(now - due);
#ifndef CHIME_METRICS_HISTOGRAM_H_
#define CHIME_METRICS_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace chime::metrics {

// Upper bounds in seconds with sub-millisecond resolution, 50µs .. 60s; meant for lateness and
// latency.
const std::vector<double>& DefaultLatencyBuckets();

// OK when bounds are finite, strictly increasing and non-empty (+Inf is implicit).
absl::Status ValidateBucketBounds(const std::vector<double>& bounds);

// Thread-safe and lock-free: an observation is a binary search over the bounds, one relaxed
// atomic increment of its (non-cumulative) bucket, and an atomic add to the sum. The count is
// derived from the buckets when scraped, so _count always equals the +Inf bucket.
class Histogram {
 public:
  // REQUIRES: ValidateBucketBounds(*bounds).ok().
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // NaN observations are ignored: they would poison the sum forever.
  void Observe(double value);
  void ObserveDuration(absl::Duration d) { Observe(absl::ToDoubleSeconds(d)); }

  const std::vector<double>& bounds() const { return *bounds_; }
  // Cumulative counts, one per bound plus the +Inf bucket last.
  std::vector<uint64_t> CumulativeCounts() const;
  uint64_t Count() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

  // Writes this series' exposition lines (used by the registry).
  void AppendSamples(std::string_view name, const std::vector<std::string>& label_names,
                     const std::vector<std::string>& label_values, std::string* out) const;

  static constexpr std::string_view kType = "histogram";

 private:
  const std::shared_ptr<const std::vector<double>> bounds_;
  // bounds_->size() + 1 buckets; the last one is (last bound, +Inf).
  const std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

}  // namespace chime::metrics

#endif  // CHIME_METRICS_HISTOGRAM_H_
