// A value that goes up and down (Prometheus "gauge"), e.g. subscribers connected.
//
//   metrics::Gauge* subscribers = subscribers_family->WithLabels({});
//   subscribers->Add(1);  ...  subscribers->Add(-1);
#ifndef CHIME_METRICS_GAUGE_H_
#define CHIME_METRICS_GAUGE_H_

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

namespace chime::metrics {

// Thread-safe and lock-free (relaxed atomic double; Add is a compare-and-swap loop).
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

  // Writes this series' exposition lines (used by the registry).
  void AppendSamples(std::string_view name, const std::vector<std::string>& label_names,
                     const std::vector<std::string>& label_values, std::string* out) const;

  static constexpr std::string_view kType = "gauge";

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace chime::metrics

#endif  // CHIME_METRICS_GAUGE_H_
