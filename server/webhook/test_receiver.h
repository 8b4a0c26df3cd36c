// Test-only HTTP/1.1 receiver on 127.0.0.1 (thread per connection, keep-alive), so webhook
// tests run against real sockets and can see request headers and count connections.
#ifndef CHIME_SERVER_WEBHOOK_TEST_RECEIVER_H_
#define CHIME_SERVER_WEBHOOK_TEST_RECEIVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chime::webhook::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

struct ReceiverResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Thread-safe. The handler runs on the connection's thread, possibly concurrently.
class TestReceiver {
 public:
  using Handler = std::function<ReceiverResponse(const ReceivedRequest&)>;
  explicit TestReceiver(Handler handler);
  ~TestReceiver();  // Stop()s

  bool Start();  // false when it cannot listen
  int port() const { return port_; }
  // Closes the listener and every connection, joins the threads. Handlers that block must be
  // released first by the test.
  void Stop();

  int connections_accepted() const { return accepted_.load(); }
  std::vector<ReceivedRequest> requests() const;

 private:
  void AcceptLoop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  mutable absl::Mutex mu_;
  std::vector<std::thread> conn_threads_ ABSL_GUARDED_BY(mu_);
  std::vector<int> conn_fds_ ABSL_GUARDED_BY(mu_);
  std::vector<ReceivedRequest> requests_ ABSL_GUARDED_BY(mu_);
  bool record_ = true;

 public:
  void set_record(bool record) { record_ = record; }  // off for throughput runs
};

}  // namespace chime::webhook::testing

#endif  // CHIME_SERVER_WEBHOOK_TEST_RECEIVER_H_
