#pragma once
/// \file range.hpp
/// Range checks with one message shape for every numeric input of the library:
/// "WHERE: NAME = VALUE out of range (ACCEPTED)".
#include <string>

#include "varlearn/core/error.hpp"

namespace varlearn {

/// Throws Error("where: name = value out of range (accepted)"); value printed with 10 significant digits.
[[noreturn]] void throw_out_of_range(const std::string& where, const std::string& name, double value,
                                     const std::string& accepted);

/// Requires lo <= value <= hi (NaN fails); `accepted` defaults to "lo <= NAME <= hi".
void check_range(double value, double lo, double hi, const std::string& where, const std::string& name,
                 const std::string& accepted = "");

}  // namespace varlearn
