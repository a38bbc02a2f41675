#pragma once
/// \file format.hpp
/// Numbers as text: the one formatter of the library (reports, CSV, error messages). Each is
/// printf's conversion, so the text equals an ostream's with the same precision and flags.
#include <cstddef>
#include <string>
#include <string_view>

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

/// `s` with every byte that is not printable ASCII (control characters, DEL, bytes >= 0x80)
/// written as \xNN: safe to print on one line of a terminal, and idempotent (so a message
/// holding quoted values may be escaped again as a whole). At most `max_chars` characters of
/// `s` are kept; a longer `s` ends in "... (N bytes)".
std::string escape_for_message(std::string_view s, std::size_t max_chars = 2000);

/// escape_for_message(s, max_chars) in single quotes: how every message quotes a value that
/// came from outside (a file name, a token read from a file, a command-line argument), so
/// binary bytes or an endless line are never echoed raw.
std::string quote_for_message(std::string_view s, std::size_t max_chars = 80);

}  // namespace varlearn
