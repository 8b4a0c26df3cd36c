#include "metrics/emitter.h"

#include <cmath>

#include "metrics/names.h"

namespace chime::metrics {

void Emitter::EmitGauge(std::string_view name, std::string_view help, const Labels& labels,
                        double value) {
  Emit("gauge", name, help, labels, value);
}

void Emitter::EmitCounter(std::string_view name, std::string_view help, const Labels& labels,
                          double value) {
  if (std::isnan(value) || value < 0) {
    errors_.push_back("counter " + std::string(name) + " has a negative or NaN value");
    return;
  }
  Emit("counter", name, help, labels, value);
}

void Emitter::Drop(const std::string& name, std::string reason) {
  if (families_.erase(name) > 0) errors_.push_back(std::move(reason));
}

void Emitter::Emit(std::string_view type, std::string_view name, std::string_view help,
                   const Labels& labels, double value) {
  const std::string family_name(name);
  if (absl::Status s = ValidateMetricName(name); !s.ok()) {
    errors_.push_back(std::string(s.message()));
    return;
  }
  for (const auto& [label, unused] : labels) {
    if (absl::Status s = ValidateLabelName(label); !s.ok()) {
      errors_.push_back(family_name + ": " + std::string(s.message()));
      return;
    }
  }
  auto [it, inserted] = families_.try_emplace(family_name);
  CollectedFamily& family = it->second;
  if (inserted) {
    family.help = std::string(help);
    family.type = std::string(type);
    for (const auto& [label, unused] : labels) {
      for (const std::string& seen : family.label_names) {
        if (seen == label) {
          errors_.push_back(family_name + ": repeated label \"" + label + "\"");
          families_.erase(it);
          return;
        }
      }
      family.label_names.push_back(label);
    }
  } else if (family.type != type) {
    errors_.push_back(family_name + " emitted as both " + family.type + " and " +
                      std::string(type));
    return;
  }
  // Put the values in the family's label-name order.
  std::vector<std::string> values(family.label_names.size());
  std::vector<bool> seen(family.label_names.size(), false);
  bool match = labels.size() == family.label_names.size();
  for (const auto& [label, label_value] : labels) {
    if (!match) break;
    size_t i = 0;
    while (i < family.label_names.size() && family.label_names[i] != label) ++i;
    if (i == family.label_names.size() || seen[i]) {
      match = false;
      break;
    }
    seen[i] = true;
    values[i] = label_value;
  }
  if (!match) {
    errors_.push_back(family_name + ": samples with different label names");
    return;
  }
  if (!family.samples.emplace(std::move(values), value).second) {
    errors_.push_back(family_name + ": the same label set emitted twice");
  }
}

}  // namespace chime::metrics
