#include "server/webhook/url_check.h"

#include <curl/curl.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chime::webhook {
namespace {

// A part of the parsed URL, or nullopt when absent.
std::optional<std::string> Part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* p = nullptr;
  if (curl_url_get(u, part, &p, flags) != CURLUE_OK || p == nullptr) return std::nullopt;
  std::string s(p);
  curl_free(p);
  return s;
}

}  // namespace

absl::Status CheckWebhookUrl(const std::string& url, const AddressPolicy& policy,
                             const std::string& field) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", why));
  };
  if (url.empty()) return bad("is required");
  if (url.size() > kMaxWebhookUrlLength) {
    return bad(absl::StrCat("is longer than ", kMaxWebhookUrlLength, " bytes"));
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return bad("must not contain spaces or control characters");
    }
  }
  std::string lower = absl::AsciiStrToLower(url);
  if (lower.rfind("http://", 0) != 0 && lower.rfind("https://", 0) != 0) {
    return bad("must use http or https (e.g. https://example.com/hook)");
  }
  // curl would read "https:///x" as host "x"; an empty authority is an error here.
  if (url[url.find("://") + 3] == '/') return bad("has no host");
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) return bad(absl::StrCat("is not a valid URL: ", curl_url_strerror(rc)));
  if (Part(u.get(), CURLUPART_USER) || Part(u.get(), CURLUPART_PASSWORD)) {
    return bad("must not contain user:password@ (send credentials in target.webhook.headers)");
  }
  if (Part(u.get(), CURLUPART_FRAGMENT)) return bad("must not contain a #fragment");
  std::optional<std::string> host = Part(u.get(), CURLUPART_HOST);
  if (!host || host->empty()) return bad("has no host");
  if (std::optional<std::string> port = Part(u.get(), CURLUPART_PORT)) {
    int p = 0;
    if (!absl::SimpleAtoi(*port, &p) || p < 1 || p > 65535) {
      return bad("has a port outside 1..65535");
    }
  }
  if (std::optional<IpAddress> ip = ParseIpAddress(*host)) {
    PolicyDecision d = policy.Check(*ip);
    if (!d.allowed) return bad(absl::StrCat("is not an allowed destination: ", d.reason));
  } else if (host->find('%') != std::string::npos || host->front() == '[') {
    return bad("has an unsupported host");
  }
  return absl::OkStatus();
}

}  // namespace chime::webhook
