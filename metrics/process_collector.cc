#include "metrics/process_collector.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace chime::metrics {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::UnavailableError("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string_view> SplitSpaces(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n')) ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\n') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

bool ParseU64(std::string_view text, uint64_t* out) {
  const auto result = std::from_chars(text.data(), text.data() + text.size(), *out);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

}  // namespace

absl::StatusOr<ProcessStats> ReadProcessStats(const std::string& proc_root) {
  static const double kTicksPerSecond = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double kPageSize = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats stats;

  // /proc/self/stat: "pid (comm) state ppid ...". comm may hold spaces and parentheses, so
  // fields are counted from the last ')'. Field 3 (state) is fields[0] after it.
  absl::StatusOr<std::string> stat = ReadFile(proc_root + "/self/stat");
  if (!stat.ok()) return stat.status();
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return absl::DataLossError("malformed /proc/self/stat");
  const std::vector<std::string_view> fields =
      SplitSpaces(std::string_view(*stat).substr(paren + 1));
  uint64_t utime, stime, start_ticks;
  if (fields.size() < 20 || !ParseU64(fields[14 - 3], &utime) ||
      !ParseU64(fields[15 - 3], &stime) || !ParseU64(fields[22 - 3], &start_ticks)) {
    return absl::DataLossError("malformed /proc/self/stat");
  }
  stats.cpu_seconds = static_cast<double>(utime + stime) / kTicksPerSecond;

  // Start time is in ticks since boot; boot time is "btime <unix seconds>" in /proc/stat.
  absl::StatusOr<std::string> system_stat = ReadFile(proc_root + "/stat");
  if (!system_stat.ok()) return system_stat.status();
  const size_t btime_at = system_stat->find("\nbtime ");
  uint64_t boot_time = 0;
  if (btime_at == std::string::npos) return absl::DataLossError("no btime in /proc/stat");
  const std::vector<std::string_view> btime =
      SplitSpaces(std::string_view(*system_stat).substr(btime_at + 7, 32));
  if (btime.empty() || !ParseU64(btime[0], &boot_time)) {
    return absl::DataLossError("malformed btime in /proc/stat");
  }
  stats.start_time_seconds =
      static_cast<double>(boot_time) + static_cast<double>(start_ticks) / kTicksPerSecond;

  // /proc/self/statm: "size resident shared text lib data dt", in pages.
  absl::StatusOr<std::string> statm = ReadFile(proc_root + "/self/statm");
  if (!statm.ok()) return statm.status();
  const std::vector<std::string_view> pages = SplitSpaces(*statm);
  uint64_t size_pages, resident_pages;
  if (pages.size() < 2 || !ParseU64(pages[0], &size_pages) ||
      !ParseU64(pages[1], &resident_pages)) {
    return absl::DataLossError("malformed /proc/self/statm");
  }
  stats.virtual_memory_bytes = static_cast<double>(size_pages) * kPageSize;
  stats.resident_memory_bytes = static_cast<double>(resident_pages) * kPageSize;

  std::error_code error;
  uint64_t fds = 0;
  for (std::filesystem::directory_iterator it(proc_root + "/self/fd", error), end;
       !error && it != end; it.increment(error)) {
    ++fds;
  }
  if (error) return absl::UnavailableError("cannot list /proc/self/fd: " + error.message());
  stats.open_fds = static_cast<double>(fds);

  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    stats.max_fds = static_cast<double>(limit.rlim_cur);
  }
  return stats;
}

Registry::CollectorId AddProcessCollector(Registry* registry) {
  return registry->AddCollector([](Emitter& e) {
    absl::StatusOr<ProcessStats> stats = ReadProcessStats();
    if (!stats.ok()) return;
    e.EmitCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                  {}, stats->cpu_seconds);
    e.EmitGauge("process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.", {},
                stats->start_time_seconds);
    e.EmitGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {},
                stats->virtual_memory_bytes);
    e.EmitGauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
                stats->resident_memory_bytes);
    e.EmitGauge("process_open_fds", "Number of open file descriptors.", {}, stats->open_fds);
    e.EmitGauge("process_max_fds", "Maximum number of open file descriptors.", {}, stats->max_fds);
  });
}

}  // namespace chime::metrics
