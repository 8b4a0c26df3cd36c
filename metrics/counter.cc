#include "metrics/counter.h"

#include "metrics/text_format.h"

namespace chime::metrics {

void Counter::AppendSamples(std::string_view name, const std::vector<std::string>& label_names,
                            const std::vector<std::string>& label_values, std::string* out) const {
  AppendSample(name, label_names, label_values, {}, {}, FormatUint(Value()), out);
}

}  // namespace chime::metrics
