#include "storage/key_codec.h"

namespace chime::storage {
namespace {

constexpr uint64_t kSignBit = uint64_t{1} << 63;

void AppendPair(std::string* out, absl::string_view a, absl::string_view b) {
  out->append(a.data(), a.size());
  out->push_back('\0');
  out->append(b.data(), b.size());
}

}  // namespace

void AppendTime(std::string* out, int64_t us) {
  uint64_t v = static_cast<uint64_t>(us) ^ kSignBit;
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, 8);
}

int64_t DecodeTime(absl::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return static_cast<int64_t>(v ^ kSignBit);
}

std::string PairKey(absl::string_view a, absl::string_view b) {
  std::string out;
  out.reserve(a.size() + 1 + b.size());
  AppendPair(&out, a, b);
  return out;
}

std::optional<PairParts> DecodePairKey(absl::string_view key) {
  size_t sep = key.find('\0');
  if (sep == absl::string_view::npos) return std::nullopt;
  absl::string_view b = key.substr(sep + 1);
  if (b.find('\0') != absl::string_view::npos) return std::nullopt;
  return PairParts{std::string(key.substr(0, sep)), std::string(b)};
}

std::string NamespacePrefix(absl::string_view ns) {
  std::string out;
  out.reserve(ns.size() + 1);
  out.append(ns.data(), ns.size());
  out.push_back('\0');
  return out;
}

std::string DueKey(int64_t due_us, absl::string_view ns, absl::string_view timer_id) {
  std::string out;
  out.reserve(8 + ns.size() + 1 + timer_id.size());
  AppendTime(&out, due_us);
  AppendPair(&out, ns, timer_id);
  return out;
}

std::optional<DueEntry> DecodeDueKey(absl::string_view key) {
  if (key.size() < 8) return std::nullopt;
  std::optional<PairParts> pair = DecodePairKey(key.substr(8));
  if (!pair) return std::nullopt;
  return DueEntry{DecodeTime(key), std::move(pair->a), std::move(pair->b)};
}

std::string QueuePrefix(absl::string_view ns, absl::string_view topic) {
  std::string out;
  out.reserve(ns.size() + topic.size() + 2);
  AppendPair(&out, ns, topic);
  out.push_back('\0');
  return out;
}

std::string QueueKey(absl::string_view ns, absl::string_view topic, int64_t visible_at_us,
                     absl::string_view fire_id) {
  std::string out;
  out.reserve(ns.size() + topic.size() + 2 + 8 + fire_id.size());
  AppendPair(&out, ns, topic);
  out.push_back('\0');
  AppendTime(&out, visible_at_us);
  out.append(fire_id.data(), fire_id.size());
  return out;
}

std::optional<QueueKeyParts> DecodeQueueKey(absl::string_view key) {
  size_t sep1 = key.find('\0');
  if (sep1 == absl::string_view::npos) return std::nullopt;
  size_t sep2 = key.find('\0', sep1 + 1);
  if (sep2 == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = key.substr(sep2 + 1);
  if (rest.size() < 8) return std::nullopt;
  absl::string_view fire_id = rest.substr(8);
  if (fire_id.find('\0') != absl::string_view::npos) return std::nullopt;
  return QueueKeyParts{std::string(key.substr(0, sep1)),
                       std::string(key.substr(sep1 + 1, sep2 - sep1 - 1)), DecodeTime(rest),
                       std::string(fire_id)};
}

std::string PrefixSuccessor(absl::string_view prefix) {
  std::string out(prefix);
  while (!out.empty()) {
    unsigned char last = static_cast<unsigned char>(out.back());
    if (last != 0xff) {
      out.back() = static_cast<char>(last + 1);
      return out;
    }
    out.pop_back();
  }
  return out;
}

std::string KeySuccessor(absl::string_view key) {
  std::string out;
  out.reserve(key.size() + 1);
  out.append(key.data(), key.size());
  out.push_back('\0');
  return out;
}

}  // namespace chime::storage
