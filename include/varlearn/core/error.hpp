#pragma once
/// \file error.hpp
/// The one error type of the library. The message says what is wrong and where
/// ("theory::optimal_risk: rank k = 7 exceeds dimension n = 5").
#include <stdexcept>
#include <string>

namespace varlearn {

/// Thrown for every failure. `Kind::BadInput` is the caller's fault (CLI exit code 2),
/// `Kind::Internal` is ours or the environment's (exit code 1).
class Error : public std::runtime_error {
public:
  enum class Kind { BadInput, Internal };
  explicit Error(const std::string& what, Kind kind = Kind::BadInput)
      : std::runtime_error(what), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

private:
  Kind kind_;
};

/// Throws `Error(where + ": " + message)` unless `condition` holds.
inline void require(bool condition, const std::string& where, const std::string& message) {
  if (!condition) throw Error(where + ": " + message);
}

}  // namespace varlearn
