#include "server/webhook/address_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace chime::webhook {
namespace {

AddressClass C(const std::string& s) {
  std::optional<IpAddress> a = ParseIpAddress(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a ? ClassifyAddress(*a) : AddressClass::kPublic;
}

TEST(AddressPolicyTest, ClassifiesV4AndV6) {
  EXPECT_EQ(C("127.0.0.1"), AddressClass::kLoopback);
  EXPECT_EQ(C("127.255.0.9"), AddressClass::kLoopback);
  EXPECT_EQ(C("::1"), AddressClass::kLoopback);
  EXPECT_EQ(C("[::1]"), AddressClass::kLoopback);
  EXPECT_EQ(C("::ffff:127.0.0.1"), AddressClass::kLoopback);
  EXPECT_EQ(C("10.0.0.1"), AddressClass::kPrivate);
  EXPECT_EQ(C("172.16.0.1"), AddressClass::kPrivate);
  EXPECT_EQ(C("172.31.255.255"), AddressClass::kPrivate);
  EXPECT_EQ(C("172.32.0.1"), AddressClass::kPublic);
  EXPECT_EQ(C("192.168.1.1"), AddressClass::kPrivate);
  EXPECT_EQ(C("::ffff:10.1.1.1"), AddressClass::kPrivate);
  EXPECT_EQ(C("fc00::1"), AddressClass::kPrivate);
  EXPECT_EQ(C("fd12:3456::1"), AddressClass::kPrivate);
  EXPECT_EQ(C("169.254.1.1"), AddressClass::kLinkLocal);
  EXPECT_EQ(C("fe80::1"), AddressClass::kLinkLocal);
  EXPECT_EQ(C("febf::1"), AddressClass::kLinkLocal);
  EXPECT_EQ(C("169.254.169.254"), AddressClass::kMetadata);
  EXPECT_EQ(C("::ffff:169.254.169.254"), AddressClass::kMetadata);
  EXPECT_EQ(C("fd00:ec2::254"), AddressClass::kMetadata);
  EXPECT_EQ(C("0.0.0.0"), AddressClass::kUnspecified);
  EXPECT_EQ(C("::"), AddressClass::kUnspecified);
  EXPECT_EQ(C("224.0.0.1"), AddressClass::kMulticast);
  EXPECT_EQ(C("ff02::1"), AddressClass::kMulticast);
  EXPECT_EQ(C("100.64.0.1"), AddressClass::kCgnat);
  EXPECT_EQ(C("100.127.255.255"), AddressClass::kCgnat);
  EXPECT_EQ(C("100.128.0.1"), AddressClass::kPublic);
  EXPECT_EQ(C("255.255.255.255"), AddressClass::kReserved);
  EXPECT_EQ(C("8.8.8.8"), AddressClass::kPublic);
  EXPECT_EQ(C("2001:4860:4860::8888"), AddressClass::kPublic);
  EXPECT_EQ(C("64:ff9b::7f00:1"), AddressClass::kLoopback);  // NAT64 of 127.0.0.1
}

TEST(AddressPolicyTest, RejectsNonAddresses) {
  EXPECT_FALSE(ParseIpAddress("localhost").has_value());
  EXPECT_FALSE(ParseIpAddress("1.2.3").has_value());
  EXPECT_FALSE(ParseIpAddress("").has_value());
}

TEST(AddressPolicyTest, ParsesCidrsWithClearErrors) {
  absl::StatusOr<Cidr> c = ParseCidr("127.0.0.0/8");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ToString(), "127.0.0.0/8");
  EXPECT_TRUE(c->Contains(*ParseIpAddress("127.1.2.3")));
  EXPECT_TRUE(c->Contains(*ParseIpAddress("::ffff:127.0.0.1")));
  EXPECT_FALSE(c->Contains(*ParseIpAddress("128.0.0.1")));
  EXPECT_EQ(ParseCidr("10.1.2.3/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(ParseCidr("10.1.2.3")->ToString(), "10.1.2.3/32");
  EXPECT_EQ(ParseCidr("fd00::/8")->ToString(), "fd00::/8");
  EXPECT_EQ(ParseCidr("::1")->ToString(), "::1/128");
  for (const char* bad :
       {"", "10.0.0.0/33", "10.0.0.0/-1", "fd00::/129", "example.com/8", "10.0.0.0/x"}) {
    absl::StatusOr<Cidr> r = ParseCidr(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("--webhook-allow"));
  }
}

TEST(AddressPolicyTest, RefusesNonPublicUnlessAllowListed) {
  AddressPolicy deny;
  for (const char* s : {"127.0.0.1", "::1", "10.0.0.1", "169.254.169.254", "fd00:ec2::254",
                        "fe80::1", "100.64.1.1", "0.0.0.0", "224.0.0.1"}) {
    PolicyDecision d = deny.Check(*ParseIpAddress(s));
    EXPECT_FALSE(d.allowed) << s;
    EXPECT_THAT(d.reason, ::testing::HasSubstr("not allow-listed")) << s;
  }
  EXPECT_TRUE(deny.Check(*ParseIpAddress("93.184.216.34")).allowed);
  EXPECT_THAT(deny.Check(*ParseIpAddress("169.254.169.254")).reason,
              ::testing::HasSubstr("metadata"));

  absl::StatusOr<AddressPolicy> allow = AddressPolicy::FromFlags({"127.0.0.0/8", "::1"});
  ASSERT_TRUE(allow.ok());
  EXPECT_TRUE(allow->Check(*ParseIpAddress("127.0.0.1")).allowed);
  EXPECT_TRUE(allow->Check(*ParseIpAddress("::1")).allowed);
  EXPECT_FALSE(allow->Check(*ParseIpAddress("10.0.0.1")).allowed);
  EXPECT_FALSE(AddressPolicy::FromFlags({"127.0.0.0/8", "nope"}).ok());
}

}  // namespace
}  // namespace chime::webhook
