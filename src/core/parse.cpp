#include "varlearn/core/parse.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"

namespace varlearn {
namespace {

template <class T>
std::string integer_range() {
  return std::to_string(std::numeric_limits<T>::min()) + " and " + std::to_string(std::numeric_limits<T>::max());
}

}  // namespace

template <class T>
std::string number_problem(std::string& text) {
  const std::string q = quote_for_message(text);
  if (text.empty()) return std::string("empty value (expected ") + (std::is_integral_v<T> ? "an integer)" : "a number)");
  const char* first = text.data();
  const char* last = first + text.size();
  if constexpr (std::is_integral_v<T>) {
    T v{};
    const auto [end, ec] = std::from_chars(first, last, v);
    // Digits only (an optional '-' for signed types); no leading zeros (no octal reading).
    const bool digits = end == last && ec == std::errc{} &&
                        text.find_first_not_of("-0123456789") == std::string::npos;
    const size_t lead = text[0] == '-' ? 1 : 0;
    const bool leading_zero = text.size() > lead + 1 && text[lead] == '0';
    if (digits && leading_zero) return q + " is not a decimal integer (no leading zeros: 010 would read as octal)";
    if (!digits || ec == std::errc::result_out_of_range) {
      if (ec == std::errc::result_out_of_range || (end == last && ec != std::errc{}) ||
          text.find_first_not_of("-0123456789") == std::string::npos || text[0] == '-')
        return q + " is not an integer between " + integer_range<T>();
      return q + " is not an integer";
    }
    text = std::to_string(v);
    return "";
  } else {
    static_assert(std::is_same_v<T, double>);
    double v = 0;
    const auto [end, ec] = std::from_chars(first, last, v, std::chars_format::general);
    if (end != last || (ec != std::errc{} && ec != std::errc::result_out_of_range)) return q + " is not a number";
    const std::string lower = [&] {
      std::string l = text;
      for (char& c : l) c = char(std::tolower(static_cast<unsigned char>(c)));
      return l;
    }();
    if (lower.find("inf") != std::string::npos || lower.find("nan") != std::string::npos)
      return q + " is not a finite number";
    if (ec == std::errc::result_out_of_range || !std::isfinite(v) || (v != 0 && !std::isnormal(v)) ||
        (v == 0 && text.find_first_of("123456789") != std::string::npos && lower.find('e') != std::string::npos))
      return q + " is outside the double range (0 or 2.3e-308 <= |x| <= 1.8e308)";
    return "";
  }
}

template <class T>
T parse_number(const std::string& text, const std::string& flag) {
  std::string t = text;
  const std::string why = number_problem<T>(t);
  if (!why.empty()) throw Error(flag + ": " + why);
  if constexpr (std::is_integral_v<T>) {
    T v{};
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
  } else {
    double v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v, std::chars_format::general);
    return v;
  }
}

#define VARLEARN_PARSE_NUMBER(T)                                       \
  template std::string number_problem<T>(std::string&);               \
  template T parse_number<T>(const std::string&, const std::string&);
VARLEARN_PARSE_NUMBER(int)
VARLEARN_PARSE_NUMBER(long)
VARLEARN_PARSE_NUMBER(long long)
VARLEARN_PARSE_NUMBER(unsigned long)
VARLEARN_PARSE_NUMBER(unsigned long long)
VARLEARN_PARSE_NUMBER(double)
#undef VARLEARN_PARSE_NUMBER

}  // namespace varlearn
