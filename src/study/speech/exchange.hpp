#pragma once
// What the studies send between MPI ranks (docs/scale-out.md): JSON as CBOR text, which keeps
// every double's bits (NaN and infinities included), and vectors as JSON arrays of doubles.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "varlearn/core/types.hpp"

namespace varlearn::study::exchange {

inline std::string to_text(const nlohmann::json& j) {
  const std::vector<std::uint8_t> bytes = nlohmann::json::to_cbor(j);
  return std::string(bytes.begin(), bytes.end());
}
inline nlohmann::json from_text(const std::string& text) { return nlohmann::json::from_cbor(text); }

inline nlohmann::json vec_json(const Vector& v) { return std::vector<double>(v.data(), v.data() + v.size()); }
inline Vector vec_from(const nlohmann::json& j) {
  const auto x = j.get<std::vector<double>>();
  return Eigen::Map<const Vector>(x.data(), Index(x.size()));
}

}  // namespace varlearn::study::exchange
