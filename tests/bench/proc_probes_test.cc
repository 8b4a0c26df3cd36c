#include "tests/bench/proc_probes.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chime::bench {
namespace {

using ::testing::Contains;
using ::testing::Key;
using ::testing::Not;

// Burns CPU on a thread named `name` until `stop`; `named` is notified once it has its name.
void Spin(const std::string& name, absl::Notification* named, const std::atomic<bool>* stop) {
  pthread_setname_np(pthread_self(), name.c_str());
  named->Notify();
  volatile uint64_t sink = 0;
  while (!stop->load(std::memory_order_relaxed)) sink = sink + 1;
}

TEST(ProcProbesTest, ThreadsAreGroupedByTheirNameWithoutTheTrailingNumber) {
  std::atomic<bool> stop{false};
  absl::Notification named[3];
  std::vector<std::thread> threads;
  threads.emplace_back(Spin, "spin-w-0", &named[0], &stop);
  threads.emplace_back(Spin, "spin-w-1", &named[1], &stop);
  threads.emplace_back(Spin, "spin-x", &named[2], &stop);
  for (absl::Notification& n : named) n.WaitForNotification();
  const std::map<std::string, double> before = ProcThreadGroupCpuSeconds(getpid());
  // Until each spinner has used some CPU: a few clock ticks.
  std::map<std::string, double> after;
  for (int i = 0; i < 500; ++i) {
    usleep(10'000);
    after = ProcThreadGroupCpuSeconds(getpid());
    if (after["spin-w"] - before.at("spin-w") >= 0.05 &&
        after["spin-x"] - before.at("spin-x") > 0) {
      break;
    }
  }
  stop = true;
  for (std::thread& t : threads) t.join();

  EXPECT_THAT(after, Contains(Key("spin-w")));
  EXPECT_THAT(after, Contains(Key("spin-x")));
  EXPECT_THAT(after, Not(Contains(Key("spin-w-0"))));
  EXPECT_GE(after["spin-w"] - before.at("spin-w"), 0.05);
  // The process's CPU covers its threads' (the main thread's included).
  EXPECT_GE(ProcCpuSeconds(getpid()) + 0.02, after["spin-w"] + after["spin-x"]);
}

TEST(ProcProbesTest, GroupCpuJsonGivesMicrosecondsPerItemLargestFirst) {
  const std::map<std::string, double> before = {{"a", 1.0}, {"b", 2.0}, {"gone", 5.0}};
  const std::map<std::string, double> after = {{"a", 1.5}, {"b", 4.0}, {"new", 0.25}};
  // Per 1,000 items: b 2 s → 2000 µs, a 0.5 s → 500, new 0.25 s → 250; "gone" ended.
  EXPECT_EQ(ThreadGroupCpuJson(before, after, 1000), R"({"b":2000.00,"a":500.00,"new":250.00})");
  EXPECT_EQ(ThreadGroupCpuJson(before, before, 1000), "{}");
}

TEST(ProcProbesTest, AnUnknownProcessReadsAsNothing) {
  EXPECT_EQ(ProcCpuSeconds(0), 0);
  EXPECT_TRUE(ProcThreadGroupCpuSeconds(0).empty());
  EXPECT_EQ(ProcStatusBytes(0, "VmRSS"), 0);
  EXPECT_GT(ProcStatusBytes(getpid(), "VmRSS"), 0);
}

TEST(ProcProbesTest, MachineIdleTimeIsCountedAndNeverGoesBack) {
  const double first = MachineIdleSeconds();
  EXPECT_GT(first, 0);  // some CPU of a running machine has idled since boot
  const double second = MachineIdleSeconds();
  EXPECT_GE(second, first);
}

}  // namespace
}  // namespace chime::bench
