#include "varlearn/core/format.hpp"

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

}  // namespace varlearn
