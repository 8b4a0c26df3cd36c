#include "server/api/webhook_validation.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "server/webhook/url_check.h"

namespace chime::api {
namespace {

constexpr absl::Duration kMinTimeout = absl::Milliseconds(100);
constexpr absl::Duration kMaxTimeout = absl::Minutes(5);
constexpr const char* kMethods[] = {"POST", "PUT", "PATCH", "DELETE", "GET"};
// Set by chime on every request (signing, framing): a target may not override them.
constexpr const char* kReservedHeaders[] = {"host",
                                            "content-length",
                                            "transfer-encoding",
                                            "connection",
                                            "content-type",
                                            "idempotency-key",
                                            "chime-timestamp",
                                            "chime-signature",
                                            "expect",
                                            "te",
                                            "upgrade",
                                            "keep-alive"};

// RFC 9110 token characters.
bool IsHeaderNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string Shown(const std::string& s) {
  return absl::StrCat("\"", absl::CHexEscape(s.substr(0, 48)), s.size() > 48 ? "...\"" : "\"");
}

}  // namespace

absl::StatusOr<v1::WebhookTarget> ValidateWebhookTarget(const v1::WebhookTarget& target,
                                                        const webhook::AddressPolicy& policy) {
  if (target.url().empty()) return absl::InvalidArgumentError("target.webhook.url is required");
  if (absl::Status s = webhook::CheckWebhookUrl(target.url(), policy, "target.webhook.url");
      !s.ok()) {
    return s;
  }
  v1::WebhookTarget out = target;
  if (out.method().empty()) out.set_method("POST");
  bool known = false;
  for (const char* m : kMethods) known = known || out.method() == m;
  if (!known) {
    return absl::InvalidArgumentError(absl::StrCat("target.webhook.method ", Shown(out.method()),
                                                   " is not one of ",
                                                   absl::StrJoin(kMethods, ", ")));
  }
  if (static_cast<size_t>(target.headers_size()) > kMaxWebhookHeaders) {
    return absl::InvalidArgumentError(absl::StrCat("target.webhook.headers has ",
                                                   target.headers_size(), " entries, limit ",
                                                   kMaxWebhookHeaders));
  }
  for (const auto& [name, value] : target.headers()) {
    const std::string field = absl::StrCat("target.webhook.headers[", Shown(name), "]");
    if (name.empty() || name.size() > kMaxWebhookHeaderNameLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " name is ", name.size(), " bytes, must be 1 to ", kMaxWebhookHeaderNameLength));
    }
    for (char c : name) {
      if (!IsHeaderNameChar(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, " name has a character not allowed in an HTTP header name"));
      }
    }
    for (const char* reserved : kReservedHeaders) {
      if (absl::AsciiStrToLower(name) == reserved) {
        return absl::InvalidArgumentError(absl::StrCat(field, " is set by chime"));
      }
    }
    if (value.size() > kMaxWebhookHeaderValueLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " value is ", value.size(), " bytes, limit ", kMaxWebhookHeaderValueLength));
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return absl::InvalidArgumentError(
            absl::StrCat(field, " value has a CR, LF or NUL character"));
      }
    }
  }
  if (target.has_timeout()) {
    const absl::Duration timeout = FromProto(target.timeout());
    if (timeout < kMinTimeout || timeout > kMaxTimeout) {
      return absl::InvalidArgumentError(absl::StrCat(
          "target.webhook.timeout is ", absl::FormatDuration(timeout), ", must be 100ms to 5m"));
    }
  }
  return out;
}

}  // namespace chime::api
