#include "metrics/gauge.h"

#include "metrics/text_format.h"

namespace chime::metrics {

void Gauge::AppendSamples(std::string_view name, const std::vector<std::string>& label_names,
                          const std::vector<std::string>& label_values, std::string* out) const {
  AppendSample(name, label_names, label_values, {}, {}, FormatDouble(Value()), out);
}

}  // namespace chime::metrics
