// Standard process metrics, named as Prometheus client libraries name them:
// process_cpu_seconds_total, process_start_time_seconds, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds. Linux only (reads /proc).
//
//   metrics::AddProcessCollector(&registry);
#ifndef CHIME_METRICS_PROCESS_COLLECTOR_H_
#define CHIME_METRICS_PROCESS_COLLECTOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "metrics/registry.h"

namespace chime::metrics {

struct ProcessStats {
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // Unix time
  double virtual_memory_bytes = 0;
  double resident_memory_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;  // soft RLIMIT_NOFILE
};

// Reads the calling process's stats from <proc_root>/self/{stat,statm,fd} and
// <proc_root>/stat (boot time). A different proc_root is for tests.
absl::StatusOr<ProcessStats> ReadProcessStats(const std::string& proc_root = "/proc");

// Registers a collector emitting the stats above on each scrape (nothing if /proc is
// unreadable).
Registry::CollectorId AddProcessCollector(Registry* registry);

}  // namespace chime::metrics

#endif  // CHIME_METRICS_PROCESS_COLLECTOR_H_
