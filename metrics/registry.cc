#include "metrics/registry.h"

#include <utility>

#include "metrics/names.h"
#include "metrics/text_format.h"

namespace chime::metrics {
namespace {

std::vector<std::string> SeriesNames(const std::string& name, std::string_view type) {
  if (type == Histogram::kType) {
    return {name + "_bucket", name + "_sum", name + "_count"};
  }
  return {};
}

absl::Status ValidateFamily(const std::string& name, std::string_view type,
                            const std::vector<std::string>& label_names) {
  if (absl::Status s = ValidateMetricName(name); !s.ok()) return s;
  for (size_t i = 0; i < label_names.size(); ++i) {
    if (absl::Status s = ValidateLabelName(label_names[i]); !s.ok()) {
      return absl::InvalidArgumentError(name + ": " + std::string(s.message()));
    }
    for (size_t j = 0; j < i; ++j) {
      if (label_names[j] == label_names[i]) {
        return absl::InvalidArgumentError(name + ": repeated label name " + label_names[i]);
      }
    }
    if (type == Histogram::kType && label_names[i] == "le") {
      return absl::InvalidArgumentError(name + ": a histogram cannot have a label named le");
    }
  }
  return absl::OkStatus();
}

void AppendCollected(const std::string& name, const Emitter::CollectedFamily& family,
                     std::string* out) {
  AppendFamilyHeader(name, family.help, family.type, out);
  for (const auto& [values, value] : family.samples) {
    AppendSample(name, family.label_names, values, {}, {}, FormatDouble(value), out);
  }
}

}  // namespace

absl::StatusOr<FamilyBase*> Registry::CheckNew(const std::string& name, const std::string& help,
                                               std::string_view type,
                                               const std::vector<std::string>& label_names,
                                               const std::vector<double>& bounds) const {
  if (auto it = families_.find(name); it != families_.end()) {
    const Entry& existing = it->second;
    if (existing.family->type() == type && existing.family->help() == help &&
        existing.family->label_names() == label_names && existing.bounds == bounds) {
      return existing.family.get();
    }
    return absl::AlreadyExistsError("metric " + name +
                                    " is already registered with a different definition");
  }
  std::vector<std::string> names = SeriesNames(name, type);
  names.push_back(name);
  for (const std::string& n : names) {
    if (taken_names_.count(n) > 0) {
      return absl::AlreadyExistsError("metric " + name + " clashes with the series name " + n +
                                      " of another family");
    }
  }
  return nullptr;
}

void Registry::Insert(std::unique_ptr<FamilyBase> family, std::vector<double> bounds) {
  const std::string name = family->name();
  for (std::string& n : SeriesNames(name, family->type())) taken_names_.insert(std::move(n));
  taken_names_.insert(name);
  families_.emplace(name, Entry{std::move(family), std::move(bounds)});
}

absl::StatusOr<CounterFamily*> Registry::AddCounter(const std::string& name,
                                                    const std::string& help,
                                                    const std::vector<std::string>& label_names) {
  if (absl::Status s = ValidateFamily(name, Counter::kType, label_names); !s.ok()) return s;
  CounterFamily* family;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<FamilyBase*> existing = CheckNew(name, help, Counter::kType, label_names, {});
    if (!existing.ok()) return existing.status();
    if (*existing != nullptr) return static_cast<CounterFamily*>(*existing);
    auto owned = std::make_unique<CounterFamily>(name, help, label_names,
                                                 [] { return std::make_unique<Counter>(); });
    family = owned.get();
    Insert(std::move(owned), {});
  }
  if (label_names.empty()) family->WithLabels({});
  return family;
}

absl::StatusOr<GaugeFamily*> Registry::AddGauge(const std::string& name, const std::string& help,
                                                const std::vector<std::string>& label_names) {
  if (absl::Status s = ValidateFamily(name, Gauge::kType, label_names); !s.ok()) return s;
  GaugeFamily* family;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<FamilyBase*> existing = CheckNew(name, help, Gauge::kType, label_names, {});
    if (!existing.ok()) return existing.status();
    if (*existing != nullptr) return static_cast<GaugeFamily*>(*existing);
    auto owned = std::make_unique<GaugeFamily>(name, help, label_names,
                                               [] { return std::make_unique<Gauge>(); });
    family = owned.get();
    Insert(std::move(owned), {});
  }
  if (label_names.empty()) family->WithLabels({});
  return family;
}

absl::StatusOr<HistogramFamily*> Registry::AddHistogram(const std::string& name,
                                                        const std::string& help,
                                                        const std::vector<std::string>& label_names,
                                                        const std::vector<double>& bounds) {
  if (absl::Status s = ValidateFamily(name, Histogram::kType, label_names); !s.ok()) return s;
  if (absl::Status s = ValidateBucketBounds(bounds); !s.ok()) {
    return absl::InvalidArgumentError(name + ": " + std::string(s.message()));
  }
  HistogramFamily* family;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<FamilyBase*> existing =
        CheckNew(name, help, Histogram::kType, label_names, bounds);
    if (!existing.ok()) return existing.status();
    if (*existing != nullptr) return static_cast<HistogramFamily*>(*existing);
    auto shared_bounds = std::make_shared<const std::vector<double>>(bounds);
    auto owned = std::make_unique<HistogramFamily>(name, help, label_names, [shared_bounds] {
      return std::make_unique<Histogram>(shared_bounds);
    });
    family = owned.get();
    Insert(std::move(owned), bounds);
  }
  if (label_names.empty()) family->WithLabels({});
  return family;
}

Registry::CollectorId Registry::AddCollector(Collector collector) {
  absl::MutexLock lock(&collect_mu_);
  const CollectorId id = next_collector_id_++;
  collectors_.emplace(id, std::move(collector));
  return id;
}

void Registry::RemoveCollector(CollectorId id) {
  absl::MutexLock lock(&collect_mu_);
  collectors_.erase(id);
}

Emitter Registry::Collect(std::vector<const FamilyBase*>* registered) const {
  Emitter emitter;
  {
    absl::MutexLock lock(&collect_mu_);
    for (const auto& [id, collector] : collectors_) collector(emitter);
  }
  std::vector<std::string> clashing;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [name, family] : emitter.families()) {
      if (taken_names_.count(name) > 0) clashing.push_back(name);
    }
    // Snapshot under the same lock as the clash check, so the names stay disjoint.
    if (registered != nullptr) {
      registered->reserve(families_.size());
      for (const auto& [name, entry] : families_) registered->push_back(entry.family.get());
    }
  }
  for (const std::string& name : clashing) {
    emitter.Drop(name, "collected metric " + name + " clashes with a registered family");
  }
  return emitter;
}

std::string Registry::Exposition() const {
  std::vector<const FamilyBase*> registered;
  const Emitter collected = Collect(&registered);
  // Merge the two name-sorted lists; their names are disjoint (clashes were dropped).
  std::string out;
  auto next_collected = collected.families().begin();
  const auto collected_end = collected.families().end();
  for (const FamilyBase* family : registered) {
    for (; next_collected != collected_end && next_collected->first < family->name();
         ++next_collected) {
      AppendCollected(next_collected->first, next_collected->second, &out);
    }
    family->AppendText(&out);
  }
  for (; next_collected != collected_end; ++next_collected) {
    AppendCollected(next_collected->first, next_collected->second, &out);
  }
  return out;
}

absl::Status Registry::CheckCollectors() const {
  const Emitter collected = Collect(nullptr);
  if (collected.errors().empty()) return absl::OkStatus();
  std::string message = "collectors emitted invalid samples:";
  for (const std::string& error : collected.errors()) message += "\n  " + error;
  return absl::InvalidArgumentError(message);
}

}  // namespace chime::metrics
