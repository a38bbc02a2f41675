#pragma once
// Numbers in error messages of the theory engine: 10 significant digits.
#include <sstream>
#include <string>

namespace varlearn::theory::detail {
inline std::string num(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}
}  // namespace varlearn::theory::detail
