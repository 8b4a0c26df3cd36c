#include "server/http/http_server.h"

#include <microhttpd.h>
#include <sys/socket.h>

#include <cstdarg>
#include <cstdio>

#include "server/http/listen_address.h"

namespace chime::http {
namespace {

constexpr size_t kMaxBodyBytes = 1 << 20;
constexpr unsigned kThreads = 2;
constexpr unsigned kConnectionTimeoutSeconds = 30;
constexpr unsigned kConnectionLimit = 64;

// Per-request state across libmicrohttpd's calls for one request (headers, body chunks, end).
struct RequestState {
  std::string body;
  bool too_large = false;
};

enum MHD_Result CollectQuery(void* query, enum MHD_ValueKind, const char* key, const char* value) {
  (*static_cast<std::map<std::string, std::string>*>(query))[key] = value != nullptr ? value : "";
  return MHD_YES;
}

enum MHD_Result Respond(MHD_Connection* connection, const HttpResponse& response) {
  MHD_Response* mhd_response = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
  if (mhd_response == nullptr) return MHD_NO;
  MHD_add_response_header(mhd_response, MHD_HTTP_HEADER_CONTENT_TYPE,
                          response.content_type.c_str());
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(mhd_response, name.c_str(), value.c_str());
  }
  const enum MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned>(response.status), mhd_response);
  MHD_destroy_response(mhd_response);
  return queued;
}

}  // namespace

struct HttpServer::Callbacks {
  static enum MHD_Result OnRequest(void* cls, MHD_Connection* connection, const char* url,
                                   const char* method, const char* /*version*/,
                                   const char* upload_data, size_t* upload_data_size,
                                   void** request_state) {
    auto* state = static_cast<RequestState*>(*request_state);
    if (state == nullptr) {
      // First call: headers only. Answer once the body (if any) has arrived.
      *request_state = new RequestState;
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      if (state->body.size() + *upload_data_size > kMaxBodyBytes) {
        state->too_large = true;
      } else {
        state->body.append(upload_data, *upload_data_size);
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (state->too_large) {
      return Respond(
          connection,
          HttpResponse{413, "text/plain; charset=utf-8", "request body too large\n", {}});
    }
    HttpRequest request;
    request.method = method;
    request.path = url;
    request.body = std::move(state->body);
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectQuery, &request.query);
    return Respond(connection, static_cast<const HttpServer*>(cls)->Dispatch(request));
  }

  static void OnCompleted(void* /*cls*/, MHD_Connection* /*connection*/, void** request_state,
                          enum MHD_RequestTerminationCode /*code*/) {
    delete static_cast<RequestState*>(*request_state);
    *request_state = nullptr;
  }

  static void OnLog(void* cls, const char* format, va_list args) {
    char message[512];
    std::vsnprintf(message, sizeof(message), format, args);
    auto* self = static_cast<HttpServer*>(cls);
    absl::MutexLock lock(&self->log_mu_);
    if (self->starting_) {
      self->start_log_ += message;
    } else {
      std::fprintf(stderr, "chime http: %s", message);
    }
  }
};

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(const std::string& path, HttpHandler handler) {
  auto shared = std::make_shared<const HttpHandler>(std::move(handler));
  absl::MutexLock lock(&handlers_mu_);
  handlers_[path] = std::move(shared);
}

HttpResponse HttpServer::Dispatch(const HttpRequest& request) const {
  std::shared_ptr<const HttpHandler> handler;
  {
    absl::ReaderMutexLock lock(&handlers_mu_);
    auto it = handlers_.find(request.path);
    if (it != handlers_.end()) handler = it->second;
  }
  // Called outside the lock so a handler may be replaced while it runs.
  if (handler == nullptr) return HttpResponse{404, "text/plain; charset=utf-8", "not found\n", {}};
  return (*handler)(request);
}

absl::Status HttpServer::Start(const std::string& listen_address) {
  absl::MutexLock lock(&lifecycle_mu_);
  if (started_) return absl::FailedPreconditionError("HTTP server already started");
  absl::StatusOr<HostPort> host_port = SplitHostPort(listen_address);
  if (!host_port.ok()) return host_port.status();
  absl::StatusOr<ResolvedAddress> address = ResolveForListen(*host_port);
  if (!address.ok()) return address.status();

  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  if (address->family() == AF_INET6) {
    // "::" listens on IPv4 too; a specific IPv6 address only on itself.
    flags |= host_port->host == "::" ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
  }
  {
    absl::MutexLock log_lock(&log_mu_);
    starting_ = true;
    start_log_.clear();
  }
  // The logger goes first so that libmicrohttpd reports problems with later options to it.
  daemon_ = MHD_start_daemon(
      flags, host_port->port, /*apc=*/nullptr, /*apc_cls=*/nullptr, &Callbacks::OnRequest, this,
      MHD_OPTION_EXTERNAL_LOGGER, &Callbacks::OnLog, this, MHD_OPTION_SOCK_ADDR, address->get(),
      MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::OnCompleted, this, MHD_OPTION_THREAD_POOL_SIZE,
      kThreads, MHD_OPTION_CONNECTION_TIMEOUT, kConnectionTimeoutSeconds,
      MHD_OPTION_CONNECTION_LIMIT, kConnectionLimit, MHD_OPTION_END);
  std::string start_log;
  {
    absl::MutexLock log_lock(&log_mu_);
    starting_ = false;
    start_log = std::move(start_log_);
  }
  if (daemon_ == nullptr) {
    while (!start_log.empty() && start_log.back() == '\n') start_log.pop_back();
    for (char& c : start_log) {
      if (c == '\n') c = ' ';
    }
    return absl::UnavailableError("cannot serve HTTP on " + listen_address +
                                  (start_log.empty() ? "" : ": " + start_log));
  }
  started_ = true;
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_.store(info != nullptr ? info->port : host_port->port, std::memory_order_release);
  return absl::OkStatus();
}

void HttpServer::Stop() {
  absl::MutexLock lock(&lifecycle_mu_);
  if (daemon_ == nullptr) return;
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

}  // namespace chime::http
