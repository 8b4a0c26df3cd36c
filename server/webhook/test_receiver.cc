#include "server/webhook/test_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chime::webhook::testing {

TestReceiver::TestReceiver(Handler handler) : handler_(std::move(handler)) {}
TestReceiver::~TestReceiver() { Stop(); }

bool TestReceiver::Start() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return false;
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return false;
  if (listen(listen_fd_, 512) != 0) return false;
  socklen_t len = sizeof(a);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return true;
}

void TestReceiver::Stop() {
  if (stopping_.exchange(true)) return;
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (int fd : conn_fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(conn_threads_);
  }
  for (auto& t : threads) t.join();
}

std::vector<ReceivedRequest> TestReceiver::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void TestReceiver::AcceptLoop() {
  while (!stopping_.load()) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_.load()) return;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ++accepted_;
    absl::MutexLock lock(&mu_);
    conn_fds_.push_back(fd);
    conn_threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestReceiver::Serve(int fd) {
  std::string buf;
  char chunk[16384];
  auto fill = [&]() -> bool {
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  };
  while (!stopping_.load()) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) goto done;
    }
    {
      ReceivedRequest req;
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      size_t line_end = head.find("\r\n");
      std::string first = head.substr(0, line_end);
      size_t sp1 = first.find(' ');
      size_t sp2 = first.find(' ', sp1 + 1);
      req.method = first.substr(0, sp1);
      req.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        std::string line = head.substr(pos, e - pos);
        pos = e + 2;
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        req.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
            std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      }
      size_t length = 0;
      if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
        // A length that does not parse: the stream cannot be framed, so the connection ends.
        if (!absl::SimpleAtoi(it->second, &length)) goto done;
      }
      while (buf.size() < length) {
        if (!fill()) goto done;
      }
      req.body = buf.substr(0, length);
      buf.erase(0, length);
      ReceiverResponse resp = handler_(req);
      if (record_) {
        absl::MutexLock lock(&mu_);
        requests_.push_back(req);
      }
      std::string out = absl::StrCat("HTTP/1.1 ", resp.status,
                                     " X\r\nContent-Length: ", resp.body.size(), "\r\n");
      for (const auto& [k, v] : resp.headers) absl::StrAppend(&out, k, ": ", v, "\r\n");
      absl::StrAppend(&out, "\r\n", req.method == "HEAD" ? "" : resp.body);
      size_t sent = 0;
      while (sent < out.size()) {
        ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) goto done;
        sent += static_cast<size_t>(n);
      }
    }
  }
done:
  // fd is closed here; Stop's shutdown on a reused number is harmless for a test.
  {
    absl::MutexLock lock(&mu_);
    for (int& f : conn_fds_) {
      if (f == fd) f = -1;
    }
  }
  close(fd);
}

}  // namespace chime::webhook::testing
