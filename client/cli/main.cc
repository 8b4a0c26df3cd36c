// chime: the command-line client of chimed. See `chime --help` and client/cli/run.h.
#include <iostream>
#include <string>
#include <vector>

#include "client/cli/run.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return chime::cli::RunChime(args, std::cout, std::cerr);
}
