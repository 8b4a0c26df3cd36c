// Pieces of the Prometheus text exposition format 0.0.4: number formatting, escaping, and
// writing one sample line. Shared by registered families and scrape-time collectors.
#ifndef CHIME_METRICS_TEXT_FORMAT_H_
#define CHIME_METRICS_TEXT_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chime::metrics {

// Shortest text that parses back to the same double, independent of the C locale
// ("0.00025", "1e+21", "+Inf", "-Inf", "NaN").
std::string FormatDouble(double value);
std::string FormatUint(uint64_t value);

// Label values escape backslash, double quote and newline.
void AppendEscapedLabelValue(std::string_view value, std::string* out);
// HELP text escapes backslash and newline.
void AppendEscapedHelp(std::string_view help, std::string* out);

// "# HELP name help\n# TYPE name type\n".
void AppendFamilyHeader(std::string_view name, std::string_view help, std::string_view type,
                        std::string* out);

// One line: name{n1="v1",...[,extra_name="extra_value"]} value\n. The extra label is how
// histograms add "le"; pass an empty extra_name for none.
void AppendSample(std::string_view name, const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, std::string_view extra_name,
                  std::string_view extra_value, std::string_view value, std::string* out);

}  // namespace chime::metrics

#endif  // CHIME_METRICS_TEXT_FORMAT_H_
