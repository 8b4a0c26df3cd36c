#include "tests/bench/bench_util.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tests/bench/flags.h"

namespace chime::bench {

Percentiles Summarize(std::vector<double>& v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t idx = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back();
  return p;
}

std::string PercentilesJson(const Percentiles& p) {
  return absl::StrFormat(R"({"n":%d,"p50":%.3f,"p90":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f})", p.n,
                         p.p50, p.p90, p.p99, p.p999, p.max);
}

void AppendJson(const std::string& path, const std::string& scenario, const std::string& body) {
  if (path.empty()) return;
  std::ofstream out(path, std::ios::app);
  out << absl::StrFormat(R"({"scenario":"%s","label":"%s","loadavg_1m":%.2f,%s})", scenario,
                         absl::GetFlag(FLAGS_label), LoadAverage1(), body)
      << "\n";
}

void PrintRow(const std::string& header, const std::string& row) {
  static std::set<std::string> printed;
  if (printed.insert(header).second) printf("%s\n", header.c_str());
  printf("%s\n", row.c_str());
  fflush(stdout);
}

std::vector<int> ParseIntList(const std::string& csv) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(csv, ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

}  // namespace chime::bench
