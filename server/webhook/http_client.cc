#include "server/webhook/http_client.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chime::webhook {

const char* WebhookErrorName(WebhookError e) {
  switch (e) {
    case WebhookError::kNone:
      return "none";
    case WebhookError::kConnect:
      return "connect";
    case WebhookError::kTimeout:
      return "timeout";
    case WebhookError::kRefusedByPolicy:
      return "refused-by-policy";
    case WebhookError::kInvalidRequest:
      return "invalid-request";
    case WebhookError::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAck:
      return "ACK";
    case Outcome::kRetry:
      return "RETRY";
    case Outcome::kDeadLetter:
      return "DEAD_LETTER";
  }
  return "unknown";
}

Classification Classify(const WebhookResult& r) {
  switch (r.error) {
    case WebhookError::kNone:
      break;
    case WebhookError::kConnect:
    case WebhookError::kTimeout:
    case WebhookError::kCancelled:
      return {Outcome::kRetry, std::nullopt, WebhookErrorName(r.error)};
    case WebhookError::kRefusedByPolicy:
    case WebhookError::kInvalidRequest:
      return {Outcome::kDeadLetter, std::nullopt,
              absl::StrCat(WebhookErrorName(r.error), ": ", r.error_message)};
  }
  std::string reason = absl::StrCat("HTTP ", r.http_status);
  if (r.http_status >= 200 && r.http_status < 300) return {Outcome::kAck, std::nullopt, reason};
  if (r.http_status == 408 || r.http_status == 429 || r.http_status >= 500) {
    return {Outcome::kRetry, r.retry_after, reason};
  }
  return {Outcome::kDeadLetter, std::nullopt, reason};
}

std::optional<absl::Duration> ParseRetryAfter(const std::string& raw, absl::Time now) {
  std::string v(absl::StripAsciiWhitespace(raw));
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(v, &seconds)) return std::nullopt;  // overflow
    return absl::Seconds(seconds);
  }
  // The three HTTP-date forms of RFC 9110 §5.6.7, all GMT.
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(format, v, absl::UTCTimeZone(), &t, &err)) {
      return std::max(absl::ZeroDuration(), t - now);
    }
  }
  return std::nullopt;
}

// One request, from Send to its callback. Owned by the client thread once queued.
struct WebhookClient::Transfer {
  WebhookRequest request;
  std::function<void(WebhookResult)> done;
  std::string host_key;  // scheme://host:port, for the per-host limit
  const AddressPolicy* policy = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::string body_prefix;
  std::string retry_after_header;
  bool refused = false;
  std::string refusal;
  absl::Time started;

  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (headers != nullptr) curl_slist_free_all(headers);
  }
};

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<WebhookClient::Transfer*>(user);
  size_t n = size * count;
  if (t->body_prefix.size() < kKeptBodyBytes) {
    t->body_prefix.append(data, std::min(n, kKeptBodyBytes - t->body_prefix.size()));
  }
  return n;  // the rest is read and dropped
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<WebhookClient::Transfer*>(user);
  size_t n = size * count;
  std::string line(data, n);
  if (absl::StartsWith(line, "HTTP/")) t->retry_after_header.clear();  // a new response
  constexpr char kName[] = "retry-after:";
  if (absl::StartsWithIgnoreCase(line, kName)) {
    t->retry_after_header = std::string(absl::StripAsciiWhitespace(line.substr(strlen(kName))));
  }
  return n;
}

// The SSRF gate: curl hands us the resolved address it is about to connect to.
curl_socket_t OnOpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<WebhookClient::Transfer*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  std::optional<IpAddress> ip = IpFromSockaddr(&address->addr);
  if (!ip) {
    t->refused = true;
    t->refusal = "not an IP destination";
    return CURL_SOCKET_BAD;
  }
  PolicyDecision d = t->policy->Check(*ip);
  if (!d.allowed) {
    t->refused = true;
    t->refusal = d.reason;
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

bool IsToken(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  });
}

// "scheme://host:port" or "" when curl cannot parse the URL.
std::string HostKey(const std::string& url) {
  CURLU* u = curl_url();
  std::string key;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
      key = absl::StrCat(scheme, "://", absl::AsciiStrToLower(host), ":", port);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return key;
}

}  // namespace

WebhookClient::WebhookClient(WebhookClientOptions options) : options_(std::move(options)) {
  GlobalInit();
  CURLM* multi = curl_multi_init();
  // The connection cache: enough to keep every in-flight connection for reuse.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_concurrent));
  multi_ = multi;
}

WebhookClient::~WebhookClient() {
  Stop();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void WebhookClient::Start() {
  absl::MutexLock lock(&mu_);
  if (running_ || stopping_) return;
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void WebhookClient::Send(WebhookRequest request, std::function<void(WebhookResult)> done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  {
    absl::MutexLock lock(&mu_);
    if (running_ && !stopping_) {
      incoming_.push_back(std::move(t));
      ++outstanding_;
    }
  }
  if (t != nullptr) {  // not accepted
    WebhookResult r;
    r.error = WebhookError::kCancelled;
    r.error_message = "webhook client not running";
    t->done(std::move(r));
    return;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

size_t WebhookClient::outstanding() const {
  absl::MutexLock lock(&mu_);
  return outstanding_;
}

void WebhookClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!running_ || stopping_) {
      stopping_ = true;
      if (!thread_.joinable()) return;
    }
    stopping_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  if (thread_.joinable()) thread_.join();
}

void WebhookClient::Run() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  struct HostQueue {
    int in_flight = 0;
    std::deque<std::unique_ptr<Transfer>> waiting;
  };
  std::map<std::string, HostQueue> hosts;
  std::map<CURL*, std::unique_ptr<Transfer>> active;
  int total_in_flight = 0;

  auto finish = [&](std::unique_ptr<Transfer> t, WebhookResult r) {
    {
      absl::MutexLock lock(&mu_);
      --outstanding_;  // before the callback, so it already sees the request as finished
    }
    t->done(std::move(r));
  };
  auto fail = [&](std::unique_ptr<Transfer> t, WebhookError e, std::string message) {
    WebhookResult r;
    r.error = e;
    r.error_message = std::move(message);
    finish(std::move(t), std::move(r));
  };

  // Configures the easy handle and adds it to the multi; false (callback already run) when the
  // request is unusable.
  auto start = [&](std::unique_ptr<Transfer>& t) -> bool {
    const WebhookRequest& req = t->request;
    if (!IsToken(req.method)) {
      fail(std::move(t), WebhookError::kInvalidRequest, "bad HTTP method");
      return false;
    }
    bool has_content_type = false;
    t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue round trip
    for (const auto& [name, value] : req.headers) {
      if (!IsToken(name) || value.find_first_of("\r\n") != std::string::npos) {
        fail(std::move(t), WebhookError::kInvalidRequest, absl::StrCat("bad header ", name));
        return false;
      }
      if (absl::EqualsIgnoreCase(name, "content-type")) has_content_type = true;
      t->headers = curl_slist_append(t->headers, absl::StrCat(name, ": ", value).c_str());
    }
    if (!has_content_type) {
      t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
    }
    CURL* e = curl_easy_init();
    t->easy = e;
    t->policy = &options_.policy;
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");  // ignore *_proxy env: the check must see the target
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(
        e, CURLOPT_TIMEOUT_MS,
        static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(req.timeout))));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buffer);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    if (req.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
      if (req.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    t->started = absl::Now();
    curl_multi_add_handle(multi, e);
    active[e] = std::move(t);
    return true;
  };

  // Round-robin over hosts, one request per host per pass, within both limits.
  auto admit = [&] {
    bool progress = true;
    while (progress && total_in_flight < options_.max_concurrent) {
      progress = false;
      for (auto it = hosts.begin();
           it != hosts.end() && total_in_flight < options_.max_concurrent;) {
        HostQueue& q = it->second;
        if (!q.waiting.empty() && q.in_flight < options_.max_per_host) {
          std::unique_ptr<Transfer> t = std::move(q.waiting.front());
          q.waiting.pop_front();
          if (start(t)) {
            ++q.in_flight;
            ++total_in_flight;
          }
          progress = true;
        }
        if (q.waiting.empty() && q.in_flight == 0) {
          it = hosts.erase(it);
        } else {
          ++it;
        }
      }
    }
  };

  auto complete = [&](CURL* e, CURLcode code) {
    auto it = active.find(e);
    std::unique_ptr<Transfer> t = std::move(it->second);
    active.erase(it);
    curl_multi_remove_handle(multi, e);
    --total_in_flight;
    auto h = hosts.find(t->host_key);
    if (h != hosts.end()) --h->second.in_flight;

    WebhookResult r;
    r.latency = absl::Now() - t->started;
    r.body_prefix = std::move(t->body_prefix);
    char* ip = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != nullptr)
      r.remote_ip = ip;
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
      r.http_status = static_cast<int>(status);
      if (!t->retry_after_header.empty()) {
        r.retry_after = ParseRetryAfter(t->retry_after_header, absl::Now());
      }
    } else {
      r.error_message = t->error_buffer[0] != '\0' ? t->error_buffer : curl_easy_strerror(code);
      if (code == CURLE_OPERATION_TIMEDOUT) {
        r.error = WebhookError::kTimeout;
      } else if (t->refused && code == CURLE_COULDNT_CONNECT) {
        r.error = WebhookError::kRefusedByPolicy;
        r.error_message = t->refusal;
      } else if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
        r.error = WebhookError::kInvalidRequest;
      } else {
        r.error = WebhookError::kConnect;
      }
    }
    finish(std::move(t), std::move(r));
  };

  while (true) {
    std::deque<std::unique_ptr<Transfer>> incoming;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      incoming.swap(incoming_);
      stopping = stopping_;
    }
    for (auto& t : incoming) {
      if (stopping) {
        fail(std::move(t), WebhookError::kCancelled, "webhook client stopped");
        continue;
      }
      t->host_key = HostKey(t->request.url);
      if (t->host_key.empty()) {
        fail(std::move(t), WebhookError::kInvalidRequest, "unparseable URL");
        continue;
      }
      hosts[t->host_key].waiting.push_back(std::move(t));
    }
    if (stopping) break;
    admit();
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
      if (m->msg == CURLMSG_DONE) complete(m->easy_handle, m->data.result);
    }
    admit();
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }

  // Stopping: everything left ends cancelled (the delivery layer redelivers it later).
  for (auto& [e, t] : active) {
    curl_multi_remove_handle(multi, e);
    fail(std::move(t), WebhookError::kCancelled, "webhook client stopped");
  }
  active.clear();
  for (auto& [key, q] : hosts) {
    for (auto& t : q.waiting)
      fail(std::move(t), WebhookError::kCancelled, "webhook client stopped");
  }
  hosts.clear();
}

}  // namespace chime::webhook
