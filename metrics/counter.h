// A monotonically increasing count (Prometheus "counter").
//
//   metrics::Counter* fires = fires_family->WithLabels({{"shard", "3"}});  // cache this
//   fires->Increment();
#ifndef CHIME_METRICS_COUNTER_H_
#define CHIME_METRICS_COUNTER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chime::metrics {

// Thread-safe and lock-free: a relaxed atomic add per Increment.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

  // Writes this series' exposition lines (used by the registry).
  void AppendSamples(std::string_view name, const std::vector<std::string>& label_names,
                     const std::vector<std::string>& label_values, std::string* out) const;

  static constexpr std::string_view kType = "counter";

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace chime::metrics

#endif  // CHIME_METRICS_COUNTER_H_
