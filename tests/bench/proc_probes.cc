#include "tests/bench/proc_probes.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"

namespace chime::bench {

double LoadAverage1() {
  std::ifstream in("/proc/loadavg");
  double l = 0;
  in >> l;
  return l;
}

namespace {

// utime + stime of a /proc stat file (a process's or a thread's), in seconds; 0 if unknown.
double StatCpuSeconds(const std::string& path) {
  std::ifstream in(path);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces: state is
  // field 3, utime and stime are fields 14 and 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 1));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;
  int64_t utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

double ProcCpuSeconds(int pid) {
  if (pid <= 0) return 0;
  return StatCpuSeconds(absl::StrFormat("/proc/%d/stat", pid));
}

std::map<std::string, double> ProcThreadGroupCpuSeconds(int pid) {
  std::map<std::string, double> groups;
  if (pid <= 0) return groups;
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrFormat("/proc/%d/task", pid), error)) {
    std::ifstream comm_file(task.path() / "comm");
    std::string name;
    std::getline(comm_file, name);
    if (name.empty()) continue;  // ended meanwhile
    const size_t dash = name.find_last_of('-');
    if (dash != std::string::npos && dash + 1 < name.size() &&
        std::all_of(name.begin() + dash + 1, name.end(),
                    [](char c) { return c >= '0' && c <= '9'; })) {
      name.resize(dash);
    }
    groups[name] += StatCpuSeconds((task.path() / "stat").string());
  }
  return groups;
}

std::string ThreadGroupCpuJson(const std::map<std::string, double>& before,
                               const std::map<std::string, double>& after, double per) {
  std::vector<std::pair<double, std::string>> used;
  for (const auto& [name, seconds] : after) {
    auto it = before.find(name);
    const double delta = seconds - (it == before.end() ? 0 : it->second);
    if (delta > 0 && per > 0) used.emplace_back(delta * 1e6 / per, name);
  }
  std::sort(used.rbegin(), used.rend());
  std::string json = "{";
  for (const auto& [us, name] : used) {
    absl::StrAppendFormat(&json, R"(%s"%s":%.2f)", json.size() > 1 ? "," : "", name, us);
  }
  return json + "}";
}

namespace {

// The number after "field:" in a /proc status file (a unit after it is ignored); 0 if absent.
int64_t StatusField(const std::string& path, const char* field) {
  std::ifstream in(path);
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      std::istringstream s(line.substr(prefix.size()));
      int64_t n = 0;
      s >> n;
      return n;
    }
  }
  return 0;
}

}  // namespace

int64_t ProcThreadWakes(int pid) {
  if (pid <= 0) return 0;
  std::error_code ec;
  int64_t wakes = 0;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrFormat("/proc/%d/task", pid), ec)) {
    wakes += StatusField(task.path() / "status", "voluntary_ctxt_switches");
  }
  return wakes;
}

int64_t ProcStatusBytes(int pid, const char* field) {
  if (pid <= 0) return 0;
  return StatusField(absl::StrFormat("/proc/%d/status", pid), field) * 1024;  // kB
}

double MachineIdleSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  int64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0;
  // The first line sums every CPU: "cpu  user nice system idle iowait ...", in clock ticks.
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait) || cpu != "cpu") return 0;
  return static_cast<double>(idle + iowait) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int64_t DirBytes(const std::string& dir) {
  if (dir.empty()) return 0;
  std::error_code ec;
  int64_t total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2)) total += static_cast<int64_t>(it->file_size(ec2));
  }
  return total;
}

}  // namespace chime::bench
