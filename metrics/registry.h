// The set of metrics a process exposes, and their Prometheus text exposition (format 0.0.4).
//
//   metrics::Registry registry;
//   auto fires = registry.AddCounter("chime_fires_total", "Timers fired.", {"shard"});
//   if (!fires.ok()) return fires.status();
//   metrics::Counter* shard0_fires = (*fires)->WithLabels({{"shard", "0"}});
//   shard0_fires->Increment();
//   std::string text = registry.Exposition();  // served at /metrics
#ifndef CHIME_METRICS_REGISTRY_H_
#define CHIME_METRICS_REGISTRY_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "metrics/emitter.h"
#include "metrics/family.h"
#include "metrics/histogram.h"

namespace chime::metrics {

// Thread-safe. Families are never removed, so the family and cell pointers it hands out stay
// valid for the registry's lifetime: look them up once and cache them on hot paths.
class Registry {
 public:
  using Collector = std::function<void(Emitter&)>;
  using CollectorId = uint64_t;

  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family. Adding a family again with the same name, type, help, label names
  // (and bounds) returns the existing one, so independent components may each register what
  // they use. Errors: InvalidArgument for bad names, labels or bounds; AlreadyExists when the
  // name, or one of the series names it implies (a histogram "x" owns x_bucket, x_sum and
  // x_count), is taken by a different family. A family without labels has its one series
  // from the start; others show up in the exposition once WithLabels created a series.
  absl::StatusOr<CounterFamily*> AddCounter(const std::string& name, const std::string& help,
                                            const std::vector<std::string>& label_names = {});
  absl::StatusOr<GaugeFamily*> AddGauge(const std::string& name, const std::string& help,
                                        const std::vector<std::string>& label_names = {});
  absl::StatusOr<HistogramFamily*> AddHistogram(
      const std::string& name, const std::string& help,
      const std::vector<std::string>& label_names = {},
      const std::vector<double>& bounds = DefaultLatencyBuckets());

  // Adds a callback run on every scrape to emit values read at that moment. Collectors run
  // one scrape at a time, must be quick, must not block on the component's hot locks for
  // long, and must not call back into this registry. Emitted names that collide with a
  // registered family are dropped.
  CollectorId AddCollector(Collector collector);
  // After this returns the collector is not running and never runs again, so whatever it
  // captured may be destroyed.
  void RemoveCollector(CollectorId id);

  // The whole text exposition: families sorted by name, series by label values, every line
  // ending in '\n'.
  std::string Exposition() const;

  // Runs the collectors once and reports every sample they emitted that the exposition had
  // to drop (for tests of collectors).
  absl::Status CheckCollectors() const;

 private:
  struct Entry {
    std::unique_ptr<FamilyBase> family;
    std::vector<double> bounds;  // histograms only
  };

  // Returns the existing family when it is identical, nullptr when the name is free, and an
  // error when it clashes.
  absl::StatusOr<FamilyBase*> CheckNew(const std::string& name, const std::string& help,
                                       std::string_view type,
                                       const std::vector<std::string>& label_names,
                                       const std::vector<double>& bounds) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Insert(std::unique_ptr<FamilyBase> family, std::vector<double> bounds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs every collector; drops families whose names are taken by registered families, and
  // (if not null) lists the registered families, all as of the same moment.
  Emitter Collect(std::vector<const FamilyBase*>* registered) const;

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> families_ ABSL_GUARDED_BY(mu_);
  // Family names plus every series name they write (name_bucket, name_sum, name_count).
  std::set<std::string> taken_names_ ABSL_GUARDED_BY(mu_);

  // Held for a whole collection so RemoveCollector can wait for a running scrape.
  mutable absl::Mutex collect_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::map<CollectorId, Collector> collectors_ ABSL_GUARDED_BY(collect_mu_);
  CollectorId next_collector_id_ ABSL_GUARDED_BY(collect_mu_) = 1;
};

// For fixed registrations, which fail only on a programming error (a clashing name): the
// family, or a message naming `what` on stderr and abort().
//   auto* fires = metrics::MustRegister(registry->AddCounter(...), "fire metrics");
template <typename T>
T* MustRegister(absl::StatusOr<T*> family, const char* what) {
  if (!family.ok()) {
    fprintf(stderr, "chimed: %s: %s\n", what, family.status().ToString().c_str());
    abort();
  }
  return *family;
}

}  // namespace chime::metrics

#endif  // CHIME_METRICS_REGISTRY_H_
