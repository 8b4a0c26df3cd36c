// Shared helpers for chime-bench scenarios: percentiles, JSON lines, table rows; with the
// process and disk probes of proc_probes.h, which most scenarios use too. Free functions;
// thread-compatible.
#ifndef CHIME_TESTS_BENCH_BENCH_UTIL_H_
#define CHIME_TESTS_BENCH_BENCH_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/bench/proc_probes.h"

namespace chime::bench {

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  size_t n = 0;
};

// Sorts `v` in place (callers hand over their samples).
Percentiles Summarize(std::vector<double>& v);
// {"p50":..,"p90":..,"p99":..,"p999":..,"max":..}
std::string PercentilesJson(const Percentiles& p);

// Appends one JSON object (a line) to `path` if non-empty. `body` is the inner fields
// without braces; scenario, label and load average are added.
void AppendJson(const std::string& path, const std::string& scenario, const std::string& body);

// Prints a header once per process per scenario name, then the row.
void PrintRow(const std::string& header, const std::string& row);

std::vector<int> ParseIntList(const std::string& csv);

}  // namespace chime::bench

#endif  // CHIME_TESTS_BENCH_BENCH_UTIL_H_
