#include "server/webhook/fire_json.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace chime::webhook {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 (rejects overlongs, surrogates, > U+10FFFF).
size_t Utf8SequenceLength(const std::string& s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 2, cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

}  // namespace

bool IsValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s, i, n);
      i += n;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i++]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string FireToJson(const FireBody& f) {
  std::string out = absl::StrCat(
      "{\"fire_id\":", JsonQuote(f.fire_id), ",\"timer_id\":", JsonQuote(f.timer_id),
      ",\"namespace\":", JsonQuote(f.ns), ",\"scheduled_time\":\"", Rfc3339(f.scheduled_time),
      "\",\"fire_time\":\"", Rfc3339(f.fire_time), "\",\"attempt\":", f.attempt, ",\"labels\":{");
  bool first = true;
  for (const auto& [k, v] : f.labels) {
    absl::StrAppend(&out, first ? "" : ",", JsonQuote(k), ":", JsonQuote(v));
    first = false;
  }
  out += "},";
  if (IsValidUtf8(f.payload)) {
    absl::StrAppend(&out, "\"payload\":", JsonQuote(f.payload));
  } else {
    absl::StrAppend(&out, "\"payload_base64\":\"", absl::Base64Escape(f.payload), "\"");
  }
  out += "}";
  return out;
}

}  // namespace chime::webhook
