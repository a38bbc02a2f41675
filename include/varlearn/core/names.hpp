#pragma once
/// \file names.hpp
/// The names of an enum's values (CLI flags, JSON keys and values, messages): one table per
/// enum, and to_string / parse from that table, so that a name is written in one place and
/// every parser gives the same kind of error.
///
///   inline constexpr NameTable<Method, 2> kMethodNames{{{Method::Bilevel, "bilevel"},
///                                                       {Method::Unrolled, "unrolled"}}};
///   const char* to_string(Method m) { return name_of(kMethodNames, m); }
///   Method parse_method(const std::string& s) { return parse_name(kMethodNames, s, "method"); }
#include <array>
#include <cstddef>
#include <string>
#include <utility>

#include "varlearn/core/error.hpp"

namespace varlearn {

template <class E, std::size_t K>
using NameTable = std::array<std::pair<E, const char*>, K>;

/// The name of `value` ("?" for a value missing from the table).
template <class E, std::size_t K>
constexpr const char* name_of(const NameTable<E, K>& table, E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "?";
}

/// "a, b or c": the accepted names, for messages and --help.
template <class E, std::size_t K>
std::string names_list(const NameTable<E, K>& table) {
  std::string out;
  for (std::size_t i = 0; i < K; ++i) {
    if (i > 0) out += i + 1 == K ? " or " : ", ";
    out += table[i].second;
  }
  return out;
}

/// The value named `name`; throws Error "unknown WHAT 'name' (expected a, b or c)".
template <class E, std::size_t K>
E parse_name(const NameTable<E, K>& table, const std::string& name, const std::string& what) {
  for (const auto& [v, n] : table)
    if (name == n) return v;
  std::string message = "unknown ";
  message.append(what).append(" '").append(name).append("' (expected ").append(names_list(table)).append(")");
  throw Error(message);
}

}  // namespace varlearn
