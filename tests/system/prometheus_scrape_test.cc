// A real Prometheus server (Debian's `prometheus`, loopback only, its own temp dir) scrapes
// chimed's /metrics: the target comes up healthy and chime's series are queryable, so the
// exposition is what Prometheus itself accepts, not only what our parser accepts.
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "chime/v1/timer.grpc.pb.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http/curl_fetch.h"
#include "tests/testing/chimed_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPrometheus[] = "/usr/bin/prometheus";

// A loopback port that was free a moment ago (Prometheus cannot report the one it bound).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Prometheus as a child process, killed and reaped on destruction.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::vector<std::string>& args, const std::string& log_path) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = fopen(log_path.c_str(), "w");
      if (log != nullptr) {
        dup2(fileno(log), 1);
        dup2(fileno(log), 2);
      }
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(PrometheusScrapeTest, PrometheusScrapesChimedMetrics) {
  struct stat st;
  if (stat(kPrometheus, &st) != 0) GTEST_SKIP() << "prometheus is not installed (scripts/setup)";
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(dir.path() + "/data", {"--shards", "2"}));
  // Some traffic, so counters and histograms have series.
  auto stub = v1::TimerService::NewStub(
      grpc::CreateChannel(chimed->address(), grpc::InsecureChannelCredentials()));
  {
    v1::CreateTimerRequest request;
    *request.mutable_delay() = ToProtoDuration(absl::Hours(1));
    request.mutable_target()->set_topic("jobs");
    v1::CreateTimerResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    ASSERT_TRUE(stub->CreateTimer(&ctx, request, &response).ok());
  }

  const std::string config = dir.path() + "/prometheus.yml";
  std::ofstream(config) << "global:\n"
                           "  scrape_interval: 1s\n"
                           "  scrape_timeout: 1s\n"
                           "scrape_configs:\n"
                           "  - job_name: chime\n"
                           "    static_configs:\n"
                           "      - targets: ['"
                        << chimed->http_address() << "']\n";
  const int port = FreePort();
  ASSERT_GT(port, 0);
  const std::string web = "127.0.0.1:" + std::to_string(port);
  const std::string log = dir.path() + "/prometheus.log";
  PrometheusProcess prometheus(
      {kPrometheus, "--config.file=" + config, "--storage.tsdb.path=" + dir.path() + "/tsdb",
       "--web.listen-address=" + web, "--log.level=warn"},
      log);
  ASSERT_TRUE(prometheus.started());

  // Wait (bounded) for a successful scrape: up == 1 and the target healthy.
  const std::string api = "http://" + web + "/api/v1/";
  std::string targets;
  bool healthy = false;
  for (const absl::Time give_up = absl::Now() + absl::Seconds(60);
       !healthy && absl::Now() < give_up;) {
    absl::StatusOr<http::testing::FetchResult> r = http::testing::Fetch(api + "targets");
    if (r.ok() && r->status == 200) {
      targets = r->body;
      healthy = targets.find("\"health\":\"up\"") != std::string::npos;
    }
    if (!healthy) absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(healthy) << "targets: " << targets << "\nprometheus log:\n" << ReadFile(log);
  EXPECT_THAT(targets, HasSubstr("\"lastError\":\"\""));

  // chime's series, as Prometheus stored them.
  ASSERT_OK_AND_ASSIGN(
      auto created,
      http::testing::Fetch(api +
                           "query?query=chime_timer_creates_total%7Boutcome%3D%22created%22%7D"));
  EXPECT_EQ(created.status, 200);
  EXPECT_THAT(created.body, HasSubstr("\"job\":\"chime\""));
  EXPECT_THAT(created.body, HasSubstr(",\"1\"]"));  // [timestamp, "1"]
  ASSERT_OK_AND_ASSIGN(
      auto buckets,
      http::testing::Fetch(api + "query?query=chime_fire_dispatch_lateness_seconds_bucket"));
  EXPECT_THAT(buckets.body, HasSubstr("\"le\":\"5e-05\""));
  EXPECT_THAT(buckets.body, HasSubstr("\"le\":\"+Inf\""));
  ASSERT_OK_AND_ASSIGN(auto pending,
                       http::testing::Fetch(api + "query?query=sum(chime_timers_pending)"));
  EXPECT_THAT(pending.body, HasSubstr("\"status\":\"success\""));
  ASSERT_OK_AND_ASSIGN(auto rss,
                       http::testing::Fetch(api + "query?query=process_resident_memory_bytes"));
  EXPECT_THAT(rss.body, HasSubstr("\"job\":\"chime\""));
}

}  // namespace
}  // namespace chime::testing
