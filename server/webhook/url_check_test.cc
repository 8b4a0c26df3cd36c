#include "server/webhook/url_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace chime::webhook {
namespace {

using ::testing::HasSubstr;

std::string Err(const std::string& url, const AddressPolicy& p = AddressPolicy()) {
  absl::Status s = CheckWebhookUrl(url, p);
  if (s.ok()) return "OK";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << url;
  return std::string(s.message());
}

TEST(UrlCheckTest, AcceptsOrdinaryUrls) {
  EXPECT_EQ(Err("https://example.com/hook"), "OK");
  EXPECT_EQ(Err("http://example.com:8080/a?b=c"), "OK");
  EXPECT_EQ(Err("https://93.184.216.34/x"), "OK");
  EXPECT_EQ(Err("HTTPS://Example.COM/"), "OK");
}

TEST(UrlCheckTest, RejectsWithFieldNamedMessages) {
  EXPECT_THAT(Err(""), HasSubstr("target.webhook.url is required"));
  EXPECT_THAT(Err("ftp://example.com/"), HasSubstr("target.webhook.url must use http or https"));
  EXPECT_THAT(Err("file:///etc/passwd"), HasSubstr("http or https"));
  EXPECT_THAT(Err("example.com/hook"), HasSubstr("http or https"));
  EXPECT_THAT(Err("https://user:pw@example.com/"), HasSubstr("user:password@"));
  EXPECT_THAT(Err("https://example.com:0/"), HasSubstr("port"));
  EXPECT_THAT(Err("https://example.com:70000/"), HasSubstr("target.webhook.url"));
  EXPECT_THAT(Err("https://example.com/a b"), HasSubstr("spaces"));
  EXPECT_THAT(Err("https://example.com/#frag"), HasSubstr("fragment"));
  EXPECT_THAT(Err("https:///path"), HasSubstr("target.webhook.url"));
  EXPECT_THAT(Err("https://example.com/" + std::string(3000, 'a')), HasSubstr("longer than"));
}

TEST(UrlCheckTest, LiteralAddressesCheckedAgainstPolicy) {
  for (const char* url : {"http://127.0.0.1/", "http://[::1]:8080/", "http://10.0.0.1/",
                          "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
                          "http://[::ffff:127.0.0.1]/", "http://0.0.0.0:80/"}) {
    EXPECT_THAT(Err(url), HasSubstr("not an allowed destination")) << url;
  }
  AddressPolicy allow = *AddressPolicy::FromFlags({"127.0.0.0/8"});
  EXPECT_EQ(Err("http://127.0.0.1:9000/hook", allow), "OK");
  EXPECT_THAT(Err("http://10.0.0.1/", allow), HasSubstr("private"));
  // Hostnames are checked when connecting (no DNS at create time).
  EXPECT_EQ(Err("http://localhost:9000/"), "OK");
}

}  // namespace
}  // namespace chime::webhook
