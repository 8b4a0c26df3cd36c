#include "metrics/process_collector.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/testing/exposition_parser.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::metrics {
namespace {

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ProcessCollectorTest, ParsesProcFiles) {
  chime::testing::TempDir root;
  std::filesystem::create_directories(root.path() + "/self/fd");
  for (const char* fd : {"0", "1", "2", "7"}) WriteFile(root.path() + "/self/fd/" + fd, "");
  // comm with spaces and a ')' must not shift the fields.
  WriteFile(root.path() + "/self/stat",
            "1234 (chi me) d) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 3 0 "
            "5000 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n");
  WriteFile(root.path() + "/self/statm", "25600 2560 100 10 0 500 0\n");
  WriteFile(root.path() + "/stat", "cpu  1 2 3 4\ncpu0 1 2 3 4\nbtime 1700000000\nprocesses 9\n");
  ASSERT_OK_AND_ASSIGN(ProcessStats stats, ReadProcessStats(root.path()));
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  EXPECT_DOUBLE_EQ(stats.cpu_seconds, 400 / ticks);
  EXPECT_DOUBLE_EQ(stats.start_time_seconds, 1700000000 + 5000 / ticks);
  EXPECT_DOUBLE_EQ(stats.virtual_memory_bytes, 25600 * page);
  EXPECT_DOUBLE_EQ(stats.resident_memory_bytes, 2560 * page);
  EXPECT_EQ(stats.open_fds, 4);
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(stats.max_fds, static_cast<double>(limit.rlim_cur));
}

TEST(ProcessCollectorTest, MalformedOrMissingFilesAreErrors) {
  chime::testing::TempDir root;
  EXPECT_FALSE(ReadProcessStats(root.path()).ok());
  std::filesystem::create_directories(root.path() + "/self");
  WriteFile(root.path() + "/self/stat", "1234 (x) S 1 2\n");
  EXPECT_THAT(ReadProcessStats(root.path()), chime::testing::StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ProcessCollectorTest, RealProcessExposition) {
  Registry registry;
  AddProcessCollector(&registry);
  EXPECT_OK(registry.CheckCollectors());
  // An extra open file shows up in the next scrape.
  ASSERT_OK_AND_ASSIGN(auto before, testing::ParseExposition(registry.Exposition()));
  const int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_OK_AND_ASSIGN(auto after, testing::ParseExposition(registry.Exposition()));
  close(fd);

  for (const char* name :
       {"process_cpu_seconds_total", "process_start_time_seconds", "process_virtual_memory_bytes",
        "process_resident_memory_bytes", "process_open_fds", "process_max_fds"}) {
    ASSERT_NE(after.Find(name), nullptr) << name;
  }
  EXPECT_EQ(after.Find("process_cpu_seconds_total")->type, "counter");
  EXPECT_EQ(after.Find("process_resident_memory_bytes")->type, "gauge");
  EXPECT_EQ(*after.Value("process_open_fds"), *before.Value("process_open_fds") + 1);
  EXPECT_GT(*after.Value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(*after.Value("process_virtual_memory_bytes"),
            *after.Value("process_resident_memory_bytes"));
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(*after.Value("process_start_time_seconds"), now + 1);
  EXPECT_GT(*after.Value("process_start_time_seconds"), now - 3600);
}

}  // namespace
}  // namespace chime::metrics
