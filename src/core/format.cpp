#include "varlearn/core/format.hpp"

#include <algorithm>
#include <cstdio>

namespace varlearn {
namespace {
// %g and %f of a double fit: at most 309 integer digits for %f plus the decimals.
std::string print(const char* pattern, int precision, double v) {
  char small[64];
  const int len = std::snprintf(small, sizeof small, pattern, precision, v);
  if (len < int(sizeof small)) return std::string(small, size_t(len));
  std::string big(size_t(len) + 1, '\0');
  std::snprintf(big.data(), big.size(), pattern, precision, v);
  big.resize(size_t(len));
  return big;
}
}  // namespace

std::string format_general(double v, int digits) { return print("%.*g", digits, v); }

std::string format_fixed(double v, int decimals) { return print("%.*f", decimals, v); }

std::string format_exact(double v) { return format_general(v, kExactDigits); }

std::string format_percent(double share, int decimals, bool explicit_sign) {
  std::string out = explicit_sign && share >= 0 ? "+" : "";
  out += format_fixed(100.0 * share, decimals);
  out += " %";
  return out;
}

std::string escape_for_message(std::string_view s, std::size_t max_chars) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  const std::size_t keep = std::min(s.size(), max_chars);
  out.reserve(keep + 16);
  for (std::size_t i = 0; i < keep; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (keep < s.size()) out.append("... (").append(std::to_string(s.size())).append(" bytes)");
  return out;
}

std::string quote_for_message(std::string_view s, std::size_t max_chars) {
  std::string out = "'";
  out += escape_for_message(s, max_chars);
  out += '\'';
  return out;
}

}  // namespace varlearn
