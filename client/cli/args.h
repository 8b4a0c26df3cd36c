// A small command-line parser for "program [global flags] command [flags] [args]".
// Flags are "--name value" or "--name=value"; boolean flags take no value ("--json", or
// "--json=true|false"); a repeatable flag may be given several times; "--" ends the flags;
// "--help"/"-h" anywhere, or "help [command]", asks for usage. Global flags may also appear
// after the command.
//
//   ParsedArgs args;
//   absl::Status s = ParseArgs(spec, {"create", "--in=5m", "--label", "a=b"}, &args);
//   args.Get("in");        // "5m"
//   args.GetAll("label");  // {"a=b"}
#ifndef CHIME_CLIENT_CLI_ARGS_H_
#define CHIME_CLIENT_CLI_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chime::cli {

struct FlagSpec {
  std::string name;        // without the dashes: "topic" for --topic
  std::string value_name;  // shown in usage ("T"); empty for a boolean flag
  std::string help;
  bool repeatable = false;
};

struct CommandSpec {
  std::string name;
  std::string synopsis;  // what follows "chime <name>" on the usage line
  std::string summary;
  std::vector<std::string> positional;  // required positional arguments, by name
  std::vector<FlagSpec> flags;
};

struct CliSpec {
  std::string program;
  std::string summary;
  std::vector<FlagSpec> global_flags;
  std::vector<CommandSpec> commands;

  const CommandSpec* FindCommand(const std::string& name) const;
};

struct ParsedArgs {
  std::string command;  // empty when none was given
  bool help = false;
  std::vector<std::string> positional;
  // Values in the order given; a boolean flag that is set has the value "true".
  std::map<std::string, std::vector<std::string>> flags;

  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  // The flag's value (the last one for a repeatable flag), or nullopt when absent.
  std::optional<std::string> Get(const std::string& name) const;
  std::vector<std::string> GetAll(const std::string& name) const;
};

// Parses `args` (argv without the program name) into `out`. On error returns INVALID_ARGUMENT
// naming the offending argument; out->command is set whenever the command was recognized,
// so the caller can print that command's usage.
absl::Status ParseArgs(const CliSpec& spec, const std::vector<std::string>& args, ParsedArgs* out);

// "usage: chime <synopsis>" for a command, or the program's when `command` is empty/unknown.
std::string UsageLine(const CliSpec& spec, const std::string& command);
// Full help: the usage line, summary and flags of `command`, or the command list when empty.
std::string Help(const CliSpec& spec, const std::string& command);

// INVALID_ARGUMENT "--flag: message": how the commands report a bad flag value.
absl::Status FlagError(const std::string& flag, absl::string_view message);

}  // namespace chime::cli

#endif  // CHIME_CLIENT_CLI_ARGS_H_
