// JSON string literals and UTF-8 checks, shared by the log writer, webhook bodies and the
// CLI's --json output. Pure; thread-safe.
#ifndef CHIME_COMMON_JSON_TEXT_H_
#define CHIME_COMMON_JSON_TEXT_H_

#include <string>
#include <string_view>

namespace chime {

// Whether `bytes` is UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

// Appends `text` as a JSON string literal, quotes included. Control characters are escaped;
// bytes that are not UTF-8 become U+FFFD, so the output is always valid JSON.
void AppendJsonString(std::string_view text, std::string* out);
std::string JsonQuote(std::string_view text);

}  // namespace chime

#endif  // CHIME_COMMON_JSON_TEXT_H_
