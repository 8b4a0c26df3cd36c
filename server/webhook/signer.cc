#include "server/webhook/signer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chime::webhook {

std::string ComputeSignature(const std::string& secret, int64_t unix_seconds,
                             const std::string& body) {
  std::string message = absl::StrCat(unix_seconds, ".", body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  return absl::BytesToHexString(
      std::string(reinterpret_cast<const char*>(mac), static_cast<size_t>(mac_len)));
}

std::vector<std::pair<std::string, std::string>> SignedHeaders(
    const std::string& fire_id, absl::Time now, const std::string& body,
    const std::optional<std::string>& secret) {
  int64_t ts = absl::ToUnixSeconds(now);
  std::vector<std::pair<std::string, std::string>> h = {{kIdempotencyKeyHeader, fire_id},
                                                        {kTimestampHeader, absl::StrCat(ts)}};
  if (secret) h.emplace_back(kSignatureHeader, "v1=" + ComputeSignature(*secret, ts, body));
  return h;
}

absl::Status VerifySignature(const std::string& secret, const std::string& timestamp_header,
                             const std::string& signature_header, const std::string& body,
                             absl::Time now, absl::Duration tolerance) {
  int64_t ts = 0;
  if (!absl::SimpleAtoi(timestamp_header, &ts)) {
    return absl::UnauthenticatedError("Chime-Timestamp is not a number");
  }
  if (absl::AbsDuration(now - absl::FromUnixSeconds(ts)) > tolerance) {
    return absl::UnauthenticatedError("Chime-Timestamp outside the tolerance (replay?)");
  }
  std::string want = "v1=" + ComputeSignature(secret, ts, body);
  if (want.size() != signature_header.size() ||
      CRYPTO_memcmp(want.data(), signature_header.data(), want.size()) != 0) {
    return absl::UnauthenticatedError("Chime-Signature does not match");
  }
  return absl::OkStatus();
}

absl::Status WebhookSecrets::Add(const std::string& entry) {
  size_t eq = entry.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) {
    return absl::InvalidArgumentError(
        "--webhook-secret wants NS=SECRET with a non-empty namespace and secret");
  }
  std::string ns = entry.substr(0, eq);
  if (!secrets_.emplace(ns, entry.substr(eq + 1)).second) {
    return absl::InvalidArgumentError(
        absl::StrCat("--webhook-secret: namespace \"", ns, "\" given twice"));
  }
  return absl::OkStatus();
}

absl::Status WebhookSecrets::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read webhook secrets file ", path));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string t(absl::StripAsciiWhitespace(line));
    if (t.empty() || t[0] == '#') continue;
    absl::Status s = Add(t);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", n, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

std::optional<std::string> WebhookSecrets::Find(const std::string& ns) const {
  auto it = secrets_.find(ns);
  if (it == secrets_.end()) return std::nullopt;
  return it->second;
}

}  // namespace chime::webhook
