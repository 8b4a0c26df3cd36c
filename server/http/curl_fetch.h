// Test helper: one HTTP request with libcurl, as an HTTP client outside chime would make it.
#ifndef CHIME_SERVER_HTTP_CURL_FETCH_H_
#define CHIME_SERVER_HTTP_CURL_FETCH_H_

#include <string>

#include "absl/status/statusor.h"

namespace chime::http::testing {

struct FetchResult {
  long status = 0;
  std::string content_type;
  std::string body;
};

// Fetches url ("http://127.0.0.1:port/path") with method GET, HEAD or POST (with body).
// Unavailable when no HTTP response came back (e.g. connection refused).
absl::StatusOr<FetchResult> Fetch(const std::string& url, const std::string& method = "GET",
                                  const std::string& body = "");

}  // namespace chime::http::testing

#endif  // CHIME_SERVER_HTTP_CURL_FETCH_H_
