// A metric family: one name, help text, type and label names, holding one series (cell) per
// distinct set of label values. Families are created by metrics::Registry.
//
//   auto* pending = registry.AddGauge("chime_timers_pending", "Timers not yet fired.",
//                                     {"shard", "state"}).value();
//   metrics::Gauge* g = pending->WithLabels({{"shard", "3"}, {"state", "scheduled"}});
#ifndef CHIME_METRICS_FAMILY_H_
#define CHIME_METRICS_FAMILY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "metrics/counter.h"
#include "metrics/gauge.h"
#include "metrics/histogram.h"
#include "metrics/labels.h"

namespace chime::metrics {

// What the registry needs from a family, whatever its cell type. Thread-safe.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual std::string_view type() const = 0;

  // Appends HELP, TYPE and every series, ordered by label values. A family with no series
  // yet writes nothing.
  virtual void AppendText(std::string* out) const = 0;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

// Thread-safe. WithLabels takes a mutex (look a series up once and cache the pointer); the
// returned cell is updated lock-free and lives as long as the registry.
template <typename Cell>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Cell>()> make_cell)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
        make_cell_(std::move(make_cell)) {}

  // The series for these labels, created on first use. The label names must be exactly the
  // family's, in any order; anything else is a programming error and aborts the process with
  // a message. Use TryWithLabels for labels that come from outside.
  Cell* WithLabels(const Labels& labels);
  // As WithLabels, but InvalidArgument instead of aborting.
  absl::StatusOr<Cell*> TryWithLabels(const Labels& labels);

  std::string_view type() const override { return Cell::kType; }
  void AppendText(std::string* out) const override;

 private:
  const std::function<std::unique_ptr<Cell>()> make_cell_;
  mutable absl::Mutex mu_;
  // Keyed by label values in label_names() order; std::map so the output is sorted.
  std::map<std::vector<std::string>, std::unique_ptr<Cell>> cells_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

}  // namespace chime::metrics

#endif  // CHIME_METRICS_FAMILY_H_
