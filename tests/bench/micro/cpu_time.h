// CPU time readers for microbenchmarks that report CPU per operation.
#ifndef CHIME_TESTS_BENCH_MICRO_CPU_TIME_H_
#define CHIME_TESTS_BENCH_MICRO_CPU_TIME_H_

#include <sys/resource.h>
#include <time.h>

namespace chime::bench {

// User + system CPU of every thread of the process (RocksDB's background threads included).
inline double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// CPU of the calling thread.
inline double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

}  // namespace chime::bench

#endif  // CHIME_TESTS_BENCH_MICRO_CPU_TIME_H_
