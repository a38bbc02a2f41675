#pragma once
/// \file parse.hpp
/// Strict numbers from text, one rule everywhere (CLI flags, numbers inside flags, grid specs):
/// a decimal number of the type and nothing else. Refused, with the reason: an empty string,
/// leading or trailing garbage ("5x", " 5", "+5"), hexadecimal and octal forms, inf and nan, a
/// double outside the normal range ("1e400", "1e-400": no silent inf or 0) and an integer
/// outside its type ("-1" is not 2^64 - 1 for an unsigned seed).
#include <string>

namespace varlearn {

/// Why `text` is not a T ("" when it is one); integers are rewritten in canonical decimal.
/// T: int, long, long long, unsigned long, unsigned long long, double.
template <class T>
std::string number_problem(std::string& text);

/// The number `text` holds, or throws Error("WHERE: why").
template <class T>
T parse_number(const std::string& text, const std::string& where);

}  // namespace varlearn
