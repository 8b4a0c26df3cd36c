#include "server/webhook/signer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace chime::webhook {
namespace {

TEST(SignerTest, KnownVector) {
  // python3: hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
  EXPECT_EQ(ComputeSignature("key", 1700000000, "{}"),
            "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae");
  EXPECT_NE(ComputeSignature("key", 1700000000, "{}"), ComputeSignature("key", 1700000001, "{}"));
  EXPECT_NE(ComputeSignature("key", 1700000000, "{}"), ComputeSignature("kez", 1700000000, "{}"));
}

TEST(SignerTest, HeadersAndVerification) {
  absl::Time now = absl::FromUnixSeconds(1700000000);
  auto h = SignedHeaders("fire-1", now, "{\"a\":1}", std::string("s3cret"));
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0], std::make_pair(std::string("Idempotency-Key"), std::string("fire-1")));
  EXPECT_EQ(h[1], std::make_pair(std::string("Chime-Timestamp"), std::string("1700000000")));
  EXPECT_EQ(h[2].first, "Chime-Signature");
  EXPECT_THAT(h[2].second, ::testing::StartsWith("v1="));
  EXPECT_TRUE(VerifySignature("s3cret", h[1].second, h[2].second, "{\"a\":1}", now).ok());
  EXPECT_FALSE(VerifySignature("other", h[1].second, h[2].second, "{\"a\":1}", now).ok());
  EXPECT_FALSE(VerifySignature("s3cret", h[1].second, h[2].second, "{\"a\":2}", now).ok());
  EXPECT_FALSE(VerifySignature("s3cret", h[1].second, h[2].second, "{\"a\":1}",
                               now + absl::Minutes(6))
                   .ok());  // replay window
  EXPECT_FALSE(VerifySignature("s3cret", "x", h[2].second, "{\"a\":1}", now).ok());
  EXPECT_EQ(SignedHeaders("f", now, "", std::nullopt).size(), 2u);  // no secret: unsigned
}

TEST(SignerTest, SecretsFromFlagsAndFile) {
  WebhookSecrets s;
  EXPECT_TRUE(s.Add("prod=abc=def").ok());  // secret may contain '='
  EXPECT_EQ(s.Find("prod"), "abc=def");
  EXPECT_FALSE(s.Find("dev").has_value());
  EXPECT_EQ(s.Add("prod=x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Add("noequals").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Add("=x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Add("ns=").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.Add("noequals").message()),
              ::testing::Not(::testing::HasSubstr("noequals")));

  std::string path = ::testing::TempDir() + "/webhook_secrets_test.txt";
  {
    std::ofstream f(path);
    f << "# comment\n\n a=1 \nb=2\n";
  }
  WebhookSecrets fs;
  ASSERT_TRUE(fs.LoadFile(path).ok());
  EXPECT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs.Find("a"), "1");
  {
    std::ofstream f(path);
    f << "a=1\nbroken\n";
  }
  WebhookSecrets bad;
  absl::Status st = bad.LoadFile(path);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr(":2:"));
  EXPECT_EQ(bad.LoadFile(path + ".missing").code(), absl::StatusCode::kNotFound);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace chime::webhook
