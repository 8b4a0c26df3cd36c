// What chime-bench reads of a process and the machine from /proc (CPU, memory, context
// switches, load) and of a directory (bytes used). Free functions; thread-compatible.
#ifndef CHIME_TESTS_BENCH_PROC_PROBES_H_
#define CHIME_TESTS_BENCH_PROC_PROBES_H_

#include <cstdint>
#include <map>
#include <string>

namespace chime::bench {

// 1-minute load average (the machine is shared; every result records it).
double LoadAverage1();
// VmHWM / VmRSS of a process in bytes, 0 if unknown (pid <= 0 or gone).
int64_t ProcStatusBytes(int pid, const char* field);
// CPU time (user + system) a process has used so far, in seconds; 0 if unknown.
double ProcCpuSeconds(int pid);
// The same per group of the process's live threads, a group being a thread name without a
// trailing "-N" (chimed's shard-w-0..3 make "shard-w"). Empty if unknown.
std::map<std::string, double> ProcThreadGroupCpuSeconds(int pid);
// What each group used between two ProcThreadGroupCpuSeconds, in microseconds per `per`,
// as a JSON object, largest first (threads that ended in between are missing).
std::string ThreadGroupCpuJson(const std::map<std::string, double>& before,
                               const std::map<std::string, double>& after, double per);
// Times the threads of a process went to sleep and were woken (voluntary context switches,
// summed over /proc/PID/task/*/status), so far; 0 if unknown. On a VM each costs
// microseconds of CPU: at 10k fires/s about a third of chimed's went to them.
int64_t ProcThreadWakes(int pid);
// Time the machine's CPUs have spent idle so far (idle + iowait over all CPUs, /proc/stat), in
// seconds; 0 if unknown. Against a run's length times the CPUs, the share of the machine that
// the run left unused: a CPU-bound run leaves next to none.
double MachineIdleSeconds();
// Bytes used under `dir` (recursive sum of file sizes), 0 if empty or missing.
int64_t DirBytes(const std::string& dir);

}  // namespace chime::bench

#endif  // CHIME_TESTS_BENCH_PROC_PROBES_H_
