#include "server/admin/node_id.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace chime::admin {
namespace {

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> LoadOrCreateNodeId(const std::string& data_dir) {
  const std::string path = data_dir + "/node_id";
  std::ifstream in(path);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    std::string id(absl::StripAsciiWhitespace(text.str()));
    if (!ValidId(id)) return absl::DataLossError(absl::StrCat(path, " does not hold a node id"));
    return id;
  }
  absl::BitGen gen;
  const std::string id = absl::StrFormat("n-%016x", absl::Uniform<uint64_t>(gen));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << id << "\n";
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp, ": ", strerror(errno)));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  return id;
}

}  // namespace chime::admin
