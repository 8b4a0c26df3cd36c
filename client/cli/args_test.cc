#include "client/cli/args.h"

#include "client/cli/spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace chime::cli {
namespace {

using ::chime::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

CliSpec TestSpec() {
  return CliSpec{
      .program = "prog",
      .summary = "test program",
      .global_flags = {{"server", "ADDR", "server"}, {"json", "", "json output"}},
      .commands =
          {
              {.name = "make",
               .synopsis = "--size N [--tag T]...",
               .summary = "makes things",
               .flags = {{"size", "N", "size"},
                         {"tag", "T", "tag", /*repeatable=*/true},
                         {"quiet", "", "less output"}}},
              {.name = "show", .synopsis = "ID", .summary = "shows", .positional = {"ID"}},
          },
  };
}

absl::Status Parse(const std::vector<std::string>& args, ParsedArgs* out) {
  return ParseArgs(TestSpec(), args, out);
}

TEST(ParseArgsTest, SpaceAndEqualsForms) {
  ParsedArgs args;
  ASSERT_OK(Parse({"make", "--size", "3", "--tag=a", "--tag", "b=c"}, &args));
  EXPECT_EQ(args.command, "make");
  EXPECT_EQ(args.Get("size"), "3");
  EXPECT_THAT(args.GetAll("tag"), ElementsAre("a", "b=c"));
  EXPECT_FALSE(args.Has("quiet"));
  EXPECT_EQ(args.Get("quiet"), std::nullopt);
  EXPECT_TRUE(args.GetAll("quiet").empty());
}

TEST(ParseArgsTest, GlobalFlagsBeforeAndAfterTheCommand) {
  ParsedArgs args;
  ASSERT_OK(Parse({"--server", "h:1", "make", "--json", "--size=2"}, &args));
  EXPECT_EQ(args.Get("server"), "h:1");
  EXPECT_TRUE(args.Has("json"));
  ASSERT_OK(Parse({"show", "x", "--server=h:2"}, &args));
  EXPECT_EQ(args.Get("server"), "h:2");
  EXPECT_THAT(args.positional, ElementsAre("x"));
}

TEST(ParseArgsTest, CommandFlagBeforeTheCommandIsUnknown) {
  ParsedArgs args;
  EXPECT_THAT(Parse({"--size", "3", "make"}, &args), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseArgsTest, BooleanFlags) {
  ParsedArgs args;
  ASSERT_OK(Parse({"make", "--quiet", "--json=true"}, &args));
  EXPECT_EQ(args.Get("quiet"), "true");
  EXPECT_TRUE(args.Has("json"));
  ASSERT_OK(Parse({"make", "--quiet", "--quiet=false"}, &args));
  EXPECT_FALSE(args.Has("quiet"));
  absl::Status s = Parse({"make", "--quiet=yes"}, &args);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(s.message()), HasSubstr("--quiet"));
  // A boolean flag does not swallow the next argument.
  ASSERT_OK(Parse({"show", "--json", "id1"}, &args));
  EXPECT_THAT(args.positional, ElementsAre("id1"));
}

TEST(ParseArgsTest, ValueMayStartWithDashes) {
  ParsedArgs args;
  ASSERT_OK(Parse({"make", "--size", "--weird"}, &args));
  EXPECT_EQ(args.Get("size"), "--weird");
}

TEST(ParseArgsTest, Errors) {
  ParsedArgs args;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "no command given"},
           {{"--json"}, "no command given"},
           {{"frobnicate"}, "unknown command \"frobnicate\""},
           {{"make", "--color", "red"}, "unknown flag --color for prog make"},
           {{"--color"}, "unknown flag --color"},
           {{"make", "-x"}, "unknown flag -x"},
           {{"make", "--size"}, "flag --size needs a value (N)"},
           {{"make", "--size", "1", "--size", "2"}, "flag --size given more than once"},
           {{"show"}, "prog show needs ID"},
           {{"show", "a", "b"}, "unexpected argument \"b\" for prog show"},
           {{"make", "extra"}, "unexpected argument \"extra\" for prog make"},
       }) {
    absl::Status s = Parse(c.args, &args);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument)) << c.message;
    EXPECT_EQ(s.message(), c.message);
  }
}

TEST(ParseArgsTest, CommandIsKnownEvenWhenParsingFails) {
  ParsedArgs args;
  EXPECT_FALSE(Parse({"make", "--bogus"}, &args).ok());
  EXPECT_EQ(args.command, "make");
}

TEST(ParseArgsTest, DoubleDashEndsFlags) {
  ParsedArgs args;
  ASSERT_OK(Parse({"show", "--", "--not-a-flag"}, &args));
  EXPECT_THAT(args.positional, ElementsAre("--not-a-flag"));
}

TEST(ParseArgsTest, Help) {
  ParsedArgs args;
  ASSERT_OK(Parse({"--help"}, &args));
  EXPECT_TRUE(args.help);
  EXPECT_EQ(args.command, "");
  ASSERT_OK(Parse({"show", "-h"}, &args));  // no ID needed with --help
  EXPECT_TRUE(args.help);
  EXPECT_EQ(args.command, "show");
  ASSERT_OK(Parse({"help", "make"}, &args));
  EXPECT_TRUE(args.help);
  EXPECT_EQ(args.command, "make");
}

TEST(UsageTest, UsageLineAndHelp) {
  EXPECT_EQ(UsageLine(TestSpec(), "make"), "usage: prog make --size N [--tag T]...");
  EXPECT_THAT(UsageLine(TestSpec(), ""), HasSubstr("usage: prog [global flags] <command>"));
  const std::string help = Help(TestSpec(), "make");
  EXPECT_THAT(help, HasSubstr("makes things"));
  EXPECT_THAT(help, HasSubstr("--tag T   tag (repeatable)"));
  EXPECT_THAT(help, HasSubstr("--server ADDR"));
  const std::string overview = Help(TestSpec(), "");
  EXPECT_THAT(overview, HasSubstr("  make  makes things"));
  EXPECT_THAT(overview, HasSubstr("  show  shows"));
}

TEST(ChimeSpecTest, EveryCommandOfTheContractIsThere) {
  for (const char* name : {"create", "get", "cancel", "list", "watch"}) {
    EXPECT_NE(ChimeSpec().FindCommand(name), nullptr) << name;
  }
  ParsedArgs args;
  ASSERT_OK(ParseArgs(ChimeSpec(),
                      {"--server", "localhost:1", "create", "--in", "5m", "--topic", "demo",
                       "--label", "a=b", "--label", "c=d", "--json", "--namespace", "ns"},
                      &args));
  EXPECT_THAT(args.GetAll("label"), ElementsAre("a=b", "c=d"));
  EXPECT_EQ(args.Get("namespace"), "ns");
}

}  // namespace
}  // namespace chime::cli
