#include "client/cli/args.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace chime::cli {
namespace {

const FlagSpec* FindFlag(const std::vector<FlagSpec>& flags, const std::string& name) {
  for (const FlagSpec& flag : flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

std::string FlagColumn(const FlagSpec& flag) {
  std::string text = "--" + flag.name;
  if (!flag.value_name.empty()) absl::StrAppend(&text, " ", flag.value_name);
  return text;
}

void AppendFlagTable(const std::vector<FlagSpec>& flags, std::string* out) {
  size_t width = 0;
  for (const FlagSpec& flag : flags) width = std::max(width, FlagColumn(flag).size());
  for (const FlagSpec& flag : flags) {
    std::string column = FlagColumn(flag);
    column.resize(width, ' ');
    absl::StrAppend(out, "  ", column, "  ", flag.help, flag.repeatable ? " (repeatable)" : "",
                    "\n");
  }
}

}  // namespace

const CommandSpec* CliSpec::FindCommand(const std::string& name) const {
  for (const CommandSpec& command : commands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

std::optional<std::string> ParsedArgs::Get(const std::string& name) const {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::GetAll(const std::string& name) const {
  auto it = flags.find(name);
  return it == flags.end() ? std::vector<std::string>() : it->second;
}

absl::Status ParseArgs(const CliSpec& spec, const std::vector<std::string>& args, ParsedArgs* out) {
  *out = ParsedArgs();
  const CommandSpec* command = nullptr;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool looks_like_flag = !flags_ended && arg.size() > 1 && arg[0] == '-';
    if (!looks_like_flag) {
      if (command == nullptr) {
        if (arg == "help" && !out->help) {
          out->help = true;
          continue;
        }
        command = spec.FindCommand(arg);
        if (command == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat("unknown command \"", arg, "\""));
        }
        out->command = arg;
      } else {
        out->positional.push_back(arg);
      }
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      out->help = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const FlagSpec* flag = command != nullptr ? FindFlag(command->flags, name) : nullptr;
    if (flag == nullptr) flag = FindFlag(spec.global_flags, name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          command != nullptr
              ? absl::StrCat("unknown flag --", name, " for ", spec.program, " ", command->name)
              : absl::StrCat("unknown flag --", name));
    }
    std::string value;
    if (flag->value_name.empty()) {
      value = eq == std::string::npos ? "true" : arg.substr(eq + 1);
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(absl::StrCat(
            "flag --", name, " takes no value (or =true, =false), got \"", value, "\""));
      }
      if (value == "false") {
        out->flags.erase(name);
        continue;
      }
    } else if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value (", flag->value_name, ")"));
      }
      value = args[++i];
    }
    std::vector<std::string>& values = out->flags[name];
    if (!values.empty() && !flag->repeatable && !flag->value_name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " given more than once"));
    }
    if (flag->value_name.empty()) values.clear();
    values.push_back(std::move(value));
  }
  if (out->help) return absl::OkStatus();
  if (command == nullptr) return absl::InvalidArgumentError("no command given");
  if (out->positional.size() > command->positional.size()) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"",
                                                   out->positional[command->positional.size()],
                                                   "\" for ", spec.program, " ", command->name));
  }
  // Positionals named "[NAME]" are optional (and come last).
  const size_t required = static_cast<size_t>(
      std::count_if(command->positional.begin(), command->positional.end(),
                    [](const std::string& name) { return name.empty() || name[0] != '['; }));
  if (out->positional.size() < required) {
    return absl::InvalidArgumentError(absl::StrCat(spec.program, " ", command->name, " needs ",
                                                   command->positional[out->positional.size()]));
  }
  return absl::OkStatus();
}

std::string UsageLine(const CliSpec& spec, const std::string& command) {
  const CommandSpec* found = spec.FindCommand(command);
  if (found == nullptr) {
    return absl::StrCat("usage: ", spec.program, " [global flags] <command> [flags] (",
                        spec.program, " --help lists the commands)");
  }
  return absl::StrCat("usage: ", spec.program, " ", found->name, found->synopsis.empty() ? "" : " ",
                      found->synopsis);
}

std::string Help(const CliSpec& spec, const std::string& command) {
  std::string out;
  const CommandSpec* found = spec.FindCommand(command);
  if (found == nullptr) {
    absl::StrAppend(&out, "usage: ", spec.program, " [global flags] <command> [flags]\n\n",
                    spec.summary, "\n\ncommands:\n");
    size_t width = 0;
    for (const CommandSpec& c : spec.commands) width = std::max(width, c.name.size());
    for (const CommandSpec& c : spec.commands) {
      std::string name = c.name;
      name.resize(width, ' ');
      // The first line of the summary; the command's own help shows the rest.
      absl::StrAppend(&out, "  ", name, "  ", c.summary.substr(0, c.summary.find('\n')), "\n");
    }
  } else {
    absl::StrAppend(&out, UsageLine(spec, command), "\n\n", found->summary, "\n");
    if (!found->flags.empty()) {
      absl::StrAppend(&out, "\nflags:\n");
      AppendFlagTable(found->flags, &out);
    }
  }
  absl::StrAppend(&out, "\nglobal flags:\n");
  AppendFlagTable(spec.global_flags, &out);
  if (found == nullptr) {
    absl::StrAppend(&out, "\nRun \"", spec.program, " <command> --help\" for a command's flags.\n");
  }
  return out;
}

absl::Status FlagError(const std::string& flag, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", message));
}

}  // namespace chime::cli
