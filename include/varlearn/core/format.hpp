#pragma once
/// \file format.hpp
/// Numbers as text: the one formatter of the library (reports, CSV, error messages). Each is
/// printf's conversion, so the text equals an ostream's with the same precision and flags.
#include <string>

namespace varlearn {

/// Significant digits a double needs to read back exactly (printf "%.17g").
inline constexpr int kExactDigits = 17;

/// `digits` significant digits, shortest form (printf "%.*g"; an ostream with precision(digits)).
std::string format_general(double v, int digits = 6);

/// `decimals` digits after the point (printf "%.*f"; an ostream with std::fixed).
std::string format_fixed(double v, int decimals);

/// All the digits a double needs to round-trip ("%.17g"): CSV and data files.
std::string format_exact(double v);

/// A share as a percentage, \f$100 v\f$ with `decimals` decimals and " %"
/// (0.1234 -> "12.3 %"); `explicit_sign` writes "+" before non-negative values.
std::string format_percent(double share, int decimals = 1, bool explicit_sign = false);

}  // namespace varlearn
